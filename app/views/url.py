"""The page URL's query as a session sees it: every page reads its state from there."""

from __future__ import annotations

from typing import TYPE_CHECKING

import panel as pn

from app.views.markup import plain

if TYPE_CHECKING:
    from twin.results import Results


def query_args() -> dict[str, str]:
    """The page URL's query, first value of each key (empty outside a server session)."""
    if pn.state.curdoc is None:
        return {}
    args = pn.state.session_args or {}
    return {
        key: values[0].decode("utf-8", "replace")
        for key, values in args.items()
        if values and key != "bokeh-session-id"
    }


def run_named(saved: str | None, results: Results) -> str:
    """A run as a page names it (markdown): a saved run by its library name (``saved``, from
    :meth:`ConsoleContext.saved_run_name`), a what-if by its scenario's; with its seed."""
    seed = results.kpis.get("seed", "?")
    if saved is not None:
        return f"the run saved in the library as **{plain(saved)}**, seed {seed}"
    return f"the what-if run of **{plain(str(results.kpis.get('scenario', '?')))}**, seed {seed}"


def missing_run(key: str) -> str:
    """Why ``?run=KEY`` opens no run: a saved run's key (``lib-``) or a what-if's cache key."""
    where = "library (it was deleted" if key.startswith("lib-") else "cache (it expired"
    return f"No such run in the {where}, or the link is wrong)"
