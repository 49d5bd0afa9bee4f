"""Leases: carving whole racks, preempting internal work, spares and SLA credits, termination, curtailment.

The demo site (``sample_sites/demo.yaml``) has 2,048 H100 in 16-GPU racks (two 8-GPU servers each, four
pods of 32 racks) and 1,152 GB200 in 72-GPU NVL72 racks (18 servers of 4 GPUs, two pods of 8 racks, all
in hall B/L1). Runs are a few days long; a few regression tests drive the engine by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from demo_helpers import bare_engine, scenario

from twin.engine import Engine
from twin.fleet import FREE, INFERENCE
from twin.leases import LeaseState
from twin.simulate import simulate

GB200_RACK = 72
H100_RACK = 16


def lease(name: str, gpu_type: str, gpus: int, **kw) -> dict:
    return {
        "name": name,
        "tenant": kw.pop("tenant", name.title()),
        "gpu_type": gpu_type,
        "gpus": gpus,
        "term_days": kw.pop("term_days", 30),
        "price_usd_per_gpu_hour": kw.pop("price_usd_per_gpu_hour", 2.5),
        **kw,
    }


def own_racks(engine: Engine, state: LeaseState) -> np.ndarray:
    return np.unique(engine.fleet.server_rack[state.servers])


def fill_with_stand_in(engine: Engine, gpu_type: str, leave_idle: int) -> np.ndarray:
    """Mark every idle server of a type busy (a stand-in inference owner) except the last ``leave_idle``."""
    f = engine.fleet
    idle = np.flatnonzero(
        (f.server_gpu_type == f.gpu_type_names.index(gpu_type))
        & (f.job == FREE)
        & (f.lease == FREE)
        & ~f.down
    )
    busy = idle[: idle.size - leave_idle]
    f.assign_internal(busy, INFERENCE)
    return idle[idle.size - leave_idle :]


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


def test_spot_lease_gives_servers_to_a_reserved_lease_before_it_goes_short():
    engine = bare_engine(
        days=2,
        leases=[lease("res", "GB200", 576), lease("spot", "GB200", 576, kind="spot", billing="metered")],
    )
    f = engine.fleet
    res, spot = engine.leases
    engine.start_lease(res)
    engine.start_lease(spot)
    assert f.pod_idle_servers[np.flatnonzero(f.pod_gpu_type == res.gpu_type)].sum() == 0  # all GB200 leased
    engine.hit_server(int(res.servers[0]), 10.0, "test")  # one 4-GPU tray of an NVL72 rack
    # The spare is a whole rack of the spot lease (the tenant shares a rack with nobody).
    assert res.healthy_gpus == 576 - 4 + 72 and res.spares_used == 1
    assert spot.healthy_gpus == 576 - 72
    assert (engine.log[-1][2], engine.log[-1][3]) == ("spot_preempted", "spot")
    lent = np.flatnonzero((f.lease == res.index) & np.isin(np.arange(f.servers), spot.servers))
    assert lent.size == 18 and np.unique(f.server_rack[lent]).size == 1
    engine.env.run(until=11)  # the reserved lease's own server is back: the lent rack returns to spot
    assert (f.lease[lent] == spot.index).all() and spot.healthy_gpus == 576
    assert spot.members == spot.target_servers
    assert res.healthy_gpus == 576 and res.members == res.target_servers


# -- spares and SLA credits ----------------------------------------------------------------------


def test_reserved_lease_failures_use_spares_and_keep_the_sla():
    sc = scenario(
        days=5,
        seed=2,
        training=dict(arrivals_per_day=20, gpu_type="H100-SXM"),
        leases=[lease("res", "GB200", 576)],
        failures=dict(rate_scale=50),
    )
    res = simulate(sc)
    row = res.leases.iloc[0]
    assert res.kpis["failures"] > 50
    assert row["spares_used"] > 0
    assert row["shortfall_events"] == 0
    assert row["sla_attainment"] >= 0.999
    assert row["credits_usd"] == 0
    assert row["revenue_usd"] == pytest.approx(576 * 120 * 2.5)


def test_shortfall_without_spares_costs_credits_per_schedule():
    sc = scenario(
        days=6,
        seed=3,
        training=None,
        leases=[lease("all", "GB200", 1152, price_usd_per_gpu_hour=3.0)],
        failures=dict(rate_scale=50, repair_scale=2),
    )
    res = simulate(sc)
    row = res.leases.iloc[0]
    assert row["spares_used"] == 0 and row["shortfall_events"] > 0
    attainment = row["delivered_gpu_hours"] / row["committed_gpu_hours"]
    assert attainment == pytest.approx(row["sla_attainment"])
    assert attainment < 0.99
    steps = [(0.99, 0.10), (0.95, 0.25), (0.90, 1.00)]  # the default schedule
    fraction = max([credit for below, credit in steps if attainment < below], default=0.0)
    bill = 1152 * 6 * 24 * 3.0  # one calendar month (January 2027), take-or-pay
    assert row["revenue_usd"] == pytest.approx(bill)
    assert row["credits_usd"] == pytest.approx(fraction * bill)
    assert row["credits_usd"] > 0
    assert row["months_below_target"] == 1
    assert res.kpis["sla_credits_usd"] == pytest.approx(row["credits_usd"])
    # The tenant series shows the shortfall.
    assert res.tenant_series["healthy_gpus"].min() < 1152


def test_credit_schedule_is_per_calendar_month():
    """Failures only in January: February's bill is whole, January's is credited."""
    sc = scenario(
        start="2027-01-25",
        days=14,
        seed=1,
        training=None,
        leases=[lease("all", "GB200", 1152, price_usd_per_gpu_hour=1.0)],
        events=[dict(kind="outage", site="Demo", hall="B/L1", day=1, hours=24)],
        failures=dict(enabled=False),
    )
    row = simulate(sc).leases.iloc[0]
    jan_hours, feb_hours = 7 * 24, 7 * 24
    jan_attainment = (jan_hours - 24) / jan_hours  # 0.857: below 0.90, the whole month is credited
    assert row["credits_usd"] == pytest.approx(1152 * jan_hours * 1.0)
    assert row["revenue_usd"] == pytest.approx(1152 * (jan_hours + feb_hours))
    assert row["delivered_gpu_hours"] == pytest.approx(1152 * (jan_hours * jan_attainment + feb_hours))


# -- repairs (regression: a repaired server of the lease's own racks went back to internal work) --


def test_repaired_server_stays_with_a_short_lease():
    engine = bare_engine(days=2, leases=[lease("res", "GB200", 72)])
    f = engine.fleet
    res = engine.leases[0]
    engine.start_lease(res)
    fill_with_stand_in(engine, "GB200", leave_idle=0)  # no whole rack free: no spare
    a, b = int(res.servers[0]), int(res.servers[1])
    engine.hit_server(a, 5.0, "test")
    engine.hit_server(b, 10.0, "test")
    assert res.spares_used == 0 and res.shortfall_events == 2 and res.healthy_gpus == 64
    engine.env.run(until=6)  # a is back, to the lease (never to the internal work around it)
    assert f.lease[a] == res.index and res.healthy_gpus == 68
    engine.env.run(until=11)
    assert f.lease[b] == res.index and res.members == res.target_servers == 18 and res.healthy_gpus == 72
    assert (f.lease[np.isin(f.server_rack, own_racks(engine, res))] == res.index).all()
    res.touch(11.0)
    assert res.delivered.sum() == pytest.approx(72 * 11 - 4 * 5 - 4 * 10)


def test_a_spare_is_a_whole_free_rack_and_goes_back_whole():
    engine = bare_engine(days=2, leases=[lease("res", "GB200", 72)])
    f = engine.fleet
    res = engine.leases[0]
    engine.start_lease(res)
    # Free GB200 servers in racks shared with internal work are no spare: the tenant would share a
    # rack; the one wholly free rack (the last) is.
    free = fill_with_stand_in(engine, "GB200", leave_idle=18 + 3)
    whole_rack = free[3:]
    assert np.unique(f.server_rack[whole_rack]).size == 1 and f.server_rack[free[0]] != f.server_rack[free[3]]
    a = int(res.servers[0])
    engine.hit_server(a, 5.0, "test")
    assert res.spares_used == 1 and (f.lease[whole_rack] == res.index).all()
    assert res.healthy_gpus == 72 - 4 + 72 and res.members == 18 + 18
    assert (f.lease[free[:3]] == FREE).all()  # idle, but in a rack with internal work
    engine.env.run(until=6)  # a is back: the lease is whole without the spare, which goes back whole
    assert f.lease[a] == res.index and (f.lease[whole_rack] == FREE).all() and f.idle[whole_rack].all()
    assert res.members == 18 and res.healthy_gpus == 72


def test_a_pod_isolated_lease_takes_no_spare_outside_its_pods():
    engine = bare_engine(days=2, leases=[lease("res", "GB200", 72, isolation="pod")])
    f = engine.fleet
    res = engine.leases[0]
    engine.start_lease(res)
    pods = np.unique(f.server_pod[res.servers])
    assert (f.lease[np.isin(f.server_pod, pods)] == res.index).all()  # its whole pod
    surplus = res.healthy_gpus - 72
    for server in res.servers[: surplus // 4 + 1].tolist():  # more failures than its surplus absorbs
        engine.hit_server(server, 5.0, "test")
    assert res.spares_used == 0 and res.shortfall_events == 1 and res.healthy_gpus == 68
    assert (f.lease[~np.isin(f.server_pod, pods)] == FREE).all()  # idle racks elsewhere stay internal


def test_lease_starting_with_a_down_server_gets_a_spare():
    """Regression: a reserved lease carved over a server under repair started short though spares were idle."""
    engine = bare_engine(days=2, leases=[lease("res", "GB200", 576)])
    f = engine.fleet
    res = engine.leases[0]
    gb200 = np.flatnonzero(f.server_gpu_type == res.gpu_type)
    engine.hit_server(int(gb200[0]), 30.0, "test")  # the first GB200 rack, where the lease will go
    engine.start_lease(res)
    assert f.down[res.servers].sum() == 1
    assert res.spares_used == 1 and res.healthy_gpus == 576 - 4 + 72  # a whole free rack stands in
    engine.env.run(until=31)
    assert res.healthy_gpus == 576 and res.members == res.target_servers
    assert (f.lease[res.servers] == res.index).all() and not f.down[res.servers].any()


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


def test_displaced_internal_value_counts_only_work_that_could_use_the_leased_gpus():
    """Queued H100 jobs are not displaced by a GB200 lease; queued GB200 jobs are."""
    common = {
        "days": 6,
        "failures": {"enabled": False},
        "leases": [lease("res", "GB200", 576, term_days=6)],
    }
    h100_only = simulate(
        scenario(
            **common, training={"arrivals_per_day": 400, "gpu_type": "H100-SXM", "size": {"max_gpus": 512}}
        )
    )
    assert h100_only.kpis["jobs_queued"] > 0, "the H100 pool is oversubscribed, so H100 jobs wait"
    assert h100_only.kpis["displaced_internal_value_usd"] == 0
    gb200 = simulate(
        scenario(**common, training={"arrivals_per_day": 400, "gpu_type": "GB200", "size": {"max_gpus": 512}})
    )
    assert gb200.kpis["displaced_internal_value_usd"] > 0


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
