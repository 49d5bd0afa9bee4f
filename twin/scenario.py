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

Cross-file checks (a lease naming an unknown site or GPU type, a lease larger than what its site
can hold under its isolation) are reported with the scenario's line numbers, like site problems.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from twin.catalog import Strict
from twin.errors import Problem, ProblemList, dotted
from twin.hosted_spec import HostedModel
from twin.load import expect_kind, load_site, validate_document
from twin.overrides import blame_overrides, set_dotted
from twin.resolve import ResolvedSite
from twin.scenario_checks import after_the_horizon, check_scenario, held_unbilled, missing_file
from twin.sla import CreditStep
from twin.yamlsafe import LocatedDocument, load_yaml, parse_yaml

if TYPE_CHECKING:  # pandas is loaded by the runs that read a trace, not by every command
    import pandas as pd

LeaseKind = Literal["reserved", "capacity_block", "on_demand", "spot"]
SEED_MAX = 2**63 - 1  # a seed fits numpy's SeedSequence and a signed 64-bit column


class SizeDistribution(Strict):
    """GPUs per training job: powers of two from ``min_gpus`` to ``max_gpus``, P(size) ~ size^-alpha."""

    min_gpus: int = Field(8, gt=0)
    max_gpus: int = Field(131_072, gt=0, le=2_000_000)
    alpha: float = Field(1.0, ge=0, le=4, description="larger alpha, fewer big jobs")

    @model_validator(mode="after")
    def _ordered(self) -> SizeDistribution:
        if self.max_gpus < self.min_gpus:
            raise ValueError("max_gpus must be at least min_gpus")
        return self


class TrainingDemand(Strict):
    """Synthetic internal training: gang-scheduled, checkpointed jobs."""

    arrivals_per_day: float = Field(20, ge=0, le=1_000_000)
    size: SizeDistribution = SizeDistribution()
    duration_median_hours: float = Field(12, gt=0)
    duration_sigma: float = Field(1.2, ge=0, le=4, description="log-normal spread")
    duration_max_hours: float = Field(24 * 60, gt=0)
    big_job_hours_per_log2_gpus: float = Field(
        0.0, ge=0, description="extra median hours per doubling of GPUs above 1k (bigger runs run longer)"
    )
    checkpoint_interval_hours: float = Field(0.5, gt=0)
    checkpoint_write_hours: float = Field(0.01, ge=0)
    restart_overhead_hours: float = Field(0.2, ge=0)
    priority: int = Field(5, ge=0, le=9, description="higher runs first")
    network_sensitivity: float = Field(
        0.05, ge=0, le=1, description="share of a step that waits on cross-pod traffic (see twin.placement)"
    )
    gpu_type: str = "any"
    site: str = "any"


class InferenceDemand(Strict):
    """An internal inference fleet per site: GPUs busy follow a daily curve and grow."""

    site: str
    gpu_type: str = "any"
    peak_gpus: int = Field(gt=0)
    trough_fraction: float = Field(0.55, gt=0, le=1, description="night load / peak load")
    peak_hour: float = Field(15, ge=0, lt=24, description="local hour of the daily peak")
    growth_per_year: float = Field(0.0, ge=-0.9, le=10)


class Sla(Strict):
    availability: float = Field(0.99, gt=0, le=1)
    credits: list[CreditStep] = [
        CreditStep(below=0.99, credit=0.10),
        CreditStep(below=0.95, credit=0.25),
        CreditStep(below=0.90, credit=1.00),
    ]


class Lease(Strict):
    """Capacity sold to an external tenant."""

    name: str = Field(min_length=1, max_length=128)
    tenant: str = Field(min_length=1, max_length=128)
    gpu_type: str
    gpus: int = Field(gt=0, le=5_000_000)
    site: str = "any"
    start_day: float = Field(0, ge=0)
    term_days: float = Field(gt=0, le=3650)
    kind: LeaseKind = "reserved"
    price_usd_per_gpu_hour: float = Field(gt=0, le=1000)
    billing: Literal["take_or_pay", "metered"] = "take_or_pay"
    sla: Sla = Sla()
    termination_notice_days: float = Field(90, ge=0)
    isolation: Literal["rack", "pod"] = "rack"
    tenant_utilization: float = Field(0.85, ge=0, le=1, description="share of its GPUs the tenant keeps busy")

    @model_validator(mode="after")
    def _kind_rules(self) -> Lease:
        if self.kind == "capacity_block" and self.term_days > 182:
            raise ValueError("a capacity block lasts at most 182 days; use kind: reserved")
        if self.kind in ("on_demand", "spot") and self.billing != "metered":
            raise ValueError(f"{self.kind} capacity is billed by use; set billing: metered")
        return self


