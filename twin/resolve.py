"""Expanding a written site into concrete buildings, halls and pods, and checking it whole.

Pydantic checks each value on its own; this module checks what only makes sense across the file:
templates that exist, rack types that are in the catalog, names that are unique, halls whose
racks fit in their IT capacity and cooling. Every problem keeps the path where the offending
thing is *written* (a template's own lines when it came from a template), so the message points
at the line to fix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from twin.catalog import Catalog
from twin.errors import dotted
from twin.site import BuildingSpec, Cooling, Fabric, HallSpec, PodSpec, SiteSpec

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Pod:
    name: str
    rack_type: str
    racks: int


@dataclass(frozen=True)
class Hall:
    name: str
    it_capacity_mw: float
    cooling: Cooling
    power_redundancy: str
    pods: tuple[Pod, ...]


@dataclass(frozen=True)
class Building:
    name: str
    fabric: Fabric
    halls: tuple[Hall, ...]


@dataclass
class ResolvedSite:
    """A site with its templates expanded: what :func:`twin.campus.build_campus` consumes."""

    spec: SiteSpec
    catalog: Catalog
    buildings: tuple[Building, ...]
    file: str = "<site>"
    catalog_file: str = "<catalog>"


@dataclass
class _Collector:
    problems: list[tuple[Loc, str]] = field(default_factory=list)
    seen: set[tuple[Loc, str]] = field(default_factory=set)

    def add(self, loc: Loc, message: str) -> None:
        if (loc, message) not in self.seen:
            self.seen.add((loc, message))
            self.problems.append((loc, message))


def did_you_mean(word: str, choices: list[str] | set[str] | dict) -> str:
    """A ' did you mean X?' suffix when a close match exists, else a list of the choices."""
    names = sorted(choices)
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    shown = ", ".join(repr(n) for n in names[:8]) + (", ..." if len(names) > 8 else "")
    return f"; known: {shown}" if names else ""


def _names(pattern: str, count: int, loc: Loc, out: _Collector) -> list[str]:
    if count > 1 and "{n}" not in pattern:
        out.add((*loc, "name"), f"count is {count}, so the name needs '{{n}}' to number the copies")
        return [f"{pattern}-{i}" for i in range(1, count + 1)]
    return [pattern.replace("{n}", str(i)) for i in range(1, count + 1)]


def _check_unique(names: list[str], locs: list[Loc], what: str, out: _Collector) -> None:
    first: dict[str, Loc] = {}
    for name, loc in zip(names, locs, strict=True):
        if name in first:
            out.add(
                (*loc, "name"),
                f"duplicate {what} name {name!r} (first at {dotted(first[name])}); rename one",
            )
        else:
            first[name] = loc


def resolve_site(spec: SiteSpec, catalog: Catalog) -> tuple[ResolvedSite, list[tuple[Loc, str]]]:
    """Expand templates and check the whole site; return the site and (loc, message) problems."""
    out = _Collector()
    for tname, tmpl in spec.hall_templates.items():
        if tmpl.template is not None:
            out.add(("hall_templates", tname, "template"), "a template cannot use another template")
    for tname, tmpl in spec.building_templates.items():
        if tmpl.template is not None:
            out.add(("building_templates", tname, "template"), "a template cannot use another template")

    buildings: list[Building] = []
    building_locs: list[Loc] = []
    for bi, entry in enumerate(spec.buildings):
        loc: Loc = ("buildings", bi)
        merged, halls_loc = _merge_building(entry, spec, loc, out)
        fabric = merged.fabric or spec.fabric
        halls_written = merged.halls or []
        if not halls_written:
            out.add(loc, "building has no halls; give halls: or a template that has them")
        for bname in _names(merged.name or "B{n}", entry.count, loc, out):
            halls = _resolve_halls(halls_written, halls_loc, spec, catalog, out)
            buildings.append(Building(bname, fabric, tuple(halls)))
            building_locs.append(loc)
    _check_unique([b.name for b in buildings], building_locs, "building", out)
    site = ResolvedSite(spec=spec, catalog=catalog, buildings=tuple(buildings))
    return site, out.problems


def _merge_building(
    entry: BuildingSpec, spec: SiteSpec, loc: Loc, out: _Collector
) -> tuple[BuildingSpec, Loc]:
    if entry.template is None:
        return entry, (*loc, "halls")
    tmpl = spec.building_templates.get(entry.template)
    if tmpl is None:
        out.add(
            (*loc, "template"),
            f"unknown building template {entry.template!r}"
            + did_you_mean(entry.template, spec.building_templates),
        )
        return entry, (*loc, "halls")
    values = tmpl.model_dump(exclude_unset=True)
    values.update(entry.model_dump(exclude_unset=True, exclude={"template", "count"}))
    merged = BuildingSpec.model_validate(values)
    halls_loc = (
        (*loc, "halls")
        if "halls" in entry.model_fields_set
        else ("building_templates", entry.template, "halls")
    )
    return merged, halls_loc


def _resolve_halls(
    entries: list[HallSpec], halls_loc: Loc, spec: SiteSpec, catalog: Catalog, out: _Collector
) -> list[Hall]:
    halls: list[Hall] = []
    locs: list[Loc] = []
    for hi, entry in enumerate(entries):
        loc: Loc = (*halls_loc, hi)
        merged, pods_loc = _merge_hall(entry, spec, loc, out)
        missing = [f for f in ("it_capacity_mw", "cooling", "pods") if getattr(merged, f) is None]
        for f in missing:
            out.add((*loc, f), "field required (not given here nor by its template)")
        if missing:
            continue
        pods = _resolve_pods(merged.pods or [], pods_loc, catalog, out)
        _check_hall_fits(merged, pods, catalog, loc, out)
        for hname in _names(merged.name or f"H{len(halls) + 1}", entry.count, loc, out):
            halls.append(
                Hall(
                    name=hname,
                    it_capacity_mw=merged.it_capacity_mw or 0.0,
                    cooling=merged.cooling,  # type: ignore[arg-type]
                    power_redundancy=merged.power_redundancy or "2N",
                    pods=tuple(pods),
                )
            )
            locs.append(loc)
    _check_unique([h.name for h in halls], locs, "hall", out)
    return halls


def _merge_hall(entry: HallSpec, spec: SiteSpec, loc: Loc, out: _Collector) -> tuple[HallSpec, Loc]:
    if entry.template is None:
        return entry, (*loc, "pods")
    tmpl = spec.hall_templates.get(entry.template)
    if tmpl is None:
        out.add(
            (*loc, "template"),
            f"unknown hall template {entry.template!r}" + did_you_mean(entry.template, spec.hall_templates),
        )
        return entry, (*loc, "pods")
    values = tmpl.model_dump(exclude_unset=True)
    values.update(entry.model_dump(exclude_unset=True, exclude={"template", "count"}))
    merged = HallSpec.model_validate(values)
    pods_loc = (
        (*loc, "pods") if "pods" in entry.model_fields_set else ("hall_templates", entry.template, "pods")
    )
    return merged, pods_loc


def _resolve_pods(entries: list[PodSpec], pods_loc: Loc, catalog: Catalog, out: _Collector):
    pods: list[Pod] = []
    locs: list[Loc] = []
    for pi, entry in enumerate(entries):
        loc: Loc = (*pods_loc, pi)
        if entry.rack_type not in catalog.rack_types:
            out.add(
                (*loc, "rack_type"),
                f"unknown rack type {entry.rack_type!r}" + did_you_mean(entry.rack_type, catalog.rack_types),
            )
            continue
        for pname in _names(entry.name, entry.count, loc, out):
            pods.append(Pod(pname, entry.rack_type, entry.racks))
            locs.append(loc)
    _check_unique([p.name for p in pods], locs, "pod", out)
    return pods


def _check_hall_fits(hall: HallSpec, pods: list[Pod], catalog: Catalog, loc: Loc, out: _Collector):
    rack_kw = sum(catalog.rack_types[p.rack_type].max_kw * p.racks for p in pods)
    capacity_kw = (hall.it_capacity_mw or 0.0) * 1000.0
    if rack_kw > capacity_kw * (1 + 1e-9):
        out.add(
            (*loc, "it_capacity_mw"),
            f"racks draw up to {rack_kw / 1000:.2f} MW but the hall's IT capacity is "
            f"{capacity_kw / 1000:.2f} MW; raise it_capacity_mw or remove racks",
        )
    if hall.cooling is not None and rack_kw > hall.cooling.capacity_mw * 1000.0 * (1 + 1e-9):
        out.add(
            (*loc, "cooling", "capacity_mw"),
            f"racks reject up to {rack_kw / 1000:.2f} MW of heat but cooling capacity is "
            f"{hall.cooling.capacity_mw:.2f} MW; raise cooling.capacity_mw or remove racks",
        )
    air_only = hall.cooling is not None and hall.cooling.kind.startswith("air")
    for p in pods:
        if air_only and catalog.rack_types[p.rack_type].cooling == "liquid":
            out.add(
                (*loc, "cooling", "kind"),
                f"rack type {p.rack_type!r} is liquid-cooled but this hall's plant is "
                f"{hall.cooling.kind!r}; use a liquid_* plant",  # type: ignore[union-attr]
            )
