"""The Network and Site pages without a browser: their pure functions, then the views built off-server.

The demo campus (``sample_sites/demo.yaml``) has one leaf per rack, four spines per pod and four
aggregation switches per building, so a leaf cuts off exactly its one rack and no spine or
aggregation switch cuts off anything; a copy of its graph with one spine left shows the other case.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import pytest

from app.context import ConsoleContext
from app.views import network, site, site_grid
from app.views.network import (
    NetworkView,
    blast_radius,
    cut_off_leases,
    summary_html,
)
from app.views.site import SiteView, rack_tenancy
from app.views.site_grid import hall_grid, hall_summary
from layouts.colour import INTERNAL
from twin.campus import Campus
from twin.results import Results

SITES = Path(__file__).resolve().parent.parent / "sample_sites"
HOSTILE = "<b>Evil</b> & Co"
RUN_KEY = "f" * 64


def kinds(graph, kind: str) -> list[str]:
    return [n for n, k in graph.nodes(data="kind") if k == kind]


def fake_run(campus: Campus) -> Results:
    """A run of the demo plus another campus's racks: the first pod of building B leased to HOSTILE."""
    names = [f"{campus.name}/{campus.rack_name(r)}" for r in range(campus.racks)]
    leased = set(range(*campus.pod_racks(campus.pod_names.index("B/L1/P1")).indices(campus.racks)))
    leases = ["gb200-pod" if r in leased else "" for r in range(campus.racks)]
    days = 4
    util = np.tile(np.linspace(0.0, 1.0, days, dtype=np.float32), (campus.racks, 1))
    util[0] = 0.5  # rack 0's mean is 0.5; every other rack's is the mean of the ramp, also 0.5
    util[1] = 1.0
    other = ["Elsewhere/X/H1/P1/R001"]
    empty = pd.DataFrame()
    return Results(
        kpis={}, site_series=empty, hall_series=empty, tenant_series=empty, jobs=empty, events=empty,
        leases=pd.DataFrame({"lease": ["gb200-pod"], "tenant": [HOSTILE]}),
        rack_day_utilization=np.vstack([np.zeros((1, days), np.float32), util]),
        rack_names=other + names, rack_leases=["gb200-pod"] + leases,
    )  # fmt: skip


# ---------------------------------------------------------------------------------- blast radius


def test_a_leaf_cuts_off_exactly_its_racks(demo: Campus) -> None:
    g = demo.fabric
    leaves = kinds(g, "leaf")
    assert len(leaves) == demo.racks  # racks_per_leaf: 1
    for leaf in leaves:
        attached = {n for n in g[leaf] if g.nodes[n]["kind"] == "rack"}
        assert len(attached) == 1
        assert blast_radius(g, leaf) == attached


def test_redundant_spines_and_aggregation_cut_off_nothing(demo: Campus) -> None:
    g = demo.fabric
    assert all(len(spines) == 4 for spines in g.graph["pod_spines"].values())
    for switch in kinds(g, "spine") + kinds(g, "aggregation"):
        assert blast_radius(g, switch) == set(), switch


def test_the_core_cuts_off_every_rack(demo: Campus) -> None:
    g = demo.fabric
    cut = blast_radius(g, g.graph["core"])
    assert cut == set(kinds(g, "rack"))
    assert len(cut) == demo.racks == 144


def test_the_only_spine_of_a_pod_cuts_off_the_pod(demo: Campus) -> None:
    g = demo.fabric.copy()  # never edit the shared campus graph
    pod = demo.pod_names.index("A/H1/P1")
    first, *others = g.graph["pod_spines"][pod]
    g.remove_nodes_from(others)
    expected = {demo.rack_name(r) for r in range(*demo.pod_racks(pod).indices(demo.racks))}
    assert blast_radius(g, first) == expected
    assert len(expected) == 32


def test_blast_radius_refuses_a_rack(demo: Campus) -> None:
    with pytest.raises(ValueError, match="not a switch"):
        blast_radius(demo.fabric, demo.rack_name(0))


