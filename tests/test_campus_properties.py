"""Property tests: any valid generated site builds, and spec, arrays and graph agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.campus import build_campus
from twin.fabric import fabric_counts, switch_counts
from twin.load import load_catalog
from twin.resolve import resolve_site
from twin.site import SiteSpec

CATALOG = load_catalog(Path(__file__).resolve().parent.parent / "sample_sites" / "catalog.yaml")
AIR = [n for n, r in CATALOG.rack_types.items() if r.cooling == "air"]
LIQUID = [n for n, r in CATALOG.rack_types.items() if r.cooling == "liquid"]

BASE = {
    "name": "Gen",
    "location": {"latitude": 30.0, "longitude": -90.0, "time_zone": "America/Chicago"},
    "climate": {
        "dry_bulb_monthly_c": [10.0] * 12,
        "relative_humidity_monthly_pct": [60.0] * 12,
        "design_dry_bulb_c": 35.0,
        "design_wet_bulb_c": 25.0,
    },
    "energy_price_usd_per_mwh": 60,
    "power": {"sources": [{"name": "grid", "kind": "grid", "capacity_mw": 1000}]},
}


@st.composite
def pods(draw, liquid: bool):
    types = LIQUID if liquid else AIR
    n = draw(st.integers(1, 3))
    return [
        {
            "name": f"P{i}-{{n}}",
            "count": draw(st.integers(1, 3)),
            "rack_type": draw(st.sampled_from(types)),
            "racks": draw(st.integers(1, 40)),
        }
        for i in range(n)
    ]


@st.composite
def halls(draw):
    liquid = draw(st.booleans())
    pod_list = draw(pods(liquid))
    kw = sum(CATALOG.rack_types[p["rack_type"]].max_kw * p["racks"] * p["count"] for p in pod_list)
    headroom = draw(st.floats(1.0, 1.5))
    kind = draw(
        st.sampled_from(
            ["liquid_drycooler", "liquid_tower"] if liquid else ["air_evaporative", "air_economizer"]
        )
    )
    return {
        "it_capacity_mw": kw * headroom / 1000,
        "cooling": {"kind": kind, "capacity_mw": kw * headroom / 1000},
        "pods": pod_list,
        "count": draw(st.integers(1, 2)),
    }


@st.composite
def sites(draw):
    buildings = []
    for bi in range(draw(st.integers(1, 3))):
        hall_list = draw(st.lists(halls(), min_size=1, max_size=3))
        for hi, h in enumerate(hall_list):
            h["name"] = f"H{hi}-{{n}}"
        fabric = {
            "racks_per_leaf": draw(st.integers(1, 4)),
            "spines_per_pod": draw(st.integers(1, 6)),
            "leaf_oversubscription": draw(st.sampled_from([1.0, 2.0])),
            "pod_oversubscription": draw(st.sampled_from([1.0, 3.0, 7.0])),
            "aggregation_switches": draw(st.integers(1, 4)),
        }
        buildings.append(
            {"name": f"B{bi}-{{n}}", "count": draw(st.integers(1, 2)), "halls": hall_list, "fabric": fabric}
        )
    return {**BASE, "buildings": buildings}


def expected_totals(data: dict) -> tuple[int, int, float]:
    racks = gpus = 0
    kw = 0.0
    for b in data["buildings"]:
        for h in b["halls"]:
            for p in h["pods"]:
                n = b["count"] * h["count"] * p["count"] * p["racks"]
                rt = CATALOG.rack_types[p["rack_type"]]
                racks += n
                gpus += n * rt.gpus
                kw += n * rt.max_kw
    return racks, gpus, kw


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sites())
def test_any_valid_site_builds_and_totals_agree(data):
    spec = SiteSpec.model_validate(data)
    site, problems = resolve_site(spec, CATALOG)
    assert problems == []
    campus = build_campus(site)
    racks, gpus, kw = expected_totals(data)

    # spec == arrays
    assert campus.racks == racks
    assert campus.gpus == gpus
    assert campus.rack_max_kw.sum() == pytest.approx(kw)
    assert sum(campus.gpus_by_type().values()) == gpus
    hall_kw = np.bincount(campus.rack_hall, weights=campus.rack_max_kw, minlength=campus.halls)
    assert np.all(hall_kw <= campus.hall_it_capacity_kw * (1 + 1e-9))
    assert np.all(np.diff(campus.pod_first_rack) > 0)
    assert np.all(campus.rack_building == campus.hall_building[campus.rack_hall])

    # arrays == graph
    g = campus.fabric
    rack_nodes = [d for _, d in g.nodes(data=True) if d["kind"] == "rack"]
    assert len(rack_nodes) == racks
    assert sum(int(campus.rack_gpus[d["rack"]]) for d in rack_nodes) == gpus
    leaf_edges = [d for _, _, d in g.edges(data=True) if d["tier"] == "leaf"]
    assert sum(d["capacity_gbps"] for d in leaf_edges) == pytest.approx(campus.rack_nic_gbps.sum())
    assert fabric_counts(campus) == switch_counts(g)
    # every leaf serves only racks of its own pod
    for n, d in g.nodes(data=True):
        if d["kind"] == "leaf":
            pods_served = {g.nodes[m]["pod"] for m in g.neighbors(n) if g.nodes[m]["kind"] == "rack"}
            assert pods_served == {d["pod"]}
