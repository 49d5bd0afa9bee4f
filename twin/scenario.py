"""Scenarios: what runs on the campuses, for how long, and what happens to them.

A scenario names the site files it runs (paths relative to the scenario), a start date, a horizon
and a seed, and then the load on the campuses:

* **internal demand**: training jobs (a Poisson arrival rate, a heavy-tailed size distribution
  from 8 GPUs to 100k+, durations, checkpointing, priority) and an inference fleet per site that
  follows a daily curve and grows; or a **job trace** (CSV) instead of the synthetic training;
* **leases** to external tenants (reserved, capacity block, on-demand, spot) with price, billing,
  SLA and credit schedule, termination notice and isolation;
* **events**: a site or hall outage, grid curtailment, a lease terminated with notice, a demand
  shock;
* **failures** (on by default, at the Llama 3 rates of :mod:`twin.failures`) and **money** settings.

Cross-file checks (a lease naming an unknown site or GPU type, a lease larger than what its site
can hold under its isolation) are reported with the scenario's line numbers, like site problems.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from twin.catalog import Strict
from twin.errors import Problem, ProblemList, dotted
from twin.load import expect_kind, load_site, validate_document
from twin.resolve import ResolvedSite, did_you_mean
from twin.yamlsafe import load_yaml

LeaseKind = Literal["reserved", "capacity_block", "on_demand", "spot"]


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


class CreditStep(Strict):
    """Below ``below`` attainment in a month, ``credit`` of that month's bill is returned."""

    below: float = Field(gt=0, le=1)
    credit: float = Field(ge=0, le=1)


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
            raise ValueError(f"a {self.kind} event needs {', '.join(missing)}")
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


class Money(Strict):
    pue: float = Field(1.10, ge=1, le=3, description="facility / IT when physics is off")
    internal_value_usd_per_gpu_hour: float = Field(
        2.0, ge=0, description="what displaced internal work was worth"
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
    seed: int = Field(0, ge=0, le=2**63 - 1)
    sample_hours: float = Field(1.0, gt=0, le=24)
    training: TrainingDemand | None = TrainingDemand()
    inference: list[InferenceDemand] = []
    trace: JobTrace | None = None
    leases: list[Lease] = []
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


@dataclass
class Scenario:
    spec: ScenarioSpec
    sites: list[ResolvedSite]
    file: str

    @property
    def folder(self) -> Path:
        return Path(self.file).parent


def load_scenario(path: str | Path, overrides: dict | None = None) -> Scenario:
    """Load a scenario and every site it names; raise ProblemList with all problems.

    ``overrides`` (dotted path -> value, e.g. ``{"days": 30}``) are applied before validation; a bad
    override is reported against the override (``--days: ...``), not against the file's line.
    """
    doc = load_yaml(path)
    expect_kind(doc, "scenario")
    if overrides and isinstance(doc.data, dict):
        for key, value in overrides.items():
            _set_dotted(doc.data, key, value)
    try:
        spec = validate_document(doc, ScenarioSpec)
    except ProblemList as exc:
        keys = set(overrides or ())
        raise ProblemList(
            Problem(f"--{p.path}", 0, "", f"{p.message} (given on the command line)") if p.path in keys else p
            for p in exc.problems
        ) from None
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
    if not problems:
        problems.extend(
            Problem(doc.file, doc.line_of(loc), dotted(loc), msg)
            for loc, msg in check_scenario(spec, sites, Path(path).parent)
        )
    if problems:
        raise ProblemList(problems)
    return Scenario(spec=spec, sites=sites, file=str(path))


def _set_dotted(data: dict, key: str, value: object) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit():
            node = node[int(part)]
        else:
            node = node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list) and last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


def _site_gpus(site: ResolvedSite, gpu_type: str) -> int:
    """GPUs of one type installed at a site."""
    total = 0
    for b in site.buildings:
        for h in b.halls:
            for p in h.pods:
                rt = site.catalog.rack_types[p.rack_type]
                if rt.gpu_type == gpu_type:
                    total += rt.gpus * p.racks
    return total


