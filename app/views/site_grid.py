"""Drawing one data hall for the Site page: a rectangle per rack where the floor plan puts it.

Pure functions of the campus, its plan and a run's tenancy (no Panel), so the tests check the
drawing without a browser. One scale serves both axes, as on the plan: a rack of 600 x 1200 mm is
twice as deep as it is wide in every hall. Tenant colours are the plans' (:mod:`layouts.colour`),
so a tenant looks the same on screen and on paper.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from layouts.colour import INTERNAL, INTERNAL_HEX, TENANT_HEX
from layouts.geometry import CampusPlan, plan_campus
from layouts.svg import COLD_HEX, COLD_INK, FRONT_HEX, HOT_HEX, HOT_INK
from twin.campus import Campus

RACK_MARGIN = 0.08  # share of a grid cell left empty around each rack, so neighbours read apart


LEGEND_CHARS = 24  # a tenant's name in a legend; longer ones would squeeze the drawing beside it


def tenant_legend(tenants: pd.Series) -> tuple[pd.Series, dict[str, str]]:
    """Each tenant's name as a legend shows it, and the colour of each such label.

    Names are cut to :data:`LEGEND_CHARS` with an ellipsis and numbered where two cut names would
    read the same (the full name is in the hover); colours are those of the full names
    (:func:`tenant_colors`), as on the plans.
    """
    colors = tenant_colors(tenants)
    short: dict[str, str] = {}
    for name in sorted(colors):
        label = name if len(name) <= LEGEND_CHARS else name[: LEGEND_CHARS - 1] + "…"
        n = 2
        while label in short.values():
            label = f"{name[: LEGEND_CHARS - 4]}…#{n}"
            n += 1
        short[name] = label
    return tenants.astype(str).map(short), {short[name]: color for name, color in colors.items()}


def tenant_colors(tenants) -> dict[str, str]:
    """A colour per tenant, stable for a given set of tenants; internal racks are grey."""
    colors = {INTERNAL: INTERNAL_HEX}
    others = sorted({str(t) for t in tenants} - {INTERNAL})
    colors.update({t: TENANT_HEX[i % len(TENANT_HEX)] for i, t in enumerate(others)})
    return colors


# ---------------------------------------------------------------------------------- the grid


def hall_grid(campus: Campus, hall_index: int, plan: CampusPlan | None = None) -> pd.DataFrame:
    """One rectangle per rack of the hall where the floor plan puts it, north at the top.

    Units are rack widths (the hall's most common one), so a rack is about 1 x 2 and the aisles
    show between row pairs. Columns: rack (campus index), name, pod, row (as numbered on the
    plan), x0, y0, x1, y1 (y grows south), gpus, gpu_type, kw (the rack's full-load envelope).
    """
    plan = plan if plan is not None else plan_campus(campus)
    in_hall = np.flatnonzero(campus.rack_hall == hall_index)
    if in_hall.size == 0:
        return pd.DataFrame(
            columns=["rack", "name", "pod", "row", "x0", "y0", "x1", "y1", "gpus", "gpu_type", "kw"]
        )
    racks = plan.racks.iloc[in_hall]
    unit, north_mm = _drawing_frame(racks)
    north = racks["hall_y_mm"] + racks["d_mm"]
    x = racks["hall_x_mm"].to_numpy() / unit
    y = (north_mm - north.to_numpy()) / unit
    w, d = racks["w_mm"].to_numpy() / unit, racks["d_mm"].to_numpy() / unit
    return pd.DataFrame(
        {
            "rack": in_hall,
            "name": racks["name"].to_numpy(),
            "pod": racks["pod"].to_numpy(),
            "row": racks["row"].to_numpy(),
            "x0": x + RACK_MARGIN,
            "y0": y + RACK_MARGIN,
            "x1": x + w - RACK_MARGIN,
            "y1": y + d - RACK_MARGIN,
            "gpus": campus.rack_gpus[in_hall].astype(int),
            "gpu_type": racks["gpu_type"].to_numpy(),
            "kw": campus.rack_max_kw[in_hall],
        }
    )


def _drawing_frame(racks: pd.DataFrame) -> tuple[float, float]:
    """The drawing's unit (the hall's most common rack width, in mm) and its top (the northmost
    rack edge, mm from the hall's origin): what turns the plan's millimetres into the grid's."""
    return float(racks["w_mm"].median()), float((racks["hall_y_mm"] + racks["d_mm"]).max())


FLOOR_KINDS = ("cold_aisle", "hot_aisle", "row")


def hall_floor(campus: Campus, hall_index: int, plan: CampusPlan | None = None) -> pd.DataFrame:
    """The plan's aisles and rows of the hall in the grid's units (as :func:`hall_grid`): kind
    (cold_aisle, hot_aisle, row), name ("R01", "cold aisle R01-R02"), x0, y0, x1, y1, and a row's
    facing ("N" or "S": the side its racks' fronts are on, as on the plan; "" for an aisle)."""
    plan = plan if plan is not None else plan_campus(campus)
    in_hall = np.flatnonzero(campus.rack_hall == hall_index)
    columns = ["kind", "name", "x0", "y0", "x1", "y1", "facing"]
    if in_hall.size == 0:
        return pd.DataFrame(columns=columns)
    racks = plan.racks.iloc[in_hall]
    unit, north_mm = _drawing_frame(racks)
    hall = plan.hall(campus.hall_names[hall_index])
    firsts = racks.drop_duplicates("row")
    facing = dict(zip(firsts["row"].tolist(), firsts["facing"].tolist(), strict=True))
    rows, number = [], 0
    for area in hall.areas:
        if area.kind not in FLOOR_KINDS:
            continue
        face = ""
        if area.kind == "row":  # row areas come in row order, numbered from 1 (as plan.racks["row"])
            number += 1
            face = facing.get(number, "N")
        x0 = (area.box.x_mm - hall.box.x_mm) / unit
        top = (north_mm - (area.box.y1_mm - hall.box.y_mm)) / unit
        rows.append(
            (area.kind, area.name, x0, top, x0 + area.box.w_mm / unit, top + area.box.d_mm / unit, face)
        )
    return pd.DataFrame(rows, columns=columns)


def hall_summary(campus: Campus, hall_index: int) -> pd.DataFrame:
    """Pods of the hall with racks, GPU type, GPUs and IT draw at full load (kW), and a hall total."""
    rows = []
    for pod in np.flatnonzero(campus.pod_hall == hall_index).tolist():
        sl = campus.pod_racks(pod)
        types = sorted({campus.gpu_type_names[t] for t in campus.rack_gpu_type[sl]})
        rows.append(
            {
                "pod": campus.pod_names[pod],
                "racks": sl.stop - sl.start,
                "GPU type": ", ".join(types),
                "GPUs": int(campus.rack_gpus[sl].sum()),
                "IT at full draw (kW)": float(campus.rack_max_kw[sl].sum()),
            }
        )
    table = pd.DataFrame(rows, columns=["pod", "racks", "GPU type", "GPUs", "IT at full draw (kW)"])
    in_hall = campus.rack_hall == hall_index
    by_type = np.bincount(campus.rack_gpu_type[in_hall], weights=campus.rack_gpus[in_hall])
    total = {
        "pod": f"hall ({len(table)} pods)",
        "racks": int(in_hall.sum()),
        "GPU type": ", ".join(f"{campus.gpu_type_names[t]}: {int(c):,}" for t, c in enumerate(by_type) if c),
        "GPUs": int(campus.rack_gpus[in_hall].sum()),
        "IT at full draw (kW)": float(campus.rack_max_kw[in_hall].sum()),
    }
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def grid_plot(
    grid: pd.DataFrame,
    tenancy: pd.DataFrame,
    color_by: str,
    kw_max: float | None = None,
    floor: pd.DataFrame | None = None,
) -> hv.Overlay:
    """The hall's rectangles coloured by ``color_by`` (a key of COLOR_BY), as on the plan: on the
    ``floor`` (:func:`hall_floor`) cold and hot aisles shaded, rows named at their west end, pods
    east of their first row.

    ``kw_max`` tops the power scale; the campus-wide maximum lets halls be compared by eye.
    """
    frame = grid.join(tenancy, on="rack")
    frame["utilisation (%)"] = frame["utilisation"] * 100.0
    # As words for the hover: "NaN %" read as a fault where there is simply no run.
    frame["utilisation shown"] = [
        "no run" if np.isnan(u) else f"{u:.1f} %" for u in frame["utilisation (%)"].to_numpy(float)
    ]
    vdims = [
        "name",
        "pod",
        "gpus",
        "gpu_type",
        "kw",
        "tenant",
        "lease",
        "utilisation (%)",
        "utilisation shown",
    ]
    tooltips = [
        ("rack", "@name"), ("GPUs", "@gpus"), ("GPU type", "@gpu_type"), ("power", "@kw{0,0.0} kW"),
        ("tenant", "@tenant"), ("lease", "@lease"), ("utilisation", "@{utilisation shown}"),
    ]  # fmt: skip
    frame["tenant (legend)"], legend_colors = tenant_legend(frame["tenant"])
    vdims.append("tenant (legend)")
    rects = hv.Rectangles(frame, ["x0", "y0", "x1", "y1"], vdims)
    if color_by == "tenant":
        style = {"color": "tenant (legend)", "cmap": legend_colors, "show_legend": True}
    elif color_by == "kw":
        top = kw_max if kw_max else (float(frame["kw"].max()) if len(frame) else 1.0)
        style = {
            "color": "kw",
            "cmap": "YlOrRd",
            "clim": (0.0, top),
            "colorbar": True,
            "clabel": "kW per rack",
        }
    else:
        style = {"color": "utilisation (%)", "cmap": "viridis", "clim": (0.0, 100.0), "colorbar": True}
        style["clabel"] = "utilisation (%)"
    rects = rects.opts(line_color=None, hover_tooltips=tooltips, tools=["hover"], **style)
    size = true_scale(grid)
    gap = 5 * (size["xlim"][1] - size["xlim"][0]) / size["frame_width"] if len(grid) else 0.3  # 5 px
    layers = _floor_layers(floor, gap) if floor is not None and len(floor) else []
    # Each pod is named east of its first row, as on the plan (the rows' names are west).
    first = grid[grid["row"] == grid.groupby("pod")["row"].transform("min")]
    heads = first.groupby("pod", sort=False).agg(x=("x1", "max"), y=("y0", "min"), y1=("y1", "min"))
    heads = heads.reset_index()
    heads["label"] = heads["pod"].str.rsplit("/", n=1).str[-1]
    labels = hv.Labels(
        heads.assign(x=heads["x"] + gap, y=(heads["y"] + heads["y1"]) / 2), ["x", "y"], "label"
    )
    labels = labels.opts(
        text_align="left", text_baseline="middle", text_font_size="9pt", text_color=FRONT_HEX,
        text_font_style="bold",
    )  # fmt: skip
    return hv.Overlay([*layers, rects, labels]).opts(
        **size,
        invert_yaxis=True,
        xaxis=None,
        yaxis=None,
        legend_position="right",
        toolbar="above",
    )


def _floor_layers(floor: pd.DataFrame, gap: float) -> list:
    """The aisles, shaded and named in their middle, and the rows' names left of them."""
    aisles = floor[floor["kind"].str.endswith("aisle")].assign(
        fill=lambda f: np.where(f["kind"] == "cold_aisle", COLD_HEX, HOT_HEX),
        ink=lambda f: np.where(f["kind"] == "cold_aisle", COLD_INK, HOT_INK),
        label=lambda f: f["kind"].str.replace("_", " "),
        x=lambda f: (f["x0"] + f["x1"]) / 2,
        y=lambda f: (f["y0"] + f["y1"]) / 2,
    )
    shaded = hv.Rectangles(aisles, ["x0", "y0", "x1", "y1"], ["fill", "name"]).opts(
        color="fill", line_color=None, tools=[]
    )
    named = hv.Labels(aisles, ["x", "y"], ["label", "ink"]).opts(
        text_color="ink", text_font_size="7pt", text_align="center", text_baseline="middle"
    )
    rows = floor[floor["kind"] == "row"]
    row_names = hv.Labels(
        rows.assign(x=rows["x0"] - gap, y=(rows["y0"] + rows["y1"]) / 2), ["x", "y"], "name"
    ).opts(text_align="right", text_baseline="middle", text_font_size="8pt", text_color="#444444")
    # A line along each row's front (its cold-aisle side), as the SVG, PDF and DXF plans draw it:
    # y grows south here, so a north-facing row's front is its y0 edge.
    front_y = np.where(rows["facing"] == "S", rows["y1"], rows["y0"])
    fronts = hv.Segments(
        pd.DataFrame(
            {"x0": rows["x0"], "y0": front_y, "x1": rows["x1"], "y1": front_y, "name": rows["name"]}
        ),
        ["x0", "y0", "x1", "y1"],
        ["name"],
    ).opts(color=FRONT_HEX, line_width=2, tools=[])
    return [shaded, named, row_names, fronts]


FRAME_MAX_PX = (860, 1100)  # the drawing's largest width and height (a long, narrow hall may
# stand taller than the screen: its racks stay wide enough to point at); the legend goes beside it
LABEL_PX = 40  # room left of the rows for a row's name ("R12" at 8 pt), right for a pod's ("P12")


def true_scale(grid: pd.DataFrame) -> dict:
    """Frame size and ranges with one scale for both axes, as on the floor plan.

    A responsive width and a height from the row count drew a 600 x 1200 mm rack square in one
    hall and flat in another; here the hall keeps its shape and fits within FRAME_MAX_PX.
    """
    if not len(grid):
        return {"frame_width": 300, "frame_height": 200}
    x0, x1 = float(grid["x0"].min()), float(grid["x1"].max())
    y0, y1 = float(grid["y0"].min()) - 0.3, float(grid["y1"].max()) + 0.3
    max_w, max_h = FRAME_MAX_PX
    scale = min((max_w - 2 * LABEL_PX) / (x1 - x0), max_h / (y1 - y0))  # px per grid unit
    x0, x1 = x0 - LABEL_PX / scale, x1 + LABEL_PX / scale  # rows' names left, pods' right
    return {
        "frame_width": int(round((x1 - x0) * scale)),
        "frame_height": max(40, int(round((y1 - y0) * scale))),
        "xlim": (x0, x1),
        "ylim": (y0, y1),
    }
