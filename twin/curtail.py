"""Grid curtailment: a site must shed power for some hours, and the twin acts as an operator would.

The order, cheapest harm first, each step logged with the kilowatts it shed:

1. power off idle servers;
2. preempt spot leases (their tenants accepted interruption at a discount);
3. preempt internal training, lowest priority first, then the biggest jobs (they queue again and
   lose the work since their last checkpoint);
4. shrink the internal inference fleets;
5. take on-demand lease servers;
6. reserved leases and capacity blocks last: every GPU taken from them is an SLA shortfall.

Servers taken are out of service ("failed" in the series) until the curtailment ends. The physics
model adds power-capping in front of step 2.
"""

from __future__ import annotations

import numpy as np

from twin.fleet import FREE


def server_kw(fleet, busy_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-server IT kW when idle and when busy (a rack's draw split evenly over its servers)."""
    servers_per_rack = np.bincount(fleet.server_rack, minlength=fleet.racks)
    idle = fleet.rack_idle_kw / servers_per_rack
    busy = (fleet.rack_idle_kw + (fleet.rack_max_kw - fleet.rack_idle_kw) * busy_fraction) / servers_per_rack
    return idle[fleet.server_rack], busy[fleet.server_rack]


def curtail(engine, event):
    f = engine.fleet
    site = f.site_index(event.site)
    need_kw = (event.mw or 0.0) * 1000.0 / engine.pue
    idle_kw, busy_kw = server_kw(f, engine.busy_power_fraction)
    at_site = f.server_site == site
    shed = 0.0
    taken: list[int] = []

    def take(servers: np.ndarray, kw: np.ndarray, step: str) -> None:
        nonlocal shed
        if shed >= need_kw or servers.size == 0:
            return
        cum = np.cumsum(kw)
        n = min(servers.size, int(np.searchsorted(cum, need_kw - shed)) + 1)
        chosen = servers[:n]
        for s in chosen.tolist():
            engine.hit_server(s, event.hours, "curtailment", failure=False)
        shed += float(cum[n - 1])
        taken.extend(chosen.tolist())
        engine.note(
            site,
            "curtailment",
            step,
            f"{n:,} servers off, {cum[n - 1] / 1000:.2f} MW IT shed ({event.mw:g} MW asked)",
        )

    healthy = at_site & ~f.down
    idle = np.flatnonzero(healthy & (f.job == FREE) & (f.lease == FREE))
    take(idle, idle_kw[idle], "idle servers powered off")
    kinds = np.array([lease.spec.kind for lease in engine.leases] + [""])
    lease_kind = np.where(f.lease >= 0, kinds[np.maximum(f.lease, 0)], "")
    spot = np.flatnonzero(healthy & (lease_kind == "spot") & ~f.down)
    take(spot, busy_kw[spot], "spot leases preempted")
    if shed < need_kw:
        jobs = sorted(
            {engine.jobs[j] for j in np.unique(f.job[at_site & (f.job >= 0)]).tolist()},
            key=lambda job: (job.priority, -job.gpus, job.id),
        )
        for job in jobs:
            if shed >= need_kw:
                break
            servers = job.servers.copy()
            engine.preempt(job, "curtailment")
            take(
                servers,
                busy_kw[servers],
                f"internal job {job.id} preempted ({job.gpus} GPUs, priority {job.priority})",
            )
    inference = np.flatnonzero(at_site & ~f.down & (f.job <= -2))
    take(inference, busy_kw[inference], "inference fleet shrunk")
    for kinds_step, label in (
        (("on_demand",), "on-demand leases cut"),
        (("reserved", "capacity_block"), "reserved leases cut (SLA shortfall)"),
    ):
        servers = np.flatnonzero(at_site & ~f.down & np.isin(lease_kind, kinds_step))
        take(servers, busy_kw[servers], label)
    if shed < need_kw:
        engine.note(site, "curtailment", "not met", f"only {shed / 1000:.2f} MW of IT could be shed")
    yield engine.env.timeout(event.hours)
    engine.note(site, "curtailment_end", event.site, f"{len(taken):,} servers back")
