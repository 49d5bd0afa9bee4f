"""Site-plan exports of a whole campus: wall time and peak memory per format, fresh processes.

    .venv/bin/python benchmarks/bench_plan.py [SITE] [--repeats 3]

Each format runs in its own interpreter (imports timed too, as a user of ``campustwin plan`` feels
them); ``plan_s`` is the geometry alone. Target (issue 7): the whole Louisiana campus in every
format under 30 s in all.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import run_fresh  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FORMATS = {"svg": "plan.svg", "pdf": "plan.pdf", "dxf": "plan.dxf", "csv": "plan.csv", "netbox": "netbox.zip"}


def bench(site: Path, fmt: str, out: Path, repeats: int) -> dict:
    body = f"""
    from pathlib import Path
    from layouts.colour import colour_racks
    from layouts.export import write
    from layouts.geometry import plan_campus
    from twin.campus import build_campus
    from twin.load import load_site
    campus = build_campus(load_site({str(site)!r}))
    t_plan = time.perf_counter()  # not t0: the probe's own t0 times the whole body
    plan = plan_campus(campus)
    colouring = colour_racks(plan, "kw")
    t_write = time.perf_counter()
    path = write(plan, colouring, campus, {fmt!r}, Path({str(out)!r}))
    t_end = time.perf_counter()
    extra = {{"plan_s": t_write - t_plan, "export_s": t_end - t_write, "bytes": path.stat().st_size, "racks": len(plan.racks)}}
    """
    return run_fresh(body, repeats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", default=str(ROOT / "sample_sites" / "louisiana.yaml"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    total = 0.0
    with tempfile.TemporaryDirectory(prefix="campustwin-plan-bench-") as tmp:
        for fmt, name in FORMATS.items():
            r = bench(Path(args.site), fmt, Path(tmp) / name, args.repeats)
            total += r["wall_s"]
            print(
                f"{fmt:>6}: {r['wall_s']:.2f} s wall (export {r['export_s']:.2f} s, plan {r['plan_s']:.3f} s), "
                f"peak {r['peak_mb']:.0f} MB, {r['bytes'] / 2**20:.1f} MB written, {r['racks']:,} racks"
            )
    print(
        f"all formats: {total:.1f} s (medians of {args.repeats} fresh processes each, imports and site load included)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
