"""Hosted models: token books, latency against replicas, failures, traces, validation, the comparison."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from demo_helpers import SITES, scenario
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.serving import erlang_c, serve_step
from twin.simulate import simulate

ROOT = Path(__file__).resolve().parent.parent


def product(**over) -> dict:
    """A Llama-70B-like product on the demo site's H100s (8-GPU replicas)."""
    doc = {
        "name": "api",
        "model": "test model",
        "site": "Demo",
        "gpu_type": "H100-SXM",
        "gpus_per_replica": 8,
        "input_tokens_per_second": 40000,
        "output_tokens_per_second": 6000,
        "concurrency": 64,
        "demand": {"peak_requests_per_second": 60, "trough_fraction": 0.4, "mean_input_tokens": 1000},
        "price_usd_per_million_input_tokens": 0.5,
        "price_usd_per_million_output_tokens": 2.0,
        "min_replicas": 1,
        "max_replicas": 16,
    }
    return doc | over


def run(days: float = 3, failures: float = 0.0, training: bool = False, **over):
    doc = {
        "days": days,
        "seed": 3,
        "training": {"arrivals_per_day": 20, "size": {"max_gpus": 256}} if training else None,
        "hosted_models": [product(**over)],
        "failures": {"rate_scale": failures, "enabled": failures > 0},
    }
    return simulate(scenario(**doc))


def test_tokens_are_conserved_through_overload_and_drops():
    # A burst at 5x overwhelms 4 replicas: requests queue, then the timeout drops some.
    res = run(
        days=2,
        failures=20.0,
        max_replicas=4,
        demand={"peak_requests_per_second": 40, "bursts": [{"day": 0.5, "hours": 3, "factor": 5}]},
    )
    s = res.hosted_series
    p = res.kpis["products"]["api"]
    assert p["dropped_requests"] > 0, "the burst should drop requests"
    assert (s["queued_requests"] > 0).any(), "the burst should leave requests queued between steps"
    for unit in ("requests", "input_tokens", "output_tokens"):
        asked = s[unit].cumsum()
        accounted = s[f"served_{unit}"].cumsum() + s[f"dropped_{unit}"].cumsum() + s[f"queued_{unit}"]
        assert np.allclose(asked, accounted, rtol=1e-9, atol=1e-6), unit
    assert math.isclose(
        p["requests"],
        p["served_requests"] + p["dropped_requests"] + p["queued_requests_at_end"],
        rel_tol=1e-9,
    )
    # Revenue is served tokens at the product's prices.
    revenue = (s["served_input_tokens"].sum() * 0.5 + s["served_output_tokens"].sum() * 2.0) / 1e6
    assert math.isclose(p["revenue_usd"], revenue, rel_tol=1e-9)


@pytest.mark.parametrize("busy", [False, True])
def test_more_replicas_never_raise_p95_latency(busy):
    # Fixed replica counts (min = max), the same demand draws: every step's p95 TTFT must not rise
    # as replicas are added. ``busy`` puts the demand near and above capacity for the small counts.
    demand = {"peak_requests_per_second": 200 if busy else 40, "trough_fraction": 0.3}
    series = []
    for n in (2, 3, 4, 6, 10, 16):
        res = run(days=2, min_replicas=n, max_replicas=n, demand=demand)
        series.append(res.hosted_series["ttft_p95_s"].to_numpy())
    for fewer, more in zip(series, series[1:], strict=False):
        assert (more <= fewer + 1e-9).all()
    assert series[-1].max() < series[0].max() or not busy


@settings(max_examples=300, deadline=None)
@given(
    backlog=st.floats(0, 1e5),
    arrivals=st.floats(1, 1e6),
    work_per_request=st.floats(1e-3, 5.0),
    replicas=st.floats(0.1, 500),
    extra=st.floats(0.0, 100),
    concurrency=st.integers(1, 256),
)
def test_serve_step_latency_falls_as_capacity_grows(
    backlog, arrivals, work_per_request, replicas, extra, concurrency
):
    step_s = 900.0

    def p95(r: float) -> float:
        out = serve_step(
            backlog, arrivals, arrivals * work_per_request, r * step_s, r, step_s, concurrency, 0.05, 60, 2
        )
        assert 0 <= out.served_share <= 1 and 0 <= out.dropped_share <= 1 - out.served_share + 1e-12
        return out.ttft_p95_s

    assert p95(replicas + extra) <= p95(replicas) + 1e-9


