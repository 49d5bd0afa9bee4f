"""What a campus holds, and what it draws at full load under design weather.

The inventory is the first thing a user asks of a site file: buildings, halls, pods, racks, GPUs
by type, IT megawatts, facility megawatts, switches and links. Facility power here is a *design*
figure: every rack at full draw, the power chain's losses at full load, and cooling at each
plant's coefficient of performance at the design wet-bulb. The physics model refines it hour by
hour; this figure is the one a utility interconnection request is sized on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.campus import Campus
from twin.cooling import DEFAULT_COP_AT_DESIGN
from twin.fabric import fabric_counts
from twin.power import ups_efficiency


def chain_efficiency_at_full_load(campus: Campus) -> float:
    """Product of transformer, UPS (at 100 % load) and PDU efficiencies."""
    chain = campus.site.spec.power.chain
    ups = float(ups_efficiency(chain.ups_efficiency_at_load, 1.0))
    return chain.transformer_efficiency * ups * chain.pdu_efficiency


def design_cooling_mw(campus: Campus) -> float:
    """Cooling power with every rack at full draw and design weather."""
    hall_it_kw = np.bincount(campus.rack_hall, weights=campus.rack_max_kw, minlength=campus.halls)
    cops = []
    for building in campus.site.buildings:
        for hall in building.halls:
            cops.append(hall.cooling.cop_at_design or DEFAULT_COP_AT_DESIGN[hall.cooling.kind])
    return float((hall_it_kw / np.array(cops)).sum()) / 1000.0


def design_facility_mw(campus: Campus) -> float:
    """Facility power at full IT load and design weather: IT + conversion losses + cooling + other."""
    it = campus.it_mw
    chain = campus.site.spec.power.chain
    return (
        it / chain_efficiency_at_full_load(campus)
        + design_cooling_mw(campus)
        + it * chain.other_load_fraction
    )


def inventory(campus: Campus) -> dict[str, Any]:
    """The inventory of ``campus`` as a JSON-ready dict (the ``info --json`` contract)."""
    net = fabric_counts(campus)
    sources = campus.site.spec.power.sources
    return {
        "name": campus.name,
        "file": campus.site.file,
        "buildings": campus.buildings,
        "halls": campus.halls,
        "pods": campus.pods,
        "racks": campus.racks,
        "gpus": campus.gpus,
        "gpus_by_type": campus.gpus_by_type(),
        "racks_by_type": {
            name: int(n)
            for name, n in zip(
                campus.rack_type_names,
                np.bincount(campus.rack_type, minlength=len(campus.rack_type_names)),
                strict=True,
            )
        },
        "it_mw": round(campus.it_mw, 3),
        "it_capacity_mw": round(campus.it_capacity_mw, 3),
        "facility_mw": round(design_facility_mw(campus), 3),
        "cooling_mw": round(design_cooling_mw(campus), 3),
        "firm_supply_mw": round(sum(s.capacity_mw for s in sources), 3),
        "switches": net["switches"],
        "switches_by_tier": {k: net[k] for k in ("leaf", "spine", "aggregation", "core")},
        "links": net["links"],
        "physical_links": net["physical_links"],
    }
