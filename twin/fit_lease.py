"""The lease optimiser: the largest size of a lease the campuses can safely sell, site by start.

For one lease of a scenario, at each candidate site and start day, the optimiser looks for the
most GPUs (in whole isolation units: racks or pods of the lease's GPU type) such that, across
``replications`` seeds,

* the lease's SLA attainment meets ``sla`` in at least ``confidence`` of the runs,
* internal training slows by at most ``max_internal_slowdown``: the mean turnaround (submit to
  end) of completed training jobs, against the same seeds without the lease,
* internal inference is left short of at most ``max_internal_slowdown`` more of the GPU-hours it
  wants (held + short) than without the lease, and
* no other product of the scenario (a lease, a hosted model) falls below its SLA in more months
  than it does without the lease.

Feasibility falls as the lease grows (more GPUs to keep whole through failures, less room for
internal work), so a bisection over units finds the edge in a few steps. An offer says what
binds at the next unit up: ``SLA``, ``internal impact``, ``other sales``, ``power`` or
``cooling`` (the plant had to shed load, from the event log), or ``capacity`` when the lease
already holds every unit.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from twin.scenario import Scenario
from twin.scenario_checks import _isolation_unit
from twin.scenario_spec import ScenarioSpec
from twin.schema_messages import share_hint
from twin.simulate import simulate


@dataclass(frozen=True)
class Check:
    gpus: int
    feasible: bool
    binds: str  # "" when feasible
    sla_met_share: float
    slowdown: float
    revenue_usd: float
    margin_usd: float
    inference_short_rise: float = 0.0  # more of internal inference's GPU-hours left short
    others_hurt: tuple[str, ...] = ()  # other products below their SLA in more months

    def told(self) -> str:
        """The size and what was measured at it, e.g. "1,152 ✗ (SLA met on 50% of seeds, internal
        turnaround +7.9%)": the numbers behind a verdict, not the verdict alone."""
        mark = " ✓" if self.feasible else " ✗"
        # A rise under 0.05 % is seed noise (it was told as "inference short -0.1%").
        shown = abs(self.inference_short_rise) >= 0.0005
        # A share of inference's GPU-hours, so its change is in points ("-0.7%" read as a shortage).
        extra = f", inference shortfall {self.inference_short_rise * 100:+.1f} pts" if shown else ""
        if self.others_hurt:
            extra += f", {', '.join(self.others_hurt)} below SLA in more months"
        return (
            f"{self.gpus:,}{mark} (SLA met on {self.sla_met_share:.0%} of seeds, "
            f"internal turnaround {self.slowdown:+.1%}{extra})"
        )


@dataclass(frozen=True)
class Targets:
    """What a safe lease must meet, and over how many seeds it is judged."""

    sla: float = 0.99
    confidence: float = 0.95
    max_internal_slowdown: float = 0.05
    replications: int = 4

    #: (field, option, low, high, low included): the range each target must lie in
    RANGES = (
        ("sla", "--sla", 0.0, 1.0, False),
        ("confidence", "--confidence", 0.0, 1.0, False),
        ("max_internal_slowdown", "--max-internal-slowdown", 0.0, 100.0, True),
        ("replications", "--replications", 1, 1000, True),
    )

    def __post_init__(self) -> None:
        for name, option, lo, hi, closed in self.RANGES:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{option}: a number, got {value!r}")
            if not ((lo <= value) if closed else (lo < value)) or value > hi:
                hint = share_hint(f"{value:g}") if hi == 1.0 else ""
                raise ValueError(
                    f"{option}: must be {'at least' if closed else 'above'} {lo:g} and at most {hi:g}, "
                    f"got {value:g}" + (f"; {hint}" if hint else "")
                )


@dataclass(frozen=True)
class Offer:
    site: str
    start_day: float
    max_gpus: int
    revenue_usd: float  # mean over replications, at the offered size
    margin_usd: float
    binds: str
    checked: tuple[Check, ...]


