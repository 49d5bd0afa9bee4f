"""A hosted model running in the twin: replicas on the fleet, an autoscaler, token demand, revenue.

One SimPy process per product wakes once per serving step (15 minutes by default). At each wake it
closes the step that just ended, then decides the next:

1. **Capacity**: the replica-seconds the step really had, counting replicas that finished starting
   or failed part-way through it (a failure reaches the product at once through
   :meth:`HostedService.lost`; the step's books record its exact time).
2. **Serving**: the step's requests (drawn from the curve, or bucketed from the trace) and the
   backlog carried in are served through :func:`twin.serving.serve_step`: no event per request,
   so a year of a busy service costs ~35k steps.
3. **Autoscaling**: replicas wanted = (observed work rate + backlog to drain) / target utilisation,
   within [min, max]; scaling up is immediate, scaling down waits for the highest recommendation
   over ``scale_down_after_minutes`` to allow it (the Kubernetes HPA stabilisation window). New replicas are placed like jobs, whole inside one pod (the fullest pod with
   room, so big holes stay for big jobs), on idle servers only: a product never preempts training,
   and what it cannot place is counted as a shortfall. They hold their GPUs from placement and
   serve after the start-up delay. Starting replicas are the first to go.

A failure of any server of a replica takes the whole replica down (its other servers go back to
the pool); the autoscaler replaces it at the next step, so a failure shows as a dip in served
tokens when the service runs near capacity. Physics shedding and lease carve-outs reach a product
the same way.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from twin.csvread import numeric, read_columns
from twin.errors import Problem, ProblemList
from twin.hosted_spec import HostedModel, RequestCurve, RequestTrace
from twin.serving import serve_step

TIME_UNITS = {"s": 1 / 3600.0, "min": 1 / 60.0, "h": 1.0}
# The per-step series, in this order (``HostedService.series`` names them).
COLUMNS = (
    "requests", "input_tokens", "output_tokens",
    "served_requests", "served_input_tokens", "served_output_tokens",
    "dropped_requests", "dropped_input_tokens", "dropped_output_tokens",
    "queued_requests", "queued_input_tokens", "queued_output_tokens",
    "replicas_serving", "replicas_held", "gpu_hours", "it_kwh",
    "ttft_p95_s", "within_target_requests", "revenue_usd",
)  # fmt: skip
COL = {name: i for i, name in enumerate(COLUMNS)}


@dataclass(slots=True)
class Replica:
    servers: np.ndarray
    ready_h: float  # serving from then on


@dataclass(frozen=True)
class StepDemand:
    """Requests and tokens arriving in each serving step of the product's life."""

    requests: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray


def curve_demand(
    spec: RequestCurve, t0_h: np.ndarray, dt_h: np.ndarray, tz_hours: float, start: dt.date, rng
) -> StepDemand:
    """Poisson arrivals per step around the daily curve (rates taken at each step's middle)."""
    mid = t0_h + dt_h / 2.0
    local = mid + tz_hours
    shape = spec.trough_fraction + (1 - spec.trough_fraction) * 0.5 * (
        1 + np.cos(2 * np.pi * ((local % 24.0) - spec.peak_hour) / 24.0)
    )
    weekday = (start.weekday() + np.floor(local / 24.0).astype(np.int64)) % 7
    rate = spec.peak_requests_per_second * shape * (1 + spec.growth_per_year) ** (mid / 8760.0)
    rate = rate * np.where(weekday >= 5, spec.weekend_factor, 1.0)
    for burst in spec.bursts:
        inside = (mid >= burst.day * 24.0) & (mid < burst.day * 24.0 + burst.hours)
        rate = np.where(inside, rate * burst.factor, rate)
    requests = rng.poisson(rate * dt_h * 3600.0).astype(np.float64)
    return StepDemand(requests, requests * spec.mean_input_tokens, requests * spec.mean_output_tokens)