def test_cut_off_leases_and_summary_escape_names(demo: Campus) -> None:
    tenancy = rack_tenancy(demo, fake_run(demo))
    g = demo.fabric
    first_rack = int(demo.pod_first_rack[demo.pod_names.index("B/L1/P1")])
    (leaf,) = g[demo.rack_name(first_rack)]  # a rack's one neighbour is its leaf
    table = cut_off_leases(demo, blast_radius(g, leaf), tenancy)
    assert table.to_dict("records") == [{"tenant": HOSTILE, "lease": "gb200-pod", "racks": 1, "GPUs": 72}]
    text = summary_html("B/<i>L1</i>", table)
    assert "<b>Evil" not in text and "<i>" not in text
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in text and "racks and leases cut off" in text.lower()
    nothing = cut_off_leases(demo, set(), tenancy)
    assert "0</b> racks" in summary_html("A/A01", nothing)


# ------------------------------------------------------------------------------------ hall grid


def test_hall_grid_has_every_rack_once_where_the_floor_plan_puts_it(demo: Campus) -> None:
    from layouts.geometry import plan_campus

    plan = plan_campus(demo)
    for hall in range(demo.halls):
        grid = hall_grid(demo, hall, plan)
        in_hall = np.flatnonzero(demo.rack_hall == hall)
        assert len(grid) == len(in_hall) and sorted(grid["rack"]) == in_hall.tolist()
        assert list(grid["name"]) == [demo.rack_name(r) for r in grid["rack"]]
        assert (grid["x1"] > grid["x0"]).all() and (grid["y1"] > grid["y0"]).all()
        x0, y0, x1, y1 = (grid[c].to_numpy() for c in ("x0", "y0", "x1", "y1"))
        overlap = (x0[:, None] < x1[None, :]) & (x0[None, :] < x1[:, None])
        overlap &= (y0[:, None] < y1[None, :]) & (y0[None, :] < y1[:, None])
        np.fill_diagonal(overlap, False)
        assert not overlap.any()
        assert grid["gpus"].sum() == demo.rack_gpus[in_hall].sum()
        # The rows are the plan's (and its CSV's): one line each, as many racks as the plan has,
        # row 1 (the plan's southmost, y grows north there) at the bottom of the page's drawing.
        rows = grid.groupby("row")
        assert (rows["y0"].nunique() == 1).all()
        on_plan = plan.racks.iloc[in_hall].groupby("row").size()
        assert rows.size().to_dict() == on_plan.to_dict()
        assert list(rows["y0"].first().sort_index(ascending=False)) == sorted(rows["y0"].first())
    a_h1 = hall_grid(demo, demo.hall_names.index("A/H1"), plan)  # pod P1: a row of 20, then 12
    p1 = a_h1[a_h1["pod"].str.endswith("/P1")]
    assert sorted(p1.groupby("row").size().tolist()) == [12, 20]


def test_the_hall_drawing_has_the_plans_rows_and_aisles_around_its_racks(demo: Campus) -> None:
    """The console's hall drawing names rows and shades aisles as the plans do: each row's outline
    holds exactly its racks, and every aisle lies between two rows with no rack on it."""
    from layouts.geometry import plan_campus

    plan = plan_campus(demo)
    for hall in range(demo.halls):
        grid, floor = hall_grid(demo, hall, plan), site_grid.hall_floor(demo, hall, plan)
        rows = floor[floor["kind"] == "row"].set_index("name")
        assert list(rows.index) == [f"R{n:02d}" for n in sorted(grid["row"].unique())]
        for number, racks in grid.groupby("row"):
            outline = rows.loc[f"R{number:02d}"]
            assert outline["y0"] < racks["y0"].min() and racks["y1"].max() < outline["y1"]
            assert outline["x0"] < racks["x0"].min() and racks["x1"].max() < outline["x1"]
        aisles = floor[floor["kind"].str.endswith("aisle")]
        assert len(aisles) == len(rows) - 1 + (len(rows) % 2)  # a lone north-facing row keeps its cold aisle
        for aisle in aisles.itertuples():
            on_it = (grid["y1"] > aisle.y0) & (grid["y0"] < aisle.y1)
            assert not on_it.any(), aisle.name
        # Fronts face the cold aisles: a row just north of one faces south, one just south faces
        # north (y grows south in the drawing), as the plans draw their front lines.
        assert set(rows["facing"]) <= {"N", "S"}
        for aisle in aisles[aisles["kind"] == "cold_aisle"].itertuples():
            north_of = rows[np.isclose(rows["y1"], aisle.y0)]
            south_of = rows[np.isclose(rows["y0"], aisle.y1)]
            assert len(north_of) + len(south_of) >= 1, aisle.name
            assert (north_of["facing"] == "S").all() and (south_of["facing"] == "N").all(), aisle.name
        hv.render(site_grid.grid_plot(grid, rack_tenancy(demo, None), "tenant", floor=floor))


