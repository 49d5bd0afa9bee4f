"""The physical plant of a run: IT power, the power chain, cooling and weather, coupled to the jobs.

At every sample the plant works out, hall by hall, what the racks draw (idle power plus each busy
GPU's dynamic power, times the hall's power cap), what that costs upstream (:mod:`twin.power`) and
in cooling at this hour's weather (:mod:`twin.cooling`), and checks three limits:

* a hall's **cooling**: the heat it must reject against its plant's capacity at this hour's
  wet- or dry-bulb;
* a hall's **power**: its IT draw against its IT capacity (the UPS and busway rating);
* the site's **supply**: its facility draw against its firm sources, lowered during a grid
  curtailment.

Where a limit is crossed the operator's sequence of :mod:`twin.shedding` runs, with power capping
as its second step. A capped GPU draws ``cap`` of its busy dynamic power and computes at
``cap ** throughput_exponent`` of full speed (DVFS: power grows about as the cube of clock, so the
default exponent is 1/3; capping an H100 to ~70 % of its power costs ~10 % throughput, in line
with published power-capping studies, W). Caps are worked out afresh each sample from the load
at full power; servers shed stay out until the next sample, when the plant looks again.

The plant also records, per hall and sample, the **sellable GPUs**: idle healthy GPUs that could
be leased at full power without crossing any limit, after holding back spares at the run's
failure rate so that a lease could keep its SLA (:mod:`twin.sellable` turns these into weeks).
"""

from __future__ import annotations

import math

import numpy as np

from twin.cooling import hall_plants
from twin.power import firm_supply_kw, hall_chain
from twin.shedding import shed
from twin.weather import WeatherSeries

HALL_SERIES = (
    "it_kw", "facility_kw", "cooling_kw", "losses_kw", "other_kw", "power_cap", "cooling_capacity_kw",
    "cooling_headroom_kw", "power_headroom_kw", "throttled_gpus", "water_l", "sellable_gpus",
)  # fmt: skip
SITE_SERIES = (
    "it_kw", "facility_kw", "cooling_kw", "losses_kw", "other_kw", "supply_kw", "supply_headroom_kw",
    "dry_bulb_c", "wet_bulb_c", "throttled_gpus", "water_l", "sellable_gpus",
)  # fmt: skip
HALL_ROW = {name: k for k, name in enumerate(HALL_SERIES)}
SITE_ROW = {name: k for k, name in enumerate(SITE_SERIES)}


