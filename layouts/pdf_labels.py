"""The names on a PDF floor plan: buildings, halls, rooms, rows, pods and racks.

Each name is set at the largest size its room allows, up to a cap, and left out below
:data:`MIN_PT`, where print cannot be read. On a hall's page, a rack big enough on paper carries
its own name (``R001``, its pod and row are labelled beside the rows): a planner working from the
print has to tell which box is which rack.
"""

from __future__ import annotations

from reportlab.lib.colors import HexColor
from reportlab.pdfgen.canvas import Canvas

from layouts import svg
from layouts.geometry import BUILDING_GAP_MM, CORRIDOR_MM, HallPlan
from layouts.pdf_text import draw_text, text_width

MM = 72 / 25.4  # points per paper millimetre
LABEL_ROOM = 8 * MM  # above the drawing, for building and hall names
MIN_PT = 3.5  # labels that would be smaller are left out: they could not be read on paper
READABLE_PT = 6.0  # the overview's hall names and page tags: what a reader looks a hall up by
RACK_NAME_PT = (4.5, 7.0)  # a rack's own name: at least this, at most that
FONT, BOLD = "Helvetica", "Helvetica-Bold"


def fit(text: str, font: str, cap: float, width: float, height: float) -> float:
    """The largest size up to ``cap`` points at which ``text`` fits ``width x height`` points; 0 if unreadable."""
    size = min(cap, height, width / max(text_width(text, font, 1.0), 1e-6))
    return size if size >= MIN_PT else 0.0


def label(c: Canvas, x: float, y: float, text: str, size: float, font: str = FONT, ink: str = svg.INK, align: str = "left") -> None:  # fmt: skip
    if size <= 0:
        return
    c.setFillColor(HexColor(ink))
    draw_text(c, x, y, text, font, size, align)


def floor_labels(c: Canvas, sc: svg.Scene, k: float, ox: float, oy: float, hall_pages: dict[str, int], right: float) -> bool:  # fmt: skip
    """Names in page points, each sized to the room it has and left out where it would not be legible.

    Returns True when a hall of ``hall_pages`` got a page tag instead of its name (see the module
    docstring): the page then needs an index of hall -> page.
    """
    for name, b in sc.buildings:
        text = f"building {name}"
        # A building one hall wide lends its name the gap to its east neighbour (nothing is drawn
        # there), up to the drawing area's edge.
        room = min((b.w_mm + 0.9 * BUILDING_GAP_MM) * k, right - ox - b.x_mm * k)
        label(c, ox + b.x_mm * k, oy + b.y1_mm * k + 2.5, text, fit(text, BOLD, 11, room, LABEL_ROOM), BOLD)
    tags = []
    for h in sc.halls:
        text = f"{h.name} · p. {hall_pages[h.name]}" if h.name in hall_pages else h.name
        size = fit(text, BOLD, 10, h.box.w_mm * k, CORRIDOR_MM * k * 0.75 if sc.buildings else LABEL_ROOM)
        if h.name in hall_pages and size < READABLE_PT:
            tags.append((h, f"p. {hall_pages[h.name]}"))
        else:
            label(c, ox + h.box.x_mm * k, oy + h.box.y1_mm * k + 1.5, text, size, BOLD)
        for a in (a for a in h.areas if a.kind != "row"):
            _, ink, text = svg.area_style(a)
            cx, cy = ox + (a.box.x_mm + a.box.w_mm / 2) * k, oy + (a.box.y_mm + a.box.d_mm / 2) * k
            if a.kind.endswith("aisle"):
                label(c, cx, cy - 2.5, text, fit(text, FONT, 7, a.box.w_mm * k / 2, a.box.d_mm * k * 0.6), FONT, ink, "centre")  # fmt: skip
                continue
            size = fit(text, BOLD, 11, a.box.w_mm * k * 0.9, a.box.d_mm * k * 0.45)
            if size:  # a white band keeps a plant room's name readable on its hatching
                c.setFillColor(HexColor("#ffffff"))
                half = text_width(text, BOLD, size) / 2 + 2
                c.rect(cx - half, cy - size * 0.45, 2 * half, size * 1.2, stroke=0, fill=1)
            label(c, cx, cy - size * 0.35, text, size, BOLD, ink, "centre")
    for h, number, a, _, pod in sc.rows:
        cy, height = oy + (a.box.y_mm + a.box.d_mm / 2) * k, a.box.d_mm * k * 0.75
        # Row names in the west wall clearance, a pod's name east of its first row (as in the SVG).
        west, east = (
            max(v, CORRIDOR_MM / 2) * k * 0.85 for v in (a.box.x_mm - h.box.x_mm, h.box.x1_mm - a.box.x1_mm)
        )
        size = fit(f"R{number:02d}", FONT, 8, west, height)
        label(c, ox + a.box.x_mm * k - 0.15 * size, cy - 0.35 * size, f"R{number:02d}", size, align="right")
        if pod:
            size = fit(pod, BOLD, 8, east, height)
            label(c, ox + a.box.x1_mm * k + 0.15 * size, cy - 0.35 * size, pod, size, BOLD, svg.FRONT_HEX)

    # Tags of one size and kind (the largest the tightest hall allows), so they read as a set: the
    # hall's name over its page where every name fits, else the page alone and the index names them.
    def size_of(h: HallPlan, lines: list[str]) -> float:
        return min(fit(t, BOLD, 9, h.box.w_mm * k * 0.85, h.box.d_mm * k * 0.3 / len(lines)) for t in lines)

    named = [(h, [h.name, page]) for h, page in tags]
    size = min((size_of(h, lines) for h, lines in named), default=0)
    if size < READABLE_PT:
        named = [(h, [page]) for h, page in tags]
        size = min((size_of(h, lines) for h, lines in named), default=0)
    if size >= READABLE_PT:  # else the index alone gives the pages
        for h, lines in named:
            _page_tag(c, h, lines, size, k, ox, oy)
    return any(len(lines) == 1 for _, lines in named)


