"""The names a plan can be written as and coloured by, without the code that does it.

The command line lists these as its choices; importing them must not import pandas and the
twin's results (most of a second), which every ``campustwin`` command would otherwise pay.
"""

from __future__ import annotations

# Format -> the suffix its file must have ("": a NetBox bundle, a folder or a .zip).
FORMATS = {"svg": ".svg", "pdf": ".pdf", "dxf": ".dxf", "csv": ".csv", "netbox": ""}
COLOR_BY = ("tenant", "kw", "utilisation")
