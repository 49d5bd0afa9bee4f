"""Floor plans as a PDF to print: a campus overview, then one page per hall, on A3 landscape.

Each page draws its plan at a standard scale 1:N (the smallest that fits the drawing area, so a
ruler on the printed page measures the floor), north up, with the same content as the SVG
(:mod:`layouts.svg` picks it): buildings, halls, tinted aisles, hatched plant rooms, racks in
their colouring with a line along each row's front, row and pod labels where they are legible.
A panel on the right holds the legend, a scale bar with a north arrow and the title block
(campus, hall, colouring, scale, page ``k of n``); the overview names each hall with its page.
On a campus drawn too small for that (Ohio at 1:2000: a hall is 6 mm wide with 1.5 mm above
it), each hall gets a "p. N" tag inside its outline instead, and the panel an index of hall ->
page: a name under 6 pt cannot be read on paper, and the overview is how a reader finds a hall.

Racks are drawn one path per colour, in floor millimetres under one transform, so 12,800 racks
are a few thousand short operators. ``invariant=1`` pins the file's date and id: the same plan
and colouring give the same bytes. Text is drawn as plain strings, never as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A3, landscape
from reportlab.pdfgen.canvas import Canvas

from layouts import svg
from layouts.colour import Colouring
from layouts.geometry import CampusPlan
from layouts.pdf_labels import BOLD, FONT, LABEL_ROOM, MM, floor_labels, label, rack_names
from layouts.pdf_text import text_width

PAGE_W, PAGE_H = landscape(A3)
MARGIN, PANEL_W, GAP = 10 * MM, 100 * MM, 6 * MM


def write_pdf(
    plan: CampusPlan,
    colouring: Colouring,
    path: str | Path,
    hall: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the campus overview and a page per hall (or only ``hall``'s) to ``path``; return it."""
    names = [hall] if hall is not None else [h.name for h in plan.halls]
    scenes = [svg.scene(plan)] + [svg.scene(plan, name) for name in names]
    hall_pages = {name: k for k, name in enumerate(names, start=2)}
    target = Path(path)
    c = Canvas(str(target), pagesize=(PAGE_W, PAGE_H), invariant=1, pageCompression=1)
    c.setTitle(f"{plan.name} floor plan")
    c.setAuthor("campustwin")
    c.setCreator("campustwin")
    c.setSubject(f"{colouring.title}; {colouring.provenance_line()}")
    for k, sc in enumerate(scenes, start=1):
        _page(c, plan, colouring, sc, k, len(scenes), hall_pages)
        c.showPage()
        if progress is not None:
            progress(k, len(scenes))
    c.save()
    return target


def _page(c: Canvas, plan: CampusPlan, col: Colouring, sc: svg.Scene, page: int, pages: int, hall_pages: dict[str, int]) -> None:  # fmt: skip
    area_w = PAGE_W - 2 * MARGIN - PANEL_W - GAP
    area_h = PAGE_H - 2 * MARGIN - LABEL_ROOM
    n = svg.paper_scale(sc.box.w_mm, sc.box.d_mm, area_w / MM, area_h / MM)
    k = MM / n  # points per floor millimetre
    ox = MARGIN + (area_w - sc.box.w_mm * k) / 2 - sc.box.x_mm * k
    oy = MARGIN + (area_h - sc.box.d_mm * k) / 2 - sc.box.y_mm * k
    _floor(c, col, sc, k, ox, oy)
    rack_names(c, sc, [col.hex[i] for i in sc.positions.tolist()], k, ox, oy)
    tagged = floor_labels(c, sc, k, ox, oy, hall_pages if sc.buildings else {}, MARGIN + area_w)
    x = PAGE_W - MARGIN - PANEL_W
    title_h = _title_block(c, plan, col, sc, n, page, pages, x)
    bar_top = MARGIN + title_h + GAP + 24 * MM
    _scale_bar(c, sc, n, x, bar_top)
    legend_bottom = bar_top + GAP
    if tagged:  # at most half the panel above the scale bar: the legend keeps the rest
        pages_of = {h.name: hall_pages[h.name] for h in sc.halls if h.name in hall_pages}
        legend_bottom = (
            _hall_index(c, pages_of, x, legend_bottom, (PAGE_H - MARGIN - legend_bottom) / 2) + GAP
        )
    _legend(c, sc, col, x, PAGE_H - MARGIN, legend_bottom)
    label(c, MARGIN, MARGIN / 2, f"campustwin · {plan.name} · {sc.name}", 7, ink="#555555")
    label(c, PAGE_W - MARGIN, MARGIN / 2, f"page {page} of {pages}", 7, ink="#555555", align="right")


