"""The page shell: builds one console page per browser session.

Until the console issue lands this shows the inventory of every site in the sites folder, so that
``make run`` serves something true and useful rather than a blank page.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import panel as pn

from twin.campus import build_campus
from twin.errors import ProblemList
from twin.inventory import inventory
from twin.load import file_kind, load_site
from twin.yamlsafe import load_yaml


def site_inventories(folder: Path) -> tuple[pd.DataFrame, list[str]]:
    """Inventory rows for every valid site file in ``folder``, and the problems of the others.

    Cached on the files' names and modification times: every session shares one computation
    until a site file changes.
    """
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.yaml")))
    return _inventories(str(folder), stamp)


@functools.lru_cache(maxsize=8)
def _inventories(folder: str, stamp: tuple) -> tuple[pd.DataFrame, list[str]]:
    rows, problems = [], []
    for name, _ in stamp:
        path = Path(folder) / name
        try:
            if file_kind(load_yaml(path)) != "site":
                continue
            inv = inventory(build_campus(load_site(path)))
        except ProblemList as exc:
            problems.extend(str(p) for p in exc.problems)
            continue
        rows.append(
            {
                "campus": inv["name"],
                "buildings": inv["buildings"],
                "halls": inv["halls"],
                "racks": inv["racks"],
                "GPUs": inv["gpus"],
                "IT MW": round(inv["it_mw"], 1),
                "facility MW": round(inv["facility_mw"], 1),
                "switches": inv["switches"],
            }
        )
    return pd.DataFrame(rows), problems


def build_app(folder: Path) -> pn.viewable.Viewable:
    table, problems = site_inventories(folder)
    parts: list = [
        pn.pane.Markdown("# campustwin\nSites loaded from the sites folder."),
        pn.widgets.Tabulator(table, disabled=True, show_index=False, name="sites"),
    ]
    if problems:
        parts.append(pn.pane.Alert("\n".join(problems), alert_type="danger"))
    return pn.Column(*parts, sizing_mode="stretch_width")