def test_ttft_waits_for_one_decode_iteration_and_the_prefills_ahead():
    """Prefill first, as vLLM schedules it: at a light load the p95 TTFT is a decode iteration plus
    the p95 of an exponential prefill (ln 20 = 3.0 means); the share within a target and the p95
    agree with drawing the slot wait and the prefill response (both exponential) and adding them."""
    step_s, prefill_s, decode_s = 900.0, 0.025, 64 / 6000

    def step(requests_per_s: float, replicas: float, target_s: float):
        n = requests_per_s * step_s
        work = 0.5  # replica-seconds a request costs
        return serve_step(
            0.0, n, n * work, replicas * step_s, replicas, step_s, 64, prefill_s, 60.0, target_s, decode_s
        )

    light = step(0.001, 10, 1.0)
    assert math.isclose(light.ttft_p95_s, decode_s + math.log(20) * prefill_s, rel_tol=1e-3)
    busy = step(12.0, 10, 1.0)  # 1.2 requests/s a replica: prefill load 3 %, slots 60 % busy
    assert busy.ttft_p95_s > light.ttft_p95_s

    rng = np.random.default_rng(5)
    for requests_per_s, replicas, target_s in ((18.0, 10, 0.1), (19.5, 10, 0.15), (7.0, 4, 0.9)):
        out = step(requests_per_s, replicas, target_s)
        rate = requests_per_s
        p_wait = erlang_c(replicas * 64, rate * 0.5 * 64)
        decay = replicas / 0.5 - rate
        prefill_rate = (1 - rate / replicas * prefill_s) / prefill_s
        draws = 400_000
        wait = np.where(rng.random(draws) < p_wait, rng.exponential(1 / decay, draws), 0.0)
        ttft = decode_s + wait + rng.exponential(1 / prefill_rate, draws)
        assert 0.05 < out.within_target_share < 0.999
        assert out.within_target_share == pytest.approx((ttft <= target_s).mean(), abs=0.003)
        assert (ttft > out.ttft_p95_s).mean() == pytest.approx(0.05, abs=0.002)  # the p95 is the draws' p95


def test_erlang_c_matches_textbook_values():
    assert math.isclose(erlang_c(2, 1), 1 / 3, rel_tol=1e-12)
    assert math.isclose(erlang_c(10, 8), 0.40918015, rel_tol=1e-6)  # classic table value
    assert erlang_c(5, 5) == 1.0 and erlang_c(5, 0) == 0.0