def fit_lease(
    scenario: Scenario,
    lease_name: str,
    targets: Targets = Targets(),
    start_days: list[float] | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> list[Offer]:
    """Offers for ``lease_name`` at each candidate site and start day (see the module docstring).

    ``progress(message, share)`` is told each size before it is tried, with the share of the
    search's largest possible number of steps done so far.
    """
    spec = scenario.spec
    names = [lease.name for lease in spec.leases]
    if lease_name not in names:
        raise ValueError(f"no lease {lease_name!r} in the scenario; leases: {', '.join(names) or '(none)'}")
    lease = spec.leases[names.index(lease_name)]
    by_name = {s.spec.name: s for s in scenario.sites}
    sites = list(by_name) if lease.site == "any" else [lease.site]
    seeds = [spec.seed + r for r in range(targets.replications)]
    plans = []  # (site, isolation unit, GPUs of the lease's type installed there)
    for site in sites:
        unit = _isolation_unit(by_name, [site], lease.gpu_type, lease.isolation)
        installed = sum(
            rack_type.gpus * p.racks
            for b in by_name[site].buildings
            for h in b.halls
            for p in h.pods
            if (rack_type := by_name[site].catalog.rack_types[p.rack_type]).gpu_type == lease.gpu_type
        )
        if unit:
            plans.append((site, unit, installed))
    starts = start_days or [lease.start_day]
    # Runs the search may need at most (baseline, the top size, then a bisection), for progress.
    budget = sum(
        len(starts) * (2 + math.ceil(math.log2(max(2, installed // unit)))) for _, unit, installed in plans
    )
    done = [0]

    def tick(message: str) -> None:
        if progress:
            progress(message, min(1.0, done[0] / max(1, budget)))
        done[0] += 1

    offers = []
    for site, unit, installed in plans:
        for start in starts:
            tick(f"{site} day {start:g}: without the lease")
            bases = [_baseline(_run(scenario, spec, lease_name, None, site, start, s)) for s in seeds]

            def check(units: int, site=site, start=start, bases=bases, unit=unit) -> Check:
                gpus = units * unit
                tick(f"{site} day {start:g}: {gpus:,} GPUs")
                runs = [_run(scenario, spec, lease_name, gpus, site, start, s) for s in seeds]
                return _judge(runs, lease_name, gpus, bases, targets)

            lo, hi = 0, installed // unit  # lo: known feasible (0 = nothing), hi: largest to try
            checked: dict[int, Check] = {}
            top = check(hi)
            checked[hi] = top
            if top.feasible:
                lo = hi
            else:
                hi -= 1
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    checked[mid] = check(mid)
                    if checked[mid].feasible:
                        lo = mid
                    else:
                        hi = mid - 1
            at = checked.get(lo)
            above = checked.get(lo + 1)
            binds = "capacity" if lo == installed // unit else (above.binds if above else "SLA")
            offers.append(
                Offer(
                    site, start, lo * unit,
                    at.revenue_usd if at else 0.0, at.margin_usd if at else 0.0,
                    binds, tuple(checked[k] for k in sorted(checked)),
                )
            )  # fmt: skip
    return offers


def evaluate_size(
    scenario: Scenario, lease_name: str, gpus: int, site: str, start_day: float, targets: Targets = Targets()
) -> Check:
    """Whether the lease at ``gpus`` passes, and what binds if not (one point of the search)."""
    spec = scenario.spec
    seeds = [spec.seed + r for r in range(targets.replications)]
    base = [_baseline(_run(scenario, spec, lease_name, None, site, start_day, s)) for s in seeds]
    runs = [_run(scenario, spec, lease_name, gpus, site, start_day, s) for s in seeds]
    return _judge(runs, lease_name, gpus, base, targets)


def _run(
    scenario: Scenario,
    spec: ScenarioSpec,
    lease_name: str,
    gpus: int | None,
    site: str,
    start: float,
    seed: int,
):
    """The scenario with the lease at ``gpus`` (None: without it), ``site`` and ``start``, seed ``seed``."""
    data = spec.model_dump()
    leases = []
    for item in data["leases"]:
        if item["name"] != lease_name:
            leases.append(item)
        elif gpus:
            leases.append({**item, "gpus": gpus, "site": site, "start_day": start})
    data.update(leases=leases, seed=seed)
    data["events"] = [
        e for e in data["events"] if e.get("lease") in {x["name"] for x in leases} or not e.get("lease")
    ]
    variant = copy.copy(scenario)
    variant.spec = ScenarioSpec.model_validate(data)
    return simulate(variant)


def _turnaround(results) -> float:
    jobs = results.jobs
    done = jobs[(jobs["kind"] == "training") & (jobs["status"] == "done")]
    return float((done["end_h"] - done["submit_h"]).mean()) if len(done) else math.nan


@dataclass(frozen=True)
class _Baseline:
    """What a seed's run without the lease gives the judge to compare with."""

    turnaround_h: float
    inference_short_share: float
    months_below: dict[str, int]


def _inference_short_share(results) -> float:
    k = results.kpis
    short, held = k.get("inference_unmet_gpu_hours") or 0.0, k.get("inference_gpu_hours") or 0.0
    return short / (short + held) if short + held > 0 else 0.0


def _months_below(results) -> dict[str, int]:
    out = {}
    for name, p in (results.kpis.get("products") or {}).items():
        months = p.get("months_below_sla")
        if months is None:  # a lease: its row in the lease table
            rows = results.leases[results.leases["lease"] == name] if "lease" in results.leases else []
            months = int(rows["months_below_target"].iloc[0]) if len(rows) else 0
        out[name] = int(months)
    return out


def _baseline(results) -> _Baseline:
    return _Baseline(_turnaround(results), _inference_short_share(results), _months_below(results))


def _judge(runs, lease_name: str, gpus: int, bases: list[_Baseline], targets: Targets) -> Check:
    attain, slow, short, revenue, margin, plant, hurt = [], [], [], [], [], set(), set()
    for results, base in zip(runs, bases, strict=True):
        product = (results.kpis.get("products") or {}).get(lease_name) or {}
        attain.append(product.get("sla_attainment") or 0.0)
        revenue.append(float(product.get("revenue_usd") or 0.0))
        margin.append(float(product.get("margin_usd") or 0.0))
        turn, was = _turnaround(results), base.turnaround_h
        slow.append(turn / was - 1.0 if was and not math.isnan(was) and not math.isnan(turn) else 0.0)
        short.append(_inference_short_share(results) - base.inference_short_share)
        below = _months_below(results)
        hurt |= {n for n, m in below.items() if n != lease_name and m > base.months_below.get(n, 0)}
        kinds = set(results.events["kind"]) if len(results.events) else set()
        plant |= {k for k in kinds if k in ("power", "cooling", "curtailment")}
    met = float(np.mean([a >= targets.sla for a in attain]))
    slowdown, short_rise = float(np.mean(slow)), float(np.mean(short))
    binds = ""
    if met < targets.confidence:
        binds = "SLA"
    elif slowdown > targets.max_internal_slowdown or short_rise > targets.max_internal_slowdown:
        binds = "internal impact"
    elif hurt:
        binds = "other sales"
    if binds and plant:  # the plant shed load: say which limit, before the symptom
        binds = "cooling" if "cooling" in plant else "power"
    return Check(
        gpus, not binds, binds, met, slowdown, float(np.mean(revenue)), float(np.mean(margin)),
        short_rise, tuple(sorted(hurt)),
    )  # fmt: skip
