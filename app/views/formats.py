"""Figures as the console's cards and tables write them: $2.06M, 42.8 %, +1.5 pts, 3.2 MW."""

from __future__ import annotations

import math


def fmt(value: float | None, kind: str, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    sign = "+" if signed and value > 0 else ("−" if value < 0 else "")
    v = abs(value)
    if kind == "usd":
        for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
            if v >= scale:
                return f"{sign}${v / scale:,.2f}{unit}"
        return f"{sign}${v:,.0f}"
    if kind == "share":
        return f"{sign}{v * 100:.1f}{' pts' if signed else ' %'}"
    if kind == "hours":
        return f"{sign}{v:,.2f} h"
    if kind == "mw":
        return f"{sign}{v:,.1f} MW"
    if kind == "ratio":
        return f"{sign}{v:.3f}"
    return f"{sign}{v:,.0f}"
