"""The hosted-model product in a scenario: a model the campus runs itself and sells by the token.

Where a lease sells GPUs by the hour (the CoreWeave way), a hosted model sells access (the Bedrock
way): the owner runs replicas of a model on its own GPUs and bills every input and output token.
A product names its model and replica shape, the demand it faces (a daily curve with growth and
bursts, or a request trace), its prices, its latency target and the autoscaler's bounds; see
:mod:`twin.hosted` for how it runs and :mod:`twin.serving` for the queueing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from twin.catalog import Strict
from twin.sla import CreditStep


class Burst(Strict):
    """Demand multiplied by ``factor`` for ``hours`` from ``day`` (a launch, an outage elsewhere)."""

    day: float = Field(ge=0, description="day of the product's life the burst starts")
    hours: float = Field(gt=0, le=24 * 365, description="how long it lasts")
    factor: float = Field(gt=0, le=100, description="x the request rate while it lasts")


class RequestCurve(Strict):
    """Synthetic requests: a daily cosine between trough and peak, growing, with bursts.

    Arrivals in each serving step are Poisson around the curve (seeded), with the mean token
    counts below.
    """

    peak_requests_per_second: float = Field(
        gt=0, le=1_000_000, description="request rate at the daily peak, at the product's start"
    )
    trough_fraction: float = Field(0.4, gt=0, le=1, description="night rate / peak rate")
    peak_hour: float = Field(14, ge=0, lt=24, description="local hour of the daily peak")
    weekend_factor: float = Field(1.0, gt=0, le=3, description="Saturday and Sunday rate / weekday rate")
    growth_per_year: float = Field(
        0.0, ge=-0.9, le=10, description="yearly growth of the rate (0.3: +30 % a year)"
    )
    mean_input_tokens: float = Field(1000, gt=0, le=2_000_000, description="mean prompt tokens per request")
    mean_output_tokens: float = Field(
        300, gt=0, le=1_000_000, description="mean generated tokens per request"
    )
    bursts: list[Burst] = Field([], max_length=1000, description="periods of extra demand")


class RequestTraceColumns(Strict):
    timestamp: str = Field("timestamp", description="the CSV column of each request's time")
    input_tokens: str = Field("input_tokens", description="the CSV column of each request's prompt tokens")
    output_tokens: str = Field(
        "output_tokens", description="the CSV column of each request's generated tokens"
    )


class RequestTrace(Strict):
    """A CSV of requests (one row each): when, and how many input and output tokens."""

    file: str = Field(description="CSV of requests, relative to the scenario file")
    columns: RequestTraceColumns = Field(
        RequestTraceColumns(), description="which CSV columns hold the time and the tokens"
    )
    time_unit: Literal["s", "min", "h"] = Field("s", description="unit of the timestamp column: s, min or h")
    repeat: bool = Field(True, description="replay the trace when the horizon outlasts it")
    rate_scale: float = Field(1.0, gt=0, le=1_000_000, description="x the trace's request rate")


class Autoscaler(Strict):
    startup_minutes: float = Field(10, ge=0, le=24 * 60, description="from placing a replica to serving")
    target_utilization: float = Field(0.7, gt=0, le=1, description="work / capacity it aims for")
    scale_down_after_minutes: float = Field(
        30, ge=0, le=7 * 24 * 60, description="demand must stay low this long before replicas go"
    )


class Latency(Strict):
    ttft_p95_seconds: float = Field(2.0, gt=0, le=3600, description="target: time to first token, p95")
    timeout_seconds: float = Field(60, gt=0, le=24 * 3600, description="a request waiting longer is dropped")


class LatencySla(Strict):
    """Monthly share of requests answered within the TTFT target; below a step, a credit."""

    attainment: float = Field(
        0.99, gt=0, le=1, description="share of requests that must meet the TTFT target each month"
    )
    credits: list[CreditStep] = Field(
        [
            CreditStep(below=0.99, credit=0.10),
            CreditStep(below=0.95, credit=0.25),
        ],
        description="credit steps: below an attainment, this share of the month's revenue is credited",
    )


class HostedModel(Strict):
    name: str = Field(
        min_length=1, max_length=128, description="unique name of the product; results are keyed by it"
    )
    model: str = Field(min_length=1, max_length=128, description="what is served, for the reader")
    site: str = Field(description="the site whose servers run its replicas")
    gpu_type: str = Field(description="a GPU type of the site's catalog")
    gpus_per_replica: int = Field(gt=0, le=100_000, description="tensor x pipeline width; one pod")
    input_tokens_per_second: float = Field(gt=0, le=1e9, description="per replica: prefill rate")
    output_tokens_per_second: float = Field(gt=0, le=1e9, description="per replica: decode rate, batched")
    concurrency: int = Field(64, gt=0, le=100_000, description="requests a replica serves at once")
    demand: RequestCurve | None = Field(None, description="requests from a daily curve (give this or trace)")
    trace: RequestTrace | None = Field(None, description="requests from a CSV trace (give this or demand)")
    price_usd_per_million_input_tokens: float = Field(
        ge=0, le=10_000, description="price per million prompt tokens served"
    )
    price_usd_per_million_output_tokens: float = Field(
        ge=0, le=10_000, description="price per million generated tokens served"
    )
    latency: Latency = Field(Latency(), description="the TTFT target and the timeout")
    sla: LatencySla = Field(LatencySla(), description="attainment target and credits")
    min_replicas: int = Field(
        1,
        ge=0,
        le=1_000_000,
        description="replicas held at all times (raise it to keep servers for the product)",
    )
    max_replicas: int = Field(gt=0, le=1_000_000, description="the autoscaler never holds more")
    autoscaler: Autoscaler = Field(
        Autoscaler(), description="start-up delay, target utilisation, scale-down window"
    )
    start_day: float = Field(0, ge=0, description="day of the run the product starts")
    term_days: float | None = Field(None, gt=0, le=3650, description="default: to the horizon")
    step_minutes: float = Field(15, ge=1, le=60, description="serving step of the queueing model")

    @model_validator(mode="after")
    def _consistent(self) -> HostedModel:
        if (self.demand is None) == (self.trace is None):
            raise ValueError("give the product either demand (a request curve) or trace (a request CSV)")
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must be at most max_replicas")
        return self
