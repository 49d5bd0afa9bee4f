"""Invariants of a run, checked at every sample of generated scenarios on the demo site (hypothesis).

The checks themselves (the engine recounted from its per-server arrays after each sample, the
books of jobs, the series and the money) are ``checked_simulate`` in ``tests/invariant_checks.py``;
this file generates the scenarios, and adds fixed ones that reach the corners.
"""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from invariant_checks import PRICE, checked_simulate

# -- generated scenarios -------------------------------------------------------------------------

HALLS = ["A/H1", "A/H2", "B/L1"]


@st.composite
def leases(draw, index: int) -> dict:
    kind = draw(st.sampled_from(["reserved", "capacity_block", "on_demand", "spot"]))
    gpu_type = draw(st.sampled_from(["H100-SXM", "GB200"]))
    most = 2048 if gpu_type == "H100-SXM" else 1152
    isolation = draw(st.sampled_from(["rack", "rack", "pod"]))
    if isolation == "pod":
        most = 1024 if gpu_type == "H100-SXM" else 576
    metered = kind in ("on_demand", "spot") or draw(st.booleans())
    return {
        "name": f"L{index}",
        "tenant": f"T{index % 2}",
        "gpu_type": gpu_type,
        "gpus": draw(st.integers(1, most)),
        "site": "Demo",
        "start_day": draw(st.sampled_from([0, 0, 0.25, 1, 1.5, 2.5])),
        "term_days": draw(st.sampled_from([0.5, 1, 2, 30])),
        "kind": kind,
        "billing": "metered" if metered else "take_or_pay",
        "price_usd_per_gpu_hour": PRICE,
        "isolation": isolation,
        "termination_notice_days": draw(st.sampled_from([0, 0.5, 1, 90])),
        "tenant_utilization": draw(st.sampled_from([0.0, 0.85, 1.0])),
    }


@st.composite
def events(draw, lease_names: list[str], days: float) -> list[dict]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["outage", "curtailment", "lease_termination", "demand_shock"]))
        day = draw(st.floats(0, days, allow_nan=False))
        hours = draw(st.sampled_from([1.0, 3.0, 8.0, 30.0]))
        if kind == "outage":
            out.append(
                {
                    "kind": kind,
                    "site": "Demo",
                    "hall": draw(st.sampled_from([None, *HALLS])),
                    "day": day,
                    "hours": hours,
                }
            )
        elif kind == "curtailment":
            mw = draw(st.sampled_from([0.1, 0.8, 2.0, 10.0]))
            out.append({"kind": kind, "site": "Demo", "mw": mw, "day": day, "hours": hours})
        elif kind == "lease_termination" and lease_names:
            out.append({"kind": kind, "lease": draw(st.sampled_from(lease_names)), "day": day})
        elif kind == "demand_shock":
            out.append(
                {"kind": kind, "factor": draw(st.sampled_from([0.0, 0.5, 3.0])), "day": day, "hours": hours}
            )
    return out


@st.composite
def scenarios(draw) -> dict:
    days = draw(st.sampled_from([1, 2, 3, 4]))
    n_leases = draw(st.integers(0, 3))
    lease_docs = [draw(leases(i)) for i in range(n_leases)]
    training = {
        "arrivals_per_day": draw(st.sampled_from([0, 5, 30, 80, 200])),
        "size": {
            "min_gpus": 8,
            "max_gpus": draw(st.sampled_from([64, 512, 2048])),
            "alpha": draw(st.sampled_from([0.3, 1.0])),
        },
        "duration_median_hours": draw(st.sampled_from([1.0, 6.0, 24.0])),
        "checkpoint_interval_hours": draw(st.sampled_from([0.25, 1.0, 3.0])),
        "checkpoint_write_hours": draw(st.sampled_from([0.0, 0.02, 0.3])),
        "restart_overhead_hours": draw(st.sampled_from([0.0, 0.2, 1.0])),
        "network_sensitivity": draw(st.sampled_from([0.0, 0.05, 0.5])),
        "gpu_type": draw(st.sampled_from(["any", "any", "H100-SXM", "GB200"])),
        "priority": draw(st.integers(0, 9)),
    }
    inference = []
    if draw(st.booleans()):
        inference.append(
            {
                "site": "Demo",
                "gpu_type": draw(st.sampled_from(["H100-SXM", "GB200", "any"])),
                "peak_gpus": draw(st.sampled_from([40, 300, 900])),
            }
        )
    hosted = []
    if draw(st.booleans()):
        gpu_type = draw(st.sampled_from(["H100-SXM", "GB200"]))
        hosted.append(
            {
                "name": "api",
                "model": "generated",
                "site": "Demo",
                "gpu_type": gpu_type,
                "gpus_per_replica": draw(st.sampled_from([8, 16, 64])),
                "input_tokens_per_second": 20000,
                "output_tokens_per_second": 3000,
                "demand": {
                    "peak_requests_per_second": draw(st.sampled_from([1.0, 50.0, 400.0])),
                    "bursts": [{"day": 0.5, "hours": 4, "factor": draw(st.sampled_from([1.0, 6.0]))}],
                },
                "price_usd_per_million_input_tokens": 1.0,
                "price_usd_per_million_output_tokens": 3.0,
                "min_replicas": draw(st.integers(0, 2)),
                "max_replicas": draw(st.sampled_from([2, 4, 40])),
                "autoscaler": {"startup_minutes": draw(st.sampled_from([0, 10, 60]))},
                "start_day": draw(st.sampled_from([0, 0, 0.5])),
                "step_minutes": draw(st.sampled_from([5, 15, 60])),
            }
        )
    return {
        "days": days,
        "seed": draw(st.integers(0, 2**32)),
        "hosted_models": hosted,
        "sample_hours": draw(st.sampled_from([1.0, 1.0, 2.0, 0.5])),
        "training": training,
        "inference": inference,
        "leases": lease_docs,
        "events": draw(events([d["name"] for d in lease_docs], days)),
        "failures": {
            "rate_scale": draw(st.sampled_from([0.0, 1.0, 10.0, 50.0])),
            "repair_scale": draw(st.sampled_from([0.2, 1.0, 3.0])),
        },
    }


