"""User text inside Markdown panes: shown as the characters typed, never as markup.

``html.escape`` stops HTML, but a Markdown pane also renders ``[x](https://…)`` as a link,
``**x**`` as bold and a leading ``#`` as a heading. :func:`plain` turns every character with a
meaning in either language into an HTML character reference, which both render as itself.
"""

from __future__ import annotations

_SPECIAL = set("&<>\"'[]()*_`#!|~\\{}+-=.:")


def plain(text: object) -> str:
    """``text`` escaped for HTML and Markdown alike (see the module docstring)."""
    return "".join(f"&#{ord(c)};" if c in _SPECIAL else c for c in str(text))