def load_request_trace(path: Path, trace: RequestTrace) -> pd.DataFrame:
    """Read a request trace into hour, input_tokens, output_tokens; raise ProblemList on bad data."""
    cols = trace.columns
    wanted = [cols.timestamp, cols.input_tokens, cols.output_tokens]
    df = read_columns(path, wanted, "trace.columns in the product")
    problems = numeric(df, str(path), wanted)
    if not len(df):
        problems.append(Problem(str(path), 2, "", "the trace has no requests"))
    if problems:
        raise ProblemList(problems)
    hours = df[cols.timestamp].to_numpy() * TIME_UNITS[trace.time_unit]
    return pd.DataFrame(
        {
            "hour": hours - hours.min(),
            "input_tokens": df[cols.input_tokens].to_numpy(),
            "output_tokens": df[cols.output_tokens].to_numpy(),
        }
    )


def trace_demand(requests: pd.DataFrame, trace: RequestTrace, step_h: float, steps: int) -> StepDemand:
    """Bucket a trace into the product's steps, replayed back to back when ``repeat`` is set."""
    hour = requests["hour"].to_numpy()
    span = (math.floor(hour.max() / step_h) + 1) * step_h  # whole steps, so replays line up
    out = np.zeros((3, steps))
    offset = 0.0
    while offset < steps * step_h:
        idx = np.floor((hour + offset) / step_h).astype(np.int64)
        keep = idx < steps
        for row, weights in enumerate((None, requests["input_tokens"], requests["output_tokens"])):
            w = None if weights is None else weights.to_numpy()[keep]
            out[row] += np.bincount(idx[keep], weights=w, minlength=steps)[:steps]
        if not trace.repeat:
            break
        offset += span
    out *= trace.rate_scale
    return StepDemand(out[0], out[1], out[2])


