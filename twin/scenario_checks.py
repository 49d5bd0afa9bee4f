"""Cross-file checks of a scenario against its sites, reported with the scenario's line numbers.

A lease naming an unknown site or GPU type, a lease larger than its site can hold under its
isolation, guaranteed leases that overbook a site, a hosted model whose replica cannot fit in one
pod: each comes back as (location in the scenario, message that says how to fix it).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from twin.hosted_spec import HostedModel
from twin.resolve import ResolvedSite, did_you_mean

if TYPE_CHECKING:  # twin.scenario imports this module to check what it loads
    from twin.scenario_spec import Lease, ScenarioSpec


# Every job stays in memory for the results' job table (about 1.3 KB each, measured with 1M jobs),
# and a queue of millions makes each scheduling pass slow: a run asking for more is refused up
# front rather than left to exhaust the machine. The sample year submits ~106k.
MAX_JOBS = 2_000_000
MAX_SAMPLES = 200_000  # a year hourly is 8,760; a month by the minute 43,200


def expected_training_jobs(spec: ScenarioSpec) -> float:
    """Synthetic training jobs the run submits on average, demand shocks included.

    Shocks in force together multiply (as :class:`twin.demand.DemandState` applies them), so the
    rate is integrated piece by piece between the shocks' starts and ends.
    """
    rate = spec.training.arrivals_per_day / 24.0
    hours = spec.days * 24.0
    changes: list[tuple[float, float, int]] = []  # (hour, factor, +1 as it starts or -1 as it ends)
    for ev in spec.events:
        if ev.kind == "demand_shock" and ev.factor is not None and ev.day * 24.0 < hours:
            changes += [(ev.day * 24.0, ev.factor, 1), (min(hours, ev.day * 24.0 + ev.hours), ev.factor, -1)]
    changes.sort(key=lambda c: c[0])
    total, t, log_factor, zeros = 0.0, 0.0, 0.0, 0  # the product in force, as a log and its zeros

    def in_force() -> float:
        return 0.0 if zeros else math.exp(min(log_factor, 700.0))

    for when, factor, sign in changes:
        total += rate * in_force() * (when - t)
        t = when
        if factor == 0.0:  # a shock of 0 stops arrivals while it lasts
            zeros += sign
        else:
            log_factor += sign * math.log(factor)
    return total + rate * in_force() * (hours - t)


def _round_up(x: float) -> str:
    """``x`` to three significant figures, rounded up: a suggested minimum that is itself enough."""
    scale = 10.0 ** (math.floor(math.log10(x)) - 2)
    return f"{math.ceil(x / scale - 1e-9) * scale:.3g}"


def _count(n: float) -> str:
    return f"{n:,.0f}" if n < 1e12 else f"{n:.2e}"


def too_many_jobs(jobs: float, fix: str) -> str:
    return (
        f"this asks for about {_count(jobs)} jobs over the run, more than the {MAX_JOBS:,} a run may hold "
        f"(each stays in memory for the job table); {fix}"
    )


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
    samples = spec.days * 24.0 / spec.sample_hours
    if samples > MAX_SAMPLES:
        out.append(
            (
                ("sample_hours",),
                f"{spec.sample_hours:g} h over {spec.days:g} days is {_count(samples)} samples, more than the "
                f"{MAX_SAMPLES:,} a run records (each holds every hall's series); raise sample_hours to at "
                f"least {_round_up(spec.days * 24.0 / MAX_SAMPLES)} or shorten days",
            )
        )
    if spec.trace is None and spec.training is not None:
        jobs = expected_training_jobs(spec)
        if jobs > MAX_JOBS:
            out.append(
                (("training", "arrivals_per_day"), too_many_jobs(jobs, "lower arrivals_per_day or days"))
            )
    if spec.trace is not None and not (folder / spec.trace.file).is_file():
        out.append(
            (("trace", "file"), f"trace file {spec.trace.file!r} {missing_file(folder / spec.trace.file)}")
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
    for name in spec.money.internal_value_usd_per_gpu_hour_by_type:
        if name not in gpu_types:
            out.append(
                (
                    ("money", "internal_value_usd_per_gpu_hour_by_type", name),
                    f"unknown GPU type {name!r}" + did_you_mean(name, gpu_types),
                )
            )
    for i, product in enumerate(spec.hosted_models):
        out.extend(
            _check_hosted(("hosted_models", i), product, by_name, installed, folder, check_site, check_type)
        )
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


def _check_hosted(
    loc, product: HostedModel, by_name, installed, folder: Path, check_site, check_type
) -> list:
    """A product serves from one named site, and one replica must fit inside one pod there."""
    out: list[tuple[tuple, str]] = []
    if product.site == "any":
        return [((*loc, "site"), f"a hosted model serves from one site; name it ({', '.join(by_name)})")]
    if not check_site((*loc, "site"), product.site):
        return out
    if product.gpu_type == "any":
        return [((*loc, "gpu_type"), "a hosted model runs on one GPU type; name it")]
    if not check_type((*loc, "gpu_type"), product.gpu_type, product.site):
        return out
    pod = _largest_pod(by_name[product.site], product.gpu_type)
    if product.gpus_per_replica > pod:
        out.append(
            (
                (*loc, "gpus_per_replica"),
                f"a replica of {product.gpus_per_replica:,} GPUs cannot fit in one pod of "
                f"{product.gpu_type} at {product.site!r} (the largest has {pod:,}); replicas never span pods",
            )
        )
    floor = product.min_replicas * product.gpus_per_replica
    if floor > installed[product.site][product.gpu_type]:
        out.append(
            (
                (*loc, "min_replicas"),
                f"{product.min_replicas} replicas need {floor:,} GPUs, more than the "
                f"{installed[product.site][product.gpu_type]:,} {product.gpu_type} at {product.site!r}",
            )
        )
    if product.trace is not None and not (folder / product.trace.file).is_file():
        out.append(
            (
                (*loc, "trace", "file"),
                f"request trace {product.trace.file!r} {missing_file(folder / product.trace.file)}",
            )
        )
    return out


def missing_file(path: Path) -> str:
    """Why a file a scenario names cannot be read, and the fix (the path is not a regular file)."""
    if path.exists():  # a folder, a pipe, a device: "not found" would send the user looking for it
        return "is not a regular file (a folder or a pipe); name a file, relative to the scenario"
    return "not found; the path is relative to the scenario"


def largest_pool_gpus(sites: list[ResolvedSite], gpu_type: str, site: str) -> int:
    """GPUs of the largest (site, GPU type) pool a job accepting ``gpu_type`` at ``site`` may use
    ("any" for either): a job needs all its GPUs in one pool, so a bigger one never starts."""
    types = {rt.gpu_type for s in sites for rt in s.catalog.rack_types.values()}
    return max(
        (
            _site_gpus(s, g)
            for s in sites
            if site in ("any", s.spec.name)
            for g in types
            if gpu_type in ("any", g)
        ),
        default=0,
    )


def _largest_pod(site: ResolvedSite, gpu_type: str) -> int:
    sizes = [
        site.catalog.rack_types[p.rack_type].gpus * p.racks
        for b in site.buildings
        for h in b.halls
        for p in h.pods
        if site.catalog.rack_types[p.rack_type].gpu_type == gpu_type
    ]
    return max(sizes, default=0)


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
        # A lease on a site the scenario does not run, or of a GPU type none of its sites has, is
        # reported by its own check, not here.
        if lease.kind in ("reserved", "capacity_block")
        and lease.gpu_type != "any"
        and (lease.site == "any" or lease.site in installed)
        and any(lease.gpu_type in types for types in installed.values())
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


def held_unbilled(spec: ScenarioSpec, sites: list[ResolvedSite]) -> list[tuple[tuple, str]]:
    """Leases whose isolation rounds them up to whole racks or pods: valid, but the GPUs past the
    ones asked for are held and paid for by no one (a margin the price must carry). Notes:
    (loc, message) pairs; "at least", as a site's pods may differ in size."""
    by_name = {s.spec.name: s for s in sites}
    out: list[tuple[tuple, str]] = []
    for i, lease in enumerate(spec.leases):
        candidates = [lease.site] if lease.site != "any" else list(by_name)
        if not all(name in by_name for name in candidates):
            continue
        unit = _isolation_unit(by_name, candidates, lease.gpu_type, lease.isolation)
        if not unit or lease.gpus % unit == 0:
            continue
        held = -(-lease.gpus // unit) * unit
        other = ", or use isolation: rack" if lease.isolation == "pod" else ""
        out.append(
            (
                ("leases", i, "gpus"),
                f"lease {lease.name!r} takes whole {lease.isolation}s of {unit:,} GPUs: at least {held:,} are "
                f"held for the {lease.gpus:,} it pays for, and the other {held - lease.gpus:,} earn nothing; "
                f"ask for a multiple of {unit:,}{other}",
            )
        )
    return out


def after_the_horizon(spec: ScenarioSpec) -> list[tuple[tuple, str]]:
    """Leases, hosted models and events that begin on or after the run's last day: valid, but the
    run never reaches them, so they change nothing. Notes, not problems: (loc, message) pairs."""
    days = spec.days
    tail = f"after the run's {days:g} days, so it is not simulated; make it earlier or run more days"
    out: list[tuple[tuple, str]] = []
    for i, lease in enumerate(spec.leases):
        if lease.start_day >= days:
            out.append(
                (
                    ("leases", i, "start_day"),
                    f"lease {lease.name!r} starts on day {lease.start_day:g}, {tail}",
                )
            )
    for i, product in enumerate(spec.hosted_models):
        if product.start_day >= days:
            out.append(
                (
                    ("hosted_models", i, "start_day"),
                    f"hosted model {product.name!r} starts on day {product.start_day:g}, {tail}",
                )
            )
    for i, event in enumerate(spec.events):
        if event.day >= days:
            out.append((("events", i, "day"), f"the {event.kind} event comes on day {event.day:g}, {tail}"))
    return out