def _floor(c: Canvas, col: Colouring, sc: svg.Scene, k: float, ox: float, oy: float) -> None:
    """Everything in floor millimetres under one transform: outlines, aisles, rooms, racks, fronts."""
    c.saveState()
    c.translate(ox, oy)
    c.scale(k, k)
    pt = 1 / k  # one point, in floor mm
    c.setStrokeColor(HexColor(svg.INK))
    c.setFillColor(HexColor(svg.BUILDING_HEX))
    c.setLineWidth(0.9 * pt)
    for _, b in sc.buildings:
        c.rect(b.x_mm, b.y_mm, b.w_mm, b.d_mm, stroke=1, fill=1)
    c.setFillColor(HexColor("#ffffff"))
    c.setLineWidth(0.6 * pt)
    for h in sc.halls:
        c.rect(h.box.x_mm, h.box.y_mm, h.box.w_mm, h.box.d_mm, stroke=1, fill=1)
    areas = [a for h in sc.halls for a in h.areas]
    for kind, hx in (("cold_aisle", svg.COLD_HEX), ("hot_aisle", svg.HOT_HEX)):
        c.setFillColor(HexColor(hx))
        p = c.beginPath()
        for a in areas:
            if a.kind == kind:
                p.rect(a.box.x_mm, a.box.y_mm, a.box.w_mm, a.box.d_mm)
        c.drawPath(p, stroke=0, fill=1)
    for a in areas:
        if a.kind in ("power", "cooling"):
            _hatched(c, a.box.x_mm, a.box.y_mm, a.box.w_mm, a.box.d_mm, 2 * MM * pt)
    # Racks: one path per colour, in the order colours first appear (deterministic).
    r = sc.racks
    by_hex: dict[str, list[int]] = {}
    for j, i in enumerate(sc.positions.tolist()):
        by_hex.setdefault(col.hex[i], []).append(j)
    xs, ys, ws, ds = (r[name].tolist() for name in ("x_mm", "y_mm", "w_mm", "d_mm"))
    c.setStrokeColor(HexColor(svg.RACK_EDGE_HEX))
    c.setLineWidth(min(0.25 * pt, 0.05 * min(ws, default=600)))
    for hx, js in by_hex.items():
        c.setFillColor(HexColor(hx))
        p = c.beginPath()
        for j in js:
            p.rect(xs[j], ys[j], ws[j], ds[j])
        c.drawPath(p, stroke=1, fill=1)
    c.setStrokeColor(HexColor(svg.FRONT_HEX))
    for _, _, a, face, _ in sc.rows:
        width = min(1.0 * pt, 0.08 * a.box.d_mm)
        y = a.box.y1_mm - width / 2 if face == "N" else a.box.y_mm + width / 2
        c.setLineWidth(width)
        c.line(a.box.x_mm, y, a.box.x1_mm, y)
    c.restoreState()


def _hatched(c: Canvas, x: float, y: float, w: float, d: float, step: float) -> None:
    """A grey rectangle with 45-degree hatching clipped to it: a plant room."""
    c.saveState()
    c.setFillColor(HexColor(svg.ROOM_HEX))
    c.setStrokeColor(HexColor(svg.ROOM_INK))
    c.setLineWidth(step / 6)
    p = c.beginPath()
    p.rect(x, y, w, d)
    c.clipPath(p, stroke=1, fill=1)
    hatch = c.beginPath()
    off = 0.0
    while off < w + d:
        hatch.moveTo(x + off, y)
        hatch.lineTo(x + off - d, y + d)
        off += step
    c.drawPath(hatch, stroke=1, fill=0)
    c.restoreState()