class HostedService:
    """One hosted-model product in one run (see the module docstring)."""

    def __init__(self, engine, owner: int, spec: HostedModel, demand: StepDemand, start_h: float):
        f = engine.fleet
        self.engine, self.owner, self.spec = engine, owner, spec
        self.site = f.site_index(spec.site)
        self.gpu_type = f.gpu_type_names.index(spec.gpu_type)
        self.pods = np.flatnonzero((f.pod_site == self.site) & (f.pod_gpu_type == self.gpu_type))
        gps = int(f.pod_gpus_per_server[self.pods[0]])
        self.servers_per_replica = -(-spec.gpus_per_replica // gps)
        self.replica_gpus = self.servers_per_replica * gps
        idle_kw, dyn_kw = f.gpu_kw(self.site, self.gpu_type)
        self.kw_per_gpu = idle_kw + dyn_kw * engine.busy_power_fraction  # a held GPU draws busy power
        self.step_h = spec.step_minutes / 60.0
        self.start_h = start_h
        self.steps = demand.requests.size
        self.t0 = start_h + np.arange(self.steps) * self.step_h
        self.data = np.zeros((len(COLUMNS), self.steps))  # filled by finish()
        self._rows: list[tuple] = []
        # Per step: requests, input and output tokens, and their work in replica-seconds.
        work = (
            demand.input_tokens / spec.input_tokens_per_second
            + demand.output_tokens / spec.output_tokens_per_second
        )
        self._demand = list(
            zip(
                demand.requests.tolist(),
                demand.input_tokens.tolist(),
                demand.output_tokens.tolist(),
                work.tolist(),
                strict=True,
            )
        )
        self.replicas: dict[int, Replica] = {}
        self._starting: dict[int, float] = {}  # replicas placed but not yet serving: their ready hour
        self.held_gpus = 0  # GPUs its replicas hold now, starting or serving (the recorder samples it)
        self.by_server: dict[int, int] = {}
        self._next_id = 0
        self._changes: list[tuple[float, int, int]] = []  # (hour, serving delta, held-GPU delta)
        self._backlog = (0.0, 0.0, 0.0, 0.0)  # requests, input tokens, output tokens, work (replica-s)
        self._pending: tuple | None = None  # the step in progress: (k, t0, t1, replicas up, GPUs held)
        self._recommended: deque[tuple[float, int]] = deque()  # (hour, replicas wanted), recent
        self._short = False
        self.replica_failures = 0
        self.replicas_shed = 0
        self.unplaced_replica_steps = 0
        self.over_max_replica_steps = 0  # steps whose demand wanted more than max_replicas

    # -- the process ---------------------------------------------------------------------------
    def process(self):
        env = self.engine.env
        yield env.timeout(self.start_h)
        self._add_replicas(self.spec.min_replicas, ready_h=env.now)
        for k in range(self.steps):
            t0 = env.now
            t1 = t0 + min(self.step_h, self.engine.horizon - t0)
            self._pending = (k, t0, t1, len(self.replicas) - len(self._starting), self.held_gpus)
            self._changes = []
            yield env.timeout(t1 - t0)
            _, _, _, up0, held0 = self._pending
            self._pending = None
            self._close_step(k, t0, t1, up0, held0)
            if k + 1 < self.steps:
                self._autoscale(k, t1, t1 - t0)
        self._remove(list(self.replicas))

    def finish(self) -> None:
        """Close the step that ends at the horizon (the run stops before its timer fires)."""
        if self._pending is not None:
            k, t0, t1, up0, held0 = self._pending
            self._pending = None
            self._close_step(k, t0, t1, up0, held0)
        if self._rows:
            self.data[:, : len(self._rows)] = np.array(self._rows).T

    def _close_step(self, k: int, t0: float, t1: float, up0: int, held0: int) -> None:
        spec = self.spec
        step_s = (t1 - t0) * 3600.0
        serving_s = up0 * step_s
        held_gpu_h = held0 * (t1 - t0)
        for when, d_serving, d_gpus in self._changes:
            serving_s += d_serving * (t1 - when) * 3600.0
            held_gpu_h += d_gpus * (t1 - when)
        for rid, ready_h in list(self._starting.items()):
            if ready_h <= t1:  # finished starting during the step
                serving_s += (t1 - max(t0, ready_h)) * 3600.0
                del self._starting[rid]
        up_end = len(self.replicas) - len(self._starting)
        n, i_tok, o_tok, work = self._demand[k]
        in_rate = spec.input_tokens_per_second
        b_n, b_in, b_out, b_work = self._backlog
        prefill_s = (
            i_tok / n if n > 0 else (spec.demand.mean_input_tokens if spec.demand else 0.0)
        ) / in_rate
        out = serve_step(
            b_work, n, work, max(0.0, serving_s), up_end, step_s, spec.concurrency, prefill_s,
            spec.latency.timeout_seconds, spec.latency.ttft_p95_seconds,
            spec.concurrency / spec.output_tokens_per_second,
        )  # fmt: skip
        pool = (b_n + n, b_in + i_tok, b_out + o_tok, b_work + work)
        served = [x * out.served_share for x in pool]
        dropped = [x * out.dropped_share for x in pool]
        self._backlog = tuple(p - s - d for p, s, d in zip(pool, served, dropped, strict=True))
        revenue = (
            served[1] * spec.price_usd_per_million_input_tokens
            + served[2] * spec.price_usd_per_million_output_tokens
        ) / 1e6
        self._rows.append(
            (
                n, i_tok, o_tok, *served[:3], *dropped[:3], *self._backlog[:3],
                serving_s / step_s, len(self.replicas), held_gpu_h, held_gpu_h * self.kw_per_gpu,
                out.ttft_p95_s, out.within_target_share * n, revenue,
            )
        )  # fmt: skip

    def _autoscale(self, k: int, now: float, dt_h: float) -> None:
        spec = self.spec
        n, _, _, work = self._demand[k]
        step_s = dt_h * 3600.0
        need = (work + self._backlog[3]) / step_s / spec.autoscaler.target_utilization
        asked = math.ceil(need - 1e-9) if n > 0 else 0
        self.over_max_replica_steps += asked > spec.max_replicas
        wanted = min(spec.max_replicas, max(spec.min_replicas, asked))
        have = len(self.replicas)
        # Scale-down stabilisation (Kubernetes HPA's rule): replicas go only down to the highest
        # count recommended over the last ``scale_down_after_minutes``, so one quiet step of a
        # noisy demand does not send replicas away that the next step wants back.
        window = self._recommended
        window.append((now, wanted))
        horizon = now - spec.autoscaler.scale_down_after_minutes / 60.0 - 1e-9
        while window and window[0][0] < horizon:
            window.popleft()
        if wanted > have:
            self._add_replicas(wanted - have, ready_h=now + spec.autoscaler.startup_minutes / 60.0)
            return
        keep = max(w for _, w in window)
        if keep < have:
            # Starting replicas go first (they serve nothing yet), then the newest.
            order = sorted(self.replicas, key=lambda rid: (-self.replicas[rid].ready_h, -rid))
            self._remove(order[: have - keep])

    # -- replicas on the fleet -----------------------------------------------------------------
    def _add_replicas(self, count: int, ready_h: float) -> None:
        f = self.engine.fleet
        k = self.servers_per_replica
        for _ in range(count):
            idle = f.pod_idle_servers[self.pods]
            fits = (idle >= k) & f.pod_open[self.pods]
            if not fits.any():
                self.unplaced_replica_steps += 1
                if not self._short:
                    self._short = True
                    self.engine.note(
                        self.site, "replica_unplaced", self.spec.name,
                        f"no pod has {k} idle server{'s' if k > 1 else ''} for a replica; {len(self.replicas)} "
                        f"replica{'' if len(self.replicas) == 1 else 's'} held",
                    )  # fmt: skip
                return
            pod = int(self.pods[fits][np.argmin(idle[fits])])
            servers = f.idle_in_pod(pod, k)
            f.assign_internal(servers, self.owner)
            rid = self._next_id
            self._next_id += 1
            self.replicas[rid] = Replica(servers, ready_h)
            self.held_gpus += self.replica_gpus
            if ready_h > self.engine.env.now:
                self._starting[rid] = ready_h
            for s in servers.tolist():
                self.by_server[s] = rid
        self._short = False

    def _drop(self, rid: int) -> tuple[Replica, bool]:
        """Take a replica off the books and give its servers still up back; (it, was it starting)."""
        f = self.engine.fleet
        replica = self.replicas.pop(rid)
        starting = self._starting.pop(rid, None) is not None
        self.held_gpus -= self.replica_gpus
        for s in replica.servers.tolist():
            self.by_server.pop(s, None)
        f.release_internal(replica.servers[f.job[replica.servers] == self.owner])
        return replica, starting

    def _remove(self, ids: list[int]) -> None:
        for rid in ids:
            self._drop(rid)
        if ids:
            self.engine._dirty = True
            self.engine.schedule()

    def lost(self, servers: list[int], failure: bool, cause: str = "") -> None:
        """Servers of this product went out of service (a failure, an outage, a shed, a lease
        carve-out); ``cause`` names it in the log."""
        engine = self.engine
        now = engine.env.now
        gpus = self.replica_gpus
        why = (cause or "failure") if failure else (f"shed: {cause}" if cause else "shed")
        for server in servers:
            rid = self.by_server.get(server)
            if rid is None:  # another server of the same replica went first
                continue
            # Its other servers go back to the pool; the autoscaler replaces it at the next step.
            replica, starting = self._drop(rid)
            if replica.ready_h <= now:
                self._changes.append((now, -1, -gpus))
                if starting:  # it became ready inside this step, after the step's count was taken
                    self._changes.append((replica.ready_h, 1, 0))
            else:
                self._changes.append((now, 0, -gpus))
            if failure:
                self.replica_failures += 1
            else:
                self.replicas_shed += 1
            engine.note(
                self.site, "replica_lost", self.spec.name,
                f"replica of {gpus} GPUs down ({why}); {len(self.replicas)} left",
            )  # fmt: skip
        engine._dirty = True

    # -- results --------------------------------------------------------------------------------
    def series(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.data.T, columns=list(COLUMNS))
        frame.insert(0, "time_h", self.t0)
        frame.insert(0, "product", self.spec.name)
        return frame