def test_hall_summary_totals(demo: Campus) -> None:
    hall = demo.hall_names.index("B/L1")
    table = hall_summary(demo, hall)
    assert list(table["pod"][:-1]) == ["B/L1/P1", "B/L1/P2"]
    total = table.iloc[-1]
    assert total["racks"] == 16 and total["GPUs"] == 16 * 72 and total["GPU type"] == "GB200: 1,152"
    assert total["IT at full draw (kW)"] == pytest.approx(demo.rack_max_kw[demo.rack_hall == hall].sum())


def test_rack_tenancy_from_a_run(demo: Campus) -> None:
    none = rack_tenancy(demo, None)
    assert (none["tenant"] == INTERNAL).all() and none["utilisation"].isna().all()
    tenancy = rack_tenancy(demo, fake_run(demo))
    leased = tenancy["lease"] == "gb200-pod"
    assert leased.sum() == 8 and (tenancy.loc[leased, "tenant"] == HOSTILE).all()
    assert (tenancy.loc[~leased, "tenant"] == INTERNAL).all()
    assert tenancy["utilisation"].iloc[0] == pytest.approx(0.5)
    assert tenancy["utilisation"].iloc[1] == pytest.approx(1.0)


# ---------------------------------------------------------------------------- views, off-server


def test_network_view_builds_and_shows_a_blast_radius(ctx: ConsoleContext) -> None:
    assert pn.state.curdoc is None
    view = NetworkView(ctx)
    assert isinstance(view.__panel__(), pn.viewable.Viewable)
    assert view.campus == "Demo" and view.building == "A" and view.pod == network.ALL_PODS
    pn.panel(view).get_root()  # Bokeh models build; later changes update this root
    view.switch = "A/H1/P1/L001"  # through the tap/highlight stream of the drawn figure
    assert "<b>1</b> rack," in view._summary.object
    view.switch = "Demo/core"
    assert "<b>144</b> racks" in view._summary.object
    view = NetworkView(ctx)  # not rendered: a new building would redraw every root (slow here)
    view.switch = "Demo/core"
    view.building = "B"
    assert view.switch == network.NO_SWITCH and "B/L1/P1" in view.param.pod.objects
    view.pod = "B/L1/P2"
    assert {"B/L1/P2/S01", "B/A01"} <= set(view.param.switch.objects)
    assert "Demo/core" not in view.param.switch.objects