def _hall_index(c: Canvas, hall_pages: dict[str, int], x: float, bottom: float, room: float) -> float:
    """The overview's table of hall -> page, in columns read downwards, in a box from ``bottom`` at
    most ``room`` points high (cut with "+ N more" beyond); returns the box's top."""
    size, step, head = 7.0, 9.0, 12 * MM  # 7 pt on 9 pt rows: above READABLE_PT, 36 halls in 3 cm
    entries = [(f"p. {page}", name) for name, page in hall_pages.items()]
    page_w = max(text_width(p, BOLD, size) for p, _ in entries) + 1.5 * MM
    inner = PANEL_W - 6 * MM
    col_w = min(page_w + max(text_width(n, FONT, size) for _, n in entries) + 4 * MM, inner)
    columns = max(1, int(inner // col_w))
    rows = min(-(-len(entries) // columns), max(1, int((room - head - 2 * MM) // step)))
    shown = entries if len(entries) <= rows * columns else entries[: rows * columns - 1]
    height = head + rows * step + 2 * MM
    _box(c, x, bottom, PANEL_W, height)
    top = bottom + height
    label(c, x + 3 * MM, top - 7 * MM, "Hall pages", 11, BOLD)
    for j, (page, name) in enumerate(shown):
        cx, y = x + 3 * MM + (j // rows) * col_w, top - head - (j % rows) * step
        label(c, cx, y, page, size, BOLD, svg.FRONT_HEX)
        label(c, cx + page_w, y, _clip(name, FONT, size, col_w - page_w - 1.5 * MM), size)
    if len(shown) < len(entries):
        cx, y = x + 3 * MM + (columns - 1) * col_w, top - head - (rows - 1) * step
        label(c, cx, y, f"+ {len(entries) - len(shown)} more halls", size)
    return top


def _box(c: Canvas, x: float, y: float, w: float, h: float, width: float = 0.7) -> None:
    c.setStrokeColor(HexColor(svg.INK))
    c.setFillColor(HexColor("#ffffff"))
    c.setLineWidth(width)
    c.rect(x, y, w, h, stroke=1, fill=1)


def _clip(text: str, font: str, size: float, width: float) -> str:
    """``text``, cut with an ellipsis to ``width`` points."""
    if text_width(text, font, size) <= width:
        return text
    while text and text_width(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _title_block(c: Canvas, plan: CampusPlan, col: Colouring, sc: svg.Scene, n: int, page: int, pages: int, x: float) -> float:  # fmt: skip
    """The title block at the panel's foot; returns its height in points."""
    texts = svg.title_lines(plan, sc, col, f"scale 1:{n} on A3", f"campustwin · page {page} of {pages}")
    styles = [(BOLD, 16, svg.INK), (BOLD, 11, svg.INK), (FONT, 8, svg.INK), (BOLD, 8, svg.INK), (BOLD, 8, svg.INK), (FONT, 8, svg.INK), (FONT, 8, svg.INK), (FONT, 7, "#555555"), (BOLD, 8, svg.FRONT_HEX)]  # fmt: skip
    # Wrapped, not cut: a printed plan must name its run in full (scenario names run to 128 characters).
    lines = [
        (part, font, size, ink)
        for text, (font, size, ink) in zip(texts, styles, strict=True)
        for part in _wrap(text, font, size, PANEL_W - 6 * MM)
    ]
    height = sum(size * 1.4 for _, _, size, _ in lines) + 4 * MM
    _box(c, x, MARGIN, PANEL_W, height, 1.0)
    y = MARGIN + height - 2 * MM
    for text, font, size, ink in lines:
        y -= size * 1.4
        label(c, x + 3 * MM, y + size * 0.3, text, size, font, ink)
    return height


def _wrap(text: str, font: str, size: float, width: float, max_lines: int = 4) -> list[str]:
    """``text`` in lines of at most ``width`` points: broken at a space when that leaves the line at
    least 60 % full, else inside the word (a snake_case name has no space to break at); past
    ``max_lines`` the last line is cut with an ellipsis."""
    lines: list[str] = []
    rest = text
    while rest and len(lines) < max_lines:
        if text_width(rest, font, size) <= width:
            lines.append(rest)
            return lines
        cut = len(rest)
        while cut > 1 and text_width(rest[:cut], font, size) > width:
            cut -= 1
        space = rest.rfind(" ", 0, cut + 1)
        end = space if space > 0 and text_width(rest[:space], font, size) >= 0.6 * width else cut
        lines.append(rest[:end].rstrip())
        rest = rest[end:].lstrip()
    if rest:
        lines[-1] = _clip(lines[-1] + " " + rest, font, size, width)
    return lines


def _scale_bar(c: Canvas, sc: svg.Scene, n: int, x: float, top: float) -> None:
    """A scale bar of a round length in alternate quarters, and a north arrow, in a 24 mm box."""
    _box(c, x, top - 24 * MM, PANEL_W, 24 * MM)
    length = svg.bar_length_mm(n, PANEL_W / MM - 40, sc.box.w_mm)
    paper = length / n * MM
    bx, by = x + 6 * MM, top - 13 * MM
    c.setLineWidth(0.5)
    for q in range(4):
        c.setFillColor(HexColor(svg.INK if q % 2 == 0 else "#ffffff"))
        c.rect(bx + q * paper / 4, by, paper / 4, 2 * MM, stroke=1, fill=1)
    for frac, text in ((0, "0"), (0.5, f"{length / 2000:g}"), (1, f"{length // 1000} m")):
        label(c, bx + frac * paper, by + 3 * MM, text, 8, align="centre")
    label(c, bx, by - 6 * MM, f"scale 1:{n} (A3)", 8, ink="#555555")
    ax, ay = x + PANEL_W - 14 * MM, top - 20 * MM
    p = c.beginPath()
    p.moveTo(ax, ay + 13 * MM)
    p.lineTo(ax + 4 * MM, ay)
    p.lineTo(ax, ay + 3 * MM)
    p.lineTo(ax - 4 * MM, ay)
    p.close()
    c.setFillColor(HexColor(svg.INK))
    c.drawPath(p, stroke=0, fill=1)
    label(c, ax, ay - 3.5 * MM, "N", 10, BOLD, align="centre")


def _legend(c: Canvas, sc: svg.Scene, col: Colouring, x: float, top: float, bottom: float) -> None:
    """Colour swatches with rack counts, then the floor key; in two columns, then cut, if too many."""
    rows, step = svg.legend_rows(sc, col), 5 * MM
    fixed = 25 * MM + (len(svg.FLOOR_KEY) + 1) * step + 3 * MM  # headings, floor key, plant room, front line
    fit = max(int((top - bottom - fixed) // step), 1)
    columns = 1 if len(rows) <= fit else 2
    shown = (
        rows if len(rows) <= fit * columns else rows[: fit * columns - 1]
    )  # the last slot says how many more
    per_col = max(-(-(len(shown) + (len(shown) < len(rows))) // columns), 1)
    height = fixed + per_col * step
    _box(c, x, top - height, PANEL_W, height)
    label(c, x + 3 * MM, top - 7 * MM, "Legend", 11, BOLD)
    label(c, x + 3 * MM, top - 12 * MM, _clip(col.title, FONT, 7.5, PANEL_W - 6 * MM), 7.5)
    col_w = PANEL_W / columns
    for j, (name, hx, count) in enumerate(shown):
        cx, y = x + (j // per_col) * col_w, top - 18 * MM - (j % per_col) * step
        _swatch(c, cx + 3 * MM, y, hx)
        right = cx + col_w - 3 * MM
        count_w = text_width(f"{count} racks", FONT, 6.5) + 2 * MM if count else 0
        label(c, cx + 11 * MM, y + 0.8 * MM, _clip(name, FONT, 8, right - count_w - cx - 11 * MM), 8)
        if count:
            label(c, right, y + 0.8 * MM, f"{count} racks", 6.5, ink="#666666", align="right")
    if len(shown) < len(rows):
        cx, y = x + (columns - 1) * col_w, top - 18 * MM - (per_col - 1) * step
        label(c, cx + 3 * MM, y + 0.8 * MM, f"+ {len(rows) - len(shown)} more (SVG, CSV)", 8)
    y = top - 18 * MM - per_col * step
    label(c, x + 3 * MM, y - 1 * MM, "Floor", 9, BOLD)
    y -= 7 * MM
    for name, hx in svg.FLOOR_KEY:
        _swatch(c, x + 3 * MM, y, hx)
        label(c, x + 11 * MM, y + 0.8 * MM, name, 8)
        y -= step
    _hatched(c, x + 3 * MM, y, 6 * MM, 3.6 * MM, 1.5 * MM)
    label(c, x + 11 * MM, y + 0.8 * MM, svg.PLANT_KEY, 8)
    y -= step
    c.setStrokeColor(HexColor(svg.FRONT_HEX))
    c.setLineWidth(1.6)
    c.line(x + 3 * MM, y + 1.8 * MM, x + 9 * MM, y + 1.8 * MM)
    label(c, x + 11 * MM, y + 0.8 * MM, svg.FRONT_KEY, 8)


def _swatch(c: Canvas, x: float, y: float, hx: str) -> None:
    c.setStrokeColor(HexColor(svg.INK))
    c.setLineWidth(0.4)
    c.setFillColor(HexColor(hx))
    c.rect(x, y, 6 * MM, 3.6 * MM, stroke=1, fill=1)
