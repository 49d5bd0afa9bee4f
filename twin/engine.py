"""The discrete-event core: one SimPy environment, the fleet's arrays, and the moves between them.

Processes exist per generator (training arrivals, failures, each inference fleet, sampling, each
scenario event) and per lease; a training job is a small state machine whose run-phase end waits
in a heap behind one SimPy timer, so interrupting it is a new booking rather than a process
interrupt. Nothing is ever scheduled per GPU or per rack. Failures and repairs are in
:mod:`twin.failure_moves`, leases' server moves in :mod:`twin.lease_moves`, and the heap of
run-phase ends in :mod:`twin.job_ends`.

Scheduling is priority then first-come, with backfill: a job that fits may start ahead of a
bigger one that does not. Once the head of the queue has waited ``DRAIN_AFTER_HOURS`` it reserves
the (site, GPU type) pool closest to fitting it, and no other job starts in that pool until it
does (EASY-style backfill per pool), so big jobs cannot starve while other pools keep working. A
job that already ran and lost its servers (no spare after a failure, a preemption) reserves at
once: otherwise small jobs would backfill into the servers it just gave back.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

import numpy as np
import simpy

from twin.failure_moves import FailureMoves
from twin.fleet import FREE, Fleet
from twin.held import HeldServers
from twin.job_ends import JobEnds
from twin.jobs import DONE, QUEUED, REJECTED, RUNNING, Job
from twin.lease_moves import LeaseMoves
from twin.leases import LeaseState
from twin.placement import accepted_pods, place, slowdown

DRAIN_AFTER_HOURS = 24.0
MAX_BACKFILL_SCAN = 256


def _queue_key(entry: tuple[tuple, Job]) -> tuple:
    return entry[0]


class Engine(JobEnds, FailureMoves, LeaseMoves):
    """Holds the environment, the fleet and every job and lease of one run."""

    def __init__(
        self,
        fleet: Fleet,
        horizon_hours: float,
        rngs: dict[str, np.random.Generator],
        pue: float = 1.1,
        busy_power_fraction: float = 0.85,
    ):
        self.env = simpy.Environment()
        self.pue = pue
        self.busy_power_fraction = busy_power_fraction
        self.fleet = fleet
        self.horizon = horizon_hours
        self.rngs = rngs
        self.jobs: list[Job] = []
        self.queue: list[tuple[tuple, Job]] = []
        self.leases: list[LeaseState] = []
        self.log: list[tuple[float, str, str, str, str]] = []
        self.interruptions = 0
        self.inference_failures = 0
        self.inference_held: dict[int, HeldServers] = {}  # per inference owner (twin.demand)
        self._repairs: list[tuple[float, int]] = []
        self._init_ends()
        self._room: dict[int, int] | None = None  # see _unleased_gpus
        self._repair_slots: set[float] = set()
        self.failures = 0
        self.failures_by_category: dict[str, int] = {}
        self.preemptions = 0
        self._dirty = False
        self.site_names = [c.name for c in fleet.campuses]
        installed = np.bincount(
            fleet.pod_pool_key, weights=np.diff(fleet.pod_first_server) * fleet.pod_gpus_per_server
        )
        self._pool_gpus = {int(p): int(installed[p]) for p in np.flatnonzero(installed)}  # GPUs per pool
        self._masks: dict[tuple, tuple[np.ndarray, list[int]]] = {}
        self._job_pools: dict[int, tuple[np.ndarray, list[int]]] = {}
        self._outside_cache: dict[tuple[int, int], tuple[np.ndarray, list[int]]] = {}
        self._largest: dict[int, int] = {}  # see _largest_pool
        # Queued GPUs by the one site a job asks for (-1: jobs that accept several sites).
        self.queued_gpus: dict[int, int] = {}
        # Queued GPUs per (site, GPU type) pool a job accepts (a job counts in each of its pools).
        self.queued_by_pool: dict[int, int] = {}
        # A lower bound, per pool, of the GPUs the smallest queued job accepting it wants: a
        # scheduling pass is skipped when no pool has that many idle (nothing could start).
        self._min_waiting: dict[int, int] = {}
        self._queue_changed = False  # a job queued since the last pass worked out _min_waiting
        self.plant = None  # the physics model (twin.plant.Plant), when on
        self.month_edges = np.array([0.0, horizon_hours])  # calendar months (set by simulate)
        self.hosted: dict[int, object] = {}  # hosted-model services (twin.hosted) by owner code

    # -- logging ---------------------------------------------------------------------------------
    def note(self, site: int | str, kind: str, subject: str, detail: str) -> None:
        name = self.site_names[site] if isinstance(site, int) and site >= 0 else str(site)
        self.log.append((self.env.now, name, kind, subject, detail))

    def at(self, delay: float, fn: Callable[[], None]) -> None:
        """Call ``fn`` after ``delay`` hours (a SimPy timer with a callback)."""
        ev = self.env.timeout(max(0.0, delay))
        ev.callbacks.append(lambda _ev: fn())

    # -- pools -----------------------------------------------------------------------------------
    def accepted(self, job: Job) -> tuple[np.ndarray, list[int]]:
        """The job's pod mask and pool keys, cached per (types, sites) combination."""
        cached = self._job_pools.get(job.id)
        if cached is not None:
            return cached
        key = (job.gpu_types.tobytes(), job.sites.tobytes())
        if key not in self._masks:
            ok = accepted_pods(self.fleet, job.gpu_types, job.sites)
            self._masks[key] = (ok, sorted(set(self.fleet.pod_pool[ok].tolist())))
        self._job_pools[job.id] = self._masks[key]
        return self._masks[key]

    # -- jobs ------------------------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        job.submit = job.queued_since = self.env.now
        self.jobs.append(job)
        if job.gpus > self._largest_pool(job):
            job.status = REJECTED
            job.reason = "larger than any site's pool of the GPU types it accepts"
            self.note(-1, "job_rejected", f"job {job.id}", f"{job.gpus} GPUs: {job.reason}")
            return
        if not self.queue or not self._queued_could_start():
            # Nothing waiting can start now, so a scheduling pass would only try this job: try it
            # alone, without the queue bookkeeping (most of ~100k jobs a year arrive this way).
            if not self._start_alone(job):
                self._enqueue(job)
            self._dirty = False  # what a pass would leave: nothing that fits is waiting
            return
        self._enqueue(job)
        self._dirty = True
        self.schedule()

    def _queued_could_start(self) -> bool:
        """False when no pool has as many idle GPUs as the smallest job waiting for it."""
        pool_idle = self.fleet.pool_idle_gpus
        for p, m in self._min_waiting.items():  # noqa: SIM110 (any(generator) costs more, ~55k calls a year)
            if pool_idle[p] >= m:
                return True
        return False

    def _start_alone(self, job: Job) -> bool:
        """Start a new job if it fits where a pass would place it, when nothing queued can start.

        That is its place in the queue within the scanned window, and outside the pool the
        queue's head reserves.
        """
        ok, pools = self.accepted(job)
        pool_idle = self.fleet.pool_idle_gpus
        if self.queue:
            at = bisect.bisect_left(self.queue, (-job.priority, job.submit, job.id), key=_queue_key)
            if at >= MAX_BACKFILL_SCAN:
                return False
            if at > 0:
                head = self.queue[0][1]
                reserved = self._reserved_pool(head, self.accepted(head)[1], pool_idle)
                if reserved in pools:
                    ok, pools = self._outside(ok, pools, reserved)
        for p in pools:
            if pool_idle[p] >= job.gpus:
                placement = place(self.fleet, job.gpus, ok, job.network_sensitivity)
                if placement is None:
                    return False
                self._start(job, placement)
                return True
        return False

    def _enqueue(self, job: Job) -> None:
        job.status = QUEUED
        job.queued_since = self.env.now
        for pool in self.accepted(job)[1]:
            self._min_waiting[pool] = min(self._min_waiting.get(pool, job.gpus), job.gpus)
        key = int(job.sites[0]) if job.sites.size == 1 else -1
        self.queued_gpus[key] = self.queued_gpus.get(key, 0) + job.gpus
        for pool in self.accepted(job)[1]:
            self.queued_by_pool[pool] = self.queued_by_pool.get(pool, 0) + job.gpus
        bisect.insort(self.queue, ((-job.priority, job.submit, job.id), job), key=_queue_key)
        self._queue_changed = True

    def schedule(self) -> None:
        """Start every queued job that fits now, in priority order, with bounded backfill."""
        if not self._dirty or not self.queue:
            self._dirty = False
            return
        self._dirty = False
        started: list[int] = []
        pool_idle = self.fleet.pool_idle_gpus.tolist()  # a copy; list items read faster than numpy's
        # Loops rather than any(generator): a pass runs ~80k times a year, for a few jobs each.
        for p, m in self._min_waiting.items():
            if pool_idle[p] >= m:
                break
        else:
            return
        reserved_pool = -1
        for i, (_, job) in enumerate(self.queue[:MAX_BACKFILL_SCAN]):
            ok, pools = self.accepted(job)
            if reserved_pool in pools:
                ok, pools = self._outside(ok, pools, reserved_pool)
            placement = None
            for p in pools:  # cheap test first: some pool it accepts has that many idle GPUs
                if pool_idle[p] >= job.gpus:
                    placement = place(self.fleet, job.gpus, ok, job.network_sensitivity)
                    break
            if placement is not None:
                self._start(job, placement)
                started.append(i)
                pool = placement.site * 64 + placement.gpu_type
                pool_idle[pool] = int(self.fleet.pool_idle_gpus[pool])  # the fleet counted the start
            elif i == 0:
                reserved_pool = self._reserved_pool(job, pools, pool_idle)
        for i in reversed(started):
            job = self.queue[i][1]
            key = int(job.sites[0]) if job.sites.size == 1 else -1
            self.queued_gpus[key] -= job.gpus
            for pool in self.accepted(job)[1]:
                self.queued_by_pool[pool] -= job.gpus
            del self.queue[i]
        # Only jobs a pass can start count: those in the scan window (unchanged if nothing started
        # and nothing queued since the last pass).
        if not started and not self._queue_changed:
            return
        self._queue_changed = False
        self._min_waiting = {}
        for _, job in self.queue[:MAX_BACKFILL_SCAN]:
            for pool in self.accepted(job)[1]:
                if job.gpus < self._min_waiting.get(pool, 1 << 62):
                    self._min_waiting[pool] = job.gpus

    def _reserved_pool(self, head: Job, pools: list[int], pool_idle) -> int:
        """The pool the queue's head reserves, if it does not fit now (-1: none).

        Drain: once the head has waited too long (or has run already), it reserves the pool
        closest to fitting it; nothing else starts there until it does, so big jobs cannot starve.
        A pool whose leases leave too little room for the job is never reserved: it would block
        for nothing.
        """
        if self.env.now - head.queued_since < DRAIN_AFTER_HOURS and math.isnan(head.first_start):
            return -1
        room = self._unleased_gpus()
        fitting = [p for p in pools if room.get(p, 0) >= head.gpus]
        return max(fitting, key=lambda p: pool_idle[p]) if fitting else -1

    def _largest_pool(self, job: Job) -> int:
        """GPUs installed in the largest pool the job accepts (cached per accepted-pods mask)."""
        ok, pools = self.accepted(job)
        largest = self._largest.get(id(ok))
        if largest is None:
            largest = self._largest[id(ok)] = max((self._pool_gpus.get(p, 0) for p in pools), default=0)
        return largest

    def _outside(self, ok: np.ndarray, pools: list[int], pool: int) -> tuple[np.ndarray, list[int]]:
        """A job's pod mask and pools without ``pool`` (reserved by a draining job), cached.

        ``ok`` is one of the masks :meth:`accepted` keeps for the whole run, so its id is a key.
        """
        key = (id(ok), pool)
        cut = self._outside_cache.get(key)
        if cut is None:
            cut = self._outside_cache[key] = (
                ok & (self.fleet.pod_pool != pool),
                [p for p in pools if p != pool],
            )
        return cut

    def _unleased_gpus(self) -> dict[int, int]:
        """GPUs per pool not carved out for leases (cached until a lease starts or ends)."""
        if self._room is None:
            f = self.fleet
            leased = np.bincount(
                f.server_pod[f.lease != FREE], weights=f.server_gpus[f.lease != FREE], minlength=f.pods
            )
            per_pool = np.bincount(f.pod_pool_key, weights=leased, minlength=f.pool_idle_gpus.size)
            self._room = {p: n - int(per_pool[p]) for p, n in self._pool_gpus.items()}
        return self._room

    def _start(self, job: Job, placement) -> None:
        now = self.env.now
        self.fleet.assign_internal(placement.servers, job.id)
        job.servers = placement.servers
        job.pods = placement.pods
        job.slowdown = placement.slowdown
        job.max_slowdown = max(job.max_slowdown, placement.slowdown)
        job.site, job.gpu_type = placement.site, placement.gpu_type
        job.queue_wait += now - job.queued_since
        job.status = RUNNING
        if math.isnan(job.first_start):
            job.first_start = now
            self._begin_run(job)
        else:
            self._begin_restart(job)

    def _begin_restart(self, job: Job) -> None:
        """Restart overhead, then the run, on one timer (the job's accounts split the two)."""
        now = self.env.now
        job.phase, job.restart_from, job.phase_start = "run", now, now + job.restart_overhead
        self._end_at(job, job.restart_overhead + job.run_wall_hours())

    def _begin_run(self, job: Job) -> None:
        job.phase, job.phase_start = "run", self.env.now
        self._end_at(job, job.run_wall_hours())

    def _phase_done(self, job: Job) -> None:
        job.end_booking = -1
        job.account_until(self.env.now, failed=False)
        job.remaining = 0.0
        job.status, job.end, job.phase = DONE, self.env.now, ""
        self.fleet.release_internal(job.servers)
        job.servers = job.servers[:0]
        self._dirty = True
        self.schedule()

    def set_speed(self, job: Job, speed: float) -> None:
        """A running job's compute speed changes (a power cap): what it computed so far is kept."""
        if job.status != RUNNING or speed == job.speed:
            return
        now = self.env.now
        if not math.isnan(job.restart_from) and now < job.phase_start:  # still restarting
            job.speed = speed
            self._end_at(job, job.phase_start - now + job.run_wall_hours())
            return
        job.account_at_horizon(now)  # compute so far counts, as at the end of a run
        job.speed = speed
        self._begin_run(job)

    def interrupt(self, job: Job, cause: str, lost: int | None = None) -> None:
        """A failure (or outage) took servers from a running job: lose work, replace, restart.

        ``lost`` names the one server lost when the caller knows it (-1: none, the server stays
        in service); then the job's server list is patched in place instead of re-scanned, which
        keeps a failure on a 100k-GPU job cheap.
        """
        if not self._cut(job):
            return
        job.interruptions += 1
        self.interruptions += 1
        f = self.fleet
        if lost == -1:
            self._begin_restart(job)
            return
        if lost is not None:
            spare, pos = f.stand_in(lost, job.pods, job.id)
            if spare >= 0:
                job.servers[pos] = spare  # O(1) patch, however big the job
                self._begin_restart(job)
                return
        alive = job.servers[f.job[job.servers] == job.id]
        missing = job.servers.size - alive.size
        if missing:
            spare = self._replacements(job, alive, missing)
            if spare is None:
                self._requeue(job, alive, f"{cause}: no spare servers")
                return
            f.assign_internal(spare, job.id)
            job.servers = np.concatenate([alive, spare])
            f.slot[job.servers] = np.arange(job.servers.size)
        self._begin_restart(job)

    def _cut(self, job: Job) -> bool:
        """End a running job's phase now (work since its last checkpoint is lost); False if not running.

        The phase's booked end goes stale: the caller books a new one, or the job stops running.
        """
        if job.status != RUNNING:
            return False
        job.account_until(self.env.now, failed=True)
        job.end_booking = -1
        return True

    def preempt(self, job: Job, reason: str) -> None:
        """Take a running job off its servers (a lease carve-out, a curtailment); it queues again."""
        if not self._cut(job):
            return
        job.preemptions += 1
        self.preemptions += 1
        alive = job.servers[self.fleet.job[job.servers] == job.id]
        self._requeue(job, alive, reason)

    def _requeue(self, job: Job, alive: np.ndarray, reason: str) -> None:
        self.fleet.release_internal(alive)
        job.servers = job.servers[:0]
        job.phase = ""
        self.note(job.site, "job_requeued", f"job {job.id}", reason)
        self._enqueue(job)
        self._dirty = True

    def _replacements(self, job: Job, alive: np.ndarray, missing: int) -> np.ndarray | None:
        f = self.fleet
        pods = job.pods
        picked: list[np.ndarray] = []
        need = missing
        for pod in pods.tolist():
            if f.pod_idle_servers[pod] <= 0:
                continue
            idle = f.idle_in_pod(pod, need)
            picked.append(idle)
            need -= idle.size
            if need == 0:
                return np.concatenate(picked)
        ok = (f.pod_site == job.site) & (f.pod_gpu_type == job.gpu_type)
        gps = int(f.pod_gpus_per_server[ok][0])
        # The job's own pods gave all their idle servers above (not yet assigned: place would see
        # them idle and hand them out twice).
        ok[pods] = False
        pl = place(f, need * gps, ok, job.network_sensitivity)
        if pl is None:
            return None
        picked.append(pl.servers)
        servers = np.concatenate(picked)
        all_pods = np.unique(f.server_pod[np.concatenate([alive, servers])])
        if all_pods.size > pods.size:
            job.pods = all_pods
            counts = np.bincount(f.server_pod[np.concatenate([alive, servers])])[all_pods]
            job.slowdown = slowdown(f, all_pods, counts, job.network_sensitivity)
            job.max_slowdown = max(job.max_slowdown, job.slowdown)
        return servers