def test_views_colour_racks_from_the_run_in_the_url(ctx: ConsoleContext, demo: Campus, monkeypatch) -> None:
    results = fake_run(demo)
    monkeypatch.setattr(ctx.pool, "cached", lambda key: results if key == RUN_KEY else None)
    for module in (network, site):  # as if the URL were ?run=KEY...&building=B
        monkeypatch.setattr(module, "query_args", lambda: {"run": RUN_KEY + "extra", "building": "B"})
    view = NetworkView(ctx)
    assert "from the what-if run of" in view._run_note.object and view.building == "B"
    view.switch = "B/L1/P1/L001"
    assert "&lt;b&gt;Evil" in view._summary.object and "<b>Evil" not in view._summary.object
    page = SiteView(ctx, color="utilisation")
    assert "needs a run" not in page._note.object
    pn.panel(page).get_root()
    assert page._downloads.file_name("svg") == "Demo-A_H1-run-seed.svg"  # a plan of a run is named for it
    page._downloads.scope = "campus"
    assert page._downloads.file_name("dxf") == "Demo-campus-run-seed.dxf"
    others = [name for name in page.param.campus.objects if name != "Demo"]
    page.campus = others[0]  # a campus the run does not cover says so, rather than "from the run"
    assert f"covers Demo, Elsewhere, not {others[0]}" in page._run_note.object
    assert "seed" not in page._downloads.file_name("svg")


def test_a_run_link_opens_on_a_campus_the_run_covers(ctx: ConsoleContext, demo: Campus, monkeypatch) -> None:
    results = fake_run(demo)  # covers Demo (and a campus with no site file)
    monkeypatch.setattr(ctx.pool, "cached", lambda key: results if key == RUN_KEY else None)
    run = site.RunTenancy(ctx, {"run": RUN_KEY})
    names = ["Hyperion", "Prometheus", "Demo"]
    assert run.first_campus(names, None) == "Demo" and run.first_campus(names, "Nowhere") == "Demo"
    assert run.first_campus(names, "Prometheus") == "Prometheus"  # the URL's own choice wins
    assert site.RunTenancy(ctx, {}).first_campus(names, None) == "Hyperion"


def test_runs_of_different_campuses_are_compared_with_a_warning(demo: Campus) -> None:
    from app.views.runs import _one_run, different_campuses

    demo_run = fake_run(demo)  # Demo and Elsewhere
    other = dataclasses.replace(demo_run, rack_names=["<b>Big</b>/A/H1/P1/R001"])
    assert different_campuses(demo_run, demo_run) == "" and different_campuses(None, demo_run) == ""
    note = different_campuses(demo_run, other)
    assert "run A covers Demo, Elsewhere" in note and "<b>" not in note
    ids = ["8519f31efb50" + "0" * 20, "8519f31eaaaa" + "0" * 20, "f5abf9c9a614" + "0" * 20]
    assert _one_run("f5abf9c9", ids) == ids[2] and _one_run(ids[0], ids) == ids[0]
    assert _one_run("8519f31e", ids) is None and _one_run("f5abf9c", ids) is None  # ambiguous, too short


def test_grid_plot_renders_for_every_colour(demo: Campus) -> None:
    grid = hall_grid(demo, demo.hall_names.index("B/L1"))
    tenancy = rack_tenancy(demo, fake_run(demo))
    for color in site.COLOR_BY:
        hv.render(site_grid.grid_plot(grid, tenancy, color, kw_max=float(demo.rack_max_kw.max())))


def test_site_view_builds(ctx: ConsoleContext) -> None:
    view = SiteView(ctx)
    assert isinstance(view.__panel__(), pn.viewable.Viewable)
    assert "no tenants" in view._run_note.object
    view.color = "utilisation"
    assert "needs a run" in view._note.object
    view.hall = "B/L1"
    assert len(view._table.object) == 3
    view.campus = "Llama3Cluster"
    assert view.hall in ctx.campus("Llama3Cluster").hall_names
    view.color = "kw"
    pn.panel(view).get_root()


def test_a_long_tenant_name_is_cut_in_the_legend_but_keeps_its_colour() -> None:
    long_a, long_b = "A" * 30 + " one", "A" * 30 + " two"
    tenants = pd.Series([INTERNAL, long_a, "Acme", long_b, long_a])
    labels, colors = site_grid.tenant_legend(tenants)
    assert labels[0] == INTERNAL and labels[2] == "Acme" and labels[1] == labels[4]
    assert all(len(label) <= site_grid.LEGEND_CHARS for label in labels)
    assert labels[1] != labels[3]  # cut to the same text, told apart
    full = site_grid.tenant_colors(tenants)
    assert [colors[label] for label in labels] == [full[t] for t in tenants]  # as on the plans


