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
        # GPU-hours in use, stored day-major so each sample adds one contiguous row.
        self._day_rack = np.zeros((self.days, fleet.racks), dtype=np.float32)
        self.busy_power_fraction = busy_power_fraction
        self._installed_hall = np.bincount(fleet.rack_hall, weights=fleet.rack_gpus, minlength=halls)
        self._dyn_kw = fleet.rack_max_kw - fleet.rack_idle_kw
        # Racks are laid out hall by hall, so hall totals are one reduceat over hall boundaries.
        assert np.all(np.diff(fleet.rack_hall) >= 0), "racks must be sorted by hall"
        self._hall_start = np.searchsorted(fleet.rack_hall, np.arange(halls))
        self._hall_to_site = np.zeros((halls, sites))
        self._hall_to_site[np.arange(halls), fleet.hall_site] = 1.0
        self._rack_stack = np.zeros((5, fleet.racks))
        self.taken = 0

    def process(self, engine):
        """The sampling process: one sample at the start of each step."""
        leases = engine.leases
        self.tenant_healthy = np.zeros((self.samples, len(leases)), dtype=np.float32)
        # Let what happens at hour 0 (leases, events of day 0) happen first, as it does before every
        # later sample: those were scheduled before the sample's own timer.
        yield engine.env.timeout(0)
        for i in range(self.samples):
            self.sample(i, engine)
            self.taken = i + 1
            yield engine.env.timeout(self.step)

    @property
    def rack_day(self) -> np.ndarray:
        """GPU-hours in use, racks x days."""
        return self._day_rack.T

    def sample(self, i: int, engine) -> None:
        f = self.fleet
        frac = self.busy_power_fraction / f.rack_gpus
        m = self._rack_stack
        m[0] = f.rack_busy_gpus
        m[1] = f.rack_leased_gpus
        m[2] = f.rack_failed_gpus
        np.multiply(self._dyn_kw * frac, f.rack_busy_gpus + f.rack_tenant_busy_gpus, out=m[3])
        m[3] += f.rack_idle_kw
        np.multiply(self._dyn_kw * frac, f.rack_tenant_busy_gpus, out=m[4])
        m[4] += f.rack_idle_kw * f.rack_leased_gpus / f.rack_gpus
        per_hall = np.add.reduceat(m, self._hall_start, axis=1)  # busy, leased, failed, kW, leased kW
        per_site = per_hall @ self._hall_to_site
        self.hall[0, i] = self._installed_hall
        self.hall[1:5, i] = per_hall[:4]
        self.site[0, i] = self._installed_hall @ self._hall_to_site
        self.site[1:5, i] = per_site[:4]
        self.site[6, i] = per_site[4]
        queued = np.zeros(self.site.shape[2])
        for key, gpus in engine.queued_gpus.items():
            if key >= 0:
                queued[key] = gpus
        any_queued = engine.queued_gpus.get(-1, 0)
        self.site[5, i] = queued
        # Internal work displaced by leases: queued internal GPUs that leased GPUs could have served.
        leased_site = per_site[1]
        wanting = queued + any_queued * (leased_site / max(leased_site.sum(), 1.0))
        self.site[7, i] = np.minimum(wanting, leased_site)
        day = int(engine.env.now // 24.0)
        if day < self.days:
            self._day_rack[day] += (m[0] + m[1]) * self.step
        if self.tenant_healthy is not None and engine.leases:
            self.tenant_healthy[i] = [
                lease.healthy_gpus if lease.status == "active" else 0 for lease in engine.leases
            ]
