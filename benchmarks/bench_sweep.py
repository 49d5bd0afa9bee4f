"""A 64-run sweep of the demo site, serial against a 2-worker local Dask cluster (not asserted).

    .venv/bin/python benchmarks/bench_sweep.py [--repeats 3]

4 training arrival rates x 16 seeds of ``demo_baseline.yaml`` (30 days each), as
``campustwin sweep`` runs it in a fresh process, cluster start-up included. Target (issue 8): the
cluster at least 1.7x faster than serial.
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
GRID = ["--vary", "training.arrivals_per_day=20,30,40,50", "--replications", "16"]


def sweep(workers: int) -> float:
    with tempfile.TemporaryDirectory(prefix="campustwin-sweep-") as out:
        cmd = [
            sys.executable,
            "-m",
            "app.cli",
            "sweep",
            str(SCENARIO),
            *GRID,
            "--workers",
            str(workers),
            "--out",
            out,
        ]
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cluster-only", action="store_true", help="skip the serial runs")
    args = parser.parse_args()
    # Interleaved, so that a slow spell of this shared machine hits both sides alike.
    serial, cluster = [], []
    for _ in range(args.repeats):
        if not args.cluster_only:
            serial.append(sweep(0))
        cluster.append(sweep(2))
    c = statistics.median(cluster)
    print(f"64 runs, 2-worker cluster: {c:.1f} s (runs: {', '.join(f'{x:.1f}' for x in cluster)})")
    if serial:
        s = statistics.median(serial)
        print(f"64 runs serial:            {s:.1f} s (runs: {', '.join(f'{x:.1f}' for x in serial)})")
        pairs = sorted(a / b for a, b in zip(serial, cluster, strict=True))
        print(
            f"speed-up: {s / c:.2f}x (medians); per interleaved pair {', '.join(f'{r:.2f}' for r in pairs)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
