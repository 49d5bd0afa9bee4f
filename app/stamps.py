"""The stamp of a folder's YAML files: what cached listings of sites and scenarios are keyed by.

Hidden files are left out: an upload being checked (``.upload-*.yaml``) is not an input yet.
"""

from __future__ import annotations

from pathlib import Path


def yaml_stamp(folder: Path) -> tuple[tuple[str, int], ...]:
    """(name, mtime in ns) of each visible ``*.yaml`` in ``folder``, sorted by name."""
    return tuple(
        (p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.yaml")) if not p.name.startswith(".")
    )
