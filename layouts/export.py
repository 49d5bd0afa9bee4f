"""One entry point for every site-plan export: plan the site, colour it, write the format asked.

``campustwin plan`` and the console's download buttons both come here. A user-given output name
never leaves the folder it is meant for (:func:`safe_output`), and a whole-campus export reports
progress per hall so a terminal can show a bar.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from layouts.colour import Colouring, colour_racks
from layouts.geometry import CampusPlan, plan_campus
from layouts.kinds import FORMATS
from twin.campus import Campus
from twin.results import Results

Progress = Callable[[int, int], None]


class ExportError(ValueError):
    """An export that cannot be written as asked; the message says what to change."""


def safe_output(folder: Path, name: str) -> Path:
    """``folder / name`` for a name a user typed, refused if it would land outside ``folder``.

    Only a plain file name is accepted: no separators, no ``..``, no control characters, no
    leading dot, at most 128 characters. (The CLI's ``--out`` is a path the user owns; this is
    for names that come through the console.)
    """
    if (
        not name
        or len(name) > 128
        or name in (".", "..")
        or name.startswith(".")
        or re.search(r"[/\\\x00-\x1f]", name)
    ):
        raise ExportError(f"file name {name[:40]!r}: use letters, digits, '-', '_' and '.', without folders")
    path = (folder / name).resolve()
    if path.parent != folder.resolve():
        raise ExportError(f"file name {name[:40]!r} would be written outside {folder}")
    return path


def export(
    campus: Campus,
    fmt: str,
    out: Path,
    hall: str | None = None,
    color_by: str = "tenant",
    results: Results | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write ``campus``'s plan as ``fmt`` to ``out``; return the path written."""
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    plan = plan_campus(campus)
    if hall is not None and hall not in {h.name for h in plan.halls}:
        near = ", ".join(h.name for h in plan.halls[:6])
        raise ExportError(f"--hall {hall!r}: no such hall in {campus.name}; halls are named like {near}")
    try:
        colouring = colour_racks(plan, color_by, results)
    except ValueError as exc:
        raise ExportError(f"--color-by: {exc}") from None
    return write(plan, colouring, campus, fmt, out, hall, progress)


def write(
    plan: CampusPlan,
    colouring: Colouring,
    campus: Campus,
    fmt: str,
    out: Path,
    hall: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write the plan as ``fmt`` to ``out``, all or nothing; return ``out``.

    The plan is written beside ``out`` under a hidden name and renamed into place when whole: an
    interrupt or a full disk leaves an earlier export as it was, and no half-written file.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "netbox":
        from layouts.netbox import bundle_problem

        problem = bundle_problem(out)
        if problem:
            raise ExportError(problem)
    # Where the plan really goes: "." has a name, and a link is written through, not replaced by
    # a file (the partial file sits beside the target, on its disk, so the rename is one step).
    target = out.resolve()
    # Cut to a short name: a target name near the 255-byte limit would make a longer one fail.
    partial = target.with_name(f".{target.stem[:64]}.partial-{os.getpid()}{target.suffix[:16]}")
    try:
        _write_format(plan, colouring, campus, fmt, partial, hall, progress)
        if target.is_file():
            partial.chmod(stat.S_IMODE(target.stat().st_mode))  # as the file it replaces was
        _replace(partial, target)
    except BaseException:
        _remove(partial)
        raise
    return out


def _replace(new: Path, out: Path) -> None:
    """Put ``new`` where ``out`` is. A NetBox folder's files are moved in one by one once all are
    written (renames, which a full disk cannot stop); the folder itself is kept, with whatever
    hidden files a user keeps there."""
    if not new.is_dir():
        os.replace(new, out)
        return
    out.mkdir(exist_ok=True)
    for path in sorted(new.iterdir()):
        os.replace(path, out / path.name)
    new.rmdir()


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _write_format(
    plan: CampusPlan,
    colouring: Colouring,
    campus: Campus,
    fmt: str,
    out: Path,
    hall: str | None,
    progress: Progress | None,
) -> None:
    if fmt == "svg":
        from layouts.svg import write_svg

        write_svg(plan, colouring, out, hall=hall)
    elif fmt == "pdf":
        from layouts.pdf import write_pdf

        write_pdf(plan, colouring, out, hall=hall, progress=progress)
    elif fmt == "dxf":
        from layouts.dxf import write_dxf

        write_dxf(plan, colouring, out, hall=hall)
    elif fmt == "csv":
        from layouts.inventory_csv import write_csv

        write_csv(plan, colouring, out, hall=hall)
    else:
        from layouts.netbox import write_netbox

        write_netbox(plan, colouring, campus, out, hall=hall)
