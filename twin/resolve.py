"""Expanding a written site into concrete buildings, halls and pods, and checking it whole.

Pydantic checks each value on its own; this module checks what only makes sense across the file:
templates that exist, rack types that are in the catalog, names that are unique, halls whose
racks fit in their IT capacity and cooling. Every problem keeps the path where the offending
thing is *written* (a template's own lines when the value came from a template), so the message
points at the line to fix.

Counts multiply (a building ``count`` times a hall ``count`` times a pod ``count`` times
``racks``), so a few small numbers can describe billions of racks; expansion is charged against
``MAX_RACKS`` *before* objects are made, and stops with a problem instead of exhausting memory.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from twin.catalog import Catalog
from twin.errors import dotted
from twin.site import BuildingSpec, Cooling, Fabric, Floor, HallSpec, PodSpec, SiteSpec

Loc = tuple[str | int, ...]
T = TypeVar("T", HallSpec, BuildingSpec)

MAX_RACKS = 1_000_000


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
    floor: Floor = field(default_factory=Floor)


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


class _TooBig(Exception):
    """Expansion passed MAX_RACKS; the problem is already recorded."""


@dataclass
class _Collector:
    """Problems as (loc, message), without repeats, and the racks expanded so far."""

    line_of: Callable[[Loc], int] | None = None
    problems: list[tuple[Loc, str]] = field(default_factory=list)
    seen: set[tuple[Loc, str]] = field(default_factory=set)
    racks: int = 0

    def add(self, loc: Loc, message: str) -> None:
        if (loc, message) not in self.seen:
            self.seen.add((loc, message))
            self.problems.append((loc, message))

    def where(self, loc: Loc) -> str:
        """'line 12 (buildings[0])' when lines are known, else the dotted path."""
        return f"line {self.line_of(loc)} ({dotted(loc)})" if self.line_of else dotted(loc)

    def charge(self, racks: int, loc: Loc) -> None:
        """Count racks about to be made; stop the expansion once the site is absurdly large."""
        self.racks += racks
        if self.racks > MAX_RACKS:
            self.add(
                loc,
                f"the site expands to over {MAX_RACKS:,} racks by here (counts multiply: building count x "
                "hall count x pod count x racks); check these numbers",
            )
            raise _TooBig


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word`` ignoring case (typos such as 'GB200-nvl27'), if any is close."""
    lowered: dict[str, str] = {}
    for name in sorted(choices):
        lowered.setdefault(name.lower(), name)
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def did_you_mean(word: str, choices: Iterable[str], other: str = "use one of") -> str:
    """A '; did you mean X?' suffix when a close match exists, else '; {other}: ' and the choices."""
    names = sorted(choices)
    close = close_match(word, names)
    if close:
        return f"; did you mean {close!r}?"
    shown = ", ".join(repr(n) for n in names[:8]) + (", ..." if len(names) > 8 else "")
    return f"; {other}: {shown}" if names else ""


@dataclass(frozen=True)
class _Merged(Generic[T]):
    """An entry with its template's fields filled in, remembering where each field is written."""

    spec: T
    loc: Loc
    own: frozenset[str]
    template_loc: Loc | None = None
    template_own: frozenset[str] = frozenset()

    def where(self, name: str) -> Loc:
        """The path of field ``name`` as written: on the entry, else in its template."""
        if name not in self.own and self.template_loc is not None and name in self.template_own:
            return (*self.template_loc, name)
        return (*self.loc, name)


def resolve_site(
    spec: SiteSpec, catalog: Catalog, line_of: Callable[[Loc], int] | None = None
) -> tuple[ResolvedSite, list[tuple[Loc, str]]]:
    """Expand templates and check the whole site; return the site and (loc, message) problems.

    ``line_of`` (a document's line lookup) lets messages about duplicates say on which line the
    first of the pair is; without it they give its dotted path.
    """
    out = _Collector(line_of)
    _check_templates(spec, out)
    buildings: list[Building] = []
    locs: list[Loc] = []
    try:
        for bi, entry in enumerate(spec.buildings):
            _resolve_building(entry, ("buildings", bi), spec, catalog, out, buildings, locs)
    except _TooBig:
        pass
    else:
        _check_unique([b.name for b in buildings], locs, "building", out)
    return ResolvedSite(spec=spec, catalog=catalog, buildings=tuple(buildings)), out.problems


