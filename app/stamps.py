"""The stamp of a folder's YAML files, and the listing of site files that is keyed by it.

Hidden files are left out: an upload being checked (``.upload-*.yaml``) is not an input yet.
"""

from __future__ import annotations

import functools
from pathlib import Path

from twin.errors import ProblemList
from twin.load import file_kind
from twin.yamlsafe import load_yaml


def yaml_stamp(folder: Path) -> tuple[tuple[str, int], ...]:
    """(name, mtime in ns) of each visible ``*.yaml`` in ``folder``, sorted by name."""
    return tuple(
        (p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.yaml")) if not p.name.startswith(".")
    )


def site_files(folder: Path) -> dict[str, Path]:
    """Site files in ``folder`` by campus name (files that are not sites, or do not parse, are skipped).

    Read once per change of the folder's files, not at every campus lookup of every page.
    """
    return dict(_site_files(str(folder), yaml_stamp(folder)))


@functools.lru_cache(maxsize=8)
def _site_files(folder: str, stamp: tuple) -> tuple[tuple[str, Path], ...]:
    found = []
    for name, _ in stamp:
        path = Path(folder) / name
        try:
            doc = load_yaml(path)
            if file_kind(doc) == "site":
                found.append((str(doc.data.get("name", path.stem)), path))
        except ProblemList:
            continue
    return tuple(found)
