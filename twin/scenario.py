"""Scenarios: what runs on the campuses, for how long, and what happens to them.

A scenario names the site files it runs (paths relative to the scenario), a start date, a horizon
and a seed, and then the load on the campuses:

* **internal demand**: training jobs (a Poisson arrival rate, a heavy-tailed size distribution
  from 8 GPUs to 100k+, durations, checkpointing, priority) and an inference fleet per site that
  follows a daily curve and grows; or a **job trace** (CSV) instead of the synthetic training;
* **leases** to external tenants (reserved, capacity block, on-demand, spot) with price, billing,
  SLA and credit schedule, termination notice and isolation;
* **hosted models** (:mod:`twin.hosted_spec`): models the owner serves itself and bills by the token;
* **events**: a site or hall outage, grid curtailment, a lease terminated with notice, a demand
  shock;
* **failures** (on by default, at the Llama 3 rates of :mod:`twin.failures`) and **money** settings.

The fields themselves, their limits and meaning, are in :mod:`twin.scenario_spec`. Cross-file
checks (a lease naming an unknown site or GPU type, a lease larger than what its site
can hold under its isolation) are reported with the scenario's line numbers, like site problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from twin.errors import Problem, ProblemList, dotted
from twin.load import expect_kind, load_site, validate_document
from twin.overrides import blame_overrides, set_dotted
from twin.resolve import ResolvedSite
from twin.scenario_checks import after_the_horizon, check_scenario, held_unbilled, missing_file
from twin.scenario_spec import ScenarioSpec, TrainingDemand
from twin.yamlsafe import LocatedDocument, load_yaml, parse_yaml

if TYPE_CHECKING:  # pandas is loaded by the runs that read a trace, not by every command
    import pandas as pd


@dataclass
class Scenario:
    spec: ScenarioSpec
    sites: list[ResolvedSite]
    file: str
    notes: list[Problem] = field(default_factory=list)  # valid but worth telling (a lease after the end)
    # The job trace as read and checked on loading (twin.demand.load_trace), so a run reads it once.
    trace_jobs: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def folder(self) -> Path:
        return Path(self.file).parent


def load_scenario(path: str | Path, overrides: dict | None = None, flag: str = "--{key}") -> Scenario:
    """Load a scenario and every site it names; raise ProblemList with all problems.

    ``overrides`` (dotted path -> value, e.g. ``{"days": 30}``) are applied before validation; a bad
    override is reported against the option that gave it (``flag``: ``--days: ...``, or
    ``--vary foo.bar: ...`` for a sweep), not against the file's line.
    """
    return scenario_from_document(load_yaml(path), Path(path).parent, overrides, flag)


def load_scenario_text(text: str, folder: str | Path, file: str = "<what-if>") -> Scenario:
    """A scenario written in memory (the console's what-if), its site paths relative to ``folder``.

    Checked exactly as a file is; problems name ``file`` and the line of the generated YAML.
    """
    return scenario_from_document(parse_yaml(text, file), Path(folder))


def scenario_from_document(
    doc: LocatedDocument, folder: Path, overrides: dict | None = None, flag: str = "--{key}"
) -> Scenario:
    """Validate a parsed scenario document and load every site it names (paths relative to ``folder``)."""
    expect_kind(doc, "scenario")
    if overrides and isinstance(doc.data, dict):
        for key, value in overrides.items():
            set_dotted(doc.data, key, value, flag)
    try:
        spec = validate_document(doc, ScenarioSpec)
    except ProblemList as exc:
        raise ProblemList(blame_overrides(exc.problems, overrides, flag)) from None
    sites, problems = [], []
    for i, rel in enumerate(spec.sites):
        site_path = folder / rel
        loc = ("sites", i)
        if not site_path.is_file():
            problems.append(
                Problem(
                    doc.file,
                    doc.line_of(loc),
                    dotted(loc),
                    f"site file {str(site_path)!r} {missing_file(site_path)}",
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
    if not problems:
        problems.extend(
            Problem(doc.file, doc.line_of(loc), dotted(loc), msg)
            for loc, msg in check_scenario(spec, sites, folder)
        )
    trace_jobs, trace_notes = None, []
    if not problems and spec.trace is not None:
        trace_jobs, trace_problems, trace_notes = _read_trace(doc, spec, folder, sites)
        problems.extend(trace_problems)
    if problems:
        raise ProblemList(blame_overrides(problems, overrides, flag))
    notes = [
        Problem(doc.file, doc.line_of(loc), dotted(loc), msg)
        for loc, msg in [*held_unbilled(spec, sites), *after_the_horizon(spec)]
    ]
    notes.extend(trace_notes)
    file = str(folder / Path(doc.file).name)
    return Scenario(spec=spec, sites=sites, file=file, notes=notes, trace_jobs=trace_jobs)


def _read_trace(
    doc: LocatedDocument, spec: ScenarioSpec, folder: Path, sites: list[ResolvedSite]
) -> tuple[pd.DataFrame | None, list[Problem], list[Problem]]:
    """The job trace, read and checked before any run (or --save) starts: its own problems (bad
    cells, by their CSV line), or a trace that would submit more jobs than a run may hold; and
    notes for jobs too big to ever start."""
    from twin.demand import (
        load_trace,
        oversized_trace_jobs,
        trace_job_count,
    )  # twin.demand imports this module
    from twin.scenario_checks import MAX_JOBS, largest_pool_gpus, too_many_jobs

    path = folder / spec.trace.file
    try:
        jobs = load_trace(path, spec.trace)
    except ProblemList as exc:
        return None, exc.problems, []
    count = trace_job_count(jobs, spec.trace.repeat, spec.days * 24.0)
    if count > MAX_JOBS:
        fix = "use fewer rows, a shorter run" + (" or repeat: false" if spec.trace.repeat else "")
        return None, [Problem(doc.file, doc.line_of(("trace",)), "trace", too_many_jobs(count, fix))], []
    defaults = spec.training or TrainingDemand()
    largest = largest_pool_gpus(sites, defaults.gpu_type, defaults.site)
    return jobs, [], oversized_trace_jobs(jobs, path, spec.trace.columns.gpus, largest)
