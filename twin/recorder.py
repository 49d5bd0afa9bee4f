"""Sampling a run on a fixed grid: hourly series per site, hall and tenant, and the rack x day matrix.

Memory grows with samples x halls (and racks x days), never with samples x racks: each sample
reads the fleet's per-rack counters, reduces them to halls with one ``bincount`` each, and adds
the rack column of the day into the rack x day matrix.

IT power of a rack: ``idle_kw + (max_kw - idle_kw) x busy_power_fraction x working GPUs / GPUs``,
where working GPUs are the internal busy ones plus the leased ones times their tenant's
utilisation. Until the physics model lands, facility power is IT power x the scenario's PUE.
"""

from __future__ import annotations

import numpy as np

from twin.fleet import Fleet

HALL_METRICS = ("installed_gpus", "busy_gpus", "leased_gpus", "failed_gpus", "it_kw")
SITE_METRICS = (*HALL_METRICS, "queued_gpus", "leased_it_kw", "displaced_gpus")


class Recorder:
    def __init__(self, fleet: Fleet, horizon_hours: float, step_hours: float, busy_power_fraction: float):
        self.fleet = fleet
        self.step = step_hours
        self.samples = int(np.floor(horizon_hours / step_hours + 1e-9))
        self.days = int(np.ceil(horizon_hours / 24.0 - 1e-9))
        halls = fleet.hall_site.size
        sites = len(fleet.campuses)
        self.t = np.arange(self.samples) * step_hours
        self.hall = np.zeros((len(HALL_METRICS), self.samples, halls), dtype=np.float32)
        self.site = np.zeros((len(SITE_METRICS), self.samples, sites), dtype=np.float64)
        self.tenant_healthy: np.ndarray | None = None
        self.rack_day = np.zeros((fleet.racks, self.days), dtype=np.float32)  # GPU-hours in use
        self.busy_power_fraction = busy_power_fraction
        self._installed_hall = np.bincount(fleet.rack_hall, weights=fleet.rack_gpus, minlength=halls)
        self._dyn_kw = fleet.rack_max_kw - fleet.rack_idle_kw
        self.taken = 0

    def process(self, engine):
        """The sampling process: one sample at the start of each step."""
        leases = engine.leases
        self.tenant_healthy = np.zeros((self.samples, len(leases)), dtype=np.float32)
        for i in range(self.samples):
            self.sample(i, engine)
            self.taken = i + 1
            yield engine.env.timeout(self.step)

    def sample(self, i: int, engine) -> None:
        f = self.fleet
        halls = f.hall_site.size
        working = f.rack_busy_gpus + f.rack_tenant_busy_gpus
        rack_kw = f.rack_idle_kw + self._dyn_kw * self.busy_power_fraction * working / f.rack_gpus
        leased_kw = (
            f.rack_idle_kw * f.rack_leased_gpus
            + self._dyn_kw * self.busy_power_fraction * f.rack_tenant_busy_gpus
        ) / f.rack_gpus
        per_hall = [
            self._installed_hall,
            np.bincount(f.rack_hall, weights=f.rack_busy_gpus, minlength=halls),
            np.bincount(f.rack_hall, weights=f.rack_leased_gpus, minlength=halls),
            np.bincount(f.rack_hall, weights=f.rack_failed_gpus, minlength=halls),
            np.bincount(f.rack_hall, weights=rack_kw, minlength=halls),
        ]
        for m, values in enumerate(per_hall):
            self.hall[m, i] = values
            self.site[m, i] = np.bincount(f.hall_site, weights=values, minlength=self.site.shape[2])
        queued = np.zeros(self.site.shape[2])
        for _, job in engine.queue:
            if job.sites.size == 1:
                queued[job.sites[0]] += job.gpus
        self.site[5, i] = queued
        self.site[6, i] = np.bincount(f.rack_site, weights=leased_kw, minlength=self.site.shape[2])
        # Internal work displaced by leases: queued internal GPUs that leased GPUs could have served.
        any_queued = sum(job.gpus for _, job in engine.queue if job.sites.size > 1)
        leased_site = self.site[2, i]
        wanting = queued + any_queued * (leased_site / max(leased_site.sum(), 1.0))
        self.site[7, i] = np.minimum(wanting, leased_site)
        day = int(engine.env.now // 24.0)
        if day < self.days:
            self.rack_day[:, day] += (f.rack_busy_gpus + f.rack_leased_gpus) * self.step
        if self.tenant_healthy is not None:
            self.tenant_healthy[i] = [
                lease.healthy_gpus if lease.status == "active" else 0 for lease in engine.leases
            ]
