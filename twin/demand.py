"""Internal demand generators: synthetic training arrivals, a replayed job trace, inference fleets.

Each generator is one SimPy process with its own random stream, so adding leases or events to a
scenario never changes which jobs arrive. Training arrivals are Poisson at ``arrivals_per_day``
(times any demand shock in force); sizes are powers of two with P(size) ~ size^-alpha; durations
are log-normal, longer for bigger runs when ``big_job_hours_per_log2_gpus`` says so.

An inference fleet holds servers at one site for a load that follows a daily cosine between its
trough and its peak (at ``peak_hour`` local time, from the site's longitude) and grows
geometrically; every hour it takes idle servers or gives some back. It never preempts training;
what it cannot get is recorded as unmet.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from twin.csvread import numeric, read_columns, record_lines
from twin.errors import Problem, ProblemList
from twin.held import HeldServers
from twin.jobs import Job, size_distribution
from twin.placement_kernels import take_idle
from twin.scenario_spec import InferenceDemand, JobTrace, TrainingDemand

TIME_UNITS = {"s": 1 / 3600.0, "min": 1 / 60.0, "h": 1.0}


class DemandState:
    """Multipliers changed by demand-shock events."""

    def __init__(self) -> None:
        self.shocks: list[float] = []  # the factors of the shocks in force (0 stops arrivals)
        self.arrival_factor = 1.0

    def shock(self, factor: float) -> None:
        self.shocks.append(factor)
        self.arrival_factor = math.prod(self.shocks)

    def unshock(self, factor: float) -> None:
        self.shocks.remove(factor)
        self.arrival_factor = math.prod(self.shocks)


def _accepted(engine, gpu_type: str, site: str) -> tuple[np.ndarray, np.ndarray]:
    f = engine.fleet
    types = (
        np.arange(len(f.gpu_type_names))
        if gpu_type == "any"
        else np.array([f.gpu_type_names.index(gpu_type)])
    )
    sites = np.arange(len(f.campuses)) if site == "any" else np.array([f.site_index(site)])
    return types, sites


def training_arrivals(engine, spec: TrainingDemand, state: DemandState, rng: np.random.Generator):
    sizes, probs = size_distribution(spec.size.min_gpus, spec.size.max_gpus, spec.size.alpha)
    cum = np.cumsum(probs)
    types, sites = _accepted(engine, spec.gpu_type, spec.site)
    base_rate = spec.arrivals_per_day / 24.0
    if base_rate <= 0:
        return
    batch = 1024  # draws are vectorised per batch; the stream is the same on every machine
    while True:
        gaps = rng.exponential(1.0, batch).tolist()
        accepts = rng.random(batch).tolist()
        picks = np.minimum(np.searchsorted(cum, rng.random(batch), side="right"), sizes.size - 1)
        all_gpus = sizes[picks].tolist()
        normals = rng.standard_normal(batch).tolist()
        for gap, u, gpus, z in zip(gaps, accepts, all_gpus, normals, strict=True):
            # Thinning keeps the stream of draws independent of shock timing.
            peak = max(state.arrival_factor, 1.0)
            yield engine.env.timeout(gap / (base_rate * peak))
            if u >= state.arrival_factor / peak:
                continue
            median = spec.duration_median_hours + spec.big_job_hours_per_log2_gpus * max(
                0.0, math.log2(gpus / 1024)
            )
            hours = min(spec.duration_max_hours, median * math.exp(spec.duration_sigma * z))
            _submit_training(engine, spec, gpus, hours, types, sites)


def _submit_training(engine, spec: TrainingDemand, gpus: int, hours: float, types, sites) -> None:
    engine.submit(
        Job(
            id=len(engine.jobs),
            kind="training",
            owner="internal",
            gpus=gpus,
            gpu_types=types,
            sites=sites,
            priority=spec.priority,
            submit=engine.env.now,
            work_hours=max(hours, 1e-3),
            checkpoint_interval=spec.checkpoint_interval_hours,
            checkpoint_write=spec.checkpoint_write_hours,
            restart_overhead=spec.restart_overhead_hours,
            network_sensitivity=spec.network_sensitivity,
        )
    )


MAX_TRACE_JOB_GPUS = 1e9


def load_trace(path: Path, trace: JobTrace) -> pd.DataFrame:
    """Read a job trace CSV into submit_h, gpus, duration_h, owner; raise ProblemList on bad data."""
    cols = trace.columns
    wanted = [cols.submit, cols.gpus, cols.duration] + ([cols.owner] if cols.owner else [])
    df = read_columns(path, wanted, "trace.columns in the scenario")
    # A job of more GPUs than any campus holds is refused when it arrives; past ~1e9 the count no
    # longer fits the fleet's integer arithmetic, so the file is refused at its line instead.
    problems = numeric(
        df, str(path), [cols.submit, cols.gpus, cols.duration], positive=(cols.gpus,), whole=(cols.gpus,),
        at_most={cols.gpus: MAX_TRACE_JOB_GPUS},
    )  # fmt: skip
    if problems:
        raise ProblemList(problems)
    unit = TIME_UNITS[trace.time_unit]
    out = pd.DataFrame(
        {
            "submit_h": df[cols.submit].to_numpy(float) * unit,
            "gpus": df[cols.gpus].to_numpy(np.int64),
            "duration_h": df[cols.duration].to_numpy(float) * unit,
            "owner": df[cols.owner].astype(str).to_numpy() if cols.owner else "trace",
        }
    )
    out["submit_h"] -= out["submit_h"].min()
    # Sorted by submit time; the index stays the file's data row, to point at a row later.
    return out.sort_values("submit_h", kind="stable")


def oversized_trace_jobs(
    jobs: pd.DataFrame, path: Path, column: str, largest_pool_gpus: int
) -> list[Problem]:
    """Notes for trace jobs larger than the largest pool they may use, at their CSV lines (the first
    five): valid, but each is rejected when it arrives, which a replay of another cluster's trace
    should say before the run rather than in its event log."""
    rows = jobs.index[jobs["gpus"].to_numpy() > largest_pool_gpus].sort_values()
    if not len(rows):
        return []
    lines = record_lines(str(path), set(rows[:5].tolist()))
    more = f"; {len(rows) - 5:,} more rows like it" if len(rows) > 5 else ""
    return [
        Problem(
            str(path), lines.get(row, row + 2), column,
            f"a job of {int(jobs.at[row, 'gpus']):,} GPUs, more than the {largest_pool_gpus:,} of the largest "
            f"pool (one site, one GPU type) the trace's jobs may use; it is rejected when it arrives{more}",
        )
        for row in rows[:5].tolist()
    ]  # fmt: skip


def trace_span_hours(jobs: pd.DataFrame) -> float:
    """How long one pass of a trace lasts: a replay starts an hour after its last submit."""
    return float(jobs["submit_h"].max()) + 1.0


def trace_job_count(jobs: pd.DataFrame, repeat: bool, horizon: float) -> int:
    """Jobs a trace submits before ``horizon`` (replayed back to back when ``repeat``)."""
    if not len(jobs):
        return 0
    submit = jobs["submit_h"].to_numpy()
    rounds, rest = divmod(horizon, trace_span_hours(jobs)) if repeat else (0.0, horizon)
    return int(rounds) * len(jobs) + int(np.searchsorted(submit, rest, side="left"))


def trace_arrivals(engine, jobs: pd.DataFrame, trace: JobTrace, defaults: TrainingDemand, horizon: float):
    types, sites = _accepted(engine, defaults.gpu_type, defaults.site)
    span = trace_span_hours(jobs) if len(jobs) else horizon
    offset = 0.0
    while True:
        for submit, gpus, hours, owner in jobs.itertuples(index=False):
            t = offset + submit
            if t >= horizon:
                return
            yield engine.env.timeout(max(0.0, t - engine.env.now))
            engine.submit(
                Job(
                    id=len(engine.jobs),
                    kind="trace",
                    owner=str(owner),
                    gpus=int(gpus),
                    gpu_types=types,
                    sites=sites,
                    priority=defaults.priority,
                    submit=engine.env.now,
                    work_hours=max(float(hours), 1e-3),
                    checkpoint_interval=defaults.checkpoint_interval_hours,
                    checkpoint_write=defaults.checkpoint_write_hours,
                    restart_overhead=defaults.restart_overhead_hours,
                    network_sensitivity=defaults.network_sensitivity,
                )
            )
        if not trace.repeat:
            return
        offset += span


def inference_fleet(engine, index: int, spec: InferenceDemand, gpus: np.ndarray, step: float):
    """Hold servers for an inference load that follows a daily curve and grows.

    ``gpus[0, sample, index]`` gets the GPUs it lacked at each step, ``gpus[1, sample, index]``
    the GPUs it held."""
    f = engine.fleet
    owner = -2 - index
    types, sites = _accepted(engine, spec.gpu_type, spec.site)
    site = int(sites[0])
    tz_hours = round(f.campuses[site].site.spec.location.longitude / 15.0)
    pods = np.flatnonzero(np.isin(f.pod_gpu_type, types) & (f.pod_site == site))
    held = engine.inference_held[owner] = HeldServers(f)
    gps = int(f.server_gpus[f.pod_first_server[pods[0]]]) if pods.size else 8
    pools = np.unique(f.pod_pool_key[pods]).tolist()  # keyed as the engine keys queued work
    while True:
        now = engine.env.now
        local = (now + tz_hours) % 24.0
        shape = spec.trough_fraction + (1 - spec.trough_fraction) * 0.5 * (
            1 + math.cos(2 * math.pi * (local - spec.peak_hour) / 24.0)
        )
        target_gpus = spec.peak_gpus * shape * (1 + spec.growth_per_year) ** (now / 8760.0)
        target = int(math.ceil(target_gpus / gps))
        if held.count > target:
            f.release_internal(held.drop_last(held.count - target))
            engine._dirty = True
            engine.schedule()
        need = 0
        if held.count < target:
            need = target - held.count
            taken = take_idle(pods, need, f.pod_idle_servers, f.pod_open, f.pod_first_server, f.idle)
            if taken.size:
                f.assign_internal(taken, owner)
                held.add(taken)
            need -= taken.size
        hour = int(now // step)
        if hour < gpus.shape[1]:
            gpus[0, hour, index] = need * gps
            gpus[1, hour, index] = held.count * gps
        # What it lacks until its next step: internal work a lease in its pools may be displacing
        # (twin.recorder counts it with the queued training).
        engine.inference_short[owner] = (need * gps, pools)
        yield engine.env.timeout(step)