def _lease(name: str, gpu_type: str, gpus: int, start_day: float, term_days: float, kind: str) -> dict:
    return {"name": name, "tenant": name, "gpu_type": gpu_type, "gpus": gpus, "site": "Demo",
            "start_day": start_day, "term_days": term_days, "kind": kind,
            "billing": "take_or_pay" if kind == "reserved" else "metered", "price_usd_per_gpu_hour": PRICE,
            "isolation": "rack", "termination_notice_days": 0, "tenant_utilization": 0.0}  # fmt: skip


# Found by hypothesis: a reserved lease took spot racks with servers under repair; when it ended,
# those went to the pool, not back to the spot tenant, and internal work ran on the tenant's racks.
SPOT_RACK_UNDER_REPAIR = {
    "days": 1, "seed": 1514564, "hosted_models": [], "sample_hours": 1.0,
    "training": {"arrivals_per_day": 80, "size": {"min_gpus": 8, "max_gpus": 2048, "alpha": 0.3},
                 "duration_median_hours": 24.0, "checkpoint_interval_hours": 0.25, "checkpoint_write_hours": 0.0,
                 "restart_overhead_hours": 0.0, "network_sensitivity": 0.0, "gpu_type": "any", "priority": 0},
    "inference": [],
    "leases": [_lease("L0", "H100-SXM", 1, 0, 0.5, "on_demand"), _lease("L1", "GB200", 217, 0, 1, "spot"),
               _lease("L2", "GB200", 73, 0.25, 0.5, "reserved")],
    "events": [],
    "failures": {"rate_scale": 10.0, "repair_scale": 0.2},
}  # fmt: skip


# Derandomized: CI runs the same examples every time (a new one is found by raising max_examples
# locally, and kept with @example).
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
@example(SPOT_RACK_UNDER_REPAIR)
def test_invariants_hold_at_every_sample(doc):
    checked_simulate(doc)


# -- fixed scenarios that reach the corners ------------------------------------------------------


def test_invariants_on_a_crowded_site_with_everything_happening():
    doc = {
        "days": 4,
        "seed": 17,
        "training": {
            "arrivals_per_day": 120,
            "size": {"min_gpus": 8, "max_gpus": 1024, "alpha": 0.4},
            "duration_median_hours": 12,
            "checkpoint_interval_hours": 1.0,
            "checkpoint_write_hours": 0.05,
        },
        "inference": [{"site": "Demo", "gpu_type": "H100-SXM", "peak_gpus": 300}],
        "leases": [
            {
                "name": "res",
                "tenant": "A",
                "gpu_type": "GB200",
                "gpus": 500,
                "start_day": 1,
                "term_days": 30,
                "price_usd_per_gpu_hour": PRICE,
            },
            {
                "name": "blk",
                "tenant": "B",
                "gpu_type": "H100-SXM",
                "gpus": 512,
                "start_day": 1.5,
                "term_days": 2,
                "kind": "capacity_block",
                "isolation": "pod",
                "price_usd_per_gpu_hour": PRICE,
            },
            {
                "name": "spot",
                "tenant": "C",
                "gpu_type": "GB200",
                "gpus": 576,
                "start_day": 0.5,
                "term_days": 30,
                "kind": "spot",
                "billing": "metered",
                "price_usd_per_gpu_hour": PRICE,
            },
            {
                "name": "od",
                "tenant": "C",
                "gpu_type": "H100-SXM",
                "gpus": 128,
                "start_day": 0,
                "term_days": 30,
                "kind": "on_demand",
                "billing": "metered",
                "price_usd_per_gpu_hour": PRICE,
                "termination_notice_days": 1,
            },
        ],
        "events": [
            {"kind": "outage", "site": "Demo", "hall": "B/L1", "day": 2, "hours": 5},
            {"kind": "outage", "site": "Demo", "day": 3.2, "hours": 2},
            {"kind": "curtailment", "site": "Demo", "mw": 2.5, "day": 2.5, "hours": 4},
            {"kind": "lease_termination", "lease": "od", "day": 1},
            {"kind": "demand_shock", "factor": 3, "day": 1, "hours": 24},
        ],
        "failures": {"rate_scale": 50},
    }
    res = checked_simulate(doc)
    k = res.kpis
    assert k["failures"] > 100 and k["interruptions"] > 10 and k["preemptions"] > 0
    assert res.leases["spares_used"].sum() > 0
    kinds = set(res.events["kind"])
    assert {"lease_started", "lease_ended", "outage", "curtailment", "job_requeued"} <= kinds


def test_per_unit_money_of_an_instant_lease_is_left_out_not_infinite():
    from twin.products import ratios

    row = ratios(
        {
            "revenue_usd": 5e6,
            "credits_usd": 0.0,
            "margin_usd": -3e6,
            "gpu_hours": 2.0,
            "energy_mwh": np.float64(1e-320),
        }
    )
    assert row["revenue_per_gpu_hour_usd"] == 2.5e6
    assert row["revenue_per_mwh_usd"] is None and row["margin_per_mwh_usd"] is None
    json.dumps(row, allow_nan=False)
