"""Shedding load: what an operator does when a site or hall must draw less, cheapest harm first.

Grid curtailment (a site must shed power), a hall hotter than its cooling can carry, or a site
drawing more than its sources give: all end here, in this order, each step logged with the
kilowatts of IT power it shed and why:

1. power off idle servers (nobody notices);
2. power-cap GPUs (jobs slow down; see :mod:`twin.plant` for the throughput curve);
3. preempt spot leases (their tenants accepted interruption at a discount);
4. stop admitting new work in the affected halls (nothing more starts there until it clears);
5. preempt internal training, lowest priority first, then the biggest jobs (they queue again and
   lose the work since their last checkpoint);
6. shrink the internal inference fleets;
7. take on-demand lease servers;
8. reserved leases and capacity blocks last: every GPU taken from them is an SLA shortfall.

Servers taken are out of service ("failed" in the series) for ``hours``. Steps 2 and 4 exist only
when the physics model is on (it owns the caps and the admission flags).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from twin.fleet import FREE

LAST_RESORT = (
    (("on_demand",), "on-demand leases cut"),
    (("reserved", "capacity_block"), "reserved leases cut (SLA shortfall)"),
)


def server_kw(fleet, busy_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-server IT kW when idle and when busy (a rack's draw split evenly over its servers)."""
    servers_per_rack = np.bincount(fleet.server_rack, minlength=fleet.racks)
    idle = fleet.rack_idle_kw / servers_per_rack
    busy = (fleet.rack_idle_kw + (fleet.rack_max_kw - fleet.rack_idle_kw) * busy_fraction) / servers_per_rack
    return idle[fleet.server_rack], busy[fleet.server_rack]


def shed(
    engine,
    site: int,
    scope: np.ndarray,
    need_kw: float,
    hours: float,
    kind: str,
    cause: str,
    cap: Callable[[float], tuple[float, str]] | None = None,
    stop_admission: Callable[[], str] | None = None,
) -> float:
    """Shed ``need_kw`` of IT power from the servers of mask ``scope``; return the kW shed.

    ``cap(kw)`` power-caps GPUs to save up to ``kw`` and returns (kW saved, what it did);
    ``stop_admission()`` closes the scope to new work and returns what it closed.
    """
    f = engine.fleet
    idle_kw, busy_kw = server_kw(f, engine.busy_power_fraction)
    shed_kw = 0.0

    def log(step: str, detail: str) -> None:
        engine.note(site, kind, step, f"{detail}; {cause}")

    def take(servers: np.ndarray, kw: np.ndarray, step: str) -> None:
        nonlocal shed_kw
        if shed_kw >= need_kw or servers.size == 0:
            return
        cum = np.cumsum(kw)
        n = min(servers.size, int(np.searchsorted(cum, need_kw - shed_kw)) + 1)
        engine.hit_servers(servers[:n], hours, kind, failure=False)
        shed_kw += float(cum[n - 1])
        log(step, f"{n:,} servers off, {cum[n - 1] / 1000:.2f} MW IT shed")

    healthy = scope & ~f.down
    idle = np.flatnonzero(healthy & (f.job == FREE) & (f.lease == FREE))
    take(idle, idle_kw[idle], "idle servers powered off")
    if cap is not None and shed_kw < need_kw:
        saved, what = cap(need_kw - shed_kw)
        if saved > 0:
            shed_kw += saved
            log("GPUs power-capped", f"{what}, {saved / 1000:.2f} MW IT saved")
    kinds = np.array([lease.spec.kind for lease in engine.leases] + [""])
    lease_kind = np.where(f.lease >= 0, kinds[np.maximum(f.lease, 0)], "")
    spot = np.flatnonzero(scope & ~f.down & (lease_kind == "spot"))
    take(spot, busy_kw[spot], "spot leases preempted")
    if stop_admission is not None and shed_kw < need_kw:
        log("admission stopped", stop_admission())
    if shed_kw < need_kw:
        jobs = sorted(
            {engine.jobs[j] for j in np.unique(f.job[scope & (f.job >= 0)]).tolist()},
            key=lambda job: (job.priority, -job.gpus, job.id),
        )
        for job in jobs:
            if shed_kw >= need_kw:
                break
            servers = job.servers[scope[job.servers]]
            engine.preempt(job, kind)
            take(
                servers,
                busy_kw[servers],
                f"internal job {job.id} preempted ({job.gpus} GPUs, priority {job.priority})",
            )
    inference = np.flatnonzero(scope & ~f.down & (f.job <= -2))
    take(inference, busy_kw[inference], "inference fleet shrunk")
    for kinds_step, label in LAST_RESORT:
        servers = np.flatnonzero(scope & ~f.down & np.isin(lease_kind, kinds_step))
        take(servers, busy_kw[servers], label)
    if shed_kw < need_kw:
        log("not met", f"only {shed_kw / 1000:.2f} MW of IT could be shed of {need_kw / 1000:.2f} MW")
    return shed_kw
