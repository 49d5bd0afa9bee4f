"""The twin: campuses, their fleet, and the discrete-event run of jobs, leases, failures and physics.

Its compiled kernels (numba) keep their machine code in ``twin/__pycache__``. A user who cannot
write there (a shared install) gets a cache folder of their own, chosen here, before numba is
imported: with neither that nor a writable HOME, numba refused to load the kernels at all ("no
locator available") and every command failed.
"""

import os
import stat
import tempfile
from pathlib import Path


def _private_cache_dir() -> str:
    """``$TMPDIR/campustwin-numba-UID`` if it is this user's alone (numba unpickles what it finds
    there, so a folder another user made first must not be used), else a fresh private folder."""
    uid = os.getuid()
    folder = Path(tempfile.gettempdir()) / f"campustwin-numba-{uid}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = folder.lstat()  # not a link planted in its place
        if stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o077:
            return str(folder)
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="campustwin-numba-")  # compiled again each run, but safe


def _tree_cache_writable() -> bool:
    """Whether numba can keep its cache beside the source (a fresh clone has no __pycache__ yet)."""
    here = Path(__file__).resolve().parent
    cache = here / "__pycache__"
    return os.access(cache if cache.exists() else here, os.W_OK)


if "NUMBA_CACHE_DIR" not in os.environ and not _tree_cache_writable():
    os.environ["NUMBA_CACHE_DIR"] = _private_cache_dir()
