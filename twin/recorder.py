"""Sampling a run on a fixed grid: hourly series per site, hall and tenant, and the rack x day matrix.

Memory grows with samples x halls (and racks x days), never with samples x racks. A sample reads
the fleet's per-hall counters (kept up to date by every move, so O(halls)) and adds the racks'
GPUs in use into the day's row of the rack x day matrix: one pass over racks per sample.

IT power of a rack: ``idle_kw + (max_kw - idle_kw) x busy_power_fraction x working GPUs / GPUs``,
where working GPUs are the internal busy ones plus the leased ones times their tenant's
utilisation, at the hall's power cap. Without the physics model facility power is IT power x the
scenario's PUE; with it, :mod:`twin.plant` works it out.
"""

from __future__ import annotations

import numpy as np

from twin.fleet import Fleet
from twin.kernels import add_day_usage, sample_halls

HALL_METRICS = ("installed_gpus", "busy_gpus", "leased_gpus", "failed_gpus", "it_kw")
SITE_METRICS = (
    *HALL_METRICS, "queued_gpus", "leased_it_kw", "displaced_gpus", "queued_any_site_gpus", "hosted_gpus",
)  # fmt: skip


class Recorder:
    def __init__(
        self,
        fleet: Fleet,
        horizon_hours: float,
        step_hours: float,
        busy_power_fraction: float,
        internal_value_usd_per_gpu_hour: np.ndarray,
    ):
        self.fleet = fleet
        self.step = step_hours
        # A horizon that is not a whole number of steps ends with a shorter, partly weighted step.
        self.samples = max(1, int(np.ceil(horizon_hours / step_hours - 1e-9)))
        self.days = max(1, int(np.ceil(horizon_hours / 24.0 - 1e-9)))  # a run of minutes has a day too
        halls = fleet.hall_site.size
        sites = len(fleet.campuses)
        self.t = np.arange(self.samples) * step_hours
        self.weights = np.minimum(step_hours, horizon_hours - self.t)  # hours each sample stands for
        self.hall = np.zeros((len(HALL_METRICS), self.samples, halls), dtype=np.float32)
        self.site = np.zeros((len(SITE_METRICS), self.samples, sites), dtype=np.float64)
        self.tenant_healthy: np.ndarray | None = None
        #: days x racks: GPUs in use summed over the day's samples (a sample adds one contiguous
        #: row); twin.kernels.rack_day_shares makes the racks x days shares of it
        self.day_rack = np.zeros((self.days, fleet.racks), dtype=np.float32)
        self.busy_power_fraction = busy_power_fraction
        #: per GPU type (the fleet's gpu_type_names order): what an hour of displaced internal work is worth
        self.internal_value_usd_per_gpu_hour = np.asarray(internal_value_usd_per_gpu_hour, dtype=np.float64)
        #: internal GPUs displaced by leases, samples x sites x GPU types: what they were worth, and
        #: what the work would itself have cost, follow from it (twin.money)
        self.displaced_gpus = np.zeros((self.samples, sites, len(fleet.gpu_type_names)))
        self._installed_hall = np.bincount(fleet.rack_hall, weights=fleet.rack_gpus, minlength=halls)
        self._hall_site = fleet.hall_site.astype(np.int64)
        self._full_power = np.ones(halls)  # the power cap of every hall without the physics model
        self._hall_idle_kw = np.bincount(fleet.rack_hall, weights=fleet.rack_idle_kw, minlength=halls)
        self.taken = 0
        self.plant = None  # twin.plant.Plant when physics is on: it balances and records each sample

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

    def _displaced(self, engine, queued_total: float, i: int) -> np.ndarray:
        """Internal GPUs displaced by leases, per site: in each (site, GPU type) pool, the internal
        GPUs wanting the pool - queued training jobs that accept it, and what inference fleets that
        may use it lack - up to the GPUs leased there; work accepting several pools counts once in
        all (the total is capped at the GPUs wanted). Kept by pool in ``displaced_gpus``."""
        row = self.displaced_gpus[i]  # sites x GPU types
        if not engine.leases:
            return row.sum(axis=1)
        wanting = dict(engine.queued_by_pool)
        wanted_total = queued_total
        for short, pools in engine.inference_short.values():
            if short > 0:
                wanted_total += short
                for pool in pools:
                    wanting[pool] = wanting.get(pool, 0) + short
        if wanted_total <= 0:
            return row.sum(axis=1)
        leased = self.fleet.pool_leased_gpus
        for pool, gpus in wanting.items():
            if gpus > 0 and leased[pool] > 0:
                row[pool // 64, pool % 64] += min(gpus, leased[pool])
        total = row.sum()
        if total > wanted_total:
            row *= wanted_total / total
        return row.sum(axis=1)

    def sample(self, i: int, engine) -> None:
        f = self.fleet
        cap = self._full_power
        if self.plant is not None:
            self.plant.balance(engine, i)
            cap = self.plant.cap
        sample_halls(i, f.hall_counts, cap, self.busy_power_fraction, self._installed_hall, self._hall_idle_kw,
                     self._hall_site, self.hall, self.site)  # fmt: skip
        queued = np.zeros(self.site.shape[2])
        for key, gpus in engine.queued_gpus.items():
            if key >= 0:
                queued[key] = gpus
        any_queued = engine.queued_gpus.get(-1, 0)
        self.site[5, i] = queued
        self.site[8, i] = any_queued  # jobs that accept several sites: the same fleet-wide figure per site
        self.site[7, i] = self._displaced(engine, queued.sum() + any_queued, i)
        for service in engine.hosted.values():  # busy GPUs that are sold by the token
            self.site[9, i, service.site] += service.held_gpus
        day = int(engine.env.now // 24.0)
        if day < self.days:
            row = self.day_rack[day]
            if self.weights[i] == self.step:
                add_day_usage(row, f.rack_busy_gpus, f.rack_leased_gpus)
            else:
                row += (f.rack_busy_gpus + f.rack_leased_gpus) * (self.weights[i] / self.step)
        if self.tenant_healthy is not None and engine.leases:
            self.tenant_healthy[i] = [
                lease.healthy_gpus if lease.status == "active" else 0 for lease in engine.leases
            ]
