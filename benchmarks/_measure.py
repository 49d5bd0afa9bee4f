"""Shared measuring helpers: run a snippet in a fresh interpreter, report wall time and peak RSS."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap

PROBE = """
import json, resource, time
t0 = time.perf_counter()
{body}
wall = time.perf_counter() - t0
print("@@" + json.dumps({{"wall_s": wall, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}}))
"""


def run_fresh(body: str, repeats: int = 3) -> dict:
    """Run ``body`` (which must define a dict ``extra``) in ``repeats`` fresh processes.

    Imports done in ``body`` are timed too, as a user of the command line would feel them; the
    median wall time and the largest peak RSS are returned with the last run's ``extra``.
    """
    runs = []
    for _ in range(repeats):
        code = PROBE.format(body=textwrap.dedent(body))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        line = next(ln for ln in out.splitlines() if ln.startswith("@@"))
        runs.append(json.loads(line[2:]))
    result = dict(runs[-1])
    # Every timing (a key ending in _s) is the median over the runs, not the last run's.
    for key, value in runs[-1].items():
        if key.endswith("_s") and isinstance(value, float):
            result[key] = statistics.median(r[key] for r in runs)
    result["wall_s_runs"] = [round(r["wall_s"], 3) for r in runs]
    result["peak_mb"] = max(r["peak_mb"] for r in runs)
    return result
