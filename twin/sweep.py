"""Sweeps: one scenario run over a grid of changes and several seeds, then summarised.

A sweep varies dotted paths of a scenario (``training.arrivals_per_day``, ``leases.0.gpus``) over
listed values; every grid point is run with ``replications`` seeds (the scenario's own seed, then
the next ones), so a point's spread says how much of its result is luck. Each run is a pure
function of (scenario file, changes, seed), which is what lets a sweep go to any Dask worker and
come back the same: a worker imports only this module and the twin.

:func:`summarise` gives, per grid point, the mean, the 5th and 95th percentiles and the least and
greatest value of every numeric KPI. Percentiles of a few seeds are only interpolations between
them: below :data:`PERCENTILE_SEEDS` seeds a point's spread is read as its range (as the console's
bands are).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: Bumped when what the fingerprint covers changes, or what a run's KPIs mean, so an older sweep
#: folder is told apart from one whose files changed. 2: every grid point's files, resolved and
#: sorted. 3: margin_usd nets the displaced work's own costs, and leases are charged the GPUs they
#: held (a resumed sweep averaged old and new margins).
FINGERPRINT_VERSION = 3


def scenario_files(scenario) -> set[Path]:
    """Every file a scenario's runs read: the scenario file, its sites, their catalogs and its job
    and request traces (resolved paths)."""
    folder = Path(scenario.file).parent
    files = {Path(scenario.file).resolve()}
    for site in scenario.sites:
        files |= {Path(site.file).resolve(), Path(site.catalog_file).resolve()}
    if scenario.spec.trace is not None:
        files.add((folder / scenario.spec.trace.file).resolve())
    files |= {(folder / m.trace.file).resolve() for m in scenario.spec.hosted_models if m.trace is not None}
    return files


def files_fingerprint(files: set[Path]) -> str:
    """A hash of the files' names and contents. A sweep passes every grid point's files, so a file
    named only through ``--vary`` (another trace, another site) counts too: two sweeps with the same
    fingerprint run the same thing."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(str(path.name).encode() + b"\0")
        h.update(path.read_bytes() if path.is_file() else b"(missing)")
        h.update(b"\0")
    return h.hexdigest()


PERCENTILE_SEEDS = 20  # from this many seeds on, a spread is p5-p95; with fewer, the whole range


@dataclass(frozen=True)
class Task:
    """One run of a sweep: a grid point (its changes) and a seed."""

    point: int
    changes: tuple[tuple[str, object], ...]
    seed: int

    @property
    def name(self) -> str:
        """A file-safe name that changes when the changes or the seed do (used to resume)."""
        text = json.dumps([self.changes, self.seed], sort_keys=True, default=str)
        return f"p{self.point:04d}-s{self.seed}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def tasks(vary: dict[str, list], base_seed: int, replications: int) -> list[Task]:
    """The grid (in the order the values are given) times the seeds, point by point."""
    keys = list(vary)
    points = list(itertools.product(*(vary[k] for k in keys))) if keys else [()]
    return [
        Task(i, tuple(zip(keys, values, strict=True)), base_seed + r)
        for i, values in enumerate(points)
        for r in range(replications)
    ]


def run_task(scenario_path: str, task: Task) -> dict:
    """Run one task; return its changes, seed and the run's numeric KPIs (a worker calls this)."""
    from twin.scenario import load_scenario
    from twin.simulate import simulate

    overrides = dict(task.changes)
    overrides["seed"] = task.seed
    results = simulate(load_scenario(scenario_path, overrides))
    kpis = {k: v for k, v in results.kpis.items() if _number(v) and k not in ("seed", "wall_seconds")}
    return {"point": task.point, "changes": dict(task.changes), "seed": task.seed, "kpis": kpis}


def summarise(rows: list[dict]) -> pd.DataFrame:
    """Per grid point: its changes, runs, and mean / p5 / p95 / min / max of each KPI."""
    # The changes last: a KPI of the same name (days, as the run counted it: 2.0) must not
    # overwrite the value the point was given (2).
    records = [{"point": r["point"], **r["kpis"], **r["changes"]} for r in rows]
    frame = pd.DataFrame(records)
    if frame.empty:
        return frame
    changes = [c for c in rows[0]["changes"]]
    kpis = [c for c in frame.columns if c not in ("point", *changes)]
    out = []
    for point, group in frame.groupby("point", sort=True):
        row = {"point": point, **{c: group[c].iloc[0] for c in changes}, "runs": len(group)}
        for k in kpis:
            values = pd.to_numeric(group[k], errors="coerce").dropna().to_numpy(float)
            if values.size == 0:
                continue
            row[f"{k}_mean"] = float(values.mean())
            row[f"{k}_p5"] = float(np.percentile(values, 5))
            row[f"{k}_p95"] = float(np.percentile(values, 95))
            row[f"{k}_min"], row[f"{k}_max"] = float(values.min()), float(values.max())
        out.append(row)
    return pd.DataFrame(out)


def _number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