def check_scenario(spec: ScenarioSpec, sites: list[ResolvedSite], folder: Path) -> list[tuple[tuple, str]]:
    """Cross-checks between a scenario and its sites; (loc, message) pairs."""
    out: list[tuple[tuple, str]] = []
    by_name = {s.spec.name: s for s in sites}
    gpu_types = {rt.gpu_type for s in sites for rt in s.catalog.rack_types.values()}
    installed = {s.spec.name: {g: _site_gpus(s, g) for g in gpu_types} for s in sites}

    def check_site(loc: tuple, name: str | None) -> bool:
        if name is None or name == "any" or name in by_name:
            return True
        out.append((loc, f"unknown site {name!r}" + did_you_mean(name, by_name)))
        return False

    def check_type(loc: tuple, name: str, site: str = "any") -> bool:
        if name == "any":
            return True
        if name not in gpu_types:
            out.append((loc, f"unknown GPU type {name!r}" + did_you_mean(name, gpu_types)))
            return False
        where = list(by_name) if site == "any" else [site]
        if not any(installed[w][name] for w in where if w in installed):
            have = sorted({g for w in where if w in installed for g, n in installed[w].items() if n})
            place = f"site {site!r}" if site != "any" else "any site of this scenario"
            out.append(
                (
                    loc,
                    f"no {name} GPUs are installed at {place} (it has {', '.join(have)}); pick one of those",
                )
            )
            return False
        return True

    if spec.training is not None and check_site(("training", "site"), spec.training.site):
        check_type(("training", "gpu_type"), spec.training.gpu_type, spec.training.site)
    for i, inf in enumerate(spec.inference):
        if inf.site == "any":
            out.append((("inference", i, "site"), "an inference fleet serves from one site; name it"))
        elif check_site(("inference", i, "site"), inf.site):
            check_type(("inference", i, "gpu_type"), inf.gpu_type, inf.site)
    if spec.trace is not None and not (folder / spec.trace.file).is_file():
        out.append(
            (
                ("trace", "file"),
                f"trace file {spec.trace.file!r} not found; the path is relative to the scenario",
            )
        )

    for i, lease in enumerate(spec.leases):
        loc = ("leases", i)
        if not (
            check_site((*loc, "site"), lease.site)
            and check_type((*loc, "gpu_type"), lease.gpu_type, lease.site)
        ):
            continue
        if lease.gpu_type == "any":
            out.append(((*loc, "gpu_type"), "a lease names one GPU type"))
            continue
        candidates = [lease.site] if lease.site != "any" else list(by_name)
        best = max(installed[s][lease.gpu_type] for s in candidates)
        if lease.gpus > best:
            where = f"site {lease.site!r}" if lease.site != "any" else "any one site"
            out.append(
                (
                    (*loc, "gpus"),
                    f"lease wants {lease.gpus:,} {lease.gpu_type} GPUs but {where} has {best:,}; "
                    "lower gpus, split the lease by site, or choose another GPU type",
                )
            )
            continue
        unit = _isolation_unit(by_name, candidates, lease.gpu_type, lease.isolation)
        if unit and lease.gpus % unit:
            rounded = -(-lease.gpus // unit) * unit
            if rounded > best:
                out.append(
                    (
                        (*loc, "isolation"),
                        f"with isolation {lease.isolation!r} the lease takes whole {lease.isolation}s of {unit} GPUs, "
                        f"{rounded:,} in all, more than the {best:,} there; lower gpus or use isolation: rack",
                    )
                )
    out.extend(_overbooked(spec, installed))
    lease_names = {lease.name for lease in spec.leases}
    for i, ev in enumerate(spec.events):
        loc = ("events", i)
        check_site((*loc, "site"), ev.site)
        if ev.kind in ("outage", "curtailment", "heat_wave") and ev.site == "any":
            out.append(((*loc, "site"), f"a {ev.kind} happens at one site; name it ({', '.join(by_name)})"))
        if ev.lease is not None and ev.lease not in lease_names:
            out.append(((*loc, "lease"), f"unknown lease {ev.lease!r}" + did_you_mean(ev.lease, lease_names)))
        if ev.hall is not None and ev.site in by_name:
            halls = {f"{b.name}/{h.name}" for b in by_name[ev.site].buildings for h in b.halls}
            if ev.hall not in halls:
                out.append(((*loc, "hall"), f"unknown hall {ev.hall!r}" + did_you_mean(ev.hall, halls)))
    return out


def _isolation_unit(by_name: dict, sites: list[str], gpu_type: str, isolation: str) -> int:
    """GPUs in the smallest rack or pod of that GPU type across the candidate sites."""
    sizes = []
    for name in sites:
        site = by_name[name]
        for b in site.buildings:
            for h in b.halls:
                for p in h.pods:
                    rt = site.catalog.rack_types[p.rack_type]
                    if rt.gpu_type == gpu_type:
                        sizes.append(rt.gpus * (p.racks if isolation == "pod" else 1))
    return min(sizes) if sizes else 0


def lease_site(lease: Lease, installed: dict[str, dict[str, int]]) -> str:
    """The site a lease runs at: its own, or for "any" the first with the most GPUs of its type."""
    if lease.site != "any":
        return lease.site
    return max(installed, key=lambda name: installed[name].get(lease.gpu_type, 0))


def _overbooked(spec: ScenarioSpec, installed: dict) -> list[tuple[tuple, str]]:
    """Guaranteed leases that are active together must fit in their site's GPUs of their type.

    The load peaks when some lease starts, so each lease's start is checked with every guaranteed
    lease active at that moment; the problem is reported on the lease whose start overbooks.
    """
    out = []
    guaranteed = [
        (i, lease, lease_site(lease, installed))
        for i, lease in enumerate(spec.leases)
        if lease.kind in ("reserved", "capacity_block") and lease.gpu_type != "any"
    ]
    for i, lease, site in guaranteed:
        t = lease.start_day
        active = [
            other
            for j, other, other_site in guaranteed
            if j != i
            and other_site == site
            and other.gpu_type == lease.gpu_type
            and other.start_day <= t < other.start_day + other.term_days
        ]
        total = lease.gpus + sum(o.gpus for o in active)
        have = installed[site][lease.gpu_type]
        if active and total > have:
            names = ", ".join(repr(o.name) for o in active)
            out.append(
                (
                    ("leases", i, "start_day"),
                    f"when it starts, with {names} active, guaranteed leases book {total:,} {lease.gpu_type} "
                    f"GPUs at {site!r}, more than the {have:,} there; shift, shorten or shrink one of them",
                )
            )
    return out