def test_a_replica_failure_dips_served_tokens():
    # Demand far above 4 fixed replicas: each step serves exactly what capacity allows, so losing a
    # replica (failures at 100x the Llama 3 rates) must show in that step's served tokens.
    res = run(
        days=6,
        failures=100.0,
        min_replicas=4,
        max_replicas=4,
        demand={"peak_requests_per_second": 400, "trough_fraction": 1.0},
        autoscaler={"startup_minutes": 20},
    )
    s = res.hosted_series.reset_index(drop=True)
    lost = res.events[(res.events["kind"] == "replica_lost") & (res.events["subject"] == "api")]
    assert len(lost) >= 3, "the failure rate should take some replicas down"
    step_h = 0.25
    full = s["served_output_tokens"].max()
    checked = 0
    for t in lost["time_h"]:
        k = int(t // step_h)
        if k == 0 or k >= len(s) or t - k * step_h < 1e-9:
            continue
        assert s.loc[k, "served_output_tokens"] < full - 1e-6, f"no dip at step {k} after a failure at {t} h"
        assert s.loc[k, "replicas_serving"] < 4
        checked += 1
    assert checked >= 3
    assert res.kpis["products"]["api"]["replica_failures"] == len(lost)


def test_trace_and_curve_with_the_same_mean_earn_the_same(tmp_path):
    # A trace of Poisson arrivals at 2 requests/s with random lengths, against a flat curve at the
    # trace's mean rate and mean tokens. Tolerance 2 %: the curve's own Poisson draws over 3 days
    # (~520k requests) and the per-step bucketing stay far below it.
    rng = np.random.default_rng(5)
    seconds = 3 * 86400
    count = rng.poisson(2.0 * seconds)
    stamps = np.sort(rng.uniform(0, seconds, count))
    inputs = rng.integers(200, 1800, count)
    outputs = rng.integers(50, 550, count)
    trace = tmp_path / "requests.csv"
    np.savetxt(trace, np.column_stack([stamps, inputs, outputs]), delimiter=",", fmt=["%.3f", "%d", "%d"],
               header="timestamp,input_tokens,output_tokens", comments="")  # fmt: skip
    (tmp_path / "demo.yaml").write_text((SITES / "demo.yaml").read_text())
    (tmp_path / "catalog.yaml").write_text((SITES / "catalog.yaml").read_text())
    mean = {
        "peak_requests_per_second": count / seconds,
        "trough_fraction": 1.0,
        "mean_input_tokens": float(inputs.mean()),
        "mean_output_tokens": float(outputs.mean()),
    }
    from_curve = run(days=3, demand=mean).kpis["products"]["api"]["revenue_usd"]
    from twin.scenario import load_scenario

    doc = {
        "name": "trace",
        "sites": ["demo.yaml"],
        "days": 3,
        "training": None,
        "failures": {"enabled": False},
        "hosted_models": [product(demand=None, trace={"file": "requests.csv"})],
    }
    path = tmp_path / "trace.yaml"
    path.write_text(json.dumps(doc))
    from_trace = simulate(load_scenario(path)).kpis["products"]["api"]["revenue_usd"]
    assert from_trace > 0
    assert abs(from_trace - from_curve) / from_curve < 0.02


def test_same_seed_same_service_other_seed_differs():
    a = run(days=1, failures=5.0, training=True).hosted_series
    b = run(days=1, failures=5.0, training=True).hosted_series
    assert a.equals(b)
    doc = {
        "days": 1,
        "seed": 4,
        "training": None,
        "hosted_models": [product()],
        "failures": {"enabled": False},
    }
    c = simulate(scenario(**doc)).hosted_series
    assert not np.array_equal(a["requests"].to_numpy(), c["requests"].to_numpy())


def test_autoscaler_follows_the_daily_curve_within_its_bounds():
    res = run(
        days=3,
        min_replicas=2,
        max_replicas=12,
        demand={"peak_requests_per_second": 80, "trough_fraction": 0.2},
    )
    s = res.hosted_series
    held = s["replicas_held"]
    assert held.min() >= 2 and held.max() <= 12
    assert held.max() > held.min() + 2, "it should scale with the day"
    day = (s["time_h"] // 1 % 24).to_numpy()
    by_hour = s.groupby(day)["replicas_held"].mean()
    assert by_hour.idxmax() != by_hour.idxmin()
    # GPU-hours follow the replicas held.
    assert math.isclose(s["gpu_hours"].sum(), (held * 8 * 0.25).sum(), rel_tol=0.05)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"gpus_per_replica": 1024}, "cannot fit in one pod"),
        ({"trace": {"file": "x.csv"}}, "either demand"),
        ({"site": "any"}, "serves from one site"),
        ({"min_replicas": 5, "max_replicas": 2}, "min_replicas must be at most max_replicas"),
        ({"gpu_type": "B300"}, "unknown GPU type"),
    ],
)
def test_bad_products_are_refused_with_their_line(tmp_path, change, says):
    doc = {
        "name": "bad",
        "sites": [str(SITES / "demo.yaml")],
        "days": 1,
        "hosted_models": [product(**change)],
    }
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(doc, indent=1))
    out = cli("simulate", str(path))
    assert out.returncode == 2, out.stderr
    assert says in out.stderr and "bad.yaml" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_bad_request_trace_names_the_file_and_row(tmp_path):
    (tmp_path / "t.csv").write_text("timestamp,input_tokens,output_tokens\n0,100,10\n1,abc,10\n")
    doc = {
        "name": "bad-trace",
        "sites": [str(SITES / "demo.yaml")],
        "days": 1,
        "training": None,
        "hosted_models": [product(demand=None, trace={"file": "t.csv"})],
    }
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(doc))
    out = cli("simulate", str(path))
    assert out.returncode == 2
    assert "t.csv" in out.stderr and ":3" in out.stderr and "input_tokens" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_comparison_scenario_says_which_earns_more():
    from twin.scenario import load_scenario

    res = simulate(load_scenario(SITES / "scenarios" / "lease_vs_tokens.yaml", {"days": 14}))
    k = res.kpis
    lease, hosted = k["products"]["h100-pod-lease"], k["products"]["llama-70b-api"]
    for row in (lease, hosted):
        assert row["gpu_hours"] > 0 and row["energy_mwh"] > 0
        net = row["revenue_usd"] - row["credits_usd"]
        assert math.isclose(row["revenue_per_gpu_hour_usd"], net / row["gpu_hours"], rel_tol=1e-9)
        assert math.isclose(
            row["margin_usd"],
            row["revenue_usd"] - row["credits_usd"] - row["energy_cost_usd"] - row["depreciation_usd"],
            rel_tol=1e-9,
        )
    assert math.isclose(lease["revenue_per_gpu_hour_usd"], 2.35, rel_tol=1e-6)
    best = max(
        (lease, "h100-pod-lease"), (hosted, "llama-70b-api"), key=lambda r: r[0]["revenue_per_gpu_hour_usd"]
    )
    assert k["product_comparison"]["best_revenue_per_gpu_hour"] == best[1]
    assert k["hosted_revenue_usd"] == hosted["revenue_usd"]


def test_a_replica_lost_to_an_outage_says_so_in_the_log():
    """The log said 'down (failure)' for replicas an outage took: now the cause, as the failure's."""
    res = simulate(
        scenario(
            days=2, seed=3, training=None, hosted_models=[product(min_replicas=4)],
            failures={"enabled": False},
            events=[{"kind": "outage", "day": 1, "hours": 6, "site": "Demo"}],
        )
    )  # fmt: skip
    lost = res.events[res.events["kind"] == "replica_lost"]
    assert len(lost) >= 4 and lost["detail"].str.startswith("replica of 8 GPUs down (outage)").all()
