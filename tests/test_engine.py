"""The discrete-event core: determinism, training-job accounting, demand, sampling and energy.

Scenarios run on ``sample_sites/demo.yaml`` (2,048 H100 in four 512-GPU pods of two halls, 1,152 GB200
in two pods of hall B/L1) over a few days, so the whole file runs in seconds. Outages and replacement
servers are in ``test_outages.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from demo_helpers import scenario

from twin.simulate import simulate

BUSY = dict(
    days=4,
    seed=11,
    training=dict(
        arrivals_per_day=60,
        size=dict(min_gpus=8, max_gpus=1024, alpha=0.5),
        duration_median_hours=8,
        checkpoint_interval_hours=1.0,
        checkpoint_write_hours=0.05,
        restart_overhead_hours=0.25,
    ),
    inference=[dict(site="Demo", gpu_type="H100-SXM", peak_gpus=200)],
    leases=[
        dict(
            name="res",
            tenant="Acme",
            gpu_type="GB200",
            gpus=288,
            start_day=1,
            term_days=30,
            price_usd_per_gpu_hour=3.0,
        ),
        dict(
            name="spot",
            tenant="Spotco",
            gpu_type="H100-SXM",
            gpus=256,
            start_day=0.5,
            term_days=2,
            kind="spot",
            billing="metered",
            price_usd_per_gpu_hour=1.0,
        ),
    ],
    events=[
        dict(kind="outage", site="Demo", hall="A/H2", day=2, hours=5),
        dict(kind="curtailment", site="Demo", mw=1.0, day=3, hours=3),
    ],
    failures=dict(rate_scale=20),
)


# -- determinism ---------------------------------------------------------------------------------


def _frames(results):
    return {
        name: getattr(results, name)
        for name in ("site_series", "hall_series", "tenant_series", "jobs", "leases", "events")
    }


def test_same_seed_gives_identical_results():
    a, b = simulate(scenario(**BUSY)), simulate(scenario(**BUSY))
    ka = {k: v for k, v in a.kpis.items() if k != "wall_seconds"}
    kb = {k: v for k, v in b.kpis.items() if k != "wall_seconds"}
    assert ka == kb
    assert a.kpis["jobs_submitted"] > 100 and a.kpis["failures"] > 10  # the run exercised something
    for name, frame in _frames(a).items():
        assert frame.equals(_frames(b)[name]), name
    assert np.array_equal(a.rack_day_utilization, b.rack_day_utilization)
    assert a.rack_names == b.rack_names


def test_different_seeds_give_different_results():
    a = simulate(scenario(**BUSY))
    b = simulate(scenario(**{**BUSY, "seed": 12}))
    assert not a.jobs.equals(b.jobs)
    assert not a.hall_series.equals(b.hall_series)
    assert a.kpis["failures_by_category"] != b.kpis["failures_by_category"] or (
        a.kpis["utilization"] != b.kpis["utilization"]
    )


# -- training jobs -------------------------------------------------------------------------------

FAILING = dict(
    days=3,
    seed=5,
    training=dict(
        arrivals_per_day=40,
        size=dict(min_gpus=64, max_gpus=512, alpha=0.3),
        duration_median_hours=20,
        duration_sigma=0.3,
        checkpoint_interval_hours=2.0,
        checkpoint_write_hours=0.1,
        restart_overhead_hours=0.3,
        gpu_type="H100-SXM",
    ),
    failures=dict(rate_scale=50),
)


@pytest.fixture(scope="module")
def failing_run():
    return simulate(scenario(**FAILING))


def test_failure_loses_at_most_one_checkpoint_interval(failing_run):
    jobs = failing_run.jobs
    cycle = FAILING["training"]["checkpoint_interval_hours"] + FAILING["training"]["checkpoint_write_hours"]
    hit = jobs[jobs["interruptions"] > 0]
    assert len(hit) >= 5 and hit["lost_hours"].sum() > 0
    per_event = jobs["lost_hours"] / (jobs["interruptions"] + jobs["preemptions"]).clip(lower=1)
    assert (per_event <= cycle + 1e-9).all()
    assert (jobs.loc[jobs["interruptions"] + jobs["preemptions"] == 0, "lost_hours"] == 0).all()


def test_job_time_adds_up_to_wall_time(failing_run):
    jobs = failing_run.jobs
    started = jobs[jobs["first_start_h"].notna()]
    assert len(started) > 10 and (started["status"] == "done").any()
    waited_after_start = started["queue_wait_hours"] - (started["first_start_h"] - started["submit_h"])
    parts = (
        started["productive_hours"]
        + started["lost_hours"]
        + started["checkpoint_hours"]
        + started["restart_hours"]
        + waited_after_start
    )
    assert np.allclose(parts, started["wall_hours"], rtol=1e-9, atol=1e-6)
    done = started[started["status"] == "done"]
    assert np.allclose(done["wall_hours"], done["end_h"] - done["first_start_h"])


def test_ettr_at_most_one(failing_run):
    jobs = failing_run.jobs
    ran = jobs[jobs["wall_hours"] > 0]
    assert (ran["productive_hours"] <= ran["wall_hours"] + 1e-9).all()
    ettr = failing_run.kpis["effective_training_time"]
    assert 0 < ettr < 1  # failures at 50x cost something
    assert failing_run.kpis["interruptions"] > 0


def test_job_over_two_pods_runs_slower():
    sc = scenario(
        days=2,
        seed=2,
        training=dict(
            arrivals_per_day=3,
            size=dict(min_gpus=1024, max_gpus=1024),
            duration_median_hours=5,
            duration_sigma=0,
            gpu_type="H100-SXM",
            network_sensitivity=0.2,
        ),
        failures=dict(enabled=False),
    )
    jobs = simulate(sc).jobs
    done = jobs[jobs["status"] == "done"]
    assert len(done) >= 1
    assert (done["max_slowdown"] > 1.0).all()  # 1,024 GPUs never fit one 512-GPU pod
    assert (done["end_h"] - done["first_start_h"] > done["work_hours"] * 1.01).all()
    assert np.allclose(done["productive_hours"], done["work_hours"] * done["max_slowdown"])


def test_single_pod_job_runs_at_full_speed():
    sc = scenario(
        days=2,
        seed=2,
        training=dict(
            arrivals_per_day=4,
            size=dict(min_gpus=64, max_gpus=64),
            duration_median_hours=3,
            duration_sigma=0,
            checkpoint_write_hours=0.0,
        ),
        failures=dict(enabled=False),
    )
    done = simulate(sc).jobs.query("status == 'done'")
    assert len(done) >= 1
    assert (done["max_slowdown"] == 1.0).all()
    assert np.allclose(done["end_h"] - done["first_start_h"], done["work_hours"])


def test_jobs_are_conserved_and_sized(failing_run):
    k = failing_run.kpis
    assert (
        k["jobs_submitted"] == k["jobs_completed"] + k["jobs_running"] + k["jobs_queued"] + k["jobs_rejected"]
    )
    jobs = failing_run.jobs
    assert (jobs["status"].isin(["done", "running", "queued", "rejected"])).all()
    assert jobs["end_h"].notna().sum() == k["jobs_completed"]


def test_oversized_job_is_rejected():
    sc = scenario(
        days=1,
        training=dict(arrivals_per_day=5, size=dict(min_gpus=4096, max_gpus=4096), gpu_type="H100-SXM"),
    )
    res = simulate(sc)
    assert res.kpis["jobs_submitted"] > 0
    assert res.kpis["jobs_rejected"] == res.kpis["jobs_submitted"]
    assert (res.events["kind"] == "job_rejected").sum() == res.kpis["jobs_rejected"]


def test_results_tables_have_expected_shape():
    res = simulate(scenario(**{**BUSY, "days": 2}))
    samples = 48
    assert len(res.site_series) == samples
    assert len(res.hall_series) == samples * 3
    assert len(res.tenant_series) == samples * 2
    assert res.rack_day_utilization.shape == (144, 2)
    assert ((res.rack_day_utilization >= 0) & (res.rack_day_utilization <= 1 + 1e-6)).all()
    assert isinstance(res.events, pd.DataFrame) and list(res.events.columns)[:3] == ["time_h", "site", "kind"]
    assert not math.isnan(res.kpis["utilization"])


# -- demand shocks (regression: a factor of 0 was read as 1) --------------------------------------


def test_demand_shock_of_zero_stops_arrivals():
    def arrivals(factor):
        sc = scenario(
            days=2,
            training=dict(arrivals_per_day=48),
            events=[dict(kind="demand_shock", factor=factor, day=0, hours=24)],
            failures=dict(enabled=False),
        )
        submit = simulate(sc).jobs["submit_h"]
        return int((submit < 24).sum()), int((submit >= 24).sum())

    during, after = arrivals(0.0)
    assert during == 0 and after > 20
    assert arrivals(1.0)[0] > 20
    assert arrivals(3.0)[0] > 2 * arrivals(1.0)[0]
    assert arrivals(0.5)[0] < arrivals(1.0)[0]


# -- sampling (regressions: rack-day shares above 1; hour 0 sampled before hour 0 happened) ------


@pytest.mark.parametrize("step", [1.0, 5.0, 7.0, 24.0])
def test_rack_day_share_of_a_fully_leased_site_is_one(step):
    sc = scenario(
        days=3,
        sample_hours=step,
        training=None,
        leases=[
            dict(name="gb", tenant="A", gpu_type="GB200", gpus=1152, term_days=30, price_usd_per_gpu_hour=1),
            dict(
                name="h", tenant="B", gpu_type="H100-SXM", gpus=2048, term_days=30, price_usd_per_gpu_hour=1
            ),
        ],
        failures=dict(enabled=False),
    )
    res = simulate(sc)
    assert np.allclose(res.rack_day_utilization, 1.0)
    first = res.hall_series[res.hall_series["time_h"] == 0]
    assert (first["leased_gpus"] == first["installed_gpus"]).all()  # leases of hour 0 are in sample 0
    assert res.kpis["leased_share"] == pytest.approx(1.0)


def test_rack_day_share_never_exceeds_one_with_an_odd_step():
    res = simulate(scenario(**{**BUSY, "days": 3, "sample_hours": 5.0}))
    util = res.rack_day_utilization
    assert (util >= 0).all() and (util <= 1 + 1e-6).all()
    assert util.max() > 0.5


def test_a_job_that_cannot_fit_beside_leases_does_not_starve_its_pool():
    """With 576 of the 1,152 GB200 leased, a 1,024-GPU job can never start; it must not reserve the pool
    (which would stop every other GB200 job for the rest of the run)."""
    res = simulate(
        scenario(
            days=30,
            seed=1,
            failures={"enabled": False},
            training={
                "arrivals_per_day": 60,
                "size": {"min_gpus": 8, "max_gpus": 1024, "alpha": 0.3},
                "gpu_type": "GB200",
            },
            leases=[
                {
                    "name": "res",
                    "tenant": "R",
                    "gpu_type": "GB200",
                    "gpus": 576,
                    "term_days": 30,
                    "price_usd_per_gpu_hour": 3,
                }
            ],
        )
    )
    hall = res.hall_series[res.hall_series["hall"] == "Demo/B/L1"]
    late = hall[hall["time_h"] >= 20 * 24]
    assert (res.jobs["gpus"] == 1024).any()
    assert late["busy_gpus"].mean() > 0.5 * (1152 - 576)


@pytest.mark.parametrize("days", [0.01, 1.3, 2.0])
def test_energy_covers_the_whole_horizon_even_when_it_is_not_a_whole_number_of_steps(days):
    """Constant load: energy must be exactly power x horizon, whatever the step does at the end."""
    res = simulate(
        scenario(
            days=days,
            sample_hours=1,
            training=None,
            failures={"enabled": False},
            inference=[{"site": "Demo", "gpu_type": "H100-SXM", "peak_gpus": 512, "trough_fraction": 1.0}],
        )
    )
    kw = res.site_series["it_kw"].iloc[0]
    assert (res.site_series["it_kw"] == kw).all()
    assert res.kpis["it_energy_mwh"] == pytest.approx(kw * days * 24 / 1000, rel=1e-6)
