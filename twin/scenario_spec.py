"""What a scenario file may say: its fields, their defaults, limits and meaning (pydantic models).

The models validate one file on its own (types, ranges, a lease's kind and billing agreeing, an
event's needed fields, unique product names); :mod:`twin.scenario` loads a file against them and
against the sites it names. Each field's description is what an editor shows from
``campustwin schema scenario``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from twin.catalog import Strict
from twin.hosted_spec import HostedModel
from twin.sla import CreditStep

LeaseKind = Literal["reserved", "capacity_block", "on_demand", "spot"]
SEED_MAX = 2**63 - 1  # a seed fits numpy's SeedSequence and a signed 64-bit column


class SizeDistribution(Strict):
    """GPUs per training job: powers of two from ``min_gpus`` to ``max_gpus``, P(size) ~ size^-alpha."""

    min_gpus: int = Field(8, gt=0, description="smallest job, in GPUs (rounded to a power of two)")
    max_gpus: int = Field(
        131_072, gt=0, le=2_000_000, description="largest job, in GPUs (rounded to a power of two)"
    )
    alpha: float = Field(1.0, ge=0, le=4, description="larger alpha, fewer big jobs")

    @model_validator(mode="after")
    def _ordered(self) -> SizeDistribution:
        if self.max_gpus < self.min_gpus:
            raise ValueError("max_gpus must be at least min_gpus")
        return self


class TrainingDemand(Strict):
    """Synthetic internal training: gang-scheduled, checkpointed jobs."""

    arrivals_per_day: float = Field(
        20, ge=0, le=1_000_000, description="mean training jobs submitted per day (Poisson)"
    )
    size: SizeDistribution = Field(SizeDistribution(), description="how many GPUs each job asks for")
    duration_median_hours: float = Field(12, gt=0, description="median compute hours of a job (log-normal)")
    duration_sigma: float = Field(1.2, ge=0, le=4, description="log-normal spread")
    duration_max_hours: float = Field(24 * 60, gt=0, description="no job computes longer than this")
    big_job_hours_per_log2_gpus: float = Field(
        0.0, ge=0, description="extra median hours per doubling of GPUs above 1k (bigger runs run longer)"
    )
    checkpoint_interval_hours: float = Field(
        0.5, gt=0, description="compute between two checkpoints; a failure loses the work since the last one"
    )
    checkpoint_write_hours: float = Field(0.01, ge=0, description="blocking time to write one checkpoint")
    restart_overhead_hours: float = Field(
        0.2, ge=0, description="time from an interruption to computing again (reload, re-init)"
    )
    priority: int = Field(5, ge=0, le=9, description="higher runs first")
    network_sensitivity: float = Field(
        0.05, ge=0, le=1, description="share of a step that waits on cross-pod traffic (see twin.placement)"
    )
    gpu_type: str = Field("any", description="a GPU type of the sites' catalog, or 'any'")
    site: str = Field("any", description="a site name, or 'any'")


class InferenceDemand(Strict):
    """An internal inference fleet per site: GPUs busy follow a daily curve and grow."""

    site: str = Field(description="the site whose servers the fleet holds")
    gpu_type: str = Field("any", description="a GPU type of the site's catalog, or 'any'")
    peak_gpus: int = Field(gt=0, description="GPUs held at the daily peak, at the start of the run")
    trough_fraction: float = Field(0.55, gt=0, le=1, description="night load / peak load")
    peak_hour: float = Field(15, ge=0, lt=24, description="local hour of the daily peak")
    growth_per_year: float = Field(
        0.0, ge=-0.9, le=10, description="yearly growth of the load (0.3: +30 % a year)"
    )


class Sla(Strict):
    availability: float = Field(
        0.99, gt=0, le=1, description="share of committed GPU-hours the lease must deliver each month"
    )
    credits: list[CreditStep] = Field(
        [
            CreditStep(below=0.99, credit=0.10),
            CreditStep(below=0.95, credit=0.25),
            CreditStep(below=0.90, credit=1.00),
        ],
        description="credit steps: below an attainment, this share of the month's bill is credited (the deepest step applies)",
    )


class Lease(Strict):
    """Capacity sold to an external tenant."""

    name: str = Field(
        min_length=1, max_length=128, description="unique name of the lease; results are keyed by it"
    )
    tenant: str = Field(min_length=1, max_length=128, description="the company that buys the capacity")
    gpu_type: str = Field(description="a GPU type of the sites' catalog")
    gpus: int = Field(
        gt=0,
        le=5_000_000,
        description="GPUs committed to the tenant (whole racks or pods are carved out to hold them)",
    )
    site: str = Field("any", description="a site name, or 'any' (the one with most room)")
    start_day: float = Field(0, ge=0, description="day of the run the lease starts")
    term_days: float = Field(
        gt=0,
        le=3650,
        description="length of the lease; billing stops at the run's end if the term outlasts it",
    )
    kind: LeaseKind = Field(
        "reserved",
        description="reserved, capacity_block (at most 182 days), on_demand or spot (preempted first)",
    )
    price_usd_per_gpu_hour: float = Field(gt=0, le=1000, description="price per GPU-hour")
    billing: Literal["take_or_pay", "metered"] = Field(
        "take_or_pay",
        description="take_or_pay: the committed GPUs are billed whether used or not; metered: the GPU-hours delivered",
    )
    sla: Sla = Field(
        Sla(), description="availability target and credits (reserved leases and capacity blocks)"
    )
    termination_notice_days: float = Field(
        90, ge=0, description="notice the owner must give to end the lease early"
    )
    isolation: Literal["rack", "pod"] = Field(
        "rack", description="rack: whole racks; pod: whole pods, the tenant's own network domain"
    )
    tenant_utilization: float = Field(0.85, ge=0, le=1, description="share of its GPUs the tenant keeps busy")

    @model_validator(mode="after")
    def _kind_rules(self) -> Lease:
        if self.kind == "capacity_block" and self.term_days > 182:
            raise ValueError("a capacity block lasts at most 182 days; use kind: reserved")
        if self.kind in ("on_demand", "spot") and self.billing != "metered":
            raise ValueError(f"{self.kind} capacity is billed by use; set billing: metered")
        return self


#: what each of an event's kind-specific fields means, for the messages that name them
FIELD_MEANS = {
    "site": "the site it happens at",
    "hall": "an outage's hall, 'building/hall'",
    "mw": "a curtailment's MW the site must shed",
    "lease": "a termination's lease",
    "factor": "a demand shock's arrival multiplier",
    "degrees_c": "a heat wave's degrees added to the dry-bulb",
}


class Event(Strict):
    """Something that happens to the campuses during the run."""

    kind: Literal["outage", "curtailment", "lease_termination", "demand_shock", "heat_wave"] = Field(
        description="outage, curtailment, lease_termination, demand_shock or heat_wave"
    )
    day: float = Field(ge=0, description="when it starts (or, for a termination, the notice day)")
    hours: float = Field(24, gt=0, description="how long it lasts")
    site: str | None = Field(None, description="the site it happens at (outage, curtailment, heat wave)")
    hall: str | None = Field(None, description="'building/hall', for a hall outage")
    mw: float | None = Field(None, ge=0, description="curtailment: power the site must shed")
    lease: str | None = Field(None, description="lease_termination: the lease ended")
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
        what = self.kind.replace("_", " ")
        missing = [f for f in need[self.kind] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"{what} events need {' and '.join(f'{f} ({FIELD_MEANS[f]})' for f in missing)}")
        # A value the kind does not use would be silently ignored (an outage given mw ran as a
        # plain outage): refused, with whose field it is. A site is tolerated (a table fills it in).
        unused = [f for f in FIELD_MEANS if f != "site" and f not in need[self.kind] and f != "hall"]
        unused += ["hall"] if self.kind != "outage" else []
        given = [f for f in unused if getattr(self, f) is not None]
        if given:
            told = ", ".join(f"{f} ({FIELD_MEANS[f]})" for f in given)
            raise ValueError(
                f"{what} events do not use {told}; leave {'it' if len(given) == 1 else 'them'} empty"
            )
        return self


class TraceColumns(Strict):
    submit: str = Field("submit_time", description="the CSV column of each job's submit time")
    gpus: str = Field("gpus", description="the CSV column of each job's GPUs")
    duration: str = Field("duration", description="the CSV column of each job's compute duration")
    owner: str | None = Field(None, description="the CSV column naming who submitted the job (optional)")


class JobTrace(Strict):
    """A CSV of jobs that replaces the synthetic training generator."""

    file: str = Field(description="CSV of jobs, relative to the scenario file")
    columns: TraceColumns = Field(
        TraceColumns(), description="which CSV columns hold the submit time, GPUs, duration and owner"
    )
    time_unit: Literal["s", "min", "h"] = Field(
        "s", description="unit of the submit time and duration columns: s, min or h"
    )
    repeat: bool = Field(False, description="replay the trace again when the horizon outlasts it")


class Failures(Strict):
    enabled: bool = Field(True, description="draw failures at the Llama 3 rates (off: no server ever fails)")
    rate_scale: float = Field(1.0, ge=0, le=100, description="x the Llama 3 rates")
    repair_scale: float = Field(1.0, gt=0, le=100, description="x every category's repair time")


class Physics(Strict):
    """The power chain, cooling and weather (twin.plant); off, facility power is IT x money.pue."""

    enabled: bool = Field(
        True, description="model weather, the power chain and cooling, with power capping and shedding"
    )
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
    name: str = Field(
        min_length=1, max_length=128, description="the scenario's name, shown in results and plans"
    )
    description: str = Field("", description="free text for the reader")
    sites: list[str] = Field(min_length=1, max_length=16, description="site files, relative paths")
    start: dt.date = Field(
        dt.date(2027, 1, 1), description="first day of the run (sets the season and the weekdays)"
    )
    days: float = Field(365, gt=0, le=3650, description="length of the run in days")
    seed: int = Field(
        0, ge=0, le=SEED_MAX, description="random seed: the same scenario and seed give the same results"
    )
    sample_hours: float = Field(
        1.0, gt=0, le=24, description="interval of the recorded time series and of the physics balance"
    )
    training: TrainingDemand | None = Field(
        TrainingDemand(), description="synthetic internal training demand (null: none)"
    )
    inference: list[InferenceDemand] = Field(
        [], description="internal inference fleets that follow a daily curve"
    )
    trace: JobTrace | None = Field(
        None, description="a CSV job trace that replaces the synthetic training demand"
    )
    leases: list[Lease] = Field([], description="capacity sold to outside tenants")
    hosted_models: list[HostedModel] = Field(
        [], max_length=64, description="models the owner hosts and sells by the token"
    )
    events: list[Event] = Field(
        [], description="outages, curtailments, terminations, demand shocks and heat waves"
    )
    failures: Failures = Field(Failures(), description="hardware and software failures")
    physics: Physics = Field(Physics(), description="power chain, cooling and weather")
    money: Money = Field(
        Money(), description="PUE without physics, the value of internal work, power draw of busy GPUs"
    )

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
