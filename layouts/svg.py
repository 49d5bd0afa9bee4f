"""Floor plans as SVG: a drawing a planner opens in a browser, zooms into and hovers over.

The drawing is in the plan's own unit: the ``viewBox`` is in millimetres of floor, so a rack's
``x``/``y``/``width``/``height`` are its real position and size (x grows east; SVG's y grows
down, so the plan is flipped to keep north up). The ``width``/``height`` attributes put the
sheet on paper at a standard scale 1:N, the smallest that fits the plan on about an A3 sheet;
the legend, title block, scale bar and north arrow are drawn in paper millimetres (a group
scaled by N) so they read the same at every scale. A hall alone is drawn from its own origin
(its south-west corner is 0, 0), the CAD convention.

Every rack is one ``<rect class="rack" data-rack="...">`` with a ``<title>`` tooltip. Text from
the site or a run (names, tenants) is escaped, never markup. The output depends only on the plan
and the colouring, so the same input gives the same bytes.

:func:`scene` and the other public helpers are shared with :mod:`layouts.pdf`, so both drawings
choose the same content, scales and wording.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from layouts.colour import Colouring
from layouts.geometry import CORRIDOR_MM, Area, Box, CampusPlan, HallPlan

COLD_HEX, COLD_INK = "#dcecfb", "#4f79a6"
HOT_HEX, HOT_INK = "#fbe1dd", "#b0584c"
ROOM_HEX, ROOM_INK = "#e4e4e4", "#8a8a8a"
BUILDING_HEX, INK, RACK_EDGE_HEX = "#f5f4ef", "#2b2b2b", "#4d4d4d"
FRONT_HEX = "#1f3b73"  # a line along each row's front (its cold-aisle side), and the pod names
CHAR_EM = 0.6  # a generous mean advance of a sans-serif character, so estimated labels stay in their boxes
SCALES = [10, 20, 25, 50, 75] + [
    int(m * 10**k) for k in range(2, 7) for m in (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 7.5)
]
BAR_M = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
FLOOR_KEY = (("cold aisle (rack fronts)", COLD_HEX), ("hot aisle (rack backs)", HOT_HEX))
PLANT_KEY, FRONT_KEY = "plant room (power, cooling)", "rack front; R01.. rows, P1.. pods"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")  # not allowed in XML 1.0
# Sheet layout in paper mm: the plan fits DRAW_W x DRAW_H inside a MARGIN; the panel's blocks are PANEL_W wide.
DRAW_W, DRAW_H, MARGIN, PANEL_W, GAP, TITLE_H, BAR_H = 400, 270, 12, 95, 6, 46, 22


@dataclass
class Scene:
    """What one drawing shows: the whole campus or one hall, its racks, and the rows to label."""

    name: str  # "whole campus" or "hall A1/H1 (building A1)"
    box: Box  # the extent drawn, campus coordinates
    origin: tuple[int, int]  # subtracted from campus coordinates: (0, 0), or a hall's own origin
    buildings: list[tuple[str, Box]]  # outlines (none for one hall)
    halls: list[HallPlan]
    positions: np.ndarray  # the racks drawn, as positions in plan.racks and the colouring's lists
    racks: pd.DataFrame  # those rows of plan.racks
    rows: list[
        tuple[HallPlan, int, Area, str, str]
    ]  # (hall, row number, area, facing N/S, pod starting or "")


def scene(plan: CampusPlan, hall: str | None = None) -> Scene:
    """The whole campus, or the hall named ``hall`` (KeyError when there is none)."""
    if hall is None:
        name, box, origin, buildings, halls = "whole campus", plan.box, (0, 0), plan.buildings, plan.halls
        positions = np.arange(len(plan.racks))
    else:
        h = plan.hall(hall)
        name, box, origin, buildings, halls = f"hall {h.name} (building {h.building})", h.box, (h.box.x_mm, h.box.y_mm), [], [h]  # fmt: skip
        positions = np.arange(h.first_rack, h.first_rack + h.racks)
    racks = plan.racks.iloc[positions]
    firsts = racks.drop_duplicates(["hall", "row"])
    facing = dict(zip(zip(firsts["hall"], firsts["row"], strict=True), firsts["facing"], strict=True))
    pods = racks.drop_duplicates("pod")
    pod_at = {
        (h, r): p.rsplit("/", 1)[-1] for h, r, p in zip(pods["hall"], pods["row"], pods["pod"], strict=True)
    }
    rows = []
    for h in halls:  # row areas come in row order, numbered from 1 in each hall (as plan.racks["row"])
        for number, area in enumerate((a for a in h.areas if a.kind == "row"), start=1):
            key = (h.name, number)
            rows.append((h, number, area, facing.get(key, "N"), pod_at.get(key, "")))
    return Scene(name, box, origin, buildings, halls, positions, racks, rows)


def paper_scale(floor_w_mm: float, floor_d_mm: float, paper_w_mm: float, paper_h_mm: float) -> int:
    """The smallest standard scale 1:N at which ``floor_w x floor_d`` fits ``paper_w x paper_h``."""
    need = max(floor_w_mm / paper_w_mm, floor_d_mm / paper_h_mm)
    return next((n for n in SCALES if n >= need), SCALES[-1])


def bar_length_mm(scale: int, max_paper_mm: float, floor_w_mm: float) -> int:
    """A round scale-bar length (floor mm): at most ``max_paper_mm`` on paper and half the floor drawn."""
    fits = [m for m in BAR_M if m * 1000 / scale <= max_paper_mm and m * 1000 <= max(floor_w_mm / 2, 1000)]
    return (fits[-1] if fits else BAR_M[0]) * 1000


def fit_text(text: str, cap: float, width: float, height: float) -> float:
    """The largest font size up to ``cap`` at which ``text`` fits ``width x height`` (any unit)."""
    return max(0.0, min(cap, height, width / (CHAR_EM * max(len(text), 1))))


def area_style(a: Area) -> tuple[str, str, str]:
    """(fill, ink, label) of an aisle or plant room; a plant room's fill is its hatching's ground."""
    if a.kind == "cold_aisle":
        return COLD_HEX, COLD_INK, "cold aisle"
    if a.kind == "hot_aisle":
        return HOT_HEX, HOT_INK, "hot aisle"
    return ROOM_HEX, INK, a.name if a.kind in a.name else f"{a.name} ({a.kind})"


def legend_rows(sc: Scene, colouring: Colouring) -> list[tuple[str, str, str]]:
    """(label, hex, rack count or "") per legend entry; counts only when each colour means one entry."""
    legend = colouring.legend_of(sc.positions)
    hexes = [h for _, h in colouring.legend]
    if len(set(hexes)) != len(hexes):
        return [(label, hx, "") for label, hx in legend]
    counts = Counter(colouring.hex[i] for i in sc.positions.tolist())
    return [(label, hx, f"{counts.get(hx, 0):,}") for label, hx in legend]


def title_lines(plan: CampusPlan, sc: Scene, colouring: Colouring, scale_note: str, last: str) -> list[str]:
    """The title block's lines, top down: campus, what is drawn, colouring, the run and day it comes
    from (a printed plan must say which day it shows), totals, scale, notes, maker."""
    kw, gpus = float(sc.racks["kw"].sum()), int(sc.racks["gpus"].sum())
    return [
        plan.name,
        sc.name,
        colouring.title,
        *colouring.provenance(),
        f"{len(sc.racks):,} racks · {gpus:,} GPUs · {kw / 1000:,.1f} MW at full draw",
        f"floor {sc.box.w_mm / 1000:,.1f} m × {sc.box.d_mm / 1000:,.1f} m · {scale_note}",
        "dimensions in mm · x east, north up",
        last,
    ]


def rack_tooltips(sc: Scene, colouring: Colouring) -> list[str]:
    """One plain-text tooltip per rack of ``sc``: what a planner asks about a rack."""
    r, c = sc.racks, colouring
    cols = [
        r[k].tolist() for k in ("name", "rack_type", "gpus", "gpu_type", "kw", "row", "position", "facing")
    ]
    return [
        f"{name}\n{rtype}: {gpus} × {gtype}, {kw:,.0f} kW\ntenant {c.tenant[i]} · lease {c.lease[i] or 'none'}\n"
        f"row R{row:02d} · position {pos} · front {face}\ncoloured by {c.by}: {c.value[i]}"
        for i, name, rtype, gpus, gtype, kw, row, pos, face in zip(sc.positions.tolist(), *cols, strict=True)
    ]


def esc(text: object) -> str:
    """``text`` safe inside an XML element or attribute: escaped, without XML-illegal control characters."""
    return html.escape(_CONTROL.sub("", str(text)), quote=True)


def write_svg(plan: CampusPlan, colouring: Colouring, path: str | Path, hall: str | None = None) -> Path:
    """Write ``plan`` (or one hall of it) as an SVG drawing to ``path``; return the path."""
    sc = scene(plan, hall)
    n = paper_scale(sc.box.w_mm, sc.box.d_mm, DRAW_W - 2 * MARGIN, DRAW_H - 2 * MARGIN)
    draw_w, draw_h = sc.box.w_mm / n + 2 * MARGIN, sc.box.d_mm / n + 2 * MARGIN  # paper mm
    legend, legend_h = _legend(sc, colouring)
    if draw_w > 2.2 * draw_h:  # a wide plan: the panel's blocks side by side below it
        sheet_w = round(max(draw_w, 3 * PANEL_W + 2 * GAP + 2 * MARGIN))
        sheet_h = round(draw_h + max(legend_h, BAR_H, TITLE_H) + MARGIN)
        places = [(MARGIN, draw_h), (MARGIN + PANEL_W + GAP, draw_h), (sheet_w - MARGIN - PANEL_W, draw_h)]
    else:  # the panel to the right: legend at the top, title block at the foot
        sheet_w = round(draw_w + PANEL_W + MARGIN)
        sheet_h = round(max(draw_h, MARGIN + legend_h + GAP + BAR_H + GAP + TITLE_H + MARGIN))
        places = [(draw_w, MARGIN), (draw_w, MARGIN + legend_h + GAP), (draw_w, sheet_h - MARGIN - TITLE_H)]
    blocks = [legend, _scale_bar(sc, n), _title_block(plan, sc, colouring, n, sheet_w, sheet_h)]
    left, top = sc.box.x_mm - sc.origin[0] - MARGIN * n, -MARGIN * n
    edge = min(0.1 * n, 0.05 * int(sc.racks["w_mm"].min())) if len(sc.racks) else 0.1 * n
    hatch = (
        '<pattern id="{0}" patternUnits="userSpaceOnUse" width="{1}" height="{1}" patternTransform="rotate(45)">'
        f'<rect width="{{1}}" height="{{1}}" fill="{ROOM_HEX}"/>'
        f'<line x1="0" y1="0" x2="0" y2="{{1}}" stroke="{ROOM_INK}" stroke-width="{{2}}"/></pattern>'
    )
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{sheet_w}mm" height="{sheet_h}mm" '
        f'viewBox="{left} {top} {sheet_w * n} {sheet_h * n}" font-family="Helvetica, Arial, sans-serif">',
        f"<title>{esc(plan.name)} floor plan: {esc(sc.name)} · {esc(colouring.provenance_line())}</title>",
        f"<desc>{esc(colouring.title)}; {esc(colouring.provenance_line())}. "
        f"Units: millimetres of floor, x east, north up; scale 1:{n}.</desc>",
        f"<defs><style>.rack{{stroke:{RACK_EDGE_HEX};stroke-width:{_f(edge)}px}}"
        f".rack:hover{{stroke:#000;stroke-width:{_f(edge * 4)}px}}</style>",
        hatch.format("ct-hatch", _f(1.5 * n), _f(0.3 * n)),
        hatch.format("ct-hatch-key", 1.5, 0.3),  # for the legend, drawn in paper mm
        "</defs>",
        f'<rect x="{left}" y="{top}" width="{sheet_w * n}" height="{sheet_h * n}" fill="#fff"/>',
        *_floor(sc, colouring, n),
    ]
    for (px, py), parts in zip(places, blocks, strict=True):
        out += [
            f'<g transform="translate({_f(left + px * n)} {_f(top + py * n)}) scale({n})">',
            *parts,
            "</g>",
        ]
    out.append("</svg>\n")
    target = Path(path)
    target.write_bytes("\n".join(out).encode("utf-8"))
    return target


def _f(v: float) -> str:
    """A number for SVG: at most two decimals, never an exponent (campus coordinates reach millions)."""
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, text: str, size: float, fill: str = INK, anchor: str = "start", bold: bool = False, halo: float = 0) -> str:  # fmt: skip
    extra = (' font-weight="bold"' if bold else "") + (
        f' stroke="#fff" stroke-width="{_f(halo)}" paint-order="stroke"' if halo else ""
    )
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" font-size="{_f(size)}" fill="{fill}" text-anchor="{anchor}"{extra}>'
        f"{esc(text)}</text>"
    )


def _floor(sc: Scene, colouring: Colouring, n: int) -> list[str]:
    """The plan itself, in floor mm: buildings, halls, aisles, rooms, racks, row fronts, then all labels."""
    ox, oy = sc.origin
    top = sc.box.y1_mm - oy

    def y_of(y: float) -> float:  # campus y (north) to SVG y (down)
        return top - (y - oy)

    def rect(b: Box, attrs: str) -> str:
        return f'<rect x="{b.x_mm - ox}" y="{_f(y_of(b.y1_mm))}" width="{b.w_mm}" height="{b.d_mm}" {attrs}/>'

    out, labels = ['<g id="buildings">'], []
    for name, b in sc.buildings:
        out.append(rect(b, f'fill="{BUILDING_HEX}" stroke="{INK}" stroke-width="{_f(0.35 * n)}"'))
        labels.append(_text(b.x_mm - ox, y_of(b.y1_mm) - 1.2 * n, f"building {name}", 3.5 * n, bold=True))
    out += ["</g>", '<g id="halls">']
    for h in sc.halls:
        out.append(rect(h.box, f'fill="#fff" stroke="{INK}" stroke-width="{_f(0.25 * n)}"'))
        size = fit_text(
            h.name, 3 * n, h.box.w_mm * 0.95, CORRIDOR_MM * 0.6 if sc.buildings else MARGIN * n * 0.4
        )
        labels.append(_text(h.box.x_mm - ox, y_of(h.box.y1_mm) - 0.25 * size, h.name, size, bold=True))
        for a in (a for a in h.areas if a.kind != "row"):
            fill, ink, label = area_style(a)
            aisle = a.kind.endswith("aisle")
            paint = f'fill="{fill}"' if aisle else f'fill="url(#ct-hatch)" stroke="{ROOM_INK}" stroke-width="{_f(0.2 * n)}"'  # fmt: skip
            out.append(rect(a.box, paint))
            size = fit_text(label, (2.2 if aisle else 3.5) * n, a.box.w_mm * (0.5 if aisle else 0.9), a.box.d_mm * (0.6 if aisle else 0.4))  # fmt: skip
            cx, cy = a.box.x_mm + a.box.w_mm / 2 - ox, y_of(a.box.y_mm + a.box.d_mm / 2) + 0.35 * size
            labels.append(_text(cx, cy, label, size, ink, "middle", not aisle, 0 if aisle else size / 4))
    r = sc.racks
    x, y = (r["x_mm"] - ox).tolist(), (top - (r["y_mm"] + r["d_mm"] - oy)).tolist()
    out += ["</g>", '<g id="racks">']
    out += [
        f'<rect class="rack" data-rack="{esc(name)}" x="{rx}" y="{ry}" width="{w}" height="{d}" '
        f'fill="{esc(colouring.hex[i])}"><title>{esc(tip)}</title></rect>'
        for i, name, rx, ry, w, d, tip in zip(
            sc.positions.tolist(), r["name"].tolist(), x, y, r["w_mm"].tolist(), r["d_mm"].tolist(),
            rack_tooltips(sc, colouring), strict=True,
        )
    ]  # fmt: skip
    out += ["</g>", f'<g id="rows" stroke="{FRONT_HEX}">']
    for h, number, a, face, pod in sc.rows:
        width = min(0.35 * n, 0.08 * a.box.d_mm)
        fy = y_of(a.box.y1_mm) + width / 2 if face == "N" else y_of(a.box.y_mm) - width / 2
        out.append(f'<line x1="{a.box.x_mm - ox}" y1="{_f(fy)}" x2="{a.box.x1_mm - ox}" y2="{_f(fy)}" stroke-width="{_f(width)}"/>')  # fmt: skip
        cy = y_of(a.box.y_mm + a.box.d_mm / 2)
        # Row names in the west wall clearance, a pod's name east of its first row; a hall without
        # clearance lends them half the corridor.
        west, east = (
            max(v, CORRIDOR_MM / 2) * 0.85 for v in (a.box.x_mm - h.box.x_mm, h.box.x1_mm - a.box.x1_mm)
        )
        size = fit_text(f"R{number:02d}", 3 * n, west, a.box.d_mm * 0.7)
        labels.append(
            _text(a.box.x_mm - ox - 0.1 * size, cy + 0.35 * size, f"R{number:02d}", size, anchor="end")
        )
        if pod:
            size = fit_text(pod, 3 * n, east, a.box.d_mm * 0.7)
            labels.append(
                _text(a.box.x1_mm - ox + 0.15 * size, cy + 0.35 * size, pod, size, FRONT_HEX, bold=True)
            )
    out.append("</g>")
    if not sc.buildings:  # one hall: mark its origin, the 0, 0 of every hall-local coordinate
        arm, y0 = 2 * n, y_of(oy)
        out.append(f'<path d="M{-arm} {_f(y0)}H{arm}M0 {_f(y0 - arm)}V{_f(y0 + arm)}" stroke="{INK}" stroke-width="{_f(0.2 * n)}"/>')  # fmt: skip
        labels.append(_text(-arm, y0 + arm + 2.5 * n, "origin 0, 0", 2.2 * n))
    return [*out, '<g id="labels">', *labels, "</g>"]


def _swatch(y: float, fill: str, stroke: str = INK) -> str:
    return f'<rect x="3" y="{_f(y)}" width="6" height="3.6" fill="{esc(fill)}" stroke="{stroke}" stroke-width="0.15"/>'


def _legend(sc: Scene, colouring: Colouring) -> tuple[list[str], float]:
    """The legend block in paper mm: colour swatches with rack counts, then the floor's own key."""
    out = [_text(3, 6, "Legend", 3.5, bold=True)]
    out.append(_text(3, 11, colouring.title, fit_text(colouring.title, 2.6, PANEL_W - 6, 2.6)))
    y = 15.0
    for label, hx, count in legend_rows(sc, colouring):
        out += [_swatch(y, hx), _text(11, y + 2.9, _clip(label, PANEL_W - 30, 2.8), 2.8)]
        if count:
            out.append(_text(PANEL_W - 3, y + 2.9, f"{count} racks", 2.4, "#666", "end"))
        y += 5
    out.append(_text(3, y + 5, "Floor", 3, bold=True))
    y += 7
    for label, hx in (*FLOOR_KEY, (PLANT_KEY, "url(#ct-hatch-key)")):
        out += [_swatch(y, hx, ROOM_INK if hx.startswith("url") else INK), _text(11, y + 2.9, label, 2.8)]
        y += 5
    out.append(
        f'<line x1="3" y1="{_f(y + 1.8)}" x2="9" y2="{_f(y + 1.8)}" stroke="{FRONT_HEX}" stroke-width="0.6"/>'
    )
    out.append(_text(11, y + 2.9, FRONT_KEY, 2.8))
    y += 7
    return [
        f'<rect width="{PANEL_W}" height="{_f(y)}" fill="#fff" stroke="{INK}" stroke-width="0.25"/>',
        *out,
    ], y


