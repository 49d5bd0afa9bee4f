"""Failure moves of the engine: servers going out of service, and coming back from repair.

These are the :class:`~twin.engine.Engine` methods that take servers out (a failure drawn at the
Llama 3 rates, a hall or site outage, a curtailment that powers servers off) and bring them back;
what a lost server does to its job (lost work, a spare, a restart) is the engine's ``interrupt``.
They are a mixin so the engine module keeps to scheduling and jobs.

Repairs complete at the end of their quarter-hour slot, all of a slot's at once: one event and one
scheduling pass per slot instead of per server (repairs take hours to days; 15 min is immaterial).
"""

from __future__ import annotations

import math

import numpy as np

from twin.failures import FailureModel
from twin.fleet import FREE
from twin.jobs import RUNNING

REPAIR_SLOT_HOURS = 0.25


class FailureMoves:
    """Mixin for :class:`twin.engine.Engine`: servers out of service and back."""

    def failure_process(self, model: FailureModel):
        f = self.fleet
        rng = self.rngs["failures"]
        weights = np.cumsum(f.server_gpus.astype(np.float64))
        rate = weights[-1] * model.total_rate_per_gpu_hour
        if rate <= 0:
            return
        cum_p = np.cumsum(model.probabilities)
        repair_mean = np.where(model.server_out, model.repair_hours, 0.0)
        batch = 4096  # draws are vectorised per batch; the stream is the same on every machine
        while True:
            gaps = rng.exponential(1.0 / rate, batch)
            victims = np.searchsorted(weights, rng.random(batch) * weights[-1], side="right").tolist()
            cats = np.minimum(np.searchsorted(cum_p, rng.random(batch), side="right"), cum_p.size - 1)
            repairs = (repair_mean[cats] * rng.exponential(1.0, batch)).tolist()
            for gap, server, cat, repair in zip(gaps.tolist(), victims, cats.tolist(), repairs, strict=True):
                yield self.env.timeout(gap)
                if f.down[server]:
                    continue  # a server under repair cannot fail again; the draw has no effect
                self.failures += 1
                name = model.names[cat]
                self.failures_by_category[name] = self.failures_by_category.get(name, 0) + 1
                self.hit_server(server, repair, name)

    def hit_server(self, server: int, repair_hours: float, cause: str, failure: bool = True) -> None:
        """A server goes out of service: interrupt what runs on it; back after ``repair_hours``.

        ``failure`` False (a curtailment) preempts the job instead of counting an interruption.
        With ``repair_hours`` 0 the server stays in service and only the job restarts.
        """
        f = self.fleet
        if f.down[server]:
            return
        if repair_hours <= 0:
            owner = int(f.job[server])
            if owner >= 0:
                self.interrupt(self.jobs[owner], cause, lost=-1)
            return
        until = self.env.now + repair_hours
        owner = int(f.job[server])
        if owner >= 0 and failure and self.jobs[owner].status == RUNNING:
            # The usual failure: a running job's server. Down, and an idle server of the job's
            # pods in its place, in one compiled call; the job restarts on the stand-in.
            job = self.jobs[owner]
            lease, spare, slot = f.fail_under_job(server, until, job.pods)
            self._repair_at(server, until)
            self.interrupt(job, cause, stand_in=(spare, slot))
            if lease != FREE:
                self.lease_server_lost(self.leases[lease], server)
            self._dirty = True
            return
        owner, lease = f.fail(server, until)
        self._repair_at(server, until)
        if owner >= 0:
            if failure:
                self.interrupt(self.jobs[owner], cause, lost=server)
            else:
                self.preempt(self.jobs[owner], cause)
        elif owner <= -2:
            self.internal_lost(owner, [server], failure, cause)
        if lease != FREE:
            self.lease_server_lost(self.leases[lease], server)
        self._dirty = True

    def internal_lost(self, owner: int, servers: list[int], failure: bool, cause: str = "") -> None:
        """Servers of an inference fleet or a hosted model went out of service (``cause``: the
        failure's category, "outage"...; a hosted model's log says which)."""
        service = self.hosted.get(owner)
        if service is not None:
            service.lost(servers, failure, cause)
            return
        held = self.inference_held.get(owner)
        if held is not None:
            held.lose(servers)
        self.inference_failures += failure

    def hit_servers(self, servers: np.ndarray, repair_hours: float, cause: str, failure: bool = True) -> None:
        """Servers go out of service together (one failure, or a whole hall in an outage).

        All of them go down before any job looks for replacements or any lease for spares, so neither
        picks a server that the same event takes out a moment later; each job is interrupted once.
        """
        f = self.fleet
        if repair_hours > 0:
            # Servers already under repair stay out until the later of the two ends.
            until = self.env.now + repair_hours
            for server in servers[f.down[servers]].tolist():
                if f.down_until[server] < until:
                    f.down_until[server] = until
                    self._repair_at(server, until)
        servers = servers[~f.down[servers]]
        if repair_hours <= 0:
            for owner in dict.fromkeys(f.job[servers][f.job[servers] >= 0].tolist()):
                self.interrupt(self.jobs[owner], cause)
            return
        owners: dict[int, None] = {}
        lost: list[tuple[int, int]] = []
        for server in servers.tolist():
            owner, lease = f.fail(server, self.env.now + repair_hours)
            self._repair_at(server, self.env.now + repair_hours)
            if owner >= 0:
                owners[owner] = None
            elif owner <= -2:
                self.internal_lost(owner, [server], failure, cause)
            if lease != FREE:
                lost.append((lease, server))
        for owner in owners:
            if failure:
                self.interrupt(self.jobs[owner], cause)
            else:
                self.preempt(self.jobs[owner], cause)
        for lease, server in lost:
            self.lease_server_lost(self.leases[lease], server)
        self._dirty = True

    def _repair_at(self, server: int, until: float) -> None:
        """Book a repair; repairs finishing in the same slot are processed together.

        Each slot keeps its own list of bookings (a dict, not one heap of all ~900 pending
        repairs: a repair costs an append, not a push and a pop through the heap).
        """
        slot = math.ceil(until / REPAIR_SLOT_HOURS - 1e-9) * REPAIR_SLOT_HOURS
        booked = self._repair_slots.get(slot)
        if booked is None:
            self._repair_slots[slot] = [(until, server)]
            self.at(slot - self.env.now, lambda: self._repairs_due(slot))
        else:
            booked.append((until, server))

    def _repairs_due(self, slot: float) -> None:
        now = self.env.now
        # In order of end, then server: a server booked twice (an outage on a failure) is seen
        # at its later end only, the earlier booking finds it still down and skips it.
        servers = np.array([server for _, server in sorted(self._repair_slots.pop(slot))], dtype=np.int64)
        k = self.fleet.repair_due(servers, 0, now)
        while k < servers.size:  # a lease's server: the lease decides where it goes
            self.repair(int(servers[k]), schedule=False)
            k = self.fleet.repair_due(servers, k + 1, now)
        self._dirty = True
        self.schedule()

    def repair(self, server: int, schedule: bool = True) -> None:
        f = self.fleet
        if not f.down[server] or f.down_until[server] > self.env.now + 1e-9:
            return
        lease_idx = int(f.lease[server])
        if lease_idx == FREE:
            f.repair(server)
        else:
            # Only an active lease holds servers: one that ends lets its servers under repair go.
            lease = self.leases[lease_idx]
            lease.touch(self.env.now)
            f.repair(server)
            # Back in service: the lease is whole again, or less short; spare racks it is whole
            # without go back.
            lease.healthy_gpus += int(f.server_gpus[server])
            self.return_spares(lease)
        self._dirty = True
        if schedule:
            self.schedule()
