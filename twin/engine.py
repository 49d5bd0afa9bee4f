"""The discrete-event core: one SimPy environment, the fleet's arrays, and the moves between them.

Processes exist per generator (training arrivals, failures, each inference fleet, sampling, each
scenario event) and per lease; a training job is a small state machine whose run-phase end waits
in a heap behind one SimPy timer, so interrupting it is a new booking rather than a process
interrupt. Nothing is ever scheduled per GPU or per rack. Failures and repairs are in
:mod:`twin.failure_moves`, leases' server moves in :mod:`twin.lease_moves`, and the heap of
run-phase ends in :mod:`twin.job_ends`; the queue and who starts when are in :mod:`twin.job_queue`.
This module keeps a job's life once it has servers: start, restart, end, interruption.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import simpy

from twin.failure_moves import FailureMoves
from twin.fleet import Fleet
from twin.held import HeldServers
from twin.job_ends import JobEnds
from twin.job_queue import JobQueue
from twin.jobs import DONE, RUNNING, Job
from twin.lease_moves import LeaseMoves
from twin.leases import LeaseState
from twin.placement import place, slowdown


class Engine(JobQueue, JobEnds, FailureMoves, LeaseMoves):
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
        self.leases: list[LeaseState] = []
        self.log: list[tuple[float, str, str, str, str]] = []
        self.interruptions = 0
        self.inference_failures = 0
        self.inference_held: dict[int, HeldServers] = {}  # per inference owner (twin.demand)
        # Per inference owner: GPUs it lacks now, and the pools (site * 64 + GPU type) it may use.
        self.inference_short: dict[int, tuple[int, list[int]]] = {}
        self._init_ends()
        self._repair_slots: dict[float, list[tuple[float, int]]] = {}  # slot -> (end, server) bookings
        self.failures = 0
        self.failures_by_category: dict[str, int] = {}
        self.preemptions = 0
        self.site_names = [c.name for c in fleet.campuses]
        self._init_queue()
        self.plant = None  # the physics model (twin.plant.Plant), when on
        self.month_edges = np.array([0.0, horizon_hours])  # calendar months (set by simulate)
        self.hosted: dict[int, object] = {}  # hosted-model services (twin.hosted) by owner code

    # -- logging ---------------------------------------------------------------------------------
    def note(self, site: int | str, kind: str, subject: str, detail: str) -> None:
        name = self.site_names[site] if isinstance(site, int) and site >= 0 else str(site)
        self.log.append((self.env.now, name, kind, subject, detail))

    def at(self, delay: float, fn: Callable[[], None]) -> None:
        """Call ``fn`` after ``delay`` hours (a SimPy timer with a callback)."""
        ev = self.env.timeout(delay if delay > 0.0 else 0.0)
        ev.callbacks.append(lambda _ev: fn())

    # -- a job's life on its servers -------------------------------------------------------------
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

    def interrupt(
        self, job: Job, cause: str, lost: int | None = None, stand_in: tuple[int, int] | None = None
    ) -> None:
        """A failure (or outage) took servers from a running job: lose work, replace, restart.

        ``lost`` names the one server lost when the caller knows it (-1: none, the server stays
        in service), or ``stand_in`` the server (-1: none) that already took its place and its
        slot; then the job's server list is patched in place instead of re-scanned, which keeps
        a failure on a 100k-GPU job cheap.
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
            stand_in = f.stand_in(lost, job.pods, job.id)
        if stand_in is not None and stand_in[0] >= 0:
            job.servers[stand_in[1]] = stand_in[0]  # O(1) patch, however big the job
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
