"""Leases: carving whole racks, preempting internal work, termination, curtailment, what a lease holds.

The demo site (``sample_sites/demo.yaml``) has 2,048 H100 in 16-GPU racks (two 8-GPU servers each, four
pods of 32 racks) and 1,152 GB200 in 72-GPU NVL72 racks (18 servers of 4 GPUs, two pods of 8 racks, all
in hall B/L1). Runs are a few days long; a few regression tests drive the engine by hand. Spares,
repairs and SLA credits are in test_lease_spares.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from demo_helpers import bare_engine, scenario
from lease_helpers import GB200_RACK, H100_RACK, lease, own_racks

from twin.simulate import simulate

# -- carving -------------------------------------------------------------------------------------


def test_reserved_lease_gets_whole_racks_of_its_type():
    engine = bare_engine(
        days=2,
        leases=[
            lease("gb", "GB200", 500),
            lease("h", "H100-SXM", 200),
            lease("p", "H100-SXM", 600, isolation="pod"),
        ],
    )
    f = engine.fleet
    for state in engine.leases:
        engine.start_lease(state)
    gb, h, p = engine.leases
    assert gb.granted_gpus == 7 * GB200_RACK  # 500 rounded up to whole racks
    assert h.granted_gpus == 13 * H100_RACK
    assert p.granted_gpus == 1024  # two whole 512-GPU pods
    for state in engine.leases:
        racks = own_racks(engine, state)
        in_racks = np.isin(f.server_rack, racks)
        assert (f.lease[in_racks] == state.index).all()  # every server of its racks, nobody else's
        assert (f.server_gpu_type[in_racks] == state.gpu_type).all()
        assert f.rack_leased_gpus[racks].sum() == state.granted_gpus == state.healthy_gpus
        assert f.rack_busy_gpus[racks].sum() == 0
    pods = np.unique(f.server_pod[p.servers])
    assert np.isin(f.server_pod, pods).sum() == p.servers.size


def test_lease_table_reports_whole_racks():
    sc = scenario(
        days=3,
        training=dict(arrivals_per_day=20),
        leases=[lease("gb", "GB200", 300, start_day=1), lease("h", "H100-SXM", 250, start_day=0.5)],
    )
    table = simulate(sc).leases.set_index("lease")
    assert table.loc["gb", "granted_gpus"] == 5 * GB200_RACK
    assert table.loc["h", "granted_gpus"] % H100_RACK == 0 and table.loc["h", "granted_gpus"] >= 250


def test_internal_jobs_never_run_on_leased_racks():
    """Sampled every hour with frequent failures, spares and repairs: a lease's racks stay the tenant's."""
    sc = scenario(
        days=4,
        seed=7,
        training=dict(
            arrivals_per_day=80, size=dict(min_gpus=8, max_gpus=512, alpha=0.4), duration_median_hours=6
        ),
        leases=[lease("gb", "GB200", 144, kind="capacity_block"), lease("h", "H100-SXM", 256, start_day=0.5)],
        failures=dict(rate_scale=50, repair_scale=0.3),
    )
    seen = []

    from twin import recorder as recorder_module

    original = recorder_module.Recorder.sample

    def sample(self, i, engine):
        original(self, i, engine)
        for state in engine.leases:
            if state.status == "active":
                seen.append(int(engine.fleet.rack_busy_gpus[own_racks(engine, state)].sum()))

    recorder_module.Recorder.sample = sample
    try:
        res = simulate(sc)
    finally:
        recorder_module.Recorder.sample = original
    assert res.leases["spares_used"].sum() > 0  # failures hit the leases and spares stood in
    assert len(seen) > 100 and max(seen) == 0


# -- preemption and spot -------------------------------------------------------------------------

FULL_GB200 = dict(
    days=3,
    seed=4,
    training=dict(
        arrivals_per_day=60,
        size=dict(min_gpus=32, max_gpus=256, alpha=0.2),
        duration_median_hours=60,
        duration_sigma=0.2,
        gpu_type="GB200",
    ),
    failures=dict(enabled=False),
)


@pytest.fixture(scope="module")
def reserved_on_full_site():
    sc = scenario(**FULL_GB200, leases=[lease("res", "GB200", 576, start_day=1.5)])
    return simulate(sc)


def test_reserved_lease_on_full_site_preempts_internal_jobs(reserved_on_full_site):
    res = reserved_on_full_site
    row = res.leases.set_index("lease").loc["res"]
    assert row["status"] == "active"
    assert row["granted_gpus"] == 576 and row["note"] == ""
    preempted = res.events[res.events["detail"] == "preempted for lease res"]
    assert len(preempted) > 0 and (preempted["kind"] == "job_requeued").all()
    assert (preempted["time_h"] == 36.0).all()
    assert res.kpis["preemptions"] >= len(preempted)
    # From the start, the tenant gets everything committed.
    tenant = res.tenant_series[res.tenant_series["time_h"] >= 36]
    assert (tenant["healthy_gpus"] == 576).all()
    assert row["sla_attainment"] == pytest.approx(1.0)
    # Right before the lease, the GB200 hall was full.
    hall = res.hall_series[(res.hall_series["hall"] == "Demo/B/L1") & (res.hall_series["time_h"] == 35)]
    assert hall["busy_gpus"].iloc[0] >= 0.9 * 1152


def test_preempted_internal_servers_counts_servers(reserved_on_full_site):
    """Regression: the column counted preempted jobs, not servers."""
    res = reserved_on_full_site
    row = res.leases.set_index("lease").loc["res"]
    jobs = res.jobs.set_index("job")
    ids = res.events.loc[res.events["detail"] == "preempted for lease res", "subject"].str.split().str[1]
    gpus = jobs.loc[ids.astype(int), "gpus"]
    # Each preempted job held at least one server on the lease's racks, and at most all of its own.
    assert row["preempted_internal_servers"] >= len(ids)
    assert row["preempted_internal_servers"] <= int((gpus // 4).sum())
    assert row["preempted_internal_servers"] > len(ids)


def test_spot_lease_takes_only_free_racks_and_starts_short():
    sc = scenario(
        **FULL_GB200,
        leases=[
            lease(
                "spotty",
                "GB200",
                1152,
                start_day=1.5,
                kind="spot",
                billing="metered",
                price_usd_per_gpu_hour=1.0,
            )
        ],
    )
    res = simulate(sc)
    row = res.leases.iloc[0]
    assert not res.events["detail"].str.contains("preempted for lease").any()
    assert row["preempted_internal_servers"] == 0
    assert row["granted_gpus"] < 1152 and row["granted_gpus"] % GB200_RACK == 0
    if row["granted_gpus"]:
        assert row["status"] == "active"
        assert row["note"].startswith(f"started short: {row['granted_gpus']:,} of 1,152")
    else:
        assert row["status"] == "refused" and row["note"]
    # Metered: billed what was delivered.
    assert row["revenue_usd"] == pytest.approx(row["delivered_gpu_hours"] * 1.0)
    assert row["credits_usd"] == 0


def test_spot_lease_on_an_empty_site_gets_everything():
    sc = scenario(days=1, training=None, leases=[lease("s", "H100-SXM", 256, kind="spot", billing="metered")])
    row = simulate(sc).leases.iloc[0]
    assert row["granted_gpus"] == 256 and row["note"] == ""


# -- termination ---------------------------------------------------------------------------------


def test_termination_ends_the_lease_after_the_notice():
    sc = scenario(
        days=8,
        training=dict(arrivals_per_day=10),
        leases=[lease("gone", "H100-SXM", 256, start_day=1, termination_notice_days=2.5)],
        events=[dict(kind="lease_termination", lease="gone", day=3)],
    )
    res = simulate(sc)
    row = res.leases.iloc[0]
    end = (3 + 2.5) * 24
    assert row["end_hour"] == end and row["status"] == "ended"
    assert row["committed_gpu_hours"] == pytest.approx(256 * (end - 24))
    ended = res.events[res.events["kind"] == "lease_ended"]
    assert list(ended["time_h"]) == [end] and "terminated" in ended["detail"].iloc[0]
    assert ((res.events["kind"] == "lease_notice") & (res.events["time_h"] == 72)).sum() == 1
    leased = res.site_series.set_index("time_h")["leased_gpus"]
    # At least its 256 GPUs (a spare rack standing in for a failed server can hold more), then none.
    assert (leased.loc[24 : end - 1] >= 256).all() and (leased.loc[end:] == 0).all()
    tenant = res.tenant_series.set_index("time_h")
    assert (tenant.loc[end:, "committed_gpus"] == 0).all()


def test_termination_with_long_notice_changes_nothing():
    sc = scenario(
        days=4,
        training=None,
        leases=[lease("stay", "H100-SXM", 64, term_days=3)],  # default notice: 90 days
        events=[dict(kind="lease_termination", lease="stay", day=1)],
    )
    res = simulate(sc)
    row = res.leases.iloc[0]
    assert row["end_hour"] == 72 and row["status"] == "ended"
    assert (res.events["kind"] == "lease_notice").sum() == 0


def test_termination_before_the_start_ends_the_lease_unstarted():
    sc = scenario(
        days=6,
        training=None,
        leases=[lease("never", "GB200", 72, start_day=4, termination_notice_days=1)],
        events=[dict(kind="lease_termination", lease="never", day=1)],
    )
    res = simulate(sc)
    row = res.leases.iloc[0]
    assert row["status"] == "ended" and row["granted_gpus"] == 0
    assert row["committed_gpu_hours"] == 0 and row["revenue_usd"] == 0
    assert res.kpis["lease_depreciation_usd"] == 0


# -- curtailment ---------------------------------------------------------------------------------

CURTAIL_ORDER = [
    "idle servers powered off",
    "GPUs power-capped",
    "spot leases preempted",
    "admission stopped",
    "internal job",
    "inference fleet shrunk",
    "on-demand leases cut",
    "reserved leases cut (SLA shortfall)",
    "not met",
]


def curtailed(mw: float):
    sc = scenario(
        days=2,
        seed=9,
        training=dict(
            arrivals_per_day=30,
            size=dict(min_gpus=8, max_gpus=256),
            duration_median_hours=30,
            gpu_type="H100-SXM",
        ),
        inference=[dict(site="Demo", gpu_type="H100-SXM", peak_gpus=300)],
        leases=[
            lease("spot", "H100-SXM", 256, kind="spot", billing="metered", tenant="S"),
            lease("od", "H100-SXM", 256, kind="on_demand", billing="metered", tenant="O"),
            lease("res", "GB200", 576, tenant="R"),
        ],
        events=[dict(kind="curtailment", site="Demo", mw=mw, day=1, hours=4)],
        failures=dict(enabled=False),
    )
    res = simulate(sc)
    steps = res.events[res.events["kind"] == "curtailment"]["subject"].tolist()
    return res, steps


def _rank(step: str) -> int:
    return next(i for i, prefix in enumerate(CURTAIL_ORDER) if step.startswith(prefix))


def _first_look(steps: list[str]) -> list[int]:
    """The steps of the first time the operator acted (the plant acts again each hour while the
    curtailment lasts, each time from the top of the order): ranks up to the first step back."""
    ranks = [_rank(s) for s in steps]
    end = next((i for i in range(1, len(ranks)) if ranks[i] < ranks[i - 1]), len(ranks))
    return ranks[:end]


def test_curtailment_acts_in_the_documented_order():
    res, steps = curtailed(mw=20.0)  # more than the whole site draws: every step acts
    first = _first_look(steps)
    assert sorted(set(first)) == list(range(len(CURTAIL_ORDER)))  # every step, each in its turn
    internal = [s for s in steps if s.startswith("internal job")]
    assert len(internal) > 1
    # Reserved capacity was cut last: its SLA shows it.
    table = res.leases.set_index("lease")
    assert table.loc["res", "sla_attainment"] < 1.0
    end = res.events[res.events["kind"] == "curtailment_end"]
    assert list(end["time_h"]) == [28.0]


def test_small_curtailment_stops_early_and_spares_reserved_leases():
    res, steps = curtailed(mw=0.05)
    assert steps == ["idle servers powered off"]
    table = res.leases.set_index("lease")
    assert table.loc["res", "sla_attainment"] == pytest.approx(1.0)
    assert table.loc["spot", "sla_attainment"] == pytest.approx(1.0)


def test_medium_curtailment_preempts_internal_before_touching_reserved():
    res, steps = curtailed(mw=2.5)
    ranks = [_rank(s) for s in steps]
    assert _first_look(steps)[:4] == [0, 1, 2, 3]  # idle off, caps, spot, admission, then internal
    assert CURTAIL_ORDER.index("internal job") in ranks  # internal jobs were preempted
    assert CURTAIL_ORDER.index("reserved leases cut (SLA shortfall)") not in ranks
    table = res.leases.set_index("lease")
    assert table.loc["res", "sla_attainment"] == pytest.approx(1.0)
    assert table.loc["res", "credits_usd"] == 0
    assert table.loc["spot", "sla_attainment"] < 1.0  # spot went before internal work
    requeued = res.events[(res.events["kind"] == "job_requeued") & (res.events["detail"] == "curtailment")]
    assert len(requeued) >= 1


def test_reserved_lease_takes_spot_racks_before_preempting_internal_work():
    """Spot work is preempted first: a reserved lease on a site whose GB200 is half spot, half internal."""
    sc = scenario(
        training={"arrivals_per_day": 0},
        inference=[{"site": "Demo", "gpu_type": "GB200", "peak_gpus": 576, "trough_fraction": 1.0}],
        failures={"enabled": False},
        days=3,
        leases=[
            lease("spotty", "GB200", 576, kind="spot", billing="metered", start_day=0.5),
            lease("res", "GB200", 576, start_day=1.5),
        ],
    )
    res = simulate(sc)
    rows = res.leases.set_index("lease")
    assert rows.loc["res", "granted_gpus"] == 576
    taken = res.events[(res.events["kind"] == "spot_preempted") & (res.events["subject"] == "spotty")]
    assert len(taken) == 1 and "res" in taken["detail"].iloc[0]
    # The inference fleet kept its racks: nothing internal was displaced while spot racks sufficed.
    assert res.leases.set_index("lease").loc["res", "preempted_internal_servers"] == 0
    spot_after = res.tenant_series[
        (res.tenant_series["lease"] == "spotty") & (res.tenant_series["time_h"] >= 36)
    ]
    assert (spot_after["healthy_gpus"] == 0).all()
    # Each is charged for the GPUs it held while it held them: spot from hour 12 to 36, when the
    # reserved lease took its racks, then the reserved lease to the end (spot was charged to the end).
    products = res.kpis["products"]
    assert products["spotty"]["gpu_hours"] == pytest.approx(576 * (36 - 12))
    assert products["res"]["gpu_hours"] == pytest.approx(576 * (72 - 36))
    lease_dep = products["spotty"]["depreciation_usd"] + products["res"]["depreciation_usd"]
    assert lease_dep == pytest.approx(res.kpis["lease_depreciation_usd"])
    assert lease_dep == pytest.approx(576 * 60 * 70_000 / (5.5 * 8760))  # GB200: $70k over 5.5 years


def test_whole_pods_above_the_commitment_are_said_and_billed_to_nobody():
    """577 GPUs with pod isolation take two 576-GPU pods; the tenant pays for 577."""
    sc = scenario(days=2, training=None, leases=[lease("two-pods", "GB200", 577, isolation="pod")])
    res = simulate(sc)
    row = res.leases.iloc[0]
    assert row["granted_gpus"] == 1152 and row["committed_gpus"] == 577
    assert row["note"] == "holds 1,152 GPUs for 577 committed (whole pods): 575 unbilled"
    assert row["revenue_usd"] == pytest.approx(577 * 48 * 2.5)
    started = res.events[res.events["kind"] == "lease_started"]["detail"].iloc[0]
    assert "575 unbilled" in started
