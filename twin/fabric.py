"""The scale-out network fabric of a campus, as a networkx graph, and the questions it answers.

Each building has a three-tier Clos fabric: every rack hangs off a leaf (top-of-rack or a leaf
shared by ``racks_per_leaf`` racks); every leaf of a pod connects to each of that pod's spines,
which makes the pod one full-bisection domain (unless the leaf is oversubscribed); every spine
connects to each aggregation switch of its building; aggregation switches uplink to the campus
core, and the core reaches other campuses over long-haul links. Racks are nodes; GPUs are not.

Edges carry ``capacity_gbps`` (a bundle of parallel links) and ``links`` (how many physical links
of the fabric's ``link_gbps`` that bundle is). Capacities follow from the racks' NIC bandwidth and
each tier's oversubscription, so the graph and the analytic answers below agree by construction;
``tests/test_fabric.py`` checks that they do.

*Bandwidth between two racks* here means each rack's fair share when every rack sends across the
same tier at once: the bottleneck a gang-scheduled training job sees, not the idle-fabric peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np

from twin.campus import Campus

TIERS = ("rack", "leaf", "spine", "aggregation", "core", "wan")


@dataclass(frozen=True)
class Bandwidth:
    gbps: float
    tier: str  # the tier the traffic must cross: leaf, spine, aggregation, core or wan


def _fabric_array(campus: Campus, attribute: str) -> np.ndarray:
    """A per-rack array of one fabric parameter of the rack's building."""
    per_building = np.array([getattr(b.fabric, attribute) for b in campus.site.buildings], dtype=np.float64)
    return per_building[campus.rack_building]


def rack_share_gbps(campus: Campus, tier: str) -> np.ndarray:
    """Per-rack bandwidth when every rack sends across ``tier`` at once (array over racks)."""
    nic = campus.rack_nic_gbps
    if tier in ("rack", "leaf"):
        return nic.copy()
    share = nic / _fabric_array(campus, "leaf_oversubscription")
    if tier == "spine":
        return share
    share = share / _fabric_array(campus, "pod_oversubscription")
    if tier == "aggregation":
        return share
    if tier == "core":
        return share / _fabric_array(campus, "building_oversubscription")
    raise ValueError(f"unknown tier {tier!r}; one of {TIERS[:-1]}")


def common_tier(campus: Campus, a: int, b: int) -> str:
    """The highest tier traffic between racks ``a`` and ``b`` must climb to."""
    if a == b:
        return "rack"
    if campus.rack_leaf[a] == campus.rack_leaf[b]:
        return "leaf"
    if campus.rack_pod[a] == campus.rack_pod[b]:
        return "spine"
    if campus.rack_building[a] == campus.rack_building[b]:
        return "aggregation"
    return "core"


def bandwidth_between(campus: Campus, a: int, b: int) -> Bandwidth:
    """Bandwidth between two racks of one campus, and the tier that bounds it."""
    for r in (a, b):
        if not 0 <= r < campus.racks:
            raise IndexError(f"rack {r} is not in {campus.name} (0..{campus.racks - 1})")
    tier = common_tier(campus, a, b)
    if tier == "rack":
        return Bandwidth(float("inf"), "rack")
    share = rack_share_gbps(campus, tier)
    return Bandwidth(float(min(share[a], share[b])), tier)


def build_fabric(campus: Campus) -> nx.Graph:
    """Build the fabric graph of a campus (see the module docstring for its shape)."""
    g = nx.Graph(name=f"{campus.name} fabric")
    core = f"{campus.name}/core"
    g.add_node(core, kind="core", building=-1)
    nic = campus.rack_nic_gbps
    pod_spines: dict[int, list[str]] = {}
    for bi, building in enumerate(campus.site.buildings):
        f = building.fabric
        aggs = [f"{building.name}/A{i + 1:02d}" for i in range(f.aggregation_switches)]
        g.add_nodes_from(aggs, kind="aggregation", building=bi)
        building_up = 0.0
        for pod in np.flatnonzero(campus.rack_building[campus.pod_first_rack[:-1]] == bi):
            sl = campus.pod_racks(int(pod))
            pod_name = campus.pod_names[pod]
            leaves = campus.rack_leaf[sl]
            first_leaf = int(leaves[0])
            leaf_nodes = [f"{pod_name}/L{leaf - first_leaf + 1:03d}" for leaf in np.unique(leaves)]
            spines = [f"{pod_name}/S{i + 1:02d}" for i in range(f.spines_per_pod)]
            pod_spines[int(pod)] = spines
            g.add_nodes_from(leaf_nodes, kind="leaf", building=bi, pod=int(pod))
            g.add_nodes_from(spines, kind="spine", building=bi, pod=int(pod))
            racks = np.arange(sl.start, sl.stop)
            g.add_nodes_from(
                (campus.rack_name(int(r)), {"kind": "rack", "building": bi, "pod": int(pod), "rack": int(r)})
                for r in racks
            )
            g.add_edges_from(
                (
                    campus.rack_name(int(r)),
                    leaf_nodes[int(campus.rack_leaf[r]) - first_leaf],
                    _edge(nic[r], f.link_gbps, "leaf"),
                )
                for r in racks
            )
            leaf_nic = np.bincount(leaves - first_leaf, weights=nic[sl])
            per_spine = leaf_nic / f.leaf_oversubscription / f.spines_per_pod
            # Leaves of a pod usually carry equal bundles: one call per distinct capacity.
            for cap in np.unique(per_spine).tolist():
                members = [leaf_nodes[k] for k in np.flatnonzero(per_spine == cap).tolist()]
                g.add_edges_from(
                    ((leaf, s) for leaf in members for s in spines), **_edge(cap, f.link_gbps, "spine")
                )
            pod_up = float(nic[sl].sum()) / f.leaf_oversubscription / f.pod_oversubscription
            building_up += pod_up
            per_edge = pod_up / f.spines_per_pod / f.aggregation_switches
            g.add_edges_from(
                (s, a, _edge(per_edge, f.link_gbps, "aggregation")) for s in spines for a in aggs
            )
        per_agg = building_up / f.building_oversubscription / f.aggregation_switches
        g.add_edges_from((a, core, _edge(per_agg, f.link_gbps, "core")) for a in aggs)
    for link in campus.site.spec.wan_links:
        wan = f"wan:{campus.name}->{link.to}"
        g.add_node(wan, kind="wan", building=-1, to=link.to, latency_ms=link.latency_ms)
        g.add_edge(core, wan, **_edge(link.gbps, link.gbps, "wan"))
    g.graph["pod_spines"] = pod_spines
    g.graph["core"] = core
    return g


