"""The site model: a campus as its owner describes it.

A campus has a location and a climate, an energy price, power sources and a power chain, and
buildings. A building holds halls and has a network fabric; a hall has an IT capacity, a cooling
plant and pods; a pod is one full-bisection network domain of racks of one rack type.

Campuses are large and repetitive, so a site file describes them with *templates and counts*:
``hall_templates`` and ``building_templates`` name a shape once, and an entry such as
``{template: nvl72-hall, count: 4, name: "H{n}"}`` stamps it out four times. Fields given beside
``template`` override the template's. A name with ``{n}`` is numbered per copy (from 1); an entry
with ``count`` above 1 needs ``{n}`` in its name so the copies can be told apart.

These classes are the *written* form (what the YAML says). :mod:`twin.resolve` expands the
templates into concrete buildings, halls and pods, and :mod:`twin.campus` builds arrays from them.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator

from twin.catalog import Strict

Redundancy = Literal["N", "N+1", "N+2", "2N"]
CoolingKind = Literal["air_evaporative", "air_economizer", "liquid_drycooler", "liquid_tower"]


class Location(Strict):
    latitude: float = Field(ge=-90, le=90, description="degrees north")
    longitude: float = Field(ge=-180, le=180, description="degrees east (sets local time for daily curves)")
    time_zone: str = Field(description="IANA time zone, e.g. America/Chicago")
    region: str = Field("", description="free text: state, grid region")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'America/Chicago'"
            ) from None
        return value


class WeatherNoise(Strict):
    """How far the weather strays from the normals (see :mod:`twin.weather`).

    ``twin.weather_fit.fit_weather_noise`` fits these to the climate's design conditions; a file
    without them gets 2.5 C all year and a dew-point share of 0.3.
    """

    summer_sd_c: float = Field(
        ge=0, le=15, description="weather noise standard deviation in the warmest month"
    )
    winter_sd_c: float = Field(
        ge=0, le=15, description="weather noise standard deviation in the coldest month"
    )
    dew_point_share: float = Field(ge=0, le=1, description="share of the noise the dew point follows")


class Climate(Strict):
    """Monthly normals the weather model draws hourly temperatures from."""

    dry_bulb_monthly_c: list[float] = Field(
        min_length=12,
        max_length=12,
        description="mean dry-bulb temperature of each month, January first, in C",
    )
    relative_humidity_monthly_pct: list[float] = Field(
        min_length=12, max_length=12, description="mean relative humidity of each month, January first, in %"
    )
    daily_range_c: float = Field(9.0, ge=0, le=30, description="mean diurnal dry-bulb swing")
    design_dry_bulb_c: float = Field(ge=-60, le=60, description="cooling design: 0.4 % dry-bulb")
    design_wet_bulb_c: float = Field(ge=-60, le=45, description="cooling design: 0.4 % wet-bulb")
    heating_dry_bulb_c: float | None = Field(
        None, ge=-60, le=40, description="heating design: 99.6 % dry-bulb (fits the winter noise)"
    )
    weather_noise: WeatherNoise | None = Field(
        None, description="day-to-day spread of the weather; default: typical values"
    )
    source: str = Field("", description="where the normals come from")

    @field_validator("relative_humidity_monthly_pct")
    @classmethod
    def _percent(cls, values: list[float]) -> list[float]:
        if any(not 0 < v <= 100 for v in values):
            raise ValueError("relative humidity is a percentage in (0, 100]")
        return values

    @field_validator("heating_dry_bulb_c")
    @classmethod
    def _below_the_coldest_month(cls, value: float | None, info: ValidationInfo) -> float | None:
        months = info.data.get("dry_bulb_monthly_c")
        if value is not None and months and value >= min(months):
            raise ValueError(
                f"the 99.6 % heating dry-bulb ({value:g} C) must lie below the coldest monthly mean "
                f"({min(months):g} C); it is the temperature the coldest hours of a year reach"
            )
        return value

    @field_validator("dry_bulb_monthly_c")
    @classmethod
    def _plausible(cls, values: list[float]) -> list[float]:
        if any(not -60 <= v <= 60 for v in values):
            raise ValueError("monthly mean dry-bulb must lie between -60 and 60 C")
        return values


class PowerSource(Strict):
    """A supply of power to the campus: a grid feed or on-site generation."""

    name: str = Field(min_length=1, description="the feed's name, shown in results")
    kind: Literal["grid", "gas", "solar", "battery"] = Field(description="grid, gas, solar or battery")
    capacity_mw: float = Field(gt=0, description="firm capacity the campus can count on")
    nameplate_mw: float | None = Field(None, gt=0, description="installed, incl. redundancy")
    availability: float = Field(0.9999, gt=0, le=1, description="share of hours the source delivers")
    source: str = Field("", description="where its figures come from")


class PowerChain(Strict):
    """Conversion stages between the sources and the racks, with their efficiencies."""

    transformer_efficiency: float = Field(
        0.995, gt=0.8, le=1, description="share of power a transformer passes on"
    )
    ups_efficiency_at_load: list[tuple[float, float]] = Field(
        default=[(0.1, 0.90), (0.25, 0.94), (0.5, 0.96), (0.75, 0.965), (1.0, 0.96)],
        min_length=2,
        description="(load fraction, efficiency) points of the UPS curve",
    )
    pdu_efficiency: float = Field(
        0.99, gt=0.8, le=1, description="share of power the PDUs and busways pass on"
    )
    other_load_fraction: float = Field(0.02, ge=0, le=0.5, description="lights, offices; x IT")

    @field_validator("ups_efficiency_at_load")
    @classmethod
    def _curve(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        loads = [p[0] for p in points]
        if loads != sorted(loads) or len(set(loads)) != len(loads):
            raise ValueError("UPS curve load fractions must increase")
        if any(not 0 < e <= 1 for _, e in points) or any(not 0 <= x <= 1.5 for x in loads):
            raise ValueError("UPS points are (load 0-1.5, efficiency 0-1]")
        return points


class Power(Strict):
    sources: list[PowerSource] = Field(min_length=1, description="grid feeds and on-site generation")
    chain: PowerChain = Field(PowerChain(), description="efficiencies from the sources to the racks")


class Cooling(Strict):
    """A hall's cooling plant: how it rejects heat and how much."""

    kind: CoolingKind = Field(
        description="the plant: air_evaporative, air_economizer, liquid_drycooler or liquid_tower (direct liquid cooling)"
    )
    capacity_mw: float = Field(gt=0, description="heat it can reject at the design wet-bulb")
    redundancy: Redundancy = Field(
        "N+1", description="reserve units: N, N+1, N+2 or 2N (reserve capacity is not sold)"
    )
    cop_at_design: float | None = Field(None, gt=0, le=100, description="heat / cooling power")


