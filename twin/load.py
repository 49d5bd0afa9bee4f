"""Loading user files into validated models, with every problem located.

``load_site`` reads a site file and its catalog, validates both and expands templates; any
problem anywhere is reported, all at once, as a :class:`~twin.errors.ProblemList` of
``FILE:LINE: dotted.path: message`` entries. ``validate_file`` does the same for any file the
command line is given, telling a site, a scenario and a catalog apart by their top-level keys.

Pydantic's own messages are rephrased in :mod:`twin.schema_messages`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from twin.catalog import Catalog
from twin.errors import Problem, ProblemList, dotted, sort_problems
from twin.resolve import ResolvedSite, close_match, did_you_mean, resolve_site
from twin.schema_messages import describe_value, problems_from_validation
from twin.site import SiteSpec
from twin.yamlsafe import LocatedDocument, load_yaml

M = TypeVar("M", bound=BaseModel)


def validate_document(doc: LocatedDocument, model: type[M]) -> M:
    """Validate parsed data against a model; raise ProblemList with lines and hints.

    Problems the YAML reader kept (``load_yaml(..., keep_going=True)``) are reported here too,
    and the schema's complaints about those same values are dropped: they would only repeat them.
    """
    problems = list(doc.problems)
    if not isinstance(doc.data, dict):
        raise ProblemList([*problems, _not_a_mapping(doc)])
    try:
        result = model.model_validate(doc.data)
    except ValidationError as exc:
        problems += problems_from_validation(exc, doc, model, skip=doc.problem_paths)
    if problems:
        raise ProblemList(sort_problems(problems))
    return result


def _not_a_mapping(doc: LocatedDocument) -> Problem:
    return Problem(
        doc.file,
        doc.line_of(()),
        "",
        f"the top level is {describe_value(doc.data)}, but a campustwin file is a mapping of 'key: value' lines; "
        "start it with keys such as name:",
    )


def load_catalog(path: str | Path) -> Catalog:
    """Load and check a hardware catalog file."""
    return _catalog_from(load_yaml(path, keep_going=True))


def _catalog_from(doc: LocatedDocument) -> Catalog:
    catalog = validate_document(doc, Catalog)
    problems = []
    for name, rack in catalog.rack_types.items():
        if rack.gpu_type not in catalog.gpu_types:
            loc = ("rack_types", name, "gpu_type")
            problems.append(
                Problem(
                    doc.file,
                    doc.line_of(loc),
                    dotted(loc),
                    f"unknown GPU type {rack.gpu_type!r}"
                    + did_you_mean(rack.gpu_type, catalog.gpu_types, "use one of the gpu_types"),
                )
            )
    if problems:
        raise ProblemList(sort_problems(problems))
    return catalog


def load_site(path: str | Path) -> ResolvedSite:
    """Load a site file and its catalog; validate, expand templates, check the whole.

    The site's own problems and its catalog's are gathered together before giving up, so one
    run shows both; the cross-checks need both to be valid and run only then.
    """
    doc = load_yaml(path, keep_going=True)
    expect_kind(doc, "site")
    return _site_from(doc, Path(path))


def _site_from(doc: LocatedDocument, path: Path) -> ResolvedSite:
    problems: list[Problem] = []
    try:
        spec: SiteSpec | None = validate_document(doc, SiteSpec)
    except ProblemList as exc:
        spec = None
        problems.extend(exc.problems)
    catalog_path, catalog = _site_catalog(doc, path, problems)
    if spec is None or catalog is None:
        raise ProblemList(sort_problems(problems))
    site, located = resolve_site(spec, catalog, doc.line_of)
    if located:
        raise ProblemList(
            sort_problems(Problem(doc.file, doc.line_of(loc), dotted(loc), m) for loc, m in located)
        )
    site.file = str(path)
    site.catalog_file = str(catalog_path)
    return site


def _site_notes(doc: LocatedDocument, site: ResolvedSite) -> list[Problem]:
    """Valid but worth telling: firm supply below the design facility load (every rack at full
    draw in design weather), which a site that passed every check could still have."""
    from twin.campus import build_campus
    from twin.inventory import design_facility_mw
    from twin.power import firm_supply_kw

    campus = build_campus(site)
    supply_mw, design_mw = firm_supply_kw(campus) / 1000.0, design_facility_mw(campus)
    if supply_mw >= design_mw:
        return []
    return [
        Problem(
            doc.file, doc.line_of(("power", "sources")), "power.sources",
            f"firm supply {supply_mw:,.1f} MW is below the campus's design facility load {design_mw:,.1f} MW "
            "(every rack at full draw, design weather): near full load the twin caps GPUs and sheds work; "
            "add capacity to the sources or fewer racks if that is not meant",
        )
    ]  # fmt: skip


def _site_catalog(doc: LocatedDocument, path: Path, problems: list[Problem]) -> tuple[Path, Catalog | None]:
    """The catalog a site names, loaded; problems with it are appended to ``problems``."""
    default = SiteSpec.model_fields["catalog"].default
    written = doc.data.get("catalog", default) if isinstance(doc.data, dict) else default
    rel = written if isinstance(written, str) and written else default
    catalog_path = path.parent / rel
    if not catalog_path.is_file():
        given = isinstance(doc.data, dict) and "catalog" in doc.data
        fix = (
            "the path is relative to the site file; correct catalog:"
            if given
            else "add catalog: with its path (relative to the site file)"
        )
        what = "is a directory, not a file" if catalog_path.is_dir() else "not found"
        where = doc.line_of(("catalog",))
        problems.append(
            Problem(doc.file, where, "catalog", f"catalog file {str(catalog_path)!r} {what}; {fix}")
        )
        return catalog_path, None
    try:
        return catalog_path, load_catalog(catalog_path)
    except ProblemList as exc:
        problems.extend(exc.problems)
        return catalog_path, None


def _kinds() -> dict[str, set[str]]:
    """Top-level keys only one kind of file has (imported late: scenario imports this module)."""
    from twin.scenario_spec import ScenarioSpec

    fields = {"site": SiteSpec, "catalog": Catalog, "scenario": ScenarioSpec}
    own = {kind: set(m.model_fields) for kind, m in fields.items()}
    return {kind: keys - set().union(*(v for k, v in own.items() if k != kind)) for kind, keys in own.items()}


def file_kind(doc: LocatedDocument) -> str:
    """'site', 'scenario' or 'catalog', from the top-level keys; raise ProblemList if unclear.

    The defining keys (buildings:, rack_types: or gpu_types:, sites:) decide first. Failing
    those, the kind whose own keys the file has most of wins, a misspelling counting half, so a
    site whose only fault is ``buidings:`` is still validated as a site and told of the typo.
    """
    if not isinstance(doc.data, dict):
        raise ProblemList([_not_a_mapping(doc)])
    keys = set(doc.data)
    if "buildings" in keys:
        return "site"
    if "rack_types" in keys or "gpu_types" in keys:
        return "catalog"
    if "sites" in keys:
        return "scenario"
    scores = {kind: _score(keys, own) for kind, own in _kinds().items()}
    best = max(scores.values())
    winners = [kind for kind, score in scores.items() if score == best]
    if best > 0 and len(winners) == 1:
        return winners[0]
    raise ProblemList.one(
        doc.file,
        doc.line_of(()),
        "cannot tell what this file is: a site has 'buildings:', a scenario has 'sites:', a catalog has "
        "'rack_types:'; add the one this file is",
    )


def _score(keys: set[str], own: set[str]) -> float:
    return sum(1.0 if key in own else 0.5 if close_match(key, own) else 0.0 for key in keys)


USE_FOR = {
    "site": "use it with 'campustwin info' or name it in a scenario's sites:",
    "scenario": "run it with 'campustwin simulate'",
    "catalog": "a site names it in its catalog: field",
}


def expect_kind(doc: LocatedDocument, kind: str) -> None:
    """Refuse, in one line, a file of another kind (a site given to simulate, say)."""
    if not isinstance(doc.data, dict):
        return
    try:
        actual = file_kind(doc)
    except ProblemList:
        return  # not clearly anything: the schema's own messages say more
    if actual != kind:
        raise ProblemList(
            [
                Problem(
                    doc.file, doc.line_of(()), "", f"this is a {actual} file, not a {kind}; {USE_FOR[actual]}"
                )
            ]
        )


def validate_file(path: str | Path, notes: list[Problem] | None = None) -> str:
    """Validate any campustwin file; return its kind or raise ProblemList (sorted by line).

    The file is read once for a site or catalog (reading is the slow part of a big file). A valid
    file's notes (a scenario's rows that start after its horizon, a site's supply short of its
    design load) are added to ``notes`` when given.
    """
    doc = load_yaml(path, keep_going=True)
    try:
        kind = file_kind(doc)
        if kind == "site":
            site = _site_from(doc, Path(path))
            if notes is not None:
                notes.extend(_site_notes(doc, site))
        elif kind == "catalog":
            _catalog_from(doc)
        else:
            from twin.scenario import load_scenario

            scenario = load_scenario(path)
            if notes is not None:
                notes.extend(scenario.notes)
    except ProblemList as exc:
        raise ProblemList(sort_problems(exc.problems, first=str(path))) from None
    return kind
