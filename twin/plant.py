"""The physical plant of a run: IT power, the power chain, cooling and weather, coupled to the jobs.

At every sample the plant works out, hall by hall, what the racks draw (idle power plus each busy
GPU's dynamic power, times the hall's power cap), what that costs upstream (:mod:`twin.power`) and
in cooling at this hour's weather (:mod:`twin.cooling`), and checks three limits:

* a hall's **cooling**: the heat it must reject against its plant's capacity at this hour's
  wet- or dry-bulb, its reserve units included (:mod:`twin.cooling`; a hall running them is
  logged, and its ``cooling_headroom_kw``, measured against the planned capacity, goes negative);
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
be leased at full power without crossing any limit, cooling counted at its planned capacity
(reserve units are not sold), after holding back spares at the run's failure rate so that a lease
could keep its SLA (:mod:`twin.sellable` turns these into weeks).
"""

from __future__ import annotations

import math

import numpy as np

from twin.cooling import hall_plants
from twin.plant_kernels import (
    COOLING,
    DRAW_ROWS,
    DYN,
    FACILITY,
    HEAT,
    IT,
    LOSSES,
    OTHER,
    any_over,
    hall_draw,
    record_sample,
)
from twin.power import firm_supply_kw, hall_chain
from twin.shedding import shed
from twin.weather import WeatherSeries

