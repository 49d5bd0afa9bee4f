"""One entry point for every site-plan export: plan the site, colour it, write the format asked.

``campustwin plan`` and the console's download buttons both come here. A user-given output name
never leaves the folder it is meant for (:func:`safe_output`), and a whole-campus export reports
progress per hall so a terminal can show a bar.
"""

from __future__ import annotations

import re
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
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "svg":
        from layouts.svg import write_svg

        return write_svg(plan, colouring, out, hall=hall)
    if fmt == "pdf":
        from layouts.pdf import write_pdf

        return write_pdf(plan, colouring, out, hall=hall, progress=progress)
    if fmt == "dxf":
        from layouts.dxf import write_dxf

        return write_dxf(plan, colouring, out, hall=hall)
    if fmt == "csv":
        from layouts.inventory_csv import write_csv

        return write_csv(plan, colouring, out, hall=hall)
    from layouts.netbox import write_netbox

    return write_netbox(plan, colouring, campus, out, hall=hall)
