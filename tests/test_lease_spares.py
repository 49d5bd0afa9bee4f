"""Leases through failures: spares that keep the lease's isolation, repairs, shortfalls and SLA credits.

The demo site (``sample_sites/demo.yaml``) has 2,048 H100 in 16-GPU racks (two 8-GPU servers each, four
pods of 32 racks) and 1,152 GB200 in 72-GPU NVL72 racks (18 servers of 4 GPUs, two pods of 8 racks, all
in hall B/L1). A spare is a whole rack with nothing on it; with pod isolation, only inside the lease's
pods. Several tests drive the engine by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from demo_helpers import bare_engine, scenario
from lease_helpers import fill_with_stand_in, lease, own_racks

from twin.fleet import FREE
from twin.simulate import simulate


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
