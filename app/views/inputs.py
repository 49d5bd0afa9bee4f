"""Number inputs bound to a bounded parameter, that say why a value was not taken.

``pn.widgets.FloatInput.from_param`` refuses a value outside the parameter's bounds with an
exception in the server's log, while the browser keeps showing what was typed: an operator who
typed 4000 days saw 4000 and got a run of 30. Here the widget has no bounds of its own, so every
value reaches the server; one outside the bounds (or an emptied field) is reported in words and
the field is put back to the value in force.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import panel as pn
import param


def checked_number(
    owner: param.Parameterized, name: str, label: str, report: Callable[[str], None], width: int = 120
) -> pn.widgets.Widget:
    """An input for ``owner.<name>`` (a bounded Integer or Number); ``report`` gets each refusal,
    and "" when a typed value is taken."""
    spec = owner.param[name]
    integer = isinstance(spec, param.Integer)
    # A float input even for whole numbers: the browser's integer input drops "." and "e" as they
    # are typed, so 2.5 reached the server as 25 and was taken without a word.
    widget = pn.widgets.FloatInput(
        name=label, value=getattr(owner, name), step=1 if integer else 0.1, width=width
    )

    def typed(event) -> None:
        current = getattr(owner, name)
        value = event.new
        if value == current:
            return
        refusal = _refusal(value, spec.bounds, integer)
        if refusal:
            report(f"{label}: {refusal}; kept {_shown(current, integer)}.")
            widget.value = current
            return
        setattr(owner, name, int(value) if integer else float(value))
        report("")

    widget.param.watch(typed, "value")
    owner.param.watch(lambda event: setattr(widget, "value", event.new), name)
    return widget


def _refusal(value, bounds: tuple | None, integer: bool) -> str:
    """Why ``value`` cannot be taken ("" if it can)."""
    if value is None:
        return "the field is empty; type a number"
    if not math.isfinite(value):
        return f"{value} is not a number"
    if integer and value != int(value):
        return f"{value:,g} is not a whole number; type one"
    lo, hi = bounds or (None, None)
    if lo is not None and value < lo:
        return f"{_shown(value, integer)} is below the lowest, {_shown(lo, integer)}"
    if hi is not None and value > hi:
        return f"{_shown(value, integer)} is above the highest, {_shown(hi, integer)}"
    return ""


def _shown(value: float, integer: bool) -> str:
    """123,456,789 for a whole number (``g`` would round it to 1.23457e+08), 2.5 for a float, and
    1e+30 for what no one types digit by digit."""
    if abs(value) >= 1e15:
        return f"{value:.3g}"
    return f"{int(value):,}" if integer else f"{value:,g}"


def on_file(upload: pn.widgets.FileInput, chosen: Callable[[str, bytes], None]) -> None:
    """Call ``chosen(filename, content)`` for each file picked in ``upload``, an empty one too.

    Panel hands an empty file's content over as None, the same as no file at all: only the name,
    set with it (the two arrive together, in one call), says a file was picked.
    """

    def picked(*events) -> None:
        if upload.value is None and not any(e.name == "filename" and e.new for e in events):
            return
        chosen(upload.filename or "", upload.value or b"")

    upload.param.watch(picked, ["value", "filename"])
