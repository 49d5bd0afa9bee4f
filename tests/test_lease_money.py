"""What a lease's row and the money say: its contract, its SLA, the GPU-hours it is charged for,
and the internal work it displaces (on the demo site; see test_leases.py for its layout)."""

from __future__ import annotations

import numpy as np
import pytest
from demo_helpers import bare_engine, scenario
from lease_helpers import lease

from app.views import compare
from twin.simulate import simulate


def test_a_lease_row_says_its_contract_and_only_guaranteed_kinds_have_an_sla():
    """The lease table says when a lease ends (not when the run does), and spot or on-demand
    capacity has no SLA target to fall short of, whatever it was short."""
    sc = scenario(
        days=2,
        training=None,
        failures={"enabled": False},
        leases=[
            lease("long", "H100-SXM", 256, term_days=30),
            lease("later", "H100-SXM", 256, start_day=5, term_days=10),
            lease("half", "GB200", 576, term_days=30),
            lease("short-spot", "GB200", 1152, kind="spot", billing="metered"),  # gets the other half
        ],
    )
    res = simulate(sc)
    rows = res.leases.set_index("lease")
    assert rows.loc["long", "end_hour"] == 30 * 24  # it was the horizon, 48
    assert (rows.loc["later", "start_hour"], rows.loc["later", "end_hour"]) == (5 * 24, 15 * 24)  # 120, 48
    assert rows.loc["long", "sla_target"] == 0.99
    spot = rows.loc["short-spot"]
    assert spot["granted_gpus"] == 576 and spot["sla_attainment"] == pytest.approx(0.5)
    assert np.isnan(spot["sla_target"]) and spot["months_below_target"] == 0 and spot["credits_usd"] == 0
    # The console's SLA table: "availability nan%" before.
    sla = compare.sla_table(res).set_index("product")["SLA"]
    assert (sla["long"], sla["short-spot"]) == ("availability 99.00%", "none")


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
    gb200_training = {"arrivals_per_day": 400, "gpu_type": "GB200", "size": {"max_gpus": 512}}
    gb200 = simulate(scenario(**common, training=gb200_training))
    assert gb200.kpis["displaced_internal_value_usd"] > 0
    # Each displaced GPU-hour at its GPU type's value: only GB200 is leased and queued here, so a
    # GB200 value of $3.50 (H100 keeps the $2.00 default) prices every displaced GPU-hour at $3.50.
    site = gb200.site_series
    hours = float((site["displaced_gpus"] * 1.0).sum())  # hourly samples
    assert gb200.kpis["displaced_internal_value_usd"] == pytest.approx(hours * 2.0, rel=1e-9)
    by_type = {"internal_value_usd_per_gpu_hour_by_type": {"GB200": 3.5, "H100-SXM": 9.0}}
    priced = simulate(scenario(**common, training=gb200_training, money=by_type))
    assert priced.kpis["displaced_internal_value_usd"] == pytest.approx(hours * 3.5, rel=1e-9)
    assert priced.kpis["margin_usd"] == pytest.approx(gb200.kpis["margin_usd"] - hours * 1.5, rel=1e-9)


def test_an_inference_fleet_starved_by_a_lease_counts_as_displaced_work():
    """A lease of the H100s an inference fleet runs on leaves the fleet short: those GPU-hours
    are internal work given up (they once counted for nothing, and the margin looked $4.7M
    better than it was in a newcomer's year of lease_vs_tokens with 2,048 H100 leased)."""
    common = {"days": 6, "failures": {"enabled": False}, "training": None}
    fleet = {"site": "Demo", "gpu_type": "H100-SXM", "peak_gpus": 600, "trough_fraction": 0.5}
    alone = simulate(scenario(**common, inference=[fleet]))
    assert alone.kpis["inference_unmet_gpu_hours"] == 0
    starved = simulate(
        scenario(**common, inference=[fleet], leases=[lease("all-h100", "H100-SXM", 1536, term_days=6)])
    )
    unmet = starved.kpis["inference_unmet_gpu_hours"]
    assert unmet > 0
    assert starved.kpis["displaced_internal_value_usd"] == pytest.approx(unmet * 2.0, rel=1e-9)
    # A GB200 lease leaves the H100 fleet alone: nothing displaced.
    apart = simulate(scenario(**common, inference=[fleet], leases=[lease("gb", "GB200", 576, term_days=6)]))
    assert apart.kpis["displaced_internal_value_usd"] == 0


def test_displaced_work_is_charged_net_of_its_own_depreciation_and_energy():
    """The internal value is a market price of a GPU-hour, which pays for the GPU and its power: the
    margin gives up that value less the depreciation and energy the displaced work would have cost
    (the sales pay those already; the gross value charged the same GPU-hours twice)."""
    res = simulate(
        scenario(
            days=6,
            failures={"enabled": False},
            leases=[lease("res", "GB200", 576, term_days=6)],
            training={"arrivals_per_day": 400, "gpu_type": "GB200", "size": {"max_gpus": 512}},
            money={"internal_value_usd_per_gpu_hour_by_type": {"GB200": 3.5}},
        )
    )
    k, site = res.kpis, res.site_series
    assert k["displaced_internal_value_usd"] > 0
    fleet = bare_engine().fleet
    idle_kw, dyn_kw = fleet.gpu_kw(0, fleet.gpu_type_names.index("GB200"))
    busy_kw = idle_kw + dyn_kw * 0.85  # money.gpu_busy_fraction_of_max_power
    pue = site["facility_kw"] / site["it_kw"]  # hourly samples, one site
    usd_per_mwh = k["sites"]["Demo"]["energy_cost_usd"] / k["sites"]["Demo"]["energy_mwh"]
    energy = float((site["displaced_gpus"] * busy_kw / 1000.0 * pue).sum()) * usd_per_mwh
    depreciation = float(site["displaced_gpus"].sum()) * 70_000 / (5.5 * 8760)
    assert k["displaced_internal_cost_usd"] == pytest.approx(depreciation + energy, rel=1e-6)
    net = k["displaced_internal_value_usd"] - k["displaced_internal_cost_usd"]
    assert k["displaced_internal_net_value_usd"] == pytest.approx(net, rel=1e-12)
    product = k["products"]["res"]
    assert k["margin_usd"] == pytest.approx(product["margin_usd"] - net, rel=1e-9)