class Fabric(Strict):
    """A building's scale-out network: leaves, per-pod spines, building aggregation, core.

    A pod is non-blocking inside itself unless ``leaf_oversubscription`` says otherwise; traffic
    between pods crosses the aggregation tier at ``pod_oversubscription`` (Meta's 24k clusters:
    1:7), and traffic between buildings crosses the campus core at ``building_oversubscription``.
    """

    racks_per_leaf: int = Field(1, gt=0, le=64, description="racks behind one leaf switch")
    leaf_oversubscription: float = Field(
        1.0, ge=1, le=64, description="leaf downlink / uplink bandwidth (1: non-blocking)"
    )
    spines_per_pod: int = Field(8, gt=0, le=512, description="spine switches per pod")
    pod_oversubscription: float = Field(
        1.0,
        ge=1,
        le=64,
        description="a pod's bandwidth / its uplinks to the aggregation tier (Meta 24k clusters: 7)",
    )
    aggregation_switches: int = Field(16, gt=0, le=4096, description="aggregation switches of the building")
    building_oversubscription: float = Field(
        4.0, ge=1, le=256, description="a building's bandwidth / its uplinks to the campus core"
    )
    link_gbps: float = Field(800, gt=0, description="speed of one switch-to-switch link")


class PodSpec(Strict):
    """A pod: one full-bisection network domain of racks of a single rack type."""

    name: str = Field(
        "P{n}",
        min_length=1,
        max_length=64,
        description="the pod's name; with a count, {n} numbers the copies",
    )
    count: int = Field(1, gt=0, le=10_000, description="pods of this kind")
    rack_type: str = Field(description="a rack type of the catalog")
    racks: int = Field(gt=0, le=100_000, description="racks in each pod")


