"""Scenarios: which sites, when, for how long, with which seed.

A scenario file names the site files it runs (paths relative to the scenario), a start date, a
horizon and a seed. The engine issue extends it with demand, leases, events and job traces.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from twin.catalog import Strict
from twin.errors import Problem, ProblemList, dotted
from twin.load import load_site, validate_document
from twin.resolve import ResolvedSite
from twin.yamlsafe import load_yaml


class ScenarioSpec(Strict):
    name: str = Field(min_length=1, max_length=128)
    description: str = ""
    sites: list[str] = Field(min_length=1, max_length=16, description="site files, relative paths")
    start: dt.date = dt.date(2027, 1, 1)
    days: float = Field(365, gt=0, le=3650)
    seed: int = Field(0, ge=0, le=2**63 - 1)


@dataclass
class Scenario:
    spec: ScenarioSpec
    sites: list[ResolvedSite]
    file: str


def load_scenario(path: str | Path) -> Scenario:
    """Load a scenario and every site it names; raise ProblemList with all problems."""
    doc = load_yaml(path)
    spec = validate_document(doc, ScenarioSpec)
    sites, problems = [], []
    for i, rel in enumerate(spec.sites):
        site_path = Path(path).parent / rel
        loc = ("sites", i)
        if not site_path.is_file():
            problems.append(
                Problem(
                    doc.file,
                    doc.line_of(loc),
                    dotted(loc),
                    f"site file {str(site_path)!r} not found; paths are relative to the scenario",
                )
            )
            continue
        try:
            sites.append(load_site(site_path))
        except ProblemList as exc:
            problems.extend(exc.problems)
    names = [s.spec.name for s in sites]
    if len(set(names)) != len(names):
        problems.append(
            Problem(doc.file, doc.line_of(("sites",)), "sites", "two site files have the same campus name")
        )
    if problems:
        raise ProblemList(problems)
    return Scenario(spec=spec, sites=sites, file=str(path))
