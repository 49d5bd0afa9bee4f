"""Calibration of the twin's failures and checkpointing against Llama 3 405B pre-training.

Meta reported 419 unexpected interruptions in 54 days of pre-training on 16,384 H100 GPUs and an
effective training time (ETTR) above 90 % (Dubey et al. 2024; shared/reference/facts.md section 7).
``sample_sites/scenarios/llama3_405b.yaml`` replays that run: one 16,384-GPU job for the whole 54
days, failures at the Llama 3 rates as published (``twin.failures``, rate_scale 1, never tuned to
the scenario) and checkpoint settings chosen from facts.md section 7 (see the scenario's comments).

The second test checks the twin's ETTR against the published model
``E[ETTR] ~ (1 - N r (u0 + dt/2)) / (1 + w/dt)`` (``twin.failures.expected_ettr``) over checkpoint
intervals and cluster sizes. That model is first order in ``N r``: it is pessimistic, and its error
grows as ``N r (u0 + dt/2)`` does (0.044 at 16k GPUs with 2 h checkpoints). So every point is also
checked against the exact renewal result for Poisson failures that may strike during restarts too,
``lambda dt / ((exp(lambda (dt + w)) - 1) exp(lambda u0))``, which the twin's rules implement, and
the published model is held to 0.02 where it is meant to hold: ``N r (u0 + dt/2)`` <= 0.15 (ETTR
above ~0.85), where its own linearisation error is under 0.005, so seed noise cannot use up the
tolerance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from app.cli import main
from twin.failures import FailureModel, expected_ettr
from twin.scenario import load_scenario
from twin.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
LLAMA3 = ROOT / "sample_sites" / "scenarios" / "llama3_405b.yaml"

SEEDS = range(5)
TARGET_INTERRUPTIONS = 419  # unexpected interruptions in the paper (the 47 planned ones are not modelled)

# The sweep: checkpoint interval x job size at the Llama 3 rates, plus two points at 4,096 GPUs and
# rate_scale 4 that must match 16,384 GPUs at rate_scale 1 (the rate scales linearly).
RESTART_H = 0.1
WRITE_H = 0.0028
SWEEP_SEEDS = range(5)
SWEEP = [(gpus, dt, 1.0) for gpus in (4096, 8192, 16384) for dt in (0.25, 0.5, 1.0, 2.0)] + [
    (4096, 0.5, 4.0),
    (4096, 1.0, 4.0),
]
FORMULA_TOL = 0.02  # |twin - published model|, mean of the seeds, where N r (u0 + dt/2) <= FORMULA_RANGE
FORMULA_RANGE = 0.15
# |twin - exact renewal result| everywhere: 3 standard errors of the seeds' mean (one seed's ETTR
# varies by ~0.013 at 2 h checkpoints on 16k GPUs, ~0.002 at 15 min on 4k) plus a small floor.
EXACT_SE = 3.0
EXACT_FLOOR = 0.003


def _kpis(seed: int, capsys: pytest.CaptureFixture[str]) -> dict:
    """One run of the calibration scenario through the real CLI, its KPIs parsed from --json."""
    assert main(["simulate", str(LLAMA3), "--json", "--seed", str(seed)]) == 0
    return json.loads(capsys.readouterr().out)


def test_llama3_405b_interruptions_and_ettr(capsys):
    runs = [_kpis(s, capsys) for s in SEEDS]
    interruptions = [k["interruptions"] for k in runs]
    ettr = [k["effective_training_time"] for k in runs]
    mean_int = sum(interruptions) / len(runs)
    mean_ettr = sum(ettr) / len(runs)
    detail = (
        f"mean interruptions {mean_int:.1f} (target {TARGET_INTERRUPTIONS}), mean ETTR {mean_ettr:.4f}; "
        f"interruptions per seed {interruptions}, ETTR per seed {[round(e, 4) for e in ettr]}"
    )
    print(detail)
    # The job holds every one of its 16,384 GPUs for the whole run, and runs the whole run.
    assert all(k["jobs_submitted"] == 1 and k["jobs_running"] == 1 for k in runs), detail
    assert abs(mean_int - TARGET_INTERRUPTIONS) <= 0.15 * TARGET_INTERRUPTIONS, detail
    assert mean_ettr >= 0.90, detail
    # Failures strike every installed GPU (spares too); only those on the job's servers interrupt it.
    assert all(k["failures"] >= k["interruptions"] for k in runs), detail


def _exact_ettr(rate: float, restart: float, interval: float, write: float) -> float:
    """Renewal-reward ETTR for Poisson failures of ``rate`` that also strike restarts and writes."""
    return rate * interval / ((math.exp(rate * (interval + write)) - 1.0) * math.exp(rate * restart))


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """One-job traces of each sweep size (absolute paths, so the scenario finds them anywhere)."""
    folder = tmp_path_factory.mktemp("traces")
    out = {}
    for gpus in sorted({g for g, _, _ in SWEEP}):
        path = folder / f"job_{gpus}.csv"
        path.write_text(f"job,submit_h,gpus,work_h,owner\nsweep,0,{gpus},3000,sweep\n")
        out[gpus] = path
    return out


def _sweep_point(trace: Path, interval: float, scale: float) -> tuple[float, float]:
    """Mean ETTR over the sweep seeds and its standard error."""
    ettrs = []
    for seed in SWEEP_SEEDS:
        scenario = load_scenario(
            LLAMA3,
            {
                "seed": seed,
                "sample_hours": 24,  # the series are not looked at; sampling is half a run's time
                "trace.file": str(trace),
                "training.checkpoint_interval_hours": interval,
                "training.checkpoint_write_hours": WRITE_H,
                "training.restart_overhead_hours": RESTART_H,
                "failures.rate_scale": scale,
            },
        )
        ettrs.append(simulate(scenario).kpis["effective_training_time"])
    mean = sum(ettrs) / len(ettrs)
    spread = math.sqrt(sum((e - mean) ** 2 for e in ettrs) / (len(ettrs) - 1))
    return mean, spread / math.sqrt(len(ettrs))


def test_ettr_follows_the_published_model(traces):
    rows = []
    for gpus, interval, scale in SWEEP:
        per_gpu = FailureModel.llama3(scale).total_rate_per_gpu_hour
        formula = expected_ettr(gpus // 8, 8 * per_gpu, RESTART_H, interval, WRITE_H)
        exact = _exact_ettr(gpus * per_gpu, RESTART_H, interval, WRITE_H)
        load = gpus * per_gpu * (RESTART_H + interval / 2)
        twin, se = _sweep_point(traces[gpus], interval, scale)
        rows.append((gpus, interval, scale, load, twin, se, formula, exact))
    table = "\n".join(
        f"{g:>6} GPUs  dt {dt:4.2f} h  scale {s:g}  N r (u0+dt/2) {x:5.3f}  "
        f"twin {t:.4f} +- {se:.4f}  formula {f:.4f}  exact {e:.4f}"
        for g, dt, s, x, t, se, f, e in rows
    )
    print("\n" + table)
    for _gpus, _interval, _scale, load, twin, se, formula, exact in rows:
        assert abs(twin - exact) <= EXACT_SE * se + EXACT_FLOOR, table
        if load <= FORMULA_RANGE:
            assert abs(twin - formula) <= FORMULA_TOL, table
        # The first-order model never overstates ETTR (exp(x) >= 1 + x): the twin sits on or above it.
        assert twin >= formula - FORMULA_TOL / 2, table
    # More checkpointing or fewer GPUs, more effective time: monotone in both directions at scale 1.
    grid = {(g, dt): t for g, dt, s, _, t, _, _, _ in rows if s == 1.0}
    for gpus in (4096, 8192, 16384):
        series = [grid[(gpus, dt)] for dt in (0.25, 0.5, 1.0, 2.0)]
        assert series == sorted(series, reverse=True), table
    # 4,096 GPUs at 4x the rate behave like 16,384 GPUs at 1x.
    for dt in (0.5, 1.0):
        scaled = next(t for g, d, s, _, t, _, _, _ in rows if (g, d, s) == (4096, dt, 4.0))
        assert abs(scaled - grid[(16384, dt)]) <= 0.01, table


def test_direct_evaporative_media_start_is_fitted_to_metas_published_wue():
    """``twin.cooling.MEDIA_ON_C`` is the fit of Meta's WUE 0.26 L/kWh (facts section 5, P) on five
    years of the Ohio sample's weather: refitting gives the constant back."""
    import datetime as dt

    import numpy as np

    from twin.cooling import MEDIA_ON_C, META_WUE_L_PER_KWH, fit_media_on_c
    from twin.load import load_site
    from twin.weather import hourly_weather

    site = load_site(ROOT / "sample_sites" / "ohio.yaml").spec
    years = [
        hourly_weather(
            site.climate,
            site.location.longitude,
            dt.date(2026, 1, 1),
            np.arange(8760.0),
            np.random.default_rng(seed),
            [],
        )  # fmt: skip
        for seed in range(5)
    ]
    dry = np.concatenate([w.dry_bulb_c for w in years])
    wet = np.concatenate([w.wet_bulb_c for w in years])
    assert fit_media_on_c(dry, wet, META_WUE_L_PER_KWH) == pytest.approx(MEDIA_ON_C, abs=0.1)
