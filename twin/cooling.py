"""Cooling plants: the power they draw, the heat they can reject and the water they evaporate.

A hall's plant rejects the heat of its racks (all IT power ends as heat) to the outdoor air. How
hard that is depends on the temperature the plant works against, its **reference temperature**:
the wet-bulb for plants that evaporate water (cooling towers, evaporative assist), the dry-bulb
for plants that do not (dry coolers, air economisers).

* **Economiser ("free") hours**: below a kind's free-cooling temperature no compressor runs; only
  fans and pumps do, at a high coefficient of performance (COP = heat removed / power drawn).
  Over the next ``BLEND_C`` degrees compressors take over gradually.
* **Mechanical hours**: the COP is the plant's COP at its design temperature, rising
  ``COP_SLOPE`` per degree below it and falling above it (chillers lose roughly 2-3 % of COP per
  degree of lift; ASHRAE 90.1 curves), never below ``COP_FLOOR`` of the design value.
* **Capacity**: the site file's ``capacity_mw`` is what the plant rejects at its design
  temperature with its redundant units held in reserve; above the design temperature it derates
  by ``DERATE_PER_C`` per degree (towers and dry coolers lose approach), down to ``CAPACITY_FLOOR``.
  Planning (headroom, what can be sold) counts that capacity only. An operator short of cooling
  runs the reserve units before capping GPUs, giving up redundancy for the hours it lasts: the
  *operating limit* adds ``reserve_share`` (N+1: one unit of an assumed 4, +25 %; N+2: +50 %;
  2N: +100 %; N: none), and the twin logs when a hall runs on its reserve.
* **Water**: evaporating water takes 2.45 MJ/kg at ~20 C, so 1.47 L per kWh of heat carried off by
  evaporation, plus blowdown at ~4 cycles of concentration (x 4/3): ``WATER_L_PER_KWH_EVAPORATED``.
  Towers reject most of their heat by evaporation in any weather (a share ramping from 0.7 to 1).
  Direct evaporative air (Meta's H buildings) only wets its media to cool the intake air: cooling
  the air by ``d`` degrees evaporates ``cp d / h_fg`` per kg, and the air carries the hall's heat
  with a rise of ``AIR_RISE_C``, so the share of heat that becomes evaporation is
  ``d / AIR_RISE_C``, with ``d = min(dry-bulb - MEDIA_ON_C, MEDIA_EFFECTIVENESS x (dry-bulb -
  wet-bulb))`` (no lower than the wet-bulb allows). ``MEDIA_ON_C`` is fitted, in the open, to Meta's
  published WUE of 0.26 L/kWh for its new buildings (facts section 5, P) on the Ohio sample's
  weather (:func:`fit_media_on_c`, ``tests/test_calibration.py``). It lands at ~15 C, below the
  servers' 18 C lowest inlet, where no plant would wet its media for cooling alone: the one
  published figure covers humidification and other site water too, which the twin does not model
  apart, so the fit carries them, as water in the cooler half of the year.

The per-kind numbers below are assumptions within vendor and ASHRAE ranges (W), chosen so that
new liquid-cooled halls land at a PUE of ~1.05-1.15 and air halls near Meta's 1.08-1.09 fleet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("air_evaporative", "air_economizer", "liquid_drycooler", "liquid_tower")

# Heat removed per unit of cooling power at the design temperature, when the site file is silent.
DEFAULT_COP_AT_DESIGN = {
    "air_evaporative": 7.0,
    "air_economizer": 5.0,
    "liquid_drycooler": 12.0,
    "liquid_tower": 16.0,
}


@dataclass(frozen=True)
class KindModel:
    uses_wet_bulb: bool  # reference temperature: wet-bulb (True) or dry-bulb
    free_below_c: float  # no compressor below this reference temperature
    free_cop: float  # fans and pumps only
    evaporates: bool
    evaporated_share: tuple[float, float]  # towers: share of heat rejected by evaporation at (cold, hot)
    evaporation_from_c: float  # towers: dry-bulb around which that share ramps
    direct_media: bool = False  # direct evaporative air: water cools the intake air (module docstring)


KIND_MODELS = {
    # Evaporative-assisted air (Meta's H buildings): outside air, direct evaporative media. Supply
    # air reaches ~3 C above the wet-bulb and servers take up to 30 C inlet, so fans alone do the
    # work below ~24 C wet-bulb; Meta's 1.08-1.09 fleet PUE leaves ~3 % for cooling (COP ~30).
    "air_evaporative": KindModel(True, 24.0, 30.0, True, (0.0, 0.0), 0.0, direct_media=True),
    # Air-side economiser with chillers: free below ~16 C dry-bulb.
    "air_economizer": KindModel(False, 16.0, 25.0, False, (0.0, 0.0), 0.0),
    # Warm-water direct liquid cooling to dry coolers: ~35 C water, free below ~24 C dry-bulb.
    "liquid_drycooler": KindModel(False, 24.0, 30.0, False, (0.0, 0.0), 0.0),
    # Warm-water direct liquid cooling to towers: free below ~22 C wet-bulb.
    "liquid_tower": KindModel(True, 22.0, 35.0, True, (0.7, 1.0), 30.0),
}

BLEND_C = 4.0
COP_SLOPE = 0.03
COP_FLOOR = 0.5
DERATE_PER_C = 0.04
CAPACITY_FLOOR = 0.5
WATER_L_PER_KWH_EVAPORATED = 3.6 / 2.45 * 4.0 / 3.0  # 3.6 MJ per kWh over 2.45 MJ/kg, with blowdown
AIR_RISE_C = 12.0  # air temperature rise across the servers, 10-15 C typical (assumed, W)
MEDIA_EFFECTIVENESS = 0.9  # how far wetted media bring the air toward its wet-bulb, 0.85-0.95 (W)
MEDIA_ON_C = 15.8  # dry-bulb above which the media are wetted: fitted, see fit_media_on_c
META_WUE_L_PER_KWH = 0.26  # Meta's new buildings, 2021 (facts section 5, P)


#: Reserve capacity over the planned capacity, by redundancy: units in reserve / units needed, with
#: N assumed 4 units as for the UPS modules (twin.power.MODULE_SHARE).
RESERVE_SHARE = {"N": 0.0, "N+1": 0.25, "N+2": 0.5, "2N": 1.0}


@dataclass
class HallPlants:
    """The cooling plants of a run's halls, as arrays over halls."""

    kind: np.ndarray  # index into KINDS
    capacity_kw: np.ndarray
    cop_design: np.ndarray
    design_ref_c: np.ndarray  # design wet-bulb or dry-bulb, by kind
    hall_site: np.ndarray
    reserve_share: np.ndarray  # the reserve units' capacity over capacity_kw (module docstring)

    def __post_init__(self) -> None:
        models = [KIND_MODELS[k] for k in KINDS]
        pick = np.array
        self._wet = pick([m.uses_wet_bulb for m in models])[self.kind]
        self._free_below = pick([m.free_below_c for m in models])[self.kind]
        self._free_cop = pick([m.free_cop for m in models])[self.kind]
        self._evaporates = pick([m.evaporates for m in models])[self.kind]
        self._evap_lo = pick([m.evaporated_share[0] for m in models])[self.kind]
        self._evap_hi = pick([m.evaporated_share[1] for m in models])[self.kind]
        self._evap_from = pick([m.evaporation_from_c for m in models])[self.kind]
        self._direct = pick([m.direct_media for m in models])[self.kind]

    def reference_c(self, dry_bulb_c: np.ndarray, wet_bulb_c: np.ndarray) -> np.ndarray:
        """Each hall's reference temperature, given per-site dry- and wet-bulb (sites on the last axis)."""
        return np.where(self._wet, wet_bulb_c[..., self.hall_site], dry_bulb_c[..., self.hall_site])

    def cop(self, ref_c: np.ndarray) -> np.ndarray:
        mech = self.cop_design * np.maximum(COP_FLOOR, 1.0 + COP_SLOPE * (self.design_ref_c - ref_c))
        mech = np.minimum(mech, self._free_cop)
        blend = np.clip((ref_c - self._free_below) / BLEND_C, 0.0, 1.0)
        # Power adds, not COP: a blend of free and mechanical is a blend of their power per kW heat.
        return 1.0 / ((1.0 - blend) / self._free_cop + blend / mech)

    def capacity(self, ref_c: np.ndarray) -> np.ndarray:
        over = np.maximum(0.0, ref_c - self.design_ref_c)
        return self.capacity_kw * np.maximum(CAPACITY_FLOOR, 1.0 - DERATE_PER_C * over)

    def water_l_per_kwh(self, dry_bulb_c: np.ndarray, wet_bulb_c: np.ndarray) -> np.ndarray:
        """Litres evaporated (with blowdown) per kWh of heat each hall rejects, given per-hall dry- and
        wet-bulb (halls on the last axis)."""
        ramp = np.clip((dry_bulb_c - self._evap_from) / 10.0 + 0.5, 0.0, 1.0)
        tower = self._evap_lo + (self._evap_hi - self._evap_lo) * ramp
        share = np.where(self._direct, media_share(dry_bulb_c, wet_bulb_c, MEDIA_ON_C), tower)
        return np.where(self._evaporates, share, 0.0) * WATER_L_PER_KWH_EVAPORATED