def _clip(text: str, width: float, size: float) -> str:
    room = max(int(width / (CHAR_EM * size)), 4)
    return text if len(text) <= room else text[: room - 1] + "…"


def _scale_bar(sc: Scene, n: int) -> list[str]:
    """Scale bar (alternate dark and white quarters) and a north arrow, in paper mm."""
    length = bar_length_mm(n, PANEL_W - 35, sc.box.w_mm)
    paper = length / n
    out = [f'<rect width="{PANEL_W}" height="{BAR_H}" fill="#fff" stroke="{INK}" stroke-width="0.25"/>']
    for q in range(4):
        out.append(f'<rect x="{_f(5 + q * paper / 4)}" y="9" width="{_f(paper / 4)}" height="2.2" '
                   f'fill="{INK if q % 2 == 0 else "#fff"}" stroke="{INK}" stroke-width="0.2"/>')  # fmt: skip
    for frac, text in ((0, "0"), (0.5, f"{length / 2000:g}"), (1, f"{length // 1000} m")):
        out.append(_text(5 + frac * paper, 7.5, text, 2.6, anchor="middle"))
    out.append(_text(5, 17, f"scale 1:{n}", 2.6, "#555"))
    out.append(
        f'<path d="M{PANEL_W - 12} 5L{PANEL_W - 8} 17L{PANEL_W - 12} 14L{PANEL_W - 16} 17Z" fill="{INK}"/>'
    )
    out.append(_text(PANEL_W - 12, 20.5, "N", 3, anchor="middle", bold=True))
    return out


def _title_block(plan: CampusPlan, sc: Scene, colouring: Colouring, n: int, w: int, h: int) -> list[str]:
    lines = title_lines(
        plan, sc, colouring, f"scale 1:{n} at {w} × {h} mm", "campustwin · hover a rack for details"
    )
    out = [f'<rect width="{PANEL_W}" height="{TITLE_H}" fill="#fff" stroke="{INK}" stroke-width="0.35"/>']
    y = 3.0
    sizes = (5.5, 3.6, 2.8, 2.6, 2.6, 2.6, 2.6, 2.4, 2.6)
    for k, (text, size) in enumerate(zip(lines, sizes, strict=True)):
        y += size * 1.45
        fill = FRONT_HEX if k == 8 else "#555" if k == 7 else INK
        out.append(_text(3, y, _clip(text, PANEL_W - 6, size), size, fill, bold=k in (0, 1, 3, 4, 8)))
    return out
