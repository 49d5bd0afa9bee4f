"""The page URL's query as a session sees it: every page reads its state from there."""

from __future__ import annotations

import panel as pn


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
