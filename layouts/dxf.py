"""The floor plan as a DXF drawing for CAD: millimetres, one layer per meaning, racks as blocks.

A CAD user opens the file, switches layers on and off and reads a rack's attributes by clicking
it, so the drawing follows the conventions of data-centre CAD (``shared/reference/ecosystem.md``
section 4):

* **Units and origin.** Model space is in millimetres (``$INSUNITS`` = 4). A whole-campus drawing
  keeps the campus coordinates of :mod:`layouts.geometry` (each hall's content sits where the hall
  stands on the campus, so halls, buildings and the site line up as one sheet); a drawing of one
  hall (``hall=``) puts that hall's own south-west corner at 0,0, the "origin per hall" a fit-out
  drawing uses.
* **Layers.** ``TENANT-<slug>`` holds the racks of one tenant, ``RACK-INTERNAL`` the racks no lease
  holds, ``RACK-LEASED`` an outline around each run of racks one lease holds in a row, ``POWER``
  and ``COOLING`` the plant rooms (cold and hot aisles are airflow, so they go on ``COOLING``),
  ``HALL`` the hall and building walls, ``ANNO`` every text (titles, hall names, row labels,
  legend). Layers carry true colours: a tenant's layer has the tenant's colour of
  :mod:`layouts.colour`, so the drawing matches the SVG and PDF.
* **Racks.** One block definition per rack type (its footprint, with a line along the front) and
  exactly one INSERT per rack, turned 180 degrees for racks facing south. Each insert carries the
  attributes NAME (visible), KW, TENANT (``internal`` for a rack no lease holds, as in the CSV)
  and LEASE; GPUS and TYPE are constant attributes of the block (the same for every rack of a
  type). With a colouring other than by tenant (kW, utilisation) each insert also gets that
  colouring's true colour.

The output is byte-for-byte deterministic: ezdxf's handles are sequential, and its timestamps and
GUIDs are fixed through ezdxf's documented ``write_fixed_meta_data_for_testing`` option while this
module builds and saves a drawing.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ezdxf
import numpy as np
import pandas as pd
from ezdxf import bbox, const
from ezdxf.enums import TextEntityAlignment

from layouts.colour import INTERNAL, INTERNAL_HEX, TENANT_HEX, Colouring
from layouts.geometry import Box, CampusPlan

LAYER_HEX = {
    "RACK-INTERNAL": INTERNAL_HEX,
    "RACK-LEASED": "#333333",
    "POWER": "#e31a1c",
    "COOLING": "#1f78b4",
    "HALL": "#606060",
}
ATTRIBS = ("NAME", "KW", "TENANT", "LEASE")  # per rack: one ATTRIB each on every insert
# The same for every rack of a type: constant attribute definitions of the block, stored once.
# (Per insert they were half the file's entities and half the time of a 12,800-rack campus.)
CONST_ATTRIBS = ("GPUS", "TYPE")
VIEW_ASPECT = 4 / 3  # the narrowest window the saved view must fill across
_FIXED_META = threading.Lock()  # the ezdxf option is process-wide: one writer at a time


@contextmanager
def _fixed_metadata() -> Iterator[None]:
    """Fixed creation/update dates and GUIDs while a drawing is built and saved (determinism)."""
    with _FIXED_META:
        before = ezdxf.options.write_fixed_meta_data_for_testing
        ezdxf.options.write_fixed_meta_data_for_testing = True
        try:
            yield
        finally:
            ezdxf.options.write_fixed_meta_data_for_testing = before


def write_dxf(plan: CampusPlan, colouring: Colouring, path: Path | str, hall: str | None = None) -> Path:
    """Write ``plan`` (or one hall of it) as a DXF R2018 drawing in millimetres; return the path.

    Raises KeyError for an unknown ``hall``. See the module docstring for layers and origins.
    """
    path = Path(path)
    racks = plan.racks.assign(
        tenant=colouring.tenant, lease=colouring.lease, hex=colouring.hex, by=colouring.by
    )
    if hall is None:
        halls, dx, dy, frame = plan.halls, 0, 0, plan.box
        buildings = plan.buildings
        title = f"{plan.name}: {colouring.title}"
    else:
        hp = plan.hall(hall)
        halls, dx, dy = [hp], -hp.box.x_mm, -hp.box.y_mm
        racks = racks.iloc[hp.rack_slice]
        frame, buildings = hp.box.moved(dx, dy), []
        title = f"{plan.name} {hall}: {colouring.title}"
    with _fixed_metadata():
        doc = ezdxf.new("R2018", units=ezdxf.units.MM, setup=False)
        tenant_layer = _layers(doc, sorted(set(colouring.tenant) - {INTERNAL}))
        msp = doc.modelspace()
        for name, box in buildings:
            _rect(msp, box.moved(dx, dy), "HALL")
            _text(msp, f"Building {name}", box.x_mm + dx, box.y1_mm + dy + 400, 1200, "ANNO")
        for hp in halls:
            _draw_hall(msp, hp, dx, dy)
        blocks = _blocks(doc, racks)
        _draw_racks(msp, racks, blocks, tenant_layer, dx, dy)
        _draw_lease_runs(msp, racks, dx, dy)
        _draw_pod_names(msp, racks, dx, dy)
        size = max(600, min(3000, frame.w_mm // 40))
        # The run and day under the title: two plans of one scenario differ only there in CAD.
        _text(msp, title, frame.x_mm, frame.y1_mm + size * 3, size, "ANNO")
        _text(msp, colouring.provenance_line(), frame.x_mm, frame.y1_mm + size * 2, size * 6 // 10, "ANNO")
        _properties(doc, colouring)
        shown = slice(None) if hall is None else plan.hall(hall).rack_slice
        _legend(msp, colouring.legend_of(shown), frame.x1_mm + size, frame.y1_mm, size // 2)
        # The drawing's extents, and a view of them: ezdxf leaves $EXTMIN/$EXTMAX unset and the
        # view on a 1 m window at the origin, where a viewer opening a campus shows nothing. The
        # racks and walls lie in the frame; the texts around it are measured (a few hundred
        # entities, not the racks' tens of thousands).
        text = bbox.extents(msp.query('*[layer=="ANNO"]'), fast=True)
        low = (min(frame.x_mm, text.extmin.x), min(frame.y_mm, text.extmin.y))
        high = (max(frame.x1_mm, text.extmax.x), max(frame.y1_mm, text.extmax.y))
        doc.header["$EXTMIN"], doc.header["$EXTMAX"] = (*low, 0), (*high, 0)
        msp.dxf.extmin, msp.dxf.extmax = (*low, 0), (*high, 0)
        # The view's height covers the width too at the saved aspect ratio (ezdxf's zoom assumes a
        # 2:1 window and cut a wide campus's sides off in a 4:3 one).
        width, height = high[0] - low[0], high[1] - low[1]
        doc.set_modelspace_vport(
            height=max(height, width / VIEW_ASPECT) * 1.04,
            center=((low[0] + high[0]) / 2, (low[1] + high[1]) / 2),
        )
        doc.viewports.get("*Active")[0].dxf.aspect_ratio = VIEW_ASPECT
        path.parent.mkdir(parents=True, exist_ok=True)
        doc.saveas(path)
    return path


def _properties(doc, colouring: Colouring) -> None:
    """The colouring and its run as drawing properties (CAD's DWGPROPS, custom tab): searchable
    and kept when the drawing is copied into another, where a title TEXT might be left behind."""
    run = colouring.source
    props = {"Colouring": colouring.title, "Source": colouring.provenance_line()}
    if run is not None:
        props |= {
            "Scenario": run.scenario,
            "Seed": "" if run.seed is None else str(run.seed),
            "Day": f"{run.days:g}",
        }
    for tag, value in props.items():
        doc.header.custom_vars.append(tag, _clean(value))


def layer_slug(name: str) -> str:
    """A tenant name as the lowercase ``[a-z0-9-]`` part of a layer name ("Acme AI" -> "acme-ai")."""
    # At most 200 characters: DXF table names end at 255, and the suffix of a repeat needs room.
    return re.sub(r"[^a-z0-9]+", "-", name.lower())[:200].strip("-") or "tenant"


def _layers(doc, tenants: list[str]) -> dict[str, str]:
    """Create every layer; return tenant -> its layer name (slugs made unique with -2, -3...)."""
    for name, hexa in LAYER_HEX.items():
        doc.layers.add(name, true_color=_rgb(hexa))
    # Annotation in ACI 7, the colour CAD shows black on white paper and white on a dark screen.
    doc.layers.add("ANNO", color=7)
    layer_of: dict[str, str] = {INTERNAL: "RACK-INTERNAL"}
    taken: set[str] = set()
    for i, tenant in enumerate(tenants):  # same order and palette as colour_racks(by="tenant")
        slug, n = layer_slug(tenant), 2
        while slug in taken:
            slug, n = f"{layer_slug(tenant)}-{n}", n + 1
        taken.add(slug)
        layer_of[tenant] = f"TENANT-{slug}"
        doc.layers.add(layer_of[tenant], true_color=_rgb(TENANT_HEX[i % len(TENANT_HEX)]))
    return layer_of


def _blocks(doc, racks: pd.DataFrame) -> dict[str, tuple[str, list[tuple[str, dict, tuple, tuple]]]]:
    """One block per rack type: its footprint, a front line, and the rack attributes.

    Returns rack type -> (block name, the attribute definitions as (tag, DXF attributes, insert,
    alignment point) in block coordinates), so each rack's ATTRIBs can be placed without ezdxf's
    general transformation (a third of the time of a 12,800-rack campus).
    """
    blocks = {}
    for rack_type, w, d, gpus in (
        racks[["rack_type", "w_mm", "d_mm", "gpus"]].drop_duplicates("rack_type").itertuples(index=False)
    ):
        name = "RACKTYPE-" + re.sub(r"[^A-Za-z0-9_-]", "_", str(rack_type))
        while name in doc.blocks:  # two types that differ only in characters DXF refuses
            name += "_"
        blk = doc.blocks.new(name, base_point=(0, 0))
        w, d = int(w), int(d)
        blk.add_lwpolyline([(0, 0), (w, 0), (w, d), (0, d)], close=True)
        front = d - max(20, d // 12)  # the front is the north edge before any rotation
        blk.add_line((0, front), (w, front))
        height = max(10, min(w, d) // 8)
        specs = []
        for k, tag in enumerate(ATTRIBS):
            if tag == "NAME":  # along the depth: a rack name is longer than a rack is wide
                attrs = {"height": height, "rotation": 90, "halign": const.CENTER, "valign": const.MIDDLE}
                insert = align = (w / 2, d / 2)
            else:
                attrs = {"height": height, "flags": const.ATTRIB_INVISIBLE}
                insert, align = (w / 10, d / 10 + k * height), None
            extra = {"align_point": align} if align else {}
            blk.add_attdef(tag, insert, dxfattribs={**attrs, **extra})
            specs.append((tag, attrs, insert, align))
        for k, (tag, text) in enumerate(zip(CONST_ATTRIBS, (str(int(gpus)), _clean(rack_type)), strict=True)):
            at = (w / 10, d / 10 + (len(ATTRIBS) + k) * height)
            flags = const.ATTRIB_CONST | const.ATTRIB_INVISIBLE
            blk.add_attdef(tag, at, text=text, dxfattribs={"height": height, "flags": flags})
        blocks[rack_type] = (name, specs)
    return blocks


def _draw_racks(msp, racks: pd.DataFrame, blocks, layer_of: dict[str, str], dx: int, dy: int) -> None:
    cols = ["name", "x_mm", "y_mm", "w_mm", "d_mm", "facing", "rack_type", "kw", "tenant", "lease"]
    for (name, x, y, w, d, facing, rtype, kw, tenant, lease), hexa, by in zip(
        racks[cols].itertuples(index=False), racks["hex"], racks["by"], strict=True
    ):
        layer = layer_of[tenant]
        x, y, turn = int(x) + dx, int(y) + dy, 0
        if facing == "S":  # turned about its insertion point, so insert at the far corner
            x, y, turn = x + int(w), y + int(d), 180
        attribs = {"layer": layer, "rotation": turn} if turn else {"layer": layer}
        if by != "tenant":
            attribs["true_color"] = _rgb(hexa)
        block, specs = blocks[rtype]
        ref = msp.add_blockref(block, (x, y), dxfattribs=attribs)
        values = {
            "NAME": _clean(name),
            "KW": _num(kw),
            "TENANT": _clean(tenant),  # "internal" when no lease holds it, the word the CSV uses
            "LEASE": _clean(lease),
        }
        sign = -1 if turn else 1  # a half turn maps a block offset (u, v) to (-u, -v)
        for tag, attrs, (u, v), align in specs:
            a = {**attrs, "layer": layer}  # on the rack's layer: switched off with it
            if turn:
                a["rotation"] = (attrs.get("rotation", 0) + turn) % 360
                if (
                    align and 90 < a["rotation"] <= 270
                ):  # centred text: turned back to read from the bottom or right
                    a["rotation"] -= 180
            if align:
                a["align_point"] = (x + sign * align[0], y + sign * align[1])
            if "true_color" in attribs:
                a["true_color"] = attribs["true_color"]
            ref.add_attrib(tag, values[tag], (x + sign * u, y + sign * v), dxfattribs=a)


def _draw_lease_runs(msp, racks: pd.DataFrame, dx: int, dy: int) -> None:
    """RACK-LEASED: an outline around each run of neighbouring racks one lease holds in a row."""
    leased = racks[racks["lease"] != ""].sort_values(["lease", "hall", "row", "position"], kind="stable")
    if leased.empty:
        return
    key = leased[["lease", "hall", "row"]].to_numpy()
    pos = leased["position"].to_numpy()
    # A run breaks where the lease, hall or row changes or a position is skipped.
    breaks = np.flatnonzero((key[1:] != key[:-1]).any(axis=1) | (pos[1:] != pos[:-1] + 1)) + 1
    x0 = leased["x_mm"].to_numpy()
    y0 = leased["y_mm"].to_numpy()
    x1, y1 = x0 + leased["w_mm"].to_numpy(), y0 + leased["d_mm"].to_numpy()
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(pos)], strict=True):
        left, bottom = int(x0[a:b].min()), int(y0[a:b].min())
        right, top = int(x1[a:b].max()), int(y1[a:b].max())
        _rect(msp, Box(left + dx, bottom + dy, right - left, top - bottom), "RACK-LEASED")


def _draw_hall(msp, hp, dx: int, dy: int) -> None:
    box = hp.box.moved(dx, dy)
    _rect(msp, box, "HALL")
    _text(msp, hp.name, box.x_mm + 300, box.y1_mm - 900, 600, "ANNO")
    for area in hp.areas:
        a = area.box.moved(dx, dy)
        if area.kind == "row":
            # Right-aligned just west of the row's first rack, in the wall clearance.
            _text(msp, area.name, a.x_mm - 150, a.y_mm + a.d_mm // 2, min(300, a.d_mm // 3), "ANNO",
                  TextEntityAlignment.MIDDLE_RIGHT)  # fmt: skip
            continue
        layer = "POWER" if area.kind == "power" else "COOLING"
        _rect(msp, a, layer)
        if area.kind.endswith("aisle"):  # named as on the SVG and PDF plans
            _text(msp, area.kind.replace("_", " "), (a.x_mm + a.x1_mm) // 2, a.y_mm + a.d_mm // 2,
                  min(300, a.d_mm // 4), "ANNO", TextEntityAlignment.MIDDLE_CENTER)  # fmt: skip
        if area.kind in ("power", "cooling"):
            _text(msp, _clean(area.name), a.x_mm + 300, a.y_mm + a.d_mm // 2, min(500, a.d_mm // 4), "ANNO",
                  TextEntityAlignment.MIDDLE_LEFT)  # fmt: skip


def _draw_pod_names(msp, racks: pd.DataFrame, dx: int, dy: int) -> None:
    """Each pod named just east of its first row, as on the SVG and PDF plans."""
    first = racks[racks["row"] == racks.groupby("pod")["row"].transform("min")]  # pod: "A/H1/P1"
    ends = first.assign(x1=first["x_mm"] + first["w_mm"]).groupby("pod", sort=False)
    for pod, row in ends.agg(x1=("x1", "max"), y=("y_mm", "min"), d=("d_mm", "max")).iterrows():
        _text(msp, str(pod).rsplit("/", 1)[-1], int(row["x1"]) + dx + 150, int(row["y"] + row["d"] // 2) + dy,
              min(400, int(row["d"]) // 3), "ANNO", TextEntityAlignment.MIDDLE_LEFT)  # fmt: skip


def _legend(msp, legend: list[tuple[str, str]], x: int, y: int, size: int) -> None:
    """Draw the legend down from (x, y)."""
    for k, (label, hexa) in enumerate(legend):
        top = y - k * size * 2
        msp.add_lwpolyline(
            [(x, top - size), (x + size, top - size), (x + size, top), (x, top)],
            close=True,
            dxfattribs={"layer": "ANNO", "true_color": _rgb(hexa)},
        )
        _text(msp, _clean(label), x + size * 2, top - size, size, "ANNO")


def _rect(msp, box: Box, layer: str) -> None:
    x0, y0, x1, y1 = box.x_mm, box.y_mm, box.x1_mm, box.y1_mm
    msp.add_lwpolyline([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], close=True, dxfattribs={"layer": layer})


def _text(msp, text: str, x, y, height, layer: str, align=TextEntityAlignment.LEFT) -> None:
    msp.add_text(_clean(text), height=height, dxfattribs={"layer": layer}).set_placement((x, y), align=align)


def _clean(text: str) -> str:
    """User text as one DXF line: control characters would break the tag structure of the file."""
    return re.sub(r"[\x00-\x1f\x7f]", " ", str(text))


def _rgb(hexa: str) -> int:
    """ "#rrggbb" as the 24-bit integer DXF stores a true colour as."""
    return int(hexa.lstrip("#")[:6], 16)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):.3f}".rstrip("0")