class Room(Strict):
    """A plant room along one end of a hall (its full width), for the floor plan."""

    kind: Literal["power", "cooling"] = Field(description="power or cooling plant room")
    depth_mm: int = Field(6000, gt=0, le=100_000, description="depth of the room along the hall, in mm")
    name: str | None = Field(None, max_length=64, description="the room's name on plans")


class Floor(Strict):
    """How a hall's racks stand on its floor: rows in hot/cold aisle pairs (layouts/).

    Racks of a pod stand side by side in rows of at most ``racks_per_row``; two rows face each
    other across a cold aisle; pairs of rows are back to back across a hot aisle; every pod starts
    a new pair. Defaults follow common practice (two 600 mm tiles of cold aisle, 1.2 m hot aisle,
    1.5 m clear along the walls).
    """

    racks_per_row: int = Field(20, gt=0, le=1000, description="most racks in one row")
    cold_aisle_mm: int = Field(
        1200, ge=600, le=10_000, description="width of a cold aisle (rack fronts face it), in mm"
    )
    hot_aisle_mm: int = Field(
        1200, ge=600, le=10_000, description="width of a hot aisle (rack backs face it), in mm"
    )
    wall_clearance_mm: int = Field(
        1500, ge=0, le=20_000, description="clear floor between racks and walls, in mm"
    )
    rooms: list[Room] = Field([], max_length=8, description="plant rooms beyond the last row")


class HallSpec(Strict):
    """A data hall, or a hall template (then every field may come from the template)."""

    name: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="the hall's name; with a count, {n} numbers the copies (default H1, H2, ...)",
    )
    template: str | None = Field(None, description="a hall template of this site to start from")
    count: int = Field(1, gt=0, le=10_000, description="halls of this kind")
    it_capacity_mw: float | None = Field(
        None, gt=0, le=5000, description="IT power the hall's UPS and busways can carry"
    )
    cooling: Cooling | None = Field(None, description="the hall's cooling plant")
    power_redundancy: Redundancy | None = Field(None, description="N, N+1, N+2 or 2N")
    pods: list[PodSpec] | None = Field(None, min_length=1, description="the pods of racks in the hall")
    floor: Floor | None = Field(None, description="floor plan of the hall; default: the site's floor")


class BuildingSpec(Strict):
    """A building, or a building template."""

    name: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="the building's name; with a count, {n} numbers the copies",
    )
    template: str | None = Field(None, description="a building template of this site to start from")
    count: int = Field(1, gt=0, le=1000, description="buildings of this kind")
    fabric: Fabric | None = Field(None, description="the building's network; default: the site's fabric")
    halls: list[HallSpec] | None = Field(None, min_length=1, description="the data halls of the building")


class WanLink(Strict):
    """A long-haul link from this campus to another one."""

    to: str = Field(min_length=1, description="the other site's name")
    gbps: float = Field(gt=0, description="bandwidth of the link")
    latency_ms: float = Field(gt=0, description="one-way latency")


class SiteSpec(Strict):
    """A whole campus as written in its site file."""

    name: str = Field(
        min_length=1, max_length=64, description="the campus's name, used in scenarios and results"
    )
    catalog: str = Field("catalog.yaml", description="hardware catalog, relative to this file")
    description: str = Field("", description="free text for the reader")
    location: Location = Field(description="where the campus is")
    climate: Climate = Field(description="monthly weather normals and the cooling design points")
    energy_price_usd_per_mwh: float = Field(gt=0, le=10_000, description="price of energy at this site")
    power: Power = Field(description="power sources and the power chain")
    fabric: Fabric = Field(Fabric(), description="default network of every building")
    floor: Floor = Field(Floor(), description="default floor plan of every hall")
    wan_links: list[WanLink] = Field([], description="links to other campuses")
    hall_templates: dict[str, HallSpec] = Field({}, description="named halls to reuse by template")
    building_templates: dict[str, BuildingSpec] = Field(
        {}, description="named buildings to reuse by template"
    )
    buildings: list[BuildingSpec] = Field(min_length=1, description="the buildings of the campus")
