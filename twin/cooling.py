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
* **Water**: evaporative plants evaporate about 1.6 L per kWh of heat they reject by evaporation
  (latent heat of water, 2.45 MJ/kg at ~20 C) plus blowdown at ~4 cycles of concentration (x 1.33).
  Towers evaporate most of their heat in any weather; evaporative assist on air plants only runs
  in warm hours.

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
    evaporated_share: tuple[float, float]  # share of heat rejected by evaporation at (cold, hot)
    evaporation_from_c: float  # dry-bulb where evaporation starts (air) or ramps (towers)


KIND_MODELS = {
    # Evaporative-assisted air (Meta's H buildings): outside air, direct evaporative media. Supply
    # air reaches ~3 C above the wet-bulb and servers take up to 30 C inlet, so fans alone do the
    # work below ~24 C wet-bulb; Meta's 1.08-1.09 fleet PUE leaves ~3 % for cooling (COP ~30).
    "air_evaporative": KindModel(True, 24.0, 30.0, True, (0.0, 1.0), 20.0),
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
WATER_L_PER_KWH_EVAPORATED = 1.6 * 4.0 / 3.0


@dataclass
class HallPlants:
    """The cooling plants of a run's halls, as arrays over halls."""

    kind: np.ndarray  # index into KINDS
    capacity_kw: np.ndarray
    cop_design: np.ndarray
    design_ref_c: np.ndarray  # design wet-bulb or dry-bulb, by kind
    hall_site: np.ndarray

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

    def water_l(self, heat_kwh: np.ndarray, dry_bulb_c: np.ndarray, per_hall: bool = False) -> np.ndarray:
        """Litres evaporated (with blowdown) to reject ``heat_kwh`` in each hall.

        ``dry_bulb_c`` is per site, or already per hall (any leading axes) with ``per_hall``.
        """
        db = dry_bulb_c if per_hall else dry_bulb_c[self.hall_site]
        ramp = np.clip((db - self._evap_from) / 10.0 + 0.5, 0.0, 1.0)
        share = np.where(self._evaporates, self._evap_lo + (self._evap_hi - self._evap_lo) * ramp, 0.0)
        return heat_kwh * share * WATER_L_PER_KWH_EVAPORATED


def hall_plants(campuses) -> HallPlants:
    """Arrays over every hall of the run's campuses, in the fleet's hall order."""
    kind, cap, cop, ref, site = [], [], [], [], []
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
    return HallPlants(np.array(kind), np.array(cap), np.array(cop), np.array(ref), np.array(site))
