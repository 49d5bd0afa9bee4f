"""Loading user files into validated models, with every problem located.

``load_site`` reads a site file and its catalog, validates both and expands templates; any
problem anywhere is reported, all at once, as a :class:`~twin.errors.ProblemList` of
``FILE:LINE: dotted.path: message`` entries. ``validate_file`` does the same for any file the
command line is given, telling a site, a scenario and a catalog apart by their top-level keys.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from twin.catalog import Catalog
from twin.errors import Problem, ProblemList, dotted
from twin.resolve import ResolvedSite, did_you_mean, resolve_site
from twin.site import SiteSpec
from twin.yamlsafe import LocatedDocument, load_yaml

M = TypeVar("M", bound=BaseModel)


def validate_document(doc: LocatedDocument, model: type[M]) -> M:
    """Validate parsed data against a model; raise ProblemList with lines and hints."""
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__
        raise ProblemList([Problem(doc.file, doc.line_of(()), "", f"expected a mapping, got {kind}")])
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise ProblemList(problems_from_validation(exc, doc, model)) from None


def problems_from_validation(
    exc: ValidationError, doc: LocatedDocument, model: type[BaseModel], base: tuple = ()
) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = (*base, *err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            known = _fields_at(model, tuple(err["loc"][:-1]))
            msg = f"unknown field {loc[-1]!r}" + did_you_mean(str(loc[-1]), known)
        elif err["type"] == "missing":
            msg = "field required"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        problems.append(Problem(doc.file, doc.line_of(loc), dotted(loc), msg))
    return sorted(set(problems), key=lambda p: (p.line, p.path))


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _unwrap(arg)]
    return [annotation]


def _fields_at(model: type[BaseModel], loc: tuple) -> set[str]:
    """The field names of the model found by walking ``loc`` down from ``model``."""
    candidates: list[Any] = [model]
    for part in loc:
        nxt: list[Any] = []
        for cand in candidates:
            for ann in _unwrap(cand):
                if isinstance(ann, type) and issubclass(ann, BaseModel) and isinstance(part, str):
                    if part in ann.model_fields:
                        nxt.extend(_unwrap(ann.model_fields[part].annotation))
                elif typing.get_origin(ann) in (list, tuple) and isinstance(part, int):
                    nxt.extend(_unwrap(typing.get_args(ann)[0]))
                elif typing.get_origin(ann) is dict:
                    nxt.extend(_unwrap(typing.get_args(ann)[1]))
        candidates = nxt
    names: set[str] = set()
    for cand in candidates:
        for ann in _unwrap(cand):
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                names.update(ann.model_fields)
    return names


def load_catalog(path: str | Path) -> Catalog:
    """Load and check a hardware catalog file."""
    doc = load_yaml(path)
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
                    f"unknown GPU type {rack.gpu_type!r}" + did_you_mean(rack.gpu_type, catalog.gpu_types),
                )
            )
    if problems:
        raise ProblemList(problems)
    return catalog


def load_site(path: str | Path) -> ResolvedSite:
    """Load a site file and its catalog; validate, expand templates, check the whole."""
    doc = load_yaml(path)
    spec = validate_document(doc, SiteSpec)
    catalog_path = Path(path).parent / spec.catalog
    if not catalog_path.is_file():
        loc = ("catalog",)
        raise ProblemList(
            [
                Problem(
                    doc.file,
                    doc.line_of(loc),
                    "catalog",
                    f"catalog file {str(catalog_path)!r} not found; the path is relative to the site file",
                )
            ]
        )
    catalog = load_catalog(catalog_path)
    site, located = resolve_site(spec, catalog)
    if located:
        raise ProblemList(
            sorted(
                {Problem(doc.file, doc.line_of(loc), dotted(loc), msg) for loc, msg in located},
                key=lambda p: (p.line, p.path),
            )
        )
    site.file = str(path)
    site.catalog_file = str(catalog_path)
    return site


def file_kind(doc: LocatedDocument) -> str:
    """'site', 'scenario' or 'catalog', from the top-level keys; raise ProblemList if unclear."""
    keys = set(doc.data) if isinstance(doc.data, dict) else set()
    if "buildings" in keys:
        return "site"
    if "rack_types" in keys or "gpu_types" in keys:
        return "catalog"
    if "sites" in keys:
        return "scenario"
    raise ProblemList(
        [
            Problem(
                doc.file,
                doc.line_of(()),
                "",
                "cannot tell what this file is: a site has 'buildings:', a scenario has "
                "'sites:', a catalog has 'rack_types:'",
            )
        ]
    )


def validate_file(path: str | Path) -> str:
    """Validate any campustwin file; return its kind or raise ProblemList."""
    doc = load_yaml(path)
    kind = file_kind(doc)
    if kind == "site":
        load_site(path)
    elif kind == "catalog":
        load_catalog(path)
    else:
        from twin.scenario import load_scenario

        load_scenario(path)
    return kind
