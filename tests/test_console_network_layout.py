"""The Network page's drawing of a fabric without a browser: tiers in rows, each switch over what
it serves, a pod's drawing without the core, and the layout cached per site file and place."""

from __future__ import annotations

import numpy as np
import pytest

from app.context import ConsoleContext
from app.views.network import cached_layout, fabric_layout
from twin.campus import Campus


def test_layered_layout_of_a_building(demo: Campus) -> None:
    g = demo.fabric
    layout = fabric_layout(demo, 0)
    nodes = layout.nodes
    expected = {n for n, b in g.nodes(data="building") if b == 0} | {g.graph["core"]}
    assert set(nodes["node"]) == expected and nodes["node"].is_unique
    tier_y = nodes.groupby("tier")["y"].agg(["min", "max"])
    assert (tier_y["min"] == tier_y["max"]).all()  # one row per tier ...
    assert tier_y["min"].is_unique and len(tier_y) == 5  # ... and each its own row
    assert tier_y.loc["core", "min"] > tier_y.loc["aggregation", "min"] > tier_y.loc["spine", "min"]
    assert tier_y.loc["spine", "min"] > tier_y.loc["leaf", "min"] > tier_y.loc["rack", "min"]
    assert np.isfinite(nodes["x"]).all()
    x = dict(zip(nodes["node"], nodes["x"], strict=True))
    for leaf in nodes.loc[nodes["tier"] == "leaf", "node"]:  # a leaf sits over its racks
        racks = [n for n in g[leaf] if g.nodes[n]["kind"] == "rack"]
        assert x[leaf] == pytest.approx(np.mean([x[r] for r in racks]))
    for pod, spines in g.graph["pod_spines"].items():  # a pod's spines sit over the pod
        if demo.rack_building[demo.pod_first_rack[pod]] == 0:
            span = nodes.loc[(nodes["tier"] == "rack") & (nodes["pod"] == pod), "x"]
            assert all(span.min() <= x[s] <= span.max() for s in spines)
    assert len(layout.edges) == g.subgraph(expected).number_of_edges()
    assert set(layout.edges["tier"]) == {"leaf", "spine", "aggregation", "core"}


def test_layout_of_one_pod_has_no_core(demo: Campus) -> None:
    pod = demo.pod_names.index("B/L1/P2")
    nodes = fabric_layout(demo, 1, pod).nodes
    assert "core" not in set(nodes["tier"])
    assert set(nodes.loc[nodes["tier"] == "rack", "rack"]) == set(
        range(*demo.pod_racks(pod).indices(demo.racks))
    )
    assert (nodes["tier"] == "aggregation").sum() == 4
    with pytest.raises(ValueError, match="not in building"):
        fabric_layout(demo, 0, pod)


def test_layout_is_cached(ctx: ConsoleContext) -> None:
    path = ctx.site_files()["Demo"]
    first = cached_layout(str(path), path.stat().st_mtime_ns, 0, None)
    assert cached_layout(str(path), path.stat().st_mtime_ns, 0, None) is first
    assert cached_layout(str(path), path.stat().st_mtime_ns, 0, 0) is not first