HALL_SERIES = (
    "it_kw", "facility_kw", "cooling_kw", "losses_kw", "other_kw", "power_cap", "cooling_capacity_kw",
    "cooling_headroom_kw", "power_headroom_kw", "throttled_gpus", "water_l_per_h", "sellable_gpus",
)  # fmt: skip
SITE_SERIES = (
    "it_kw", "facility_kw", "cooling_kw", "losses_kw", "other_kw", "supply_kw", "supply_headroom_kw",
    "dry_bulb_c", "wet_bulb_c", "throttled_gpus", "water_l_per_h", "sellable_gpus",
)  # fmt: skip
# twin.plant_kernels.record_sample writes the rows in these orders.
assert HALL_SERIES[:5] == SITE_SERIES[:5] and HALL_SERIES[9:] == SITE_SERIES[9:]


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
        ref = self.cooling.reference_c(self._dry, self._wet)
        self._cop = self.cooling.cop(ref)  # samples x halls
        self._cooling_capacity_kw = self.cooling.capacity(ref)  # planned: reserve units held back
        # What the operator can run before capping GPUs: the reserve units too (twin.cooling).
        self._cooling_limit_kw = self._cooling_capacity_kw * (1.0 + self.cooling.reserve_share)
        self.on_reserve = np.zeros(halls, dtype=bool)
        self._water_l_per_kwh = self.cooling.water_l_per_kwh(
            self._dry[:, self.hall_site], self._wet[:, self.hall_site]
        )
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
        self._rows = np.zeros((len(HALL_SERIES), halls))  # float64 scratch for a sample's hall rows
        self._chain = self.chain.arrays()
        self._hall_consts = (busy_fraction, self.dyn_kw_per_gpu, self.hall_gpus, self.chain.it_capacity_kw)
        self._clear = True  # every cap at 1 and every hall open, as the fleet sees it
        self.spare_share = 0.0  # failed / installed so far: the spares a new lease needs
        self._i = 0
        self._acted = False

    # -- the draw ---------------------------------------------------------------------------------
    def _draw(self, i: int) -> dict[str, np.ndarray]:
        counts = self.fleet.hall_counts
        draw = np.empty((DRAW_ROWS, self.cap.size))
        site_facility_kw = np.empty(self.supply_kw.size)
        hall_draw(counts, self.busy_fraction, self.hall_idle_kw, self.cap, self._chain, self._cop[i], draw,
                  site_facility_kw)  # fmt: skip
        return {
            "it_kw": draw[IT],
            "facility_kw": draw[FACILITY],
            "losses_kw": draw[LOSSES],
            "cooling_kw": draw[COOLING],
            "other_kw": draw[OTHER],
            "dyn": draw[DYN],
            "heat": draw[HEAT],
            "cooling_capacity_kw": self._cooling_capacity_kw[i],
            "cooling_limit_kw": self._cooling_limit_kw[i],
            "dry": self._dry[i],
            "wet": self._wet[i],
            "site_facility_kw": site_facility_kw,
            "counts": counts,
            "draw": draw,
        }

    # -- the operator -----------------------------------------------------------------------------
    def balance(self, engine, i: int) -> None:
        """Sample ``i``: set caps and admission from the load at full power, act, then record."""
        self._i = i
        self._acted = False
        if self._clear:  # no cap and no hall closed since the last sample: nothing to undo
            d = self._draw(i)
            limit = np.minimum(self.supply_kw, self.limit_kw)
            if not any_over(d["draw"], d["cooling_limit_kw"], self.chain.it_capacity_kw, d["site_facility_kw"],
                            limit):  # fmt: skip
                self._note_reserve(engine, d)
                self._record(i, d)
                return
            old_cap = self.cap.copy()
        else:
            old_cap = self.cap.copy()
            self.cap[:] = 1.0
            self.open[:] = True
            d = self._draw(i)
        hours = self.step
        it_per_heat = np.divide(d["it_kw"], d["heat"], out=np.ones_like(d["heat"]), where=d["heat"] > 0)
        over_cool = (d["heat"] - d["cooling_limit_kw"]) * it_per_heat
        over_power = d["it_kw"] - self.chain.it_capacity_kw
        for h in np.flatnonzero((over_cool > 0) | (over_power > 0)).tolist():
            site = int(self.hall_site[h])
            if over_cool[h] >= over_power[h]:
                kind = "cooling"
                reserve = " with its reserve units" if self.cooling.reserve_share[h] > 0 else ""
                cause = (
                    f"hall {self.fleet.hall_names[h]}: heat {d['heat'][h] / 1000:.1f} MW over cooling capacity "
                    f"{d['cooling_limit_kw'][h] / 1000:.1f} MW{reserve} at {d['wet'][site]:.1f} C wet-bulb, "
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
        d = self._draw(i) if self._acted else d
        self._note_reserve(engine, d)
        self._record(i, d)

    def _note_reserve(self, engine, d: dict) -> None:
        """Log halls starting or stopping to run their reserve cooling (heat over planned capacity)."""
        now = (d["heat"] > d["cooling_capacity_kw"] * (1.0 + 1e-9)) & (self.cooling.reserve_share > 0)
        for h in np.flatnonzero(now != self.on_reserve).tolist():
            site = int(self.hall_site[h])
            hall = self.fleet.hall_names[h]
            if now[h]:
                detail = (
                    f"heat {d['heat'][h] / 1000:.1f} MW over the planned {d['cooling_capacity_kw'][h] / 1000:.1f} MW "
                    f"at {d['wet'][site]:.1f} C wet-bulb, {d['dry'][site]:.1f} C dry-bulb: reserve units running, "
                    "no cooling redundancy left"
                )
                engine.note(site, "cooling_reserve", hall, detail)
            else:
                engine.note(site, "cooling_reserve_end", hall, "heat back within the planned capacity")
        self.on_reserve = now

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
        self._clear = bool(self.open.all() and (self.cap >= 1.0).all())
        changed = np.flatnonzero(self.cap != old_cap) if old_cap is not None else np.flatnonzero(self.cap < 1)
        if changed.size == 0:
            return
        f = self.fleet
        owners = np.unique(f.job[np.isin(f.server_hall, changed) & (f.job >= 0)]).tolist()
        for owner in owners:
            job = engine.jobs[owner]
            slowest = float(self.cap[f.pod_hall[job.pods]].min()) if job.pods.size else 1.0
            engine.set_speed(job, slowest**self.exponent)

    def weather_peaks(self, site: int, start_h: float, hours: float) -> tuple[float, float]:
        """The highest dry-bulb and wet-bulb (C) of ``site`` over samples from ``start_h`` for ``hours``."""
        i0 = min(self.samples - 1, int(start_h / self.step + 1e-9))
        i1 = max(i0 + 1, min(self.samples, int(math.ceil((start_h + hours) / self.step - 1e-9))))
        return float(self._dry[i0:i1, site].max()), float(self._wet[i0:i1, site].max())

    # -- the record -------------------------------------------------------------------------------
    def _record(self, i: int, d: dict) -> None:
        self.spare_share = record_sample(
            i, d["draw"], d["counts"], self.cap, self.open, self._hall_consts,
            (d["cooling_capacity_kw"], self._water_l_per_kwh[i]),
            (self._chain[0], np.minimum(self.supply_kw, self.limit_kw), self.site_gpu_kw, d["dry"], d["wet"],
             d["site_facility_kw"], self._installed_gpus),
            self.spare_share, self.hall, self.site, self._rows,
        )  # fmt: skip
