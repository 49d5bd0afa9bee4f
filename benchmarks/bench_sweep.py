"""A 64-run sweep of the demo site, serial against a 2-worker local Dask cluster (not asserted).

    .venv/bin/python benchmarks/bench_sweep.py [--repeats 3] [--ceiling] [--days 90]

4 training arrival rates x 16 seeds of ``demo_baseline.yaml`` (its own 30 days each, or
``--days``), as ``campustwin sweep`` runs it in a fresh process, cluster start-up included.
Target (issue 8): the cluster at least 1.7x faster than serial. ``--ceiling`` also times the same
runs split over two plain processes, which is as fast as two cores of this machine go without
any Dask. A 30-day demo run takes a fifth of a second, so the cluster's start (a second or two)
weighs on that ratio; ``--days 90`` shows the same sweep over a quarter, a lease's horizon.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "sample_sites" / "scenarios" / "demo_baseline.yaml"
ARRIVALS_PER_DAY = [20, 30, 40, 50]
REPLICATIONS = 16
GRID = ["--vary", f"training.arrivals_per_day={','.join(map(str, ARRIVALS_PER_DAY))}",
        "--replications", str(REPLICATIONS)]  # fmt: skip


def sweep(workers: int, days: int | None) -> float:
    with tempfile.TemporaryDirectory(prefix="campustwin-sweep-") as out:
        cmd = [
            sys.executable,
            "-m",
            "app.cli",
            "sweep",
            str(SCENARIO),
            *GRID,
            *(["--vary", f"days={days}"] if days else []),
            "--workers",
            str(workers),
            "--out",
            out,
        ]
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - start


# The machine's own ceiling: the same 64 runs split over two plain processes (no Dask), each
# importing the twin and running its half with run_task, as a worker would.
HALF = """
import sys
from twin.scenario import load_scenario
from twin.sweep import run_task, tasks
seed = load_scenario(sys.argv[1]).spec.seed  # as the sweep command takes it
todo = tasks({{"training.arrivals_per_day": {arrivals}, **{days}}}, seed, {replications})
for task in todo[{part}::2]:
    run_task(sys.argv[1], task)
"""


def two_plain_processes(days: int | None) -> float:
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                HALF.format(
                    part=part,
                    arrivals=ARRIVALS_PER_DAY,
                    days={"days": [days]} if days else {},
                    replications=REPLICATIONS,
                ),
                str(SCENARIO),
            ],
            cwd=ROOT,
        )
        for part in (0, 1)
    ]
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit("a plain process failed")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cluster-only", action="store_true", help="skip the serial runs")
    parser.add_argument("--ceiling", action="store_true", help="also time two plain processes (no Dask)")
    parser.add_argument("--days", type=int, default=None, help="days per run (default: the scenario's 30)")
    args = parser.parse_args()
    # Interleaved, so that a slow spell of this shared machine hits both sides alike.
    serial, cluster, plain = [], [], []
    for _ in range(args.repeats):
        if not args.cluster_only:
            serial.append(sweep(0, args.days))
        cluster.append(sweep(2, args.days))
        if args.ceiling:
            plain.append(two_plain_processes(args.days))
    c = statistics.median(cluster)
    print(f"days per run: {args.days or 'the scenario default (30)'}")
    print(f"64 runs, 2-worker cluster: {c:.1f} s (runs: {', '.join(f'{x:.1f}' for x in cluster)})")
    if plain:
        p = statistics.median(plain)
        print(f"64 runs, 2 plain processes: {p:.1f} s (runs: {', '.join(f'{x:.1f}' for x in plain)})")
    if serial:
        s = statistics.median(serial)
        print(f"64 runs serial:            {s:.1f} s (runs: {', '.join(f'{x:.1f}' for x in serial)})")
        pairs = sorted(a / b for a, b in zip(serial, cluster, strict=True))
        print(
            f"speed-up: {s / c:.2f}x (medians); per interleaved pair {', '.join(f'{r:.2f}' for r in pairs)}"
        )
        if plain:
            ceiling = sorted(a / b for a, b in zip(serial, plain, strict=True))
            print(
                f"this machine's ceiling (serial / 2 plain processes): {s / statistics.median(plain):.2f}x; "
                f"per triple {', '.join(f'{r:.2f}' for r in ceiling)}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
