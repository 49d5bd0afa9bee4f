"""The twin's speed: a year of both campuses, 30 days of the demo site, and SimPy's own floor.

    .venv/bin/python benchmarks/bench_engine.py [--repeats 3] [--only TEXT]

Each run is a fresh process (so peak memory is the run's own); SimPy's raw rate (a bare timeout
loop) is measured in the same process right after the run, so the ratio is robust to how busy
the machine is. Targets (issue 3): year of both campuses with failures and >= 100k jobs under
10 s and 1.5 GB; demo 30 days under 1 s. Issue 5: the lease-vs-tokens comparison (demo campus,
a year, a reserved lease and a hosted model side by side) under 5 s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import run_fresh  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "sample_sites" / "scenarios"

RUN = """
from twin.scenario import load_scenario
from twin.simulate import simulate
import simpy
scenario = load_scenario({path!r}, {overrides!r})
scenario.spec.physics.enabled = {physics!r}
t_run = time.perf_counter()
r = simulate(scenario)
run_s = time.perf_counter() - t_run
total_s = time.perf_counter() - t0  # imports, loading and the run; not the raw-rate loop below

def raw(env, n):
    for _ in range(n):
        yield env.timeout(1)
env = simpy.Environment()
for _ in range(10):
    env.process(raw(env, 30_000))
t_raw = time.perf_counter()
env.run()
raw_rate = 300_000 / (time.perf_counter() - t_raw)
k = r.kpis
extra = {{"run_s": run_s, "total_s": total_s, "jobs": k["jobs_submitted"], "events": k["sim_events"], "failures": k["failures"],
          "utilization": k["utilization"], "events_per_s": k["sim_events"] / run_s, "simpy_raw_per_s": raw_rate}}
"""


def bench(name: str, path: Path, overrides: dict, repeats: int, physics: bool = True, only: str = "") -> None:
    if only not in name:
        return
    r = run_fresh(RUN.format(path=str(path), overrides=overrides, physics=physics), repeats)
    ratio = r["events_per_s"] / r["simpy_raw_per_s"]
    print(
        f"{name:<28}{r['jobs']:>9,}{r['failures']:>10,}{r['events']:>11,}{r['run_s']:>9.2f}{r['total_s']:>9.2f}"
        f"{r['peak_mb']:>9.0f}{r['events_per_s']:>11,.0f}{r['simpy_raw_per_s']:>11,.0f}{ratio:>8.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="run only the benchmarks whose name contains this")
    args = parser.parse_args()
    only = args.only
    print(
        f"{'run':<28}{'jobs':>9}{'failures':>10}{'events':>11}{'sim s':>9}{'total s':>9}{'peak MB':>9}"
        f"{'events/s':>11}{'SimPy raw':>11}{'ratio':>8}"
    )
    bench("demo 30 days", SCENARIOS / "demo_baseline.yaml", {"days": 30}, args.repeats, only=only)
    bench("lease vs tokens, 1 year", SCENARIOS / "lease_vs_tokens.yaml", {}, args.repeats, only=only)
    bench("both campuses, 1 year", SCENARIOS / "baseline.yaml", {}, args.repeats, only=only)
    bench("  the same, physics off", SCENARIOS / "baseline.yaml", {}, args.repeats, physics=False, only=only)
    bench("both campuses + lease, 1 year", SCENARIOS / "baseline_lease.yaml", {}, args.repeats, only=only)
    print(
        "sim s = simulate() alone (median); total s = the process up to the run's end: imports, loading, run; "
        "peak MB = max RSS; ratio = twin events/s over SimPy's bare timeout rate in the same process"
    )


if __name__ == "__main__":
    main()
