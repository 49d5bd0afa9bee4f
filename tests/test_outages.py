"""Servers out of service: hall outages, replacement servers for a job, repairs under an outage.

Regression tests on ``sample_sites/demo.yaml``: each pins a defect that was once there (an outage
taking servers down one at a time, one idle server handed to a job twice, a server under repair
coming back in the middle of an outage). Some drive a bare :class:`~twin.engine.Engine` by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from demo_helpers import bare_engine, fleet_is_consistent, pods_of, scenario

from twin.fleet import FREE, INFERENCE
from twin.jobs import Job
from twin.simulate import simulate

# -- outages (regression: servers of an outage went down one at a time) --------------------------


def test_hall_outage_interrupts_each_job_once():
    """Every server of the hall is down before any job looks for replacements.

    Before the fix, a job hit by the outage got replacement servers in the same hall, which the outage
    took down a moment later: one outage counted as several interruptions of the same job.
    """
    sc = scenario(
        days=2,
        seed=3,
        training=dict(
            arrivals_per_day=40,
            size=dict(min_gpus=8, max_gpus=256, alpha=0.5),
            duration_median_hours=30,
            gpu_type="H100-SXM",
        ),
        events=[dict(kind="outage", site="Demo", hall="A/H1", day=1, hours=6)],
        failures=dict(enabled=False),
    )
    res = simulate(sc)
    jobs = res.jobs
    assert res.kpis["interruptions"] > 5
    assert jobs["interruptions"].max() == 1
    assert res.kpis["interruptions"] == jobs["interruptions"].sum()
    # No job runs in the hall while it is out.
    hall = res.hall_series[
        (res.hall_series["hall"] == "Demo/A/H1") & res.hall_series["time_h"].between(25, 29)
    ]
    assert (hall["failed_gpus"] == hall["installed_gpus"]).all() and (hall["busy_gpus"] == 0).all()


def test_outage_of_the_only_hall_of_a_type_uses_no_spares():
    """A reserved lease in the GB200 hall loses everything in a hall outage: there is nothing to stand in.

    Before the fix, spares were drawn from the hall's own servers before the outage reached them.
    """
    sc = scenario(
        days=5,
        training=None,
        leases=[
            dict(
                name="res",
                tenant="Acme",
                gpu_type="GB200",
                gpus=576,
                term_days=30,
                price_usd_per_gpu_hour=3.0,
            )
        ],
        events=[dict(kind="outage", site="Demo", hall="B/L1", day=2, hours=6)],
        failures=dict(enabled=False),
    )
    row = simulate(sc).leases.iloc[0]
    assert row["spares_used"] == 0
    assert row["shortfall_events"] > 0
    assert row["delivered_gpu_hours"] == pytest.approx(576 * (120 - 6))
    assert row["granted_gpus"] == 576


# -- replacement servers (regression: one idle server handed out twice) --------------------------


def test_job_losing_two_servers_gets_two_distinct_replacements():
    """A job on one pod loses two servers at once; its pod has one idle server, another pod has more.

    Before the fix, the second replacement came from ``place``, which still saw the first pick as idle
    and handed the same server out again: the job held one server twice and the counters drifted.
    """
    engine = bare_engine(days=2)
    f = engine.fleet
    h100 = pods_of(engine, "H100-SXM")
    p0, p1 = int(h100[0]), int(h100[1])
    # Everything busy with a stand-in owner except 5 servers of pod 0 and 3 of pod 1.
    keep = {p0: 5, p1: 3}
    for pod in range(f.pods):
        sl = f.pod_servers(pod)
        servers = np.arange(sl.start, sl.stop)[keep.get(pod, 0) :]
        f.assign_internal(servers, INFERENCE)
    job = Job(
        id=0,
        kind="training",
        owner="internal",
        gpus=32,
        gpu_types=np.array([f.gpu_type_names.index("H100-SXM")]),
        sites=np.array([0]),
        priority=5,
        submit=0.0,
        work_hours=10.0,
        checkpoint_interval=1.0,
        checkpoint_write=0.0,
        restart_overhead=0.1,
        network_sensitivity=0.05,
    )
    engine.submit(job)
    assert job.status == "running" and set(f.server_pod[job.servers].tolist()) == {p0}
    assert f.pod_idle_servers[p0] == 1
    engine.hit_servers(job.servers[:2].copy(), 5.0, "outage")
    assert job.status == "running" and job.interruptions == 1
    assert np.unique(job.servers).size == job.servers.size == 4
    assert (f.job[job.servers] == job.id).all() and not f.down[job.servers].any()
    fleet_is_consistent(engine)
    engine.env.run(until=20)
    assert job.status == "done"
    fleet_is_consistent(engine)


def test_engine_counters_after_mixed_moves():
    engine = bare_engine(
        days=3,
        leases=[
            dict(name="r", tenant="A", gpu_type="H100-SXM", gpus=64, term_days=1, price_usd_per_gpu_hour=2)
        ],
    )
    f = engine.fleet
    lease = engine.leases[0]
    engine.start_lease(lease)
    assert lease.granted_gpus == 64 and lease.healthy_gpus == 64
    engine.hit_server(int(lease.servers[0]), 3.0, "test")
    engine.hit_server(int(np.flatnonzero(f.lease == FREE)[0]), 2.0, "test")
    fleet_is_consistent(engine)
    engine.env.run(until=4)
    fleet_is_consistent(engine)
    engine.end_lease(lease, "test")
    fleet_is_consistent(engine)
    assert (f.lease == FREE).all() and f.rack_leased_gpus.sum() == 0


def test_an_outage_keeps_servers_already_under_repair_out_until_it_ends():
    """At 20x failure rates some servers of the hall are already down when the outage starts; none of
    them may come back (and take work) before the outage ends."""
    res = simulate(
        scenario(
            days=12,
            seed=3,
            failures={"enabled": True, "rate_scale": 20, "repair_scale": 0.05},
            training={"arrivals_per_day": 200, "size": {"min_gpus": 8, "max_gpus": 256}, "gpu_type": "GB200"},
            leases=[
                {
                    "name": "res",
                    "tenant": "R",
                    "gpu_type": "GB200",
                    "gpus": 288,
                    "term_days": 12,
                    "price_usd_per_gpu_hour": 3,
                }
            ],
            events=[{"kind": "outage", "site": "Demo", "hall": "B/L1", "day": 8, "hours": 8}],
        )
    )
    hall = res.hall_series[res.hall_series["hall"] == "Demo/B/L1"].set_index("time_h")
    during = hall.loc[193:199]  # samples strictly inside the outage (hours 192-200)
    assert (during["failed_gpus"] == during["installed_gpus"]).all()
    assert (during["busy_gpus"] == 0).all() and (during["leased_gpus"] == 0).all()
