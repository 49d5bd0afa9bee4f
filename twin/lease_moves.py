"""Lease moves of the engine: carving a lease out at its start, spares, repairs, the end.

These are the :class:`~twin.engine.Engine` methods that change which servers belong to a tenant;
the accounting of what a lease delivered and is billed lives in :mod:`twin.leases`. They are a
mixin so the engine module keeps to scheduling, jobs and failures.
"""

from __future__ import annotations

import numpy as np

from twin.fleet import FREE
from twin.leases import ACTIVE, ENDED, PENDING, REFUSED, LeaseState, choose_racks


class LeaseMoves:
    """Mixin for :class:`twin.engine.Engine`: everything that moves servers into and out of leases."""

    def lease_process(self, lease: LeaseState):
        yield self.env.timeout(lease.start)
        if lease.end <= lease.start:
            lease.status = ENDED
            self.note(lease.site, "lease_ended", lease.spec.name, "terminated before it started")
            return
        self.start_lease(lease)
        while lease.status == ACTIVE and self.env.now < lease.end - 1e-9:
            yield self.env.timeout(lease.end - self.env.now)
        if lease.status == ACTIVE:
            self.end_lease(
                lease,
                "term ended" if lease.end >= lease.start + lease.spec.term_days * 24 - 1e-6 else "terminated",
            )

    def start_lease(self, lease: LeaseState) -> None:
        f = self.fleet
        self._room = None
        racks = choose_racks(f, lease, allow_busy=False)
        short = f.rack_gpus[racks].sum() < lease.spec.gpus
        if short and lease.guaranteed:
            spot = np.array(
                [
                    o.index
                    for o in self.leases
                    if o.spec.kind == "spot" and o.status == ACTIVE and o.site == lease.site
                ],
                dtype=np.int64,
            )
            racks = choose_racks(f, lease, allow_busy=True, spot_leases=spot)
        servers = np.flatnonzero(np.isin(f.server_rack, racks)) if racks.size else np.empty(0, dtype=np.int64)
        self._take_from_spot(servers, lease)
        # Preempt internal work on the chosen racks (reserved leases only reach here with busy racks).
        owners = np.unique(f.job[servers][f.job[servers] >= 0])
        lease.preempted_servers = int(np.count_nonzero(f.job[servers] != FREE))
        for owner in owners.tolist():
            self.preempt(self.jobs[owner], f"preempted for lease {lease.spec.name}")
        infer = servers[f.job[servers] <= -2]
        for owner in np.unique(f.job[infer]).tolist():
            # A hosted model gives back whole replicas (their servers off these racks too).
            self.internal_lost(owner, infer[f.job[infer] == owner].tolist(), failure=False)
        f.release_internal(servers[f.job[servers] <= -2])
        healthy = servers[~f.down[servers]]
        down = servers[f.down[servers]]
        f.assign_lease(healthy, lease.index)
        f.lease[down] = lease.index
        lease.servers = servers
        lease.target_servers = lease.members = int(servers.size)
        lease.granted_gpus = lease.held_gpus = int(f.server_gpus[servers].sum())
        lease.healthy_gpus = int(f.server_gpus[healthy].sum())
        lease.status, lease.last = ACTIVE, self.env.now
        if lease.granted_gpus == 0:
            lease.status = REFUSED
            lease.note = "no free capacity of its type at its start"
            self.note(lease.site, "lease_refused", lease.spec.name, lease.note)
            return
        detail = f"{lease.granted_gpus:,} GPUs on {racks.size} racks"
        if lease.granted_gpus < lease.spec.gpus:
            lease.note = f"started short: {lease.granted_gpus:,} of {lease.spec.gpus:,} GPUs free"
            detail += f" ({lease.note})"
        elif lease.granted_gpus > lease.spec.gpus:
            # Isolation carves whole racks or pods: what is above the commitment is billed to
            # nobody, yet no internal work may use it (it does stand in when the lease's fail).
            unit = "pods" if lease.spec.isolation == "pod" else "racks"
            lease.note = (
                f"holds {lease.granted_gpus:,} GPUs for {lease.spec.gpus:,} committed (whole {unit}): "
                f"{lease.granted_gpus - lease.spec.gpus:,} unbilled"
            )
            detail += f" ({lease.note})"
        if owners.size:
            detail += f"; preempted {owners.size} internal jobs"
        self.note(lease.site, "lease_started", lease.spec.name, detail)
        if lease.guaranteed:  # servers of its racks under repair: spares stand in, as after a failure
            for _ in range(down.size):
                if lease.healthy_gpus >= lease.spec.gpus or not self._stand_in(lease):
                    break
        self._dirty = True
        self.schedule()

    def _take_from_spot(self, servers: np.ndarray, taker: LeaseState) -> None:
        """Spot leases give up these servers (those they hold) to a guaranteed lease, starting or
        short of a spare."""
        f = self.fleet
        for idx in np.unique(f.lease[servers][f.lease[servers] != FREE]).tolist():
            spot = self.leases[idx]
            theirs = servers[f.lease[servers] == idx]
            spot.touch(self.env.now)
            up = theirs[~f.down[theirs]]
            spot.healthy_gpus -= int(f.server_gpus[up].sum())
            spot.members -= int(theirs.size)
            spot.held_gpus -= int(f.server_gpus[theirs].sum())
            f.release_lease(up)
            f.lease[theirs[f.down[theirs]]] = FREE
            self.note(
                spot.site,
                "spot_preempted",
                spot.spec.name,
                f"{theirs.size} servers taken by lease {taker.spec.name}",
            )

    def end_lease(self, lease: LeaseState, why: str) -> None:
        self._room = None
        lease.touch(self.env.now)
        lease.status = ENDED
        f = self.fleet
        mine = np.flatnonzero(f.lease == lease.index)
        self._release_lease_servers(mine)
        self.note(lease.site, "lease_ended", lease.spec.name, why)
        self._dirty = True
        self.schedule()

    def lease_server_lost(self, lease: LeaseState, server: int) -> None:
        """A server of an active lease failed: count the loss, then find a spare if guaranteed."""
        if lease.status != ACTIVE:
            return
        f = self.fleet
        lease.touch(self.env.now)
        lease.healthy_gpus -= int(f.server_gpus[server])
        if not lease.guaranteed or lease.healthy_gpus >= lease.spec.gpus:
            return
        self._stand_in(lease)

    def _stand_in(self, lease: LeaseState) -> bool:
        """Add a spare rack to a guaranteed lease that is short; False (a shortfall) if there is none."""
        spare = self._spare_rack_for(lease)
        if spare is None:
            lease.shortfall_events += 1
            return False
        f = self.fleet
        up = spare[~f.down[spare]]
        f.assign_lease(up, lease.index)
        f.lease[spare[f.down[spare]]] = lease.index
        lease.healthy_gpus += int(f.server_gpus[up].sum())
        lease.members += int(spare.size)
        lease.held_gpus += int(f.server_gpus[spare].sum())
        lease.spares_used += 1
        return True

    def return_spares(self, lease: LeaseState) -> None:
        """Give back spare racks an active lease is whole without, the last taken first.

        A spare goes back whole, never a server at a time: the rest of it would be a rack shared
        by the tenant and internal work. The lease's own racks are never given back.
        """
        if lease.members <= lease.target_servers:
            return
        f = self.fleet
        need = min(lease.spec.gpus, lease.granted_gpus)
        mine = np.flatnonzero(f.lease == lease.index)
        spares = mine[~np.isin(mine, lease.servers)]
        racks = f.server_rack[spares]
        for rack in np.unique(racks)[::-1].tolist():
            servers = spares[racks == rack]
            up = servers[~f.down[servers]]
            gpus = int(f.server_gpus[up].sum())
            if lease.healthy_gpus - gpus < need:
                return
            lease.healthy_gpus -= gpus
            lease.members -= int(servers.size)
            lease.held_gpus -= int(f.server_gpus[servers].sum())
            self._release_lease_servers(servers)

    def _release_lease_servers(self, servers: np.ndarray) -> None:
        """Servers leave a lease: those a running spot lease lent as spares go back to it (under
        repair or not), the rest to the pool (those under repair once repaired).

        A spot rack's servers under repair once went to the pool: repaired, they took internal work
        on a rack the spot tenant still held.
        """
        f = self.fleet
        up = servers[~f.down[servers]]
        f.release_lease(up)
        f.lease[servers[f.down[servers]]] = FREE
        for other in self.leases:
            if other.status == ACTIVE and other.spec.kind == "spot":
                back = servers[np.isin(servers, other.servers)]
                if back.size:
                    other.touch(self.env.now)
                    back_up = back[~f.down[back]]
                    f.assign_lease(back_up, other.index)
                    f.lease[back[f.down[back]]] = other.index
                    other.healthy_gpus += int(f.server_gpus[back_up].sum())
                    other.members += int(back.size)
                    other.held_gpus += int(f.server_gpus[back].sum())

    def _spare_rack_for(self, lease: LeaseState) -> np.ndarray | None:
        """The servers of a whole rack that may stand in for a guaranteed lease's failed servers.

        A spare keeps the lease's isolation: a whole rack with nothing else on it (no internal
        work, no other tenant, nothing under repair), so the tenant never shares a leaf switch
        with anyone; with pod isolation, only inside the lease's own pods (its network domain),
        which a whole-pod lease fills, so there it is the lease's own surplus that absorbs
        failures. A rack isolated lease may also take a whole rack of a spot lease (spot gives
        way first). The lease's own pods are searched first, then the site's, lowest rack first.
        """
        f = self.fleet
        own_pods = np.unique(f.server_pod[lease.servers])
        racks = np.flatnonzero((f.rack_site == lease.site) & (f.pod_gpu_type[f.rack_pod] == lease.gpu_type))
        own = np.isin(f.rack_pod[racks], own_pods)
        racks = racks[own] if lease.spec.isolation == "pod" else np.concatenate([racks[own], racks[~own]])
        empty = racks[(f.rack_busy_gpus[racks] + f.rack_leased_gpus[racks] + f.rack_failed_gpus[racks]) == 0]
        if empty.size:
            rack = int(empty[0])
            return np.arange(f.rack_first_server[rack], f.rack_first_server[rack + 1])
        if lease.spec.isolation == "pod":
            return None
        for other in self.leases:
            if (
                other.spec.kind == "spot"
                and other.status == ACTIVE
                and other.site == lease.site
                and other.gpu_type == lease.gpu_type
            ):
                theirs = np.flatnonzero(f.lease == other.index)
                if theirs.size:
                    servers = theirs[f.server_rack[theirs] == f.server_rack[theirs[-1]]]
                    self._take_from_spot(servers, lease)
                    return servers
        return None

    def terminate_lease(self, lease: LeaseState) -> None:
        end = self.env.now + lease.spec.termination_notice_days * 24.0
        if lease.status not in (PENDING, ACTIVE):
            return
        lease.contract_end = min(lease.contract_end, end)  # reported even when after the horizon
        if end < lease.end:
            lease.end = end
            self.note(
                lease.site, "lease_notice", lease.spec.name, f"terminated with notice; ends at hour {end:.0f}"
            )
            if lease.status == ACTIVE:
                self.at(
                    end - self.env.now,
                    lambda: lease.status == ACTIVE and self.end_lease(lease, "terminated with notice"),
                )