def _check_templates(spec: SiteSpec, out: _Collector) -> None:
    """Templates are shapes: they neither chain to other templates nor say how many copies."""
    groups: list[tuple[str, dict[str, HallSpec] | dict[str, BuildingSpec]]] = [
        ("hall_templates", spec.hall_templates),
        ("building_templates", spec.building_templates),
    ]
    for group, templates in groups:
        for tname, tmpl in templates.items():
            if tmpl.template is not None:
                out.add((group, tname, "template"), "a template cannot use another template; copy its fields")
            if "count" in tmpl.model_fields_set:
                out.add((group, tname, "count"), "a template cannot set count; set count: where it is used")


def _merge(entry: T, templates: dict[str, T], what: str, loc: Loc, out: _Collector) -> _Merged[T] | None:
    """The entry with its template applied; None (after a problem) if the template is unknown.

    An unknown template leaves every field it would have given unknown too; reporting those as
    missing would bury the one real mistake, so the entry is skipped instead.
    """
    own = frozenset(entry.model_fields_set)
    if entry.template is None:
        return _Merged(entry, loc, own)
    tmpl = templates.get(entry.template)
    group = f"{what}_templates"
    if tmpl is None:
        out.add(
            (*loc, "template"),
            f"unknown {what} template {entry.template!r}"
            + did_you_mean(entry.template, templates, f"use one of the {group}"),
        )
        return None
    values = tmpl.model_dump(exclude_unset=True, exclude={"template", "count"})
    values.update(entry.model_dump(exclude_unset=True, exclude={"template", "count"}))
    merged = type(entry).model_validate(values)
    return _Merged(merged, loc, own, (group, entry.template), frozenset(tmpl.model_fields_set))


def _resolve_building(
    entry: BuildingSpec,
    loc: Loc,
    spec: SiteSpec,
    catalog: Catalog,
    out: _Collector,
    buildings: list[Building],
    locs: list[Loc],
) -> None:
    """Append the building copies of one entry; halls are resolved once and shared by the copies."""
    merged = _merge(entry, spec.building_templates, "building", loc, out)
    if merged is None:
        return
    if not merged.spec.halls:
        out.add(loc, "building has no halls; give halls: or a template that has them")
        return
    halls = _resolve_halls(merged.spec.halls, merged.where("halls"), spec, catalog, out, entry.count)
    fabric = merged.spec.fabric or spec.fabric
    for name in _names(merged.spec.name, "B", entry.count, len(buildings), merged.where("name"), out):
        buildings.append(Building(name, fabric, tuple(halls)))
        locs.append(loc)


def _resolve_halls(
    entries: list[HallSpec], halls_loc: Loc, spec: SiteSpec, catalog: Catalog, out: _Collector, scale: int
) -> list[Hall]:
    halls: list[Hall] = []
    locs: list[Loc] = []
    for hi, entry in enumerate(entries):
        loc: Loc = (*halls_loc, hi)
        merged = _merge(entry, spec.hall_templates, "hall", loc, out)
        if merged is None:
            continue
        hall = merged.spec
        missing = [f for f in ("it_capacity_mw", "cooling", "pods") if getattr(hall, f) is None]
        for f in missing:
            out.add(
                (*loc, f), f"required field {f!r} is missing (not given here nor by a template); add '{f}:'"
            )
        if missing:
            continue
        pods = _resolve_pods(hall.pods or [], merged.where("pods"), catalog, out, scale * entry.count)
        _check_hall_fits(hall, pods, catalog, merged, out)
        for name in _names(hall.name, "H", entry.count, len(halls), merged.where("name"), out):
            halls.append(
                Hall(
                    name=name,
                    it_capacity_mw=hall.it_capacity_mw or 0.0,
                    cooling=hall.cooling,  # type: ignore[arg-type]
                    power_redundancy=hall.power_redundancy or "2N",
                    pods=tuple(pods),
                    floor=hall.floor or spec.floor,
                )
            )
            locs.append(loc)
    _check_unique([h.name for h in halls], locs, "hall", out)
    return halls