class Plant:
    def __init__(
        self,
        fleet,
        weather: list[WeatherSeries],
        times_h: np.ndarray,
        step_hours: float,
        busy_fraction: float,
        min_power_cap: float,
        throughput_exponent: float,
    ):
        campuses = fleet.campuses
        self.fleet = fleet
        self.step = step_hours
        self.busy_fraction = busy_fraction
        self.min_cap = min_power_cap
        self.exponent = throughput_exponent
        self.cooling = hall_plants(campuses)
        self.chain = hall_chain(campuses)
        halls, sites = fleet.hall_site.size, len(campuses)
        self.hall_site = fleet.hall_site
        self.supply_kw = np.array([firm_supply_kw(c) for c in campuses])
        self.curtailed_kw = np.zeros(sites)  # a curtailment's cut below the draw at its start
        self.limit_kw = np.full(sites, np.inf)
        self.cap = np.ones(halls)
        self.open = np.ones(halls, dtype=bool)
        self.hall_idle_kw = np.bincount(fleet.rack_hall, weights=fleet.rack_idle_kw, minlength=halls)
        self.hall_gpus = np.bincount(fleet.rack_hall, weights=fleet.rack_gpus, minlength=halls)
        dyn = np.bincount(fleet.rack_hall, weights=fleet.rack_max_kw - fleet.rack_idle_kw, minlength=halls)
        self.dyn_kw_per_gpu = np.divide(dyn, self.hall_gpus, out=np.zeros(halls), where=self.hall_gpus > 0)
        self.samples = times_h.size
        self._dry = np.column_stack([w.dry_bulb_c for w in weather])  # samples x sites
        self._wet = np.column_stack([w.wet_bulb_c for w in weather])
        # What depends on the weather alone (COP, derated capacity, the evaporated share) is
        # computed for every sample at once; only the load-dependent part runs per sample.
        hall_dry = self._dry[:, self.hall_site]
        ref = self.cooling.reference_c(self._dry, self._wet)
        self._cop = self.cooling.cop(ref)  # samples x halls
        self._cooling_capacity_kw = self.cooling.capacity(ref)
        self._water_l_per_kwh = self.cooling.water_l(np.ones_like(ref), hall_dry, per_hall=True)
        self._hall_to_site = np.zeros((halls, sites))
        self._hall_to_site[np.arange(halls), self.hall_site] = 1.0
        self._installed_gpus = float(self.hall_gpus.sum())
        site_gpus = self.hall_gpus @ self._hall_to_site
        site_dyn = dyn @ self._hall_to_site
        self.site_gpu_kw = busy_fraction * np.divide(
            site_dyn, site_gpus, out=np.ones(sites), where=site_gpus > 0
        )
        self.hall = np.zeros((len(HALL_SERIES), self.samples, halls), dtype=np.float32)
        self.site = np.zeros((len(SITE_SERIES), self.samples, sites), dtype=np.float64)
        self._rows = np.zeros((len(HALL_SERIES), halls))
        self.spare_share = 0.0  # failed / installed so far: the spares a new lease needs
        self._i = 0
        self._acted = False

    # -- the draw ---------------------------------------------------------------------------------
    def _draw(self, i: int) -> dict[str, np.ndarray]:
        counts = self.fleet.hall_counts
        dyn = self.busy_fraction * (counts[3] + counts[4])
        it = np.maximum(0.0, self.hall_idle_kw - counts[6] + self.cap * dyn)  # no rounding below 0
        pdu, ups = self.chain.losses(it)
        heat = it + pdu + ups
        cooling_kw = heat / self._cop[i]
        terms = self.chain.facility(it, cooling_kw, (pdu, ups))
        terms.update(
            dyn=dyn,
            heat=heat,
            cooling_capacity_kw=self._cooling_capacity_kw[i],
            dry=self._dry[i],
            wet=self._wet[i],
        )
        terms["site_facility_kw"] = terms["facility_kw"] @ self._hall_to_site
        terms["counts"] = counts
        return terms

    # -- the operator -----------------------------------------------------------------------------
    def balance(self, engine, i: int) -> None:
        """Sample ``i``: set caps and admission from the load at full power, act, then record."""
        self._i = i
        old_cap = self.cap.copy()
        self.cap[:] = 1.0
        self.open[:] = True
        self._acted = False
        hours = self.step
        d = self._draw(i)
        it_per_heat = np.divide(d["it_kw"], d["heat"], out=np.ones_like(d["heat"]), where=d["heat"] > 0)
        over_cool = (d["heat"] - d["cooling_capacity_kw"]) * it_per_heat
        over_power = d["it_kw"] - self.chain.it_capacity_kw
        for h in np.flatnonzero((over_cool > 0) | (over_power > 0)).tolist():
            site = int(self.hall_site[h])
            if over_cool[h] >= over_power[h]:
                kind = "cooling"
                cause = (
                    f"hall {self.fleet.hall_names[h]}: heat {d['heat'][h] / 1000:.1f} MW over cooling capacity "
                    f"{d['cooling_capacity_kw'][h] / 1000:.1f} MW at {d['wet'][site]:.1f} C wet-bulb, "
                    f"{d['dry'][site]:.1f} C dry-bulb"
                )
            else:
                kind = "power"
                cause = (
                    f"hall {self.fleet.hall_names[h]}: IT {d['it_kw'][h] / 1000:.1f} MW over its "
                    f"{self.chain.it_capacity_kw[h] / 1000:.1f} MW capacity"
                )
            self._shed(engine, site, np.array([h]), max(over_cool[h], over_power[h]), hours, kind, cause, d)
        if self._acted:
            d = self._draw(i)
        self._balance_sites(engine, hours, d)
        self._apply(engine, old_cap)
        self._record(i, self._draw(i) if self._acted else d)

    def curtail(self, engine, site: int, kw: float, cause: str) -> None:
        """A curtailment starts (``kw`` > 0: draw at most today's minus ``kw``) or ends (< 0)."""
        d = self._draw(self._i)
        self.curtailed_kw[site] += kw
        if self.curtailed_kw[site] <= 1e-6:
            self.curtailed_kw[site] = 0.0
            self.limit_kw[site] = np.inf
            return
        if kw > 0:
            self.limit_kw[site] = min(self.limit_kw[site], d["site_facility_kw"][site] - kw)
        # Act now, not at the next sample; servers shed stay out until then.
        next_sample = (math.floor(engine.env.now / self.step + 1e-9) + 1) * self.step
        self._balance_sites(engine, max(next_sample - engine.env.now, 1e-3), d, cause)
        self._apply(engine, None)

    def _balance_sites(self, engine, hours: float, d: dict, cause: str | None = None) -> None:
        limit = np.minimum(self.supply_kw, self.limit_kw)
        over = d["site_facility_kw"] - limit
        for site in np.flatnonzero(over > 0).tolist():
            halls = np.flatnonzero(self.hall_site == site)
            it_site = d["it_kw"][halls].sum()
            need_it = over[site] * it_site / max(d["site_facility_kw"][site], 1e-9)
            curtailed = self.curtailed_kw[site] > 0
            why = cause or (
                f"site draw {d['site_facility_kw'][site] / 1000:.1f} MW over its "
                f"{limit[site] / 1000:.1f} MW supply" + (" (curtailed)" if curtailed else "")
            )
            self._shed(engine, site, halls, need_it, hours, "curtailment" if curtailed else "power", why, d)

    def _shed(self, engine, site, halls, need_kw, hours, kind, cause, d) -> None:
        f = self.fleet
        self._acted = True
        scope = np.isin(f.server_hall, halls) if halls.size > 1 else f.server_hall == halls[0]

        def cap(kw: float) -> tuple[float, str]:
            room = (self.cap[halls] - self.min_cap) * d["dyn"][halls]
            avail = float(room.sum())
            if avail <= 0:
                return 0.0, ""
            t = min(1.0, kw / avail)
            self.cap[halls] -= t * (self.cap[halls] - self.min_cap)
            return t * avail, f"{halls.size} hall(s) capped to {self.cap[halls].mean():.0%} of busy power"

        def stop_admission() -> str:
            self.open[halls] = False  # the fleet sees it in _apply, before anything is placed again
            return f"{halls.size} hall(s) closed to new work"

        shed(engine, site, scope, need_kw, hours, kind, cause, cap, stop_admission)

    def _apply(self, engine, old_cap: np.ndarray | None) -> None:
        """Hand the halls' admission flags to placement, and re-time jobs in halls whose cap changed
        (a job runs at the speed of the slowest hall it uses)."""
        self.fleet.pod_open[:] = self.open[self.fleet.pod_hall]
        changed = np.flatnonzero(self.cap != old_cap) if old_cap is not None else np.flatnonzero(self.cap < 1)
        if changed.size == 0:
            return
        f = self.fleet
        owners = np.unique(f.job[np.isin(f.server_hall, changed) & (f.job >= 0)]).tolist()
        for owner in owners:
            job = engine.jobs[owner]
            slowest = float(self.cap[f.pod_hall[job.pods]].min()) if job.pods.size else 1.0
            engine.set_speed(job, slowest**self.exponent)

    # -- the record -------------------------------------------------------------------------------
    def _record(self, i: int, d: dict) -> None:
        counts = d["counts"]
        busy, leased, failed = counts[0], counts[1], counts[2]
        throttled = np.where(self.cap < 1.0, busy + leased, 0.0)
        cool_room = d["cooling_capacity_kw"] - d["heat"]
        power_room = self.chain.it_capacity_kw - d["it_kw"]
        # A new leased GPU at full busy power adds its dynamic draw as IT, and a bit more as heat.
        per_gpu = self.busy_fraction * self.dyn_kw_per_gpu
        heat_per_it = np.divide(d["heat"], d["it_kw"], out=np.ones_like(d["heat"]), where=d["it_kw"] > 0)
        idle = np.maximum(0.0, self.hall_gpus - busy - leased - failed)
        with np.errstate(divide="ignore", invalid="ignore"):
            fits = np.minimum(np.minimum(idle, cool_room / (per_gpu * heat_per_it)), power_room / per_gpu)
        fits = np.where(self.open & (self.cap >= 1.0) & (per_gpu > 0), np.maximum(fits, 0.0), 0.0)
        if self._installed_gpus:
            self.spare_share = max(self.spare_share, float(failed.sum()) / self._installed_gpus)
        hall = self._rows  # float64 scratch, filled row by row (no per-sample dict or stacking)
        for name, row in (
            ("it_kw", d["it_kw"]), ("facility_kw", d["facility_kw"]), ("cooling_kw", d["cooling_kw"]),
            ("losses_kw", d["losses_kw"]), ("other_kw", d["other_kw"]), ("power_cap", self.cap),
            ("cooling_capacity_kw", d["cooling_capacity_kw"]), ("cooling_headroom_kw", cool_room),
            ("power_headroom_kw", power_room), ("throttled_gpus", throttled),
            ("water_l", d["heat"] * self.step * self._water_l_per_kwh[i]),
            ("sellable_gpus", np.floor(fits / (1.0 + self.spare_share))),
        ):  # fmt: skip
            hall[HALL_ROW[name]] = row
        self.hall[:, i] = hall
        sums = hall @ self._hall_to_site  # series x sites, summed before the float32 store
        limit = np.minimum(self.supply_kw, self.limit_kw)
        supply_room = limit - d["site_facility_kw"]
        it_site = sums[HALL_ROW["it_kw"]]
        pue = np.divide(d["site_facility_kw"], it_site, out=np.ones_like(limit), where=it_site > 0)
        by_supply = np.maximum(0.0, supply_room) / (self.site_gpu_kw * pue) / (1.0 + self.spare_share)
        site = self.site[:, i]
        for name in ("it_kw", "cooling_kw", "losses_kw", "other_kw", "throttled_gpus", "water_l"):
            site[SITE_ROW[name]] = sums[HALL_ROW[name]]
        site[SITE_ROW["facility_kw"]] = d["site_facility_kw"]
        site[SITE_ROW["supply_kw"]] = limit
        site[SITE_ROW["supply_headroom_kw"]] = supply_room
        site[SITE_ROW["dry_bulb_c"]] = d["dry"]
        site[SITE_ROW["wet_bulb_c"]] = d["wet"]
        site[SITE_ROW["sellable_gpus"]] = np.floor(np.minimum(sums[HALL_ROW["sellable_gpus"]], by_supply))
