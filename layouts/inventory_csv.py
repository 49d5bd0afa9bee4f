"""The rack inventory as CSV: one row per rack, for spreadsheets, asset tools and scripts.

Columns, in order (:data:`COLUMNS`): ``rack_id`` (the rack's name, e.g. ``A/H1/P1/R001``),
``building``, ``hall``, ``row``, ``position`` (1 = west end of its row), ``x_mm`` and ``y_mm`` (the
rack's south-west corner from its *hall's* origin, the CAD convention of one origin per hall),
``campus_x_mm`` and ``campus_y_mm`` (the same corner on the campus), ``rack_type``, ``gpus``,
``gpu_type``, ``kw`` (full draw), ``tenant`` (``internal`` when no lease holds the rack),
``lease`` (empty when none), ``utilisation_pct`` (the rack's mean share of GPU-hours in use from
day 0 to ``day``, whatever the plan is coloured by), then the run the tenants come from:
``scenario``, ``seed`` and ``day`` (the day the tenant and lease columns are as of; these four
are empty without a run). The run is on
every row, not in a comment line, so any CSV reader takes the file as it is, and rows of plans of
different days stay told apart once pasted into one sheet.

A CSV is opened in spreadsheets, and a spreadsheet runs a cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return as a formula (CSV injection). Tenant and lease names are
user input, and so are building, hall and rack type names (the site file), so every text cell
that starts with one of those characters gets a leading apostrophe, which spreadsheets show as
text. Numbers are written as numbers. The file is UTF-8 without a byte-order mark, written by the
``csv`` module (RFC 4180 quoting, CRLF line ends), and is the same bytes for the same input.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from layouts.colour import Colouring
from layouts.geometry import CampusPlan

# Column -> the plan.racks column it comes from (the colouring adds tenant and lease).
SOURCE = {
    "rack_id": "name",
    "building": "building",
    "hall": "hall",
    "row": "row",
    "position": "position",
    "x_mm": "hall_x_mm",
    "y_mm": "hall_y_mm",
    "campus_x_mm": "x_mm",
    "campus_y_mm": "y_mm",
    "rack_type": "rack_type",
    "gpus": "gpus",
    "gpu_type": "gpu_type",
    "kw": "kw",
    "tenant": "tenant",
    "lease": "lease",
}
RUN_COLUMNS = ("scenario", "seed", "day")
COLUMNS = (*SOURCE, "utilisation_pct", *RUN_COLUMNS)
TEXT = frozenset({"rack_id", "building", "hall", "rack_type", "gpu_type", "tenant", "lease"})
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_csv(plan: CampusPlan, colouring: Colouring, path: Path | str, hall: str | None = None) -> Path:
    """Write the rack inventory of ``plan`` (or of one hall; KeyError if unknown) to ``path``."""
    path = Path(path)
    rows = slice(None) if hall is None else plan.hall(hall).rack_slice
    racks = plan.racks.assign(tenant=colouring.tenant, lease=colouring.lease).iloc[rows]
    kinds = [("text" if c in TEXT else "kw" if c == "kw" else "int") for c in SOURCE]
    run = colouring.source
    run_cells = (
        ["", "", ""]
        if run is None
        else [safe_cell(run.scenario), "" if run.seed is None else run.seed, number(run.days)]
    )
    util = colouring.utilisation if colouring.utilisation is not None else np.full(len(plan.racks), np.nan)
    util = util[rows]
    util_cells = ["" if np.isnan(u) else round(float(u) * 100.0, 1) for u in util]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for values, u in zip(racks[list(SOURCE.values())].itertuples(index=False), util_cells, strict=True):
            cells = (_cell(kind, v) for kind, v in zip(kinds, values, strict=True))
            writer.writerow([*cells, u, *run_cells])
    return path


def _cell(kind: str, value: object) -> str | int:
    if kind == "text":
        return safe_cell(value)
    return number(value) if kind == "kw" else int(value)


def safe_cell(text: object) -> str:
    """User text as a spreadsheet shows it: a would-be formula gets a leading apostrophe."""
    text = str(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def number(value: float) -> str:
    """A number without float noise: ``132`` not ``132.0``, ``0.125`` not ``0.12500000000000001``."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.6f}".rstrip("0")