def media_share(dry_bulb_c: np.ndarray, wet_bulb_c: np.ndarray, media_on_c: float) -> np.ndarray:
    """Share of a direct evaporative hall's heat that leaves as evaporated water (module docstring)."""
    cooled_c = np.minimum(dry_bulb_c - media_on_c, MEDIA_EFFECTIVENESS * (dry_bulb_c - wet_bulb_c))
    return np.clip(cooled_c / AIR_RISE_C, 0.0, 1.0)


def fit_media_on_c(dry_bulb_c: np.ndarray, wet_bulb_c: np.ndarray, target_l_per_kwh: float) -> float:
    """The media start temperature at which hourly weather gives ``target_l_per_kwh`` a year (an
    even load): bisection, as the water falls as the start rises."""
    lo, hi = -20.0, 50.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        water = media_share(dry_bulb_c, wet_bulb_c, mid).mean() * WATER_L_PER_KWH_EVAPORATED
        lo, hi = (mid, hi) if water > target_l_per_kwh else (lo, mid)
    return (lo + hi) / 2.0


def hall_plants(campuses) -> HallPlants:
    """Arrays over every hall of the run's campuses, in the fleet's hall order."""
    kind, cap, cop, ref, site, reserve = [], [], [], [], [], []
    for si, campus in enumerate(campuses):
        climate = campus.site.spec.climate
        for building in campus.site.buildings:
            for hall in building.halls:
                c = hall.cooling
                kind.append(KINDS.index(c.kind))
                cap.append(c.capacity_mw * 1000.0)
                cop.append(c.cop_at_design or DEFAULT_COP_AT_DESIGN[c.kind])
                wet = KIND_MODELS[c.kind].uses_wet_bulb
                ref.append(climate.design_wet_bulb_c if wet else climate.design_dry_bulb_c)
                site.append(si)
                reserve.append(RESERVE_SHARE[c.redundancy])
    return HallPlants(
        np.array(kind), np.array(cap), np.array(cop), np.array(ref), np.array(site), np.array(reserve)
    )
