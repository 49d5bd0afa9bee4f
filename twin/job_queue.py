"""The queue of training jobs waiting for servers, and who starts when.

Scheduling is priority then first-come, with backfill: a job that fits may start ahead of a
bigger one that does not. Once the head of the queue has waited ``DRAIN_AFTER_HOURS`` it reserves
the (site, GPU type) pool closest to fitting it, and no other job starts in that pool until it
does (EASY-style backfill per pool), so big jobs cannot starve while other pools keep working. A
job that already ran and lost its servers (no spare after a failure, a preemption) reserves at
once: otherwise small jobs would backfill into the servers it just gave back.

A scheduling pass looks at the first ``MAX_BACKFILL_SCAN`` jobs. A new job arriving while nothing
queued can start (the usual case: a 100k-GPU job waits at the head for days) is tried alone,
exactly where a pass would try it. These are :class:`~twin.engine.Engine` methods, a mixin like
:mod:`twin.job_ends`; the engine's ``_start`` gives a job its servers.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from twin.fleet import FREE
from twin.jobs import QUEUED, REJECTED, Job
from twin.placement import accepted_pods, place

DRAIN_AFTER_HOURS = 24.0
MAX_BACKFILL_SCAN = 256


def _queue_key(entry: tuple[tuple, Job]) -> tuple:
    return entry[0]


class JobQueue:
    """Mixin for :class:`twin.engine.Engine`: queueing, scheduling passes and their caches."""

    def _init_queue(self) -> None:
        f = self.fleet
        self.queue: list[tuple[tuple, Job]] = []
        self._dirty = False  # something changed that may let a queued job start
        self._room: dict[int, int] | None = None  # see _unleased_gpus
        installed = np.bincount(f.pod_pool_key, weights=np.diff(f.pod_first_server) * f.pod_gpus_per_server)
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