def _resolve_pods(
    entries: list[PodSpec], pods_loc: Loc, catalog: Catalog, out: _Collector, scale: int
) -> list[Pod]:
    pods: list[Pod] = []
    locs: list[Loc] = []
    for pi, entry in enumerate(entries):
        loc: Loc = (*pods_loc, pi)
        if entry.rack_type not in catalog.rack_types:
            out.add(
                (*loc, "rack_type"),
                f"unknown rack type {entry.rack_type!r}"
                + did_you_mean(entry.rack_type, catalog.rack_types, "use one of the catalog's rack_types"),
            )
            continue
        out.charge(entry.count * entry.racks * scale, (*loc, "racks"))
        written = entry.name if "name" in entry.model_fields_set else None
        for name in _names(written, "P", entry.count, len(pods), (*loc, "name"), out):
            pods.append(Pod(name, entry.rack_type, entry.racks))
            locs.append(loc)
    _check_unique([p.name for p in pods], locs, "pod", out)
    return pods


def _names(
    pattern: str | None, prefix: str, count: int, taken: int, name_loc: Loc, out: _Collector
) -> list[str]:
    """The names of ``count`` copies: ``{n}`` numbered from 1, or prefix + sequence if unnamed.

    Unnamed entries continue the numbering of the entries before them (H1, H2, then H3...), so two
    unnamed entries side by side do not collide.
    """
    if pattern is None:
        return [f"{prefix}{taken + i}" for i in range(1, count + 1)]
    if count > 1 and "{n}" not in pattern:
        out.add(
            name_loc,
            f"count is {count}, so the name {pattern!r} needs '{{n}}' to number the copies; "
            f"write e.g. '{pattern}{{n}}'",
        )
        return [f"{pattern}-{i}" for i in range(1, count + 1)]
    return [pattern.replace("{n}", str(i)) for i in range(1, count + 1)]


def _check_unique(names: list[str], locs: list[Loc], what: str, out: _Collector) -> None:
    """Report each entry that reuses a name, once, at the later entry, naming where it was first."""
    first: dict[str, Loc] = {}
    clashes: dict[Loc, list[str]] = {}
    for name, loc in zip(names, locs, strict=True):
        if name in first:
            clashes.setdefault(loc, []).append(name)
        else:
            first[name] = loc
    for loc, dupes in clashes.items():
        shown = ", ".join(repr(n) for n in dupes[:3]) + (", ..." if len(dupes) > 3 else "")
        plural = "s" if len(dupes) > 1 else ""
        out.add(
            (*loc, "name"),
            f"duplicate {what} name{plural} {shown}, already used at {out.where(first[dupes[0]])}; rename one",
        )


def _check_hall_fits(
    hall: HallSpec, pods: list[Pod], catalog: Catalog, merged: _Merged, out: _Collector
) -> None:
    """The hall's racks at full draw must fit its IT capacity and its cooling; racks must suit the plant."""
    racks = sum(p.racks for p in pods)
    rack_kw = sum(catalog.rack_types[p.rack_type].max_kw * p.racks for p in pods)
    need = _mw(math.ceil(rack_kw - 1e-6))  # rounded up to the kW, so "at least" it is enough
    capacity_mw = hall.it_capacity_mw or 0.0
    if rack_kw > capacity_mw * 1000.0 * (1 + 1e-9):
        out.add(
            merged.where("it_capacity_mw"),
            f"the hall's {racks:,} racks draw up to {need} MW at full load but it_capacity_mw is "
            f"{_mw(capacity_mw * 1000)} MW; raise it_capacity_mw to at least {need} or remove racks",
        )
    cooling_loc = merged.where("cooling")
    if hall.cooling is not None and rack_kw > hall.cooling.capacity_mw * 1000.0 * (1 + 1e-9):
        out.add(
            (*cooling_loc, "capacity_mw"),
            f"the hall's racks reject up to {need} MW of heat but cooling capacity_mw is "
            f"{_mw(hall.cooling.capacity_mw * 1000)} MW; raise it to at least {need} or remove racks",
        )
    if hall.cooling is None or not hall.cooling.kind.startswith("air"):
        return
    for p in pods:
        if catalog.rack_types[p.rack_type].cooling == "liquid":
            out.add(
                (*cooling_loc, "kind"),
                f"rack type {p.rack_type!r} is liquid-cooled but this hall's plant is {hall.cooling.kind!r}; "
                "use a liquid_* cooling kind or an air-cooled rack type",
            )


def _mw(kw: float) -> str:
    """Megawatts to the kW, as a person writes them: 2.376, 1.98, 2.2."""
    return f"{kw / 1000:,.3f}".rstrip("0").rstrip(".")