def _edge(capacity_gbps: float, link_gbps: float, tier: str) -> dict:
    return {
        "capacity_gbps": float(capacity_gbps),
        "links": max(1, math.ceil(capacity_gbps / link_gbps - 1e-9)),
        "tier": tier,
    }


def switch_counts(g: nx.Graph) -> dict[str, int]:
    """Switches by tier and the number of logical links (edges) and physical links."""
    kinds: dict[str, int] = {}
    for _, kind in g.nodes(data="kind"):
        kinds[kind] = kinds.get(kind, 0) + 1
    switches = sum(v for k, v in kinds.items() if k in ("leaf", "spine", "aggregation", "core"))
    physical = sum(n for _, _, n in g.edges(data="links"))
    return {
        "switches": switches,
        "leaf": kinds.get("leaf", 0),
        "spine": kinds.get("spine", 0),
        "aggregation": kinds.get("aggregation", 0),
        "core": kinds.get("core", 0),
        "links": g.number_of_edges(),
        "physical_links": int(physical),
    }


def pod_bisection_gbps(campus: Campus, pod: int) -> float:
    """Bisection bandwidth of a pod: half the leaf-to-spine capacity, from the graph."""
    g = campus.fabric
    total = sum(
        d["capacity_gbps"]
        for s in g.graph["pod_spines"][pod]
        for _, _, d in g.edges(s, data=True)
        if d["tier"] == "spine"
    )
    return total / 2.0


def building_bisection_gbps(campus: Campus, building: int) -> float:
    """Bisection bandwidth of a building: half its spine-to-aggregation capacity, from the graph."""
    g = campus.fabric
    total = 0.0
    for pod, spines in g.graph["pod_spines"].items():
        if campus.rack_building[campus.pod_first_rack[pod]] != building:
            continue
        total += sum(
            d["capacity_gbps"]
            for s in spines
            for _, _, d in g.edges(s, data=True)
            if d["tier"] == "aggregation"
        )
    return total / 2.0


def fabric_counts(campus: Campus) -> dict[str, int]:
    """The same counts as :func:`switch_counts`, by arithmetic on the arrays (no graph built).

    ``info`` and the console use this, so an inventory of a million-GPU campus costs
    milliseconds; ``tests/test_fabric.py`` checks it against the graph.
    """
    leaf = spine = agg = physical = links = 0
    nic = campus.rack_nic_gbps
    for bi, building in enumerate(campus.site.buildings):
        f = building.fabric
        pods = np.flatnonzero(campus.rack_building[campus.pod_first_rack[:-1]] == bi)
        building_up = 0.0
        for pod in pods.tolist():
            sl = campus.pod_racks(pod)
            leaves = campus.rack_leaf[sl]
            leaf_nic = np.bincount(leaves - leaves[0], weights=nic[sl])
            n_leaves = leaf_nic.size
            leaf += n_leaves
            spine += f.spines_per_pod
            links += (
                (sl.stop - sl.start) + n_leaves * f.spines_per_pod + f.spines_per_pod * f.aggregation_switches
            )
            physical += int(np.maximum(1, np.ceil(nic[sl] / f.link_gbps - 1e-9)).sum())
            per_spine = leaf_nic / f.leaf_oversubscription / f.spines_per_pod
            physical += int(np.maximum(1, np.ceil(per_spine / f.link_gbps - 1e-9)).sum()) * f.spines_per_pod
            pod_up = float(nic[sl].sum()) / f.leaf_oversubscription / f.pod_oversubscription
            building_up += pod_up
            per_edge = pod_up / f.spines_per_pod / f.aggregation_switches
            physical += (
                max(1, math.ceil(per_edge / f.link_gbps - 1e-9)) * f.spines_per_pod * f.aggregation_switches
            )
        agg += f.aggregation_switches
        links += f.aggregation_switches
        per_agg = building_up / f.building_oversubscription / f.aggregation_switches
        physical += max(1, math.ceil(per_agg / f.link_gbps - 1e-9)) * f.aggregation_switches
    wan = len(campus.site.spec.wan_links)
    return {
        "switches": leaf + spine + agg + 1,
        "leaf": leaf,
        "spine": spine,
        "aggregation": agg,
        "core": 1,
        "links": links + wan,
        "physical_links": physical + wan,
    }
