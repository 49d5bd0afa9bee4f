"""The twin: campuses, their fleet, and the discrete-event run of jobs, leases, failures and physics.

Its compiled kernels (numba) keep their machine code in ``twin/__pycache__``. A user who cannot
write there (a shared install) gets a cache folder of their own under the system's temporary
folder, chosen here, before numba is imported: with neither writable, numba refused to load the
kernels at all ("no locator available") and every command failed.
"""

import os
import tempfile
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if "NUMBA_CACHE_DIR" not in os.environ and not os.access(_HERE / "__pycache__", os.W_OK):
    os.environ["NUMBA_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / f"campustwin-numba-{os.getuid()}")
