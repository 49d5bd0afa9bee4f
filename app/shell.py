"""The page shell: builds one console page per browser session.

Until the console issue lands this shows the inventory of every site in the sites folder, so that
``make run`` serves something true and useful rather than a blank page.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

import pandas as pd
import panel as pn

from app.context import ConsoleContext
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


PAGES = {
    "whatif": "What-if",
    "capacity": "Capacity",
    "network": "Network",
    "site": "Site",
}

VIEWS = {
    "whatif": ("app.views.whatif", "WhatIfView"),
    "capacity": ("app.views.capacity", "CapacityView"),
    "network": ("app.views.network", "NetworkView"),
    "site": ("app.views.site", "SiteView"),
}

NAV_CSS = """
nav.ct { display: flex; gap: 18px; align-items: baseline; padding: 6px 4px; border-bottom: 1px solid #d0d7de; }
nav.ct b { font-size: 20px; margin-right: 12px; }
nav.ct a { color: #0969da; text-decoration: none; font-size: 15px; }
nav.ct a.here { color: #1f2328; font-weight: 600; border-bottom: 2px solid #fd8c73; }
"""


def nav_html(page: str) -> str:
    links = "".join(
        f'<a href="./{key}" class="{"here" if key == page else ""}">{label}</a>'
        for key, label in PAGES.items()
    )
    return f'<nav class="ct"><b>campustwin</b>{links}</nav>'


def build_page(context: ConsoleContext, page: str) -> pn.viewable.Viewable:
    """One page of the console for one browser session: the navigation bar and the page's view."""
    module, cls = VIEWS[page]
    view = getattr(importlib.import_module(module), cls)(context)
    header = pn.pane.HTML(nav_html(page), sizing_mode="stretch_width", stylesheets=[NAV_CSS])
    return pn.Column(header, view, sizing_mode="stretch_width")
