"""The fabric graph and the bandwidth questions, on the demo site."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from twin.campus import build_campus
from twin.fabric import (
    bandwidth_between,
    building_bisection_gbps,
    fabric_counts,
    pod_bisection_gbps,
    rack_share_gbps,
    switch_counts,
)
from twin.fleet_build import build_fleet
from twin.load import load_site
from twin.placement import slowdown

SITES = Path(__file__).resolve().parent.parent / "sample_sites"


@pytest.fixture(scope="module")
def demo():
    return build_campus(load_site(SITES / "demo.yaml"))


def test_every_rack_hangs_off_one_leaf(demo):
    g = demo.fabric
    racks = [n for n, k in g.nodes(data="kind") if k == "rack"]
    assert len(racks) == demo.racks
    for n in racks:
        kinds = [g.nodes[m]["kind"] for m in g.neighbors(n)]
        assert kinds == ["leaf"]


def test_pod_lookup_matches_names(demo):
    for rack in (0, 63, 64, 143):
        pod = demo.pod_of(rack)
        assert demo.rack_name(rack).startswith(demo.pod_names[pod] + "/")
        assert demo.pod_racks(pod).start <= rack < demo.pod_racks(pod).stop


def test_bandwidth_tiers(demo):
    # Demo: building A has two halls of two 32-rack pods (16 H100 x 400 Gb/s); 1:7 between pods,
    # 1:2 between buildings.
    nic = 16 * 400
    same_pod = bandwidth_between(demo, 0, 1)
    assert (same_pod.tier, same_pod.gbps) == ("spine", nic)
    other_pod = bandwidth_between(demo, 0, 40)
    assert other_pod.tier == "aggregation"
    assert other_pod.gbps == pytest.approx(nic / 7)
    other_building = bandwidth_between(demo, 0, demo.racks - 1)
    assert other_building.tier == "core"
    assert other_building.gbps == pytest.approx(nic / 7 / 2)
    assert bandwidth_between(demo, 5, 5).tier == "rack"
    with pytest.raises(IndexError):
        bandwidth_between(demo, 0, demo.racks)


def test_graph_capacities_agree_with_analytic_shares(demo):
    """The per-rack share at each tier, recomputed from the graph's edge capacities."""
    g = demo.fabric
    for pod in range(demo.pods):
        sl = demo.pod_racks(pod)
        rack_nic = demo.rack_nic_gbps[sl].sum()
        spines = g.graph["pod_spines"][pod]
        down = sum(
            d["capacity_gbps"] for s in spines for _, _, d in g.edges(s, data=True) if d["tier"] == "spine"
        )
        up = sum(
            d["capacity_gbps"]
            for s in spines
            for _, _, d in g.edges(s, data=True)
            if d["tier"] == "aggregation"
        )
        assert down == pytest.approx(rack_share_gbps(demo, "spine")[sl].sum())
        assert up == pytest.approx(rack_share_gbps(demo, "aggregation")[sl].sum())
        assert pod_bisection_gbps(demo, pod) == pytest.approx(rack_nic / 2)
    for b in range(demo.buildings):
        in_b = demo.rack_building == b
        assert building_bisection_gbps(demo, b) == pytest.approx(
            rack_share_gbps(demo, "aggregation")[in_b].sum() / 2
        )


def test_max_flow_between_pods_is_bounded_by_the_pod_uplinks(demo):
    """networkx max-flow from one pod's racks to another's equals the smaller pod uplink."""
    g = demo.fabric.copy()
    g = g.to_directed()
    for _, _, d in g.edges(data=True):
        d["capacity"] = d["capacity_gbps"]
    src, dst = "SRC", "DST"
    for rack in range(*demo.pod_racks(0).indices(demo.racks)):
        g.add_edge(src, demo.rack_name(rack), capacity=float("inf"))
    for rack in range(*demo.pod_racks(2).indices(demo.racks)):
        g.add_edge(demo.rack_name(rack), dst, capacity=float("inf"))
    flow = nx.maximum_flow_value(g, src, dst)
    expected = min(rack_share_gbps(demo, "aggregation")[demo.pod_racks(p)].sum() for p in (0, 2))
    assert flow == pytest.approx(expected)


def test_switch_counts(demo):
    counts = switch_counts(demo.fabric)
    # One ToR per rack, 4 spines per pod, 4 aggregation switches per building, one core.
    assert counts["leaf"] == demo.racks
    assert counts["spine"] == 4 * demo.pods
    assert counts["aggregation"] == 4 * demo.buildings
    assert counts["core"] == 1
    assert counts["switches"] == counts["leaf"] + counts["spine"] + counts["aggregation"] + 1
    assert counts["physical_links"] >= counts["links"]


def test_wan_link_present(demo):
    g = demo.fabric
    wan = [n for n, k in g.nodes(data="kind") if k == "wan"]
    assert len(wan) == 1
    assert g.edges[g.graph["core"], wan[0]]["capacity_gbps"] == 400


def test_slowdown_over_pods(demo):
    """The engine's slowdown model (twin.placement) on the demo's 1:7 pods, every step network-bound."""
    fleet = build_fleet([demo])

    def over(racks: np.ndarray) -> float:
        pods, counts = np.unique(fleet.rack_pod[racks], return_counts=True)
        return slowdown(fleet, pods, counts, sensitivity=1.0)

    one_pod = np.arange(0, 32)
    two_pods = np.arange(16, 48)  # half in pod 0, half in pod 1
    assert over(one_pod) == 1.0
    s = over(two_pods)
    assert s == pytest.approx(1 + 0.5 * (7 - 1))
    assert over(np.arange(28, 60)) < s  # 4 of 32 racks outside the main pod
    # Only the network-bound share of a step slows down.
    pods, counts = np.unique(fleet.rack_pod[two_pods], return_counts=True)
    assert slowdown(fleet, pods, counts, sensitivity=0.05) == pytest.approx(1 + 0.05 * 0.5 * (7 - 1))


def test_arithmetic_counts_match_the_graph(demo):
    assert fabric_counts(demo) == switch_counts(demo.fabric)