class Event(Strict):
    """Something that happens to the campuses during the run."""

    kind: Literal["outage", "curtailment", "lease_termination", "demand_shock", "heat_wave"]
    day: float = Field(ge=0, description="when it starts (or, for a termination, the notice day)")
    hours: float = Field(24, gt=0, description="how long it lasts")
    site: str | None = None
    hall: str | None = Field(None, description="'building/hall', for a hall outage")
    mw: float | None = Field(None, ge=0, description="curtailment: power the site must shed")
    lease: str | None = None
    factor: float | None = Field(None, ge=0, le=100, description="demand shock: arrival multiplier")
    degrees_c: float | None = Field(None, gt=0, le=20, description="heat wave: degrees added to the dry-bulb")

    @model_validator(mode="after")
    def _needs(self) -> Event:
        need = {
            "outage": ["site"],
            "curtailment": ["site", "mw"],
            "lease_termination": ["lease"],
            "demand_shock": ["factor"],
            "heat_wave": ["site", "degrees_c"],
        }
        missing = [f for f in need[self.kind] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"{self.kind.replace('_', ' ')} events need {' and '.join(missing)}")
        return self


class TraceColumns(Strict):
    submit: str = "submit_time"
    gpus: str = "gpus"
    duration: str = "duration"
    owner: str | None = None


class JobTrace(Strict):
    """A CSV of jobs that replaces the synthetic training generator."""

    file: str
    columns: TraceColumns = TraceColumns()
    time_unit: Literal["s", "min", "h"] = "s"
    repeat: bool = Field(False, description="replay the trace again when the horizon outlasts it")


class Failures(Strict):
    enabled: bool = True
    rate_scale: float = Field(1.0, ge=0, le=100, description="x the Llama 3 rates")
    repair_scale: float = Field(1.0, gt=0, le=100)


class Physics(Strict):
    """The power chain, cooling and weather (twin.plant); off, facility power is IT x money.pue."""

    enabled: bool = True
    min_power_cap: float = Field(
        0.5, ge=0.2, le=1, description="lowest power cap, as a share of a GPU's busy dynamic power"
    )
    throughput_exponent: float = Field(
        1 / 3, ge=0, le=2, description="a capped GPU computes at cap ** exponent of full speed"
    )


UsdPerGpuHour = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Money(Strict):
    pue: float = Field(1.10, ge=1, le=3, description="facility / IT when physics is off")
    internal_value_usd_per_gpu_hour: float = Field(
        2.0, ge=0, description="what displaced internal work was worth, per GPU-hour"
    )
    internal_value_usd_per_gpu_hour_by_type: dict[str, UsdPerGpuHour] = Field(
        {},
        max_length=64,
        description="the same per GPU type (an hour of GB200 is worth more than an hour of H100); "
        "types not named take internal_value_usd_per_gpu_hour",
    )
    gpu_busy_fraction_of_max_power: float = Field(
        0.85, gt=0, le=1, description="a busy GPU's mean draw / max"
    )


class ScenarioSpec(Strict):
    name: str = Field(min_length=1, max_length=128)
    description: str = ""
    sites: list[str] = Field(min_length=1, max_length=16, description="site files, relative paths")
    start: dt.date = dt.date(2027, 1, 1)
    days: float = Field(365, gt=0, le=3650)
    seed: int = Field(0, ge=0, le=SEED_MAX)
    sample_hours: float = Field(1.0, gt=0, le=24)
    training: TrainingDemand | None = TrainingDemand()
    inference: list[InferenceDemand] = []
    trace: JobTrace | None = None
    leases: list[Lease] = []
    hosted_models: list[HostedModel] = Field([], max_length=64)
    events: list[Event] = []
    failures: Failures = Failures()
    physics: Physics = Physics()
    money: Money = Money()

    @field_validator("leases")
    @classmethod
    def _unique_leases(cls, leases: list[Lease]) -> list[Lease]:
        names = [lease.name for lease in leases]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"lease names must be unique; repeated: {', '.join(sorted(dup))}")
        return leases

    @model_validator(mode="after")
    def _unique_products(self) -> ScenarioSpec:
        names = [lease.name for lease in self.leases] + [m.name for m in self.hosted_models]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(
                f"leases and hosted models need distinct names (results are keyed by them); repeated: {', '.join(sorted(dup))}"
            )
        return self


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