def _page_tag(c: Canvas, h: HallPlan, lines: list[str], size: float, k: float, ox: float, oy: float) -> None:
    """A white tag at the top of a hall's outline, where its name and page do not fit above it."""
    cx, top = ox + (h.box.x_mm + h.box.w_mm / 2) * k, oy + h.box.y1_mm * k - 1.5
    half = max(text_width(t, BOLD, size) for t in lines) / 2 + 1.5
    c.setStrokeColor(HexColor(svg.FRONT_HEX))
    c.setFillColor(HexColor("#ffffff"))
    c.setLineWidth(0.5)
    c.rect(cx - half, top - size * (0.3 + len(lines)), 2 * half, size * (0.3 + len(lines)), stroke=1, fill=1)
    for j, text in enumerate(lines, start=1):
        label(c, cx, top - size * j, text, size, BOLD, svg.FRONT_HEX, "centre")


def rack_names(c: Canvas, sc: svg.Scene, fills: list[str], k: float, ox: float, oy: float) -> None:
    """Each rack's own name inside its box (``fills``: the boxes' colours), where every rack of
    the page has room for it."""
    if sc.buildings:  # the campus overview: halls, not racks, are what a reader looks up there
        return
    r = sc.racks
    names = [str(name).rsplit("/", 1)[-1] for name in r["name"]]
    widths = (r["w_mm"].to_numpy() * k).tolist()
    depths = (r["d_mm"].to_numpy() * k).tolist()
    longest = max(names, key=len, default="")
    size = min(
        (fit(longest, FONT, RACK_NAME_PT[1], w * 0.85, d * 0.4) for w, d in zip(widths, depths, strict=True)),
        default=0.0,
    )
    if size < RACK_NAME_PT[0]:
        return
    xs, ys = r["x_mm"].tolist(), r["y_mm"].tolist()
    for name, x, y, w, d, fill in zip(names, xs, ys, widths, depths, fills, strict=True):
        ink = "#ffffff" if _dark(fill) else svg.INK
        label(c, ox + x * k + w / 2, oy + y * k + d / 2 - 0.35 * size, name, size, FONT, ink, "centre")


def _dark(hexa: str) -> bool:
    """Whether white text contrasts more than black with ``hexa`` (WCAG 2 contrast ratios)."""
    r, g, b = (int(hexa.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    lum = sum(
        w * (v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4)
        for w, v in ((0.2126, r), (0.7152, g), (0.0722, b))
    )
    return 1.05 / (lum + 0.05) > (lum + 0.05) / 0.05