def test_a_heatmap_with_nothing_to_show_says_so(demo: Campus) -> None:
    """A run without leases drew 'Committed to leases' as an empty map on a 0-1 scale."""
    from demo_helpers import scenario

    from app.views import capacity
    from twin.simulate import simulate

    results = simulate(scenario(days=3, training={"arrivals_per_day": 20}))
    titles = [fig.title.text for fig in capacity.heatmaps(capacity.weekly_capacity(results))]
    assert titles[0] == "Committed to leases (mean GPUs): none in this run"
    assert titles[1] == "Free (mean GPUs)"  # a map with something on it keeps its plain title
    told = capacity.maps_told(results)
    assert "worst hour" in told and "spares" in told and "last week" not in told  # 3 days: one week
    results.kpis["days"] = 30
    assert capacity.maps_told(results).endswith("The last week covers 2 days: the run ends 2 days into it.")
    results.kpis["days"] = 365  # a year: 52 weeks and a day
    assert capacity.maps_told(results).endswith("The last week covers 1 day: the run ends 1 day into it.")


def test_capacity_link_to_an_unknown_scenario_says_so_and_runs_nothing(
    ctx: ConsoleContext, monkeypatch
) -> None:
    """An old or mistyped ``?scenario=`` link must not show the default scenario's figures as if
    they were the ones asked for."""
    import asyncio

    from app.views import capacity

    monkeypatch.setattr(capacity, "query_args", lambda: {"scenario": "baseline_leas<b>"})
    submitted = []
    monkeypatch.setattr(ctx.pool, "submit", lambda *a, **k: submitted.append(a))
    view = capacity.CapacityView(ctx)
    asyncio.run(view._load())
    note = view._status.object
    assert note.startswith("Link parameter scenario: no scenario") and "baseline&#95;leas" in note
    assert "<b>" not in note and submitted == [] and view._body.objects == []


@pytest.mark.parametrize("hall", ["A/H1", "B/L1"])
def test_a_hall_is_drawn_at_one_scale_for_both_axes(demo: Campus, hall: str) -> None:
    """A 600 x 1200 mm rack is twice as deep as wide on screen, in every hall (it was square in one
    hall and flat in another), and the drawing fits the page."""
    grid = hall_grid(demo, demo.hall_names.index(hall))
    size = site_grid.true_scale(grid)
    px_per_x = size["frame_width"] / (size["xlim"][1] - size["xlim"][0])
    px_per_y = size["frame_height"] / (size["ylim"][1] - size["ylim"][0])
    assert px_per_x == pytest.approx(px_per_y, rel=0.02)
    assert (
        size["frame_width"] <= site_grid.FRAME_MAX_PX[0] and size["frame_height"] <= site_grid.FRAME_MAX_PX[1]
    )
    depth_over_width = ((grid["y1"] - grid["y0"]) / (grid["x1"] - grid["x0"])).median() * px_per_y / px_per_x
    assert depth_over_width == pytest.approx(
        (1200 - 2 * site_grid.RACK_MARGIN * 600) / (600 - 2 * site_grid.RACK_MARGIN * 600), rel=0.03
    )


def test_the_site_page_sends_the_drawing_at_its_own_size(ctx: ConsoleContext, demo: Campus) -> None:
    """The browser must get the frame true_scale chose: in a stretched pane Bokeh widened the
    figure to the page and drew the racks of a narrow hall out of shape."""
    from bokeh.models import Plot

    page = SiteView(ctx)
    page.campus, page.hall = "Demo", "B/L1"
    root = pn.panel(page).get_root()
    plot = next(p for p in root.select({"type": Plot}) if p.frame_width)
    want = site_grid.true_scale(hall_grid(demo, demo.hall_names.index("B/L1")))
    assert (plot.frame_width, plot.frame_height) == (want["frame_width"], want["frame_height"])
    assert plot.sizing_mode in (None, "fixed")
