"""Load + validate + build of a site (arrays and fabric graph): wall time and peak memory.

    .venv/bin/python benchmarks/bench_site.py [SITE ...]

Target for Louisiana (issue 2): under 5 s and under 1 GB on one core of the reference machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import run_fresh  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def bench(site: Path, repeats: int = 5) -> dict:
    body = f"""
    from twin.load import load_site
    from twin.campus import build_campus
    t_load = time.perf_counter()
    site = load_site({str(site)!r})
    t_build = time.perf_counter()
    campus = build_campus(site)
    t_graph = time.perf_counter()
    g = campus.fabric
    t_end = time.perf_counter()
    extra = {{"racks": campus.racks, "gpus": campus.gpus, "nodes": g.number_of_nodes(),
              "edges": g.number_of_edges(), "load_validate_s": t_build - t_load,
              "arrays_s": t_graph - t_build, "graph_s": t_end - t_graph}}
    """
    return run_fresh(body, repeats)


def main(argv: list[str]) -> None:
    sites = [Path(a) for a in argv] or [
        ROOT / "sample_sites" / n for n in ("louisiana.yaml", "ohio.yaml", "demo.yaml")
    ]
    print(
        f"{'site':<16}{'racks':>8}{'GPUs':>11}{'nodes':>9}{'edges':>9}{'load+val s':>11}{'arrays s':>9}"
        f"{'graph s':>9}{'total s':>9}{'peak MB':>9}"
    )
    for site in sites:
        if not site.exists():
            continue
        r = bench(site)
        print(
            f"{site.name:<16}{r['racks']:>8,}{r['gpus']:>11,}{r['nodes']:>9,}{r['edges']:>9,}"
            f"{r['load_validate_s']:>11.3f}{r['arrays_s']:>9.3f}{r['graph_s']:>9.3f}{r['wall_s']:>9.2f}"
            f"{r['peak_mb']:>9.0f}"
        )
    print("total s = median of 5 fresh processes, including imports; peak MB = max RSS of those runs")


if __name__ == "__main__":
    main(sys.argv[1:])
