"""The page shell: one console page per browser session, under a navigation bar.

Each page has its own URL (``/whatif``, ``/capacity``, ``/network``, ``/site``, ``/runs``; ``/`` is the
What-if), so a link opens the page it names and a session builds only the page it shows.
"""

from __future__ import annotations

import html
import importlib

import panel as pn

from app.context import ConsoleContext
from app.roles import NOBODY, Access

PAGES = {
    "whatif": "What-if",
    "capacity": "Capacity",
    "network": "Network",
    "site": "Site",
    "runs": "Runs",
}

VIEWS = {
    "whatif": ("app.views.whatif", "WhatIfView"),
    "capacity": ("app.views.capacity", "CapacityView"),
    "network": ("app.views.network", "NetworkView"),
    "site": ("app.views.site", "SiteView"),
    "runs": ("app.views.runs", "RunsView"),
}

NAV_CSS = """
nav.ct { display: flex; gap: 18px; align-items: baseline; padding: 6px 4px; border-bottom: 1px solid #d0d7de; }
nav.ct b { font-size: 20px; margin-right: 12px; }
nav.ct a { color: #0969da; text-decoration: none; font-size: 15px; }
nav.ct a.here { color: #1f2328; font-weight: 600; border-bottom: 2px solid #fd8c73; }
nav.ct .user { margin-left: auto; color: #57606a; font-size: 14px; }
"""


def nav_html(page: str, who: Access | None = None) -> str:
    """The navigation bar; with sign-in on, who is signed in, their role and a sign-out link."""
    links = "".join(
        f'<a href="./{key}" class="{"here" if key == page else ""}">{label}</a>'
        for key, label in PAGES.items()
    )
    user = ""
    if who is not None:
        user = (
            f'<span class="user">{html.escape(who.user)} ({html.escape(who.role)})</span>'
            '<a href="./logout">Sign out</a>'
        )
    return f'<nav class="ct"><b>campustwin</b>{links}{user}</nav>'


# Pages keep their state in the URL and push a history entry when it changes; Panel does not
# follow the browser's Back and Forward, so the URL would change under a page that stays as it
# was. A page built from the URL it is on is what that URL says: so going back reloads it.
BACK_RELOADS = """
if (!window.campustwinBackReloads) {
  window.campustwinBackReloads = true;
  window.addEventListener("popstate", () => window.location.reload());
}
"""


def build_page(context: ConsoleContext, page: str) -> pn.viewable.Viewable:
    """One page of the console for one browser session: the navigation bar and the page's view."""
    if pn.state.curdoc is not None:
        from bokeh.models import CustomJS

        pn.state.curdoc.js_on_event("document_ready", CustomJS(code=BACK_RELOADS))
    access = context.access()
    who = access if context.users is not None else None
    header = pn.pane.HTML(nav_html(page, who), sizing_mode="stretch_width", stylesheets=[NAV_CSS])
    if access is NOBODY:  # signed in, then removed from the users file
        return pn.Column(header, pn.pane.Markdown("You are not a user of this console any more."))
    module, cls = VIEWS[page]
    view = getattr(importlib.import_module(module), cls)(context)
    return pn.Column(header, view, sizing_mode="stretch_width")
