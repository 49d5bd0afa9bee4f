"""Loading user files into validated models, with every problem located.

``load_site`` reads a site file and its catalog, validates both and expands templates; any
problem anywhere is reported, all at once, as a :class:`~twin.errors.ProblemList` of
``FILE:LINE: dotted.path: message`` entries. ``validate_file`` does the same for any file the
command line is given, telling a site, a scenario and a catalog apart by their top-level keys.

Pydantic's own messages say what is wrong in its terms ("Input should be greater than 0"); here
each error type is rephrased to say what the file holds and what to write instead.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from twin.catalog import Catalog
from twin.errors import Problem, ProblemList, dotted, sort_problems
from twin.resolve import ResolvedSite, close_match, did_you_mean, resolve_site
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
        f"the top level is {_got(doc.data)}, but a campustwin file is a mapping of 'key: value' lines; "
        "start it with keys such as name:",
    )


def problems_from_validation(
    exc: ValidationError,
    doc: LocatedDocument,
    model: type[BaseModel],
    base: tuple = (),
    skip: set[tuple] | frozenset[tuple] = frozenset(),
) -> list[Problem]:
    """One located, actionable problem per pydantic error, sorted by line.

    A misspelt required field produces two errors, "unknown field" and "field required"; the
    second is dropped when the first already suggests the right name, so one typo is one line.
    """
    errors = exc.errors(include_url=False)
    typos = _typo_targets(errors, model)
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    problems: set[Problem] = set()
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "missing" and loc in typos.values():
            continue
        if any(loc[: len(s)] == s for s in skip):
            continue
        msg = _message(err, model)
        if typos.get(loc) in missing:
            msg += " (a required field, missing here)"
        problems.add(Problem(doc.file, doc.line_of((*base, *loc)), dotted((*base, *loc)), msg))
    return sorted(problems, key=lambda p: (p.line, p.path))


def _typo_targets(errors: list[Any], model: type[BaseModel]) -> dict[tuple, tuple]:
    """For each unknown field that is close to a real one, the location of that real field."""
    out = {}
    for err in errors:
        if err["type"] == "extra_forbidden":
            parent = tuple(err["loc"][:-1])
            close = close_match(str(err["loc"][-1]), _fields_at(model, parent))
            if close:
                out[tuple(err["loc"])] = (*parent, close)
    return out


def _message(err: Any, model: type[BaseModel]) -> str:
    """Rephrase one pydantic error as what the file says and what to write instead."""
    kind, ctx, loc = err["type"], err.get("ctx") or {}, err["loc"]
    got = _got(err.get("input"))
    name = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        known = _fields_at(model, tuple(loc[:-1]))
        close = close_match(name, known)
        if close:
            return f"unknown field {name!r}; did you mean {close!r}?"
        return f"unknown field {name!r}" + did_you_mean(name, known, "remove it or use one of")
    if kind == "missing":
        return f"required field missing; add '{name}: ...' to {dotted(loc[:-1]) or 'the top level'}"
    handler = _MESSAGES.get(kind)
    if handler is not None:
        return handler(ctx, got)
    if kind in ("value_error", "assertion_error"):
        return re.sub(r"^(Value|Assertion) error, ", "", err["msg"])
    return f"{err['msg']} (got {got}); correct the value"


def _got(value: Any) -> str:
    """A short description of a value as the file wrote it, for 'got ...'."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value: Any) -> str:
    """0.0 as '0', 2.5 as '2.5': limits read as a person would write them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _bound(word: str, key: str) -> Callable[[dict, str], str]:
    def render(ctx: dict, got: str) -> str:
        limit = _number(ctx.get(key))
        fix = "use a positive number" if key == "gt" and limit == "0" else f"use a number {word} {limit}"
        return f"must be {word} {limit}, got {got}; {fix}"

    return render


def _literal(ctx: dict, got: str) -> str:
    expected = str(ctx.get("expected", ""))
    close = close_match(got.strip("'"), set(re.findall(r"'([^']*)'", expected)))
    return f"must be one of {expected}, got {got}" + (
        f"; did you mean {close!r}?" if close else "; use one of those"
    )


_WHOLE = "expected a whole number, got {}; write digits only, such as 8"
_NUMBER = "expected a number, got {}; write digits only, such as 2.5 (no units)"
_BOOL = "expected true or false, got {}"
_DATE = "expected a date, got {}; write it as YYYY-MM-DD"
_FIELDS = "expected a mapping of fields, got {}; write 'field: value' lines indented under it"

_MESSAGES: dict[str, Callable[[dict, str], str]] = {
    "int_parsing": lambda c, g: _WHOLE.format(g),
    "int_type": lambda c, g: _WHOLE.format(g),
    "int_from_float": lambda c, g: f"expected a whole number, got {g}; round it",
    "float_parsing": lambda c, g: _NUMBER.format(g),
    "float_type": lambda c, g: _NUMBER.format(g),
    "finite_number": lambda c, g: f"expected a finite number, got {g}; write an ordinary number",
    "bool_parsing": lambda c, g: _BOOL.format(g),
    "bool_type": lambda c, g: _BOOL.format(g),
    "string_type": lambda c, g: f"expected text, got {g}; write text, in quotes if it looks like a number",
    "greater_than": _bound("greater than", "gt"),
    "greater_than_equal": _bound("at least", "ge"),
    "less_than": _bound("less than", "lt"),
    "less_than_equal": _bound("at most", "le"),
    "literal_error": _literal,
    "too_short": lambda c, g: (
        f"needs at least {_items(c.get('min_length', 1))}, has {c.get('actual_length', 0)}; add the missing ones"
    ),
    "too_long": lambda c, g: (
        f"allows at most {_items(c.get('max_length', 0))}, has {c.get('actual_length', 0)}; remove the extra ones"
    ),
    "string_too_short": lambda c, g: "must not be empty; fill it in",
    "string_too_long": lambda c, g: f"is longer than {c.get('max_length')} characters; shorten it",
    "list_type": lambda c, g: f"expected a list, got {g}; write its items as '- item' lines or [a, b]",
    "tuple_type": lambda c, g: f"expected a list, got {g}; write its items as [a, b]",
    "dict_type": lambda c, g: f"expected a mapping, got {g}; write 'name: value' lines indented under it",
    "model_type": lambda c, g: _FIELDS.format(g),
    "model_attributes_type": lambda c, g: _FIELDS.format(g),
    "date_parsing": lambda c, g: _DATE.format(g),
    "date_type": lambda c, g: _DATE.format(g),
    "date_from_datetime_parsing": lambda c, g: _DATE.format(g),
    "date_from_datetime_inexact": lambda c, g: f"expected a date without a time, got {g}; write YYYY-MM-DD",
}


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _unwrap(arg)]
    return [annotation]


def _is_model(annotation: Any) -> bool:
    return (
        typing.get_origin(annotation) is None
        and isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
    )


def _fields_at(model: type[BaseModel], loc: tuple) -> set[str]:
    """The field names of the model found by walking ``loc`` down from ``model``."""
    candidates: list[Any] = [model]
    for part in loc:
        nxt: list[Any] = []
        for cand in candidates:
            for ann in _unwrap(cand):
                origin = typing.get_origin(ann)
                if _is_model(ann) and isinstance(part, str):
                    if part in ann.model_fields:
                        nxt.extend(_unwrap(ann.model_fields[part].annotation))
                elif origin in (list, tuple) and isinstance(part, int):
                    nxt.extend(_unwrap(typing.get_args(ann)[0]))
                elif origin is dict:
                    nxt.extend(_unwrap(typing.get_args(ann)[1]))
        candidates = nxt
    return {
        name for cand in candidates for ann in _unwrap(cand) if _is_model(ann) for name in ann.model_fields
    }


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
    from twin.scenario import ScenarioSpec

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
    scenario's notes (what starts after its horizon) are added to ``notes`` when given.
    """
    doc = load_yaml(path, keep_going=True)
    try:
        kind = file_kind(doc)
        if kind == "site":
            _site_from(doc, Path(path))
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
