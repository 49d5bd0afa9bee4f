"""Running a scenario: build the fleet, start every process, run to the horizon, collect results.

Randomness: one ``numpy`` SeedSequence per run, spawned into an independent stream per generator
(training arrivals, failures, each inference fleet), so the same scenario and seed give the same
results on any machine, and adding a lease does not reshuffle the failures.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import time
from collections.abc import Callable

import numpy as np

from twin.campus import build_campus
from twin.collector import fewer_collections
from twin.demand import (
    DemandState,
    inference_fleet,
    load_trace,
    trace_arrivals,
    training_arrivals,
)
from twin.engine import Engine
from twin.errors import dotted
from twin.failures import FailureModel
from twin.fleet_build import build_fleet
from twin.hosted import HostedService, curve_demand, load_request_trace, trace_demand
from twin.leases import ACTIVE, LeaseState
from twin.plant import Plant
from twin.recorder import Recorder
from twin.results import Results, collect
from twin.scenario import Scenario
from twin.scenario_checks import after_the_horizon, held_unbilled, lease_site
from twin.scenario_spec import Event, TrainingDemand
from twin.weather import HeatWave, hourly_weather

STREAMS = ("training", "failures", "trace", "inference", "events", "weather", "hosted")


def month_edges(start: dt.date, horizon_hours: float) -> np.ndarray:
    """Hours since ``start`` of each calendar-month boundary covering the horizon."""
    edges = [0.0]
    y, m = start.year, start.month
    t = (calendar.monthrange(y, m)[1] - start.day + 1) * 24.0
    while True:
        edges.append(min(t, horizon_hours))
        if t >= horizon_hours:
            break
        m += 1
        if m > 12:
            y, m = y + 1, 1
        t += calendar.monthrange(y, m)[1] * 24.0
    return np.array(edges)


def simulate(scenario: Scenario, progress: Callable[[float], None] | None = None) -> Results:
    """Run ``scenario`` to its horizon and return its results."""
    with fewer_collections():
        return _simulate(scenario, progress)


def _simulate(scenario: Scenario, progress: Callable[[float], None] | None) -> Results:
    wall0 = time.perf_counter()
    spec = scenario.spec
    horizon = spec.days * 24.0
    campuses = [build_campus(site) for site in scenario.sites]
    fleet = build_fleet(campuses)
    seq = np.random.SeedSequence(spec.seed)
    rngs = dict(zip(STREAMS, (np.random.default_rng(s) for s in seq.spawn(len(STREAMS))), strict=True))
    engine = Engine(fleet, horizon, rngs, spec.money.pue, spec.money.gpu_busy_fraction_of_max_power)
    env = engine.env

    edges = engine.month_edges = month_edges(spec.start, horizon)
    installed = {c.name: c.gpus_by_type() for c in campuses}
    fleet.lease_utilization = np.array([lease.tenant_utilization for lease in spec.leases] or [0.0])
    for i, lease in enumerate(spec.leases):
        site = fleet.site_index(lease_site(lease, installed))
        state = LeaseState(
            index=i,
            spec=lease,
            site=site,
            gpu_type=fleet.gpu_type_names.index(lease.gpu_type),
            start=lease.start_day * 24.0,
            end=min(horizon, (lease.start_day + lease.term_days) * 24.0),
            month_edges=edges,
        )
        engine.leases.append(state)
        if state.start < horizon:
            env.process(engine.lease_process(state))

    demand = DemandState()
    defaults = spec.training or TrainingDemand()
    if spec.trace is not None:
        jobs = scenario.trace_jobs
        if jobs is None:  # a Scenario made in code, not loaded
            jobs = load_trace(scenario.folder / spec.trace.file, spec.trace)
        env.process(trace_arrivals(engine, jobs, spec.trace, defaults, horizon))
    elif spec.training is not None:
        env.process(training_arrivals(engine, spec.training, demand, rngs["training"]))

    money = spec.money
    value = [
        money.internal_value_usd_per_gpu_hour_by_type.get(name, money.internal_value_usd_per_gpu_hour)
        for name in fleet.gpu_type_names
    ]
    recorder = Recorder(
        fleet, horizon, spec.sample_hours, money.gpu_busy_fraction_of_max_power, np.array(value)
    )
    if spec.physics.enabled:
        engine.plant = recorder.plant = _plant(spec, campuses, fleet, recorder, rngs["weather"])
    # Inference fleets' GPUs per sample: [0] wanted and not got, [1] held.
    inference_gpus = np.zeros((2, recorder.samples, max(1, len(spec.inference))), dtype=np.float32)
    for k, inf in enumerate(spec.inference):
        env.process(inference_fleet(engine, k, inf, inference_gpus, spec.sample_hours))
    product_rngs = rngs["hosted"].spawn(len(spec.hosted_models))
    for j, product in enumerate(spec.hosted_models):
        service = _hosted_service(scenario, engine, j, product, product_rngs[j])
        if service.steps:
            engine.hosted[service.owner] = service
            env.process(service.process())
    if spec.failures.enabled:
        env.process(
            engine.failure_process(FailureModel.llama3(spec.failures.rate_scale, spec.failures.repair_scale))
        )
    for event in spec.events:
        env.process(_event_process(engine, event, demand))
    for loc, message in after_the_horizon(spec):  # in the event log, so no one wonders where it went
        engine.note("all", "not_simulated", dotted(loc), message)
    for loc, message in held_unbilled(spec, scenario.sites):  # and why a lease holds more than it bills
        engine.note("all", "held_unbilled", dotted(loc), message)
    env.process(recorder.process(engine))
    if progress is not None:
        env.process(_progress(env, horizon, progress))

    env.run(until=horizon)
    for job in engine.jobs:
        if job.status == "running":
            job.account_at_horizon(horizon)
    for lease in engine.leases:
        if lease.status == ACTIVE:
            lease.touch(horizon)
    for service in engine.hosted.values():
        service.finish()
    return collect(scenario, engine, recorder, inference_gpus, time.perf_counter() - wall0)


def _hosted_service(scenario: Scenario, engine: Engine, j: int, product, rng) -> HostedService:
    """A hosted model's service with its demand bucketed into serving steps over its life."""
    spec = scenario.spec
    horizon = engine.horizon
    start_h = min(product.start_day * 24.0, horizon)
    end_h = horizon if product.term_days is None else min(horizon, start_h + product.term_days * 24.0)
    step_h = product.step_minutes / 60.0
    steps = max(0, math.ceil((end_h - start_h) / step_h - 1e-9))
    t0 = start_h + np.arange(steps) * step_h
    dt_h = np.minimum(step_h, end_h - t0)
    if product.trace is not None:
        requests = load_request_trace(scenario.folder / product.trace.file, product.trace)
        demand = trace_demand(requests, product.trace, step_h, steps)
    else:
        site = engine.fleet.campuses[engine.fleet.site_index(product.site)].site.spec
        tz_hours = round(site.location.longitude / 15.0)
        demand = curve_demand(product.demand, t0, dt_h, tz_hours, spec.start, rng)
    owner = -2 - len(spec.inference) - j
    return HostedService(engine, owner, product, demand, start_h)


def _plant(spec, campuses, fleet, recorder: Recorder, rng: np.random.Generator) -> Plant:
    weather = []
    for campus in campuses:
        waves = [
            HeatWave(ev.day * 24.0, ev.hours, ev.degrees_c or 0.0)
            for ev in spec.events
            if ev.kind == "heat_wave" and ev.site == campus.name
        ]
        site = campus.site.spec
        weather.append(
            hourly_weather(site.climate, site.location.longitude, spec.start, recorder.t, rng, waves)
        )
    physics = spec.physics
    return Plant(
        fleet,
        weather,
        recorder.t,
        spec.sample_hours,
        spec.money.gpu_busy_fraction_of_max_power,
        physics.min_power_cap,
        physics.throughput_exponent,
    )


def _progress(env, horizon: float, report: Callable[[float], None]):
    step = max(horizon / 200.0, 1.0)
    while True:
        report(min(1.0, env.now / horizon))
        yield env.timeout(step)


def _event_process(engine: Engine, event: Event, demand: DemandState):
    env = engine.env
    yield env.timeout(event.day * 24.0)
    f = engine.fleet
    if event.kind == "lease_termination":
        lease = next(lease for lease in engine.leases if lease.spec.name == event.lease)
        engine.terminate_lease(lease)
    elif event.kind == "demand_shock":
        factor = 1.0 if event.factor is None else event.factor
        demand.shock(factor)
        engine.note("all", "demand_shock", "training arrivals", f"x{event.factor} for {event.hours:g} h")
        yield env.timeout(event.hours)
        demand.unshock(factor)
    elif event.kind == "outage":
        site = f.site_index(event.site)
        if event.hall:
            hall = f.hall_names.index(f"{event.site}/{event.hall}")
            servers = np.flatnonzero(f.rack_hall[f.server_rack] == hall)
            subject = event.hall
        else:
            servers = np.flatnonzero(f.server_site == site)
            subject = "whole site"
        engine.note(site, "outage", subject, f"{servers.size:,} servers down for {event.hours:g} h")
        engine.hit_servers(servers, event.hours, "outage")
        engine.schedule()
    elif event.kind == "heat_wave":
        site = f.site_index(event.site)
        detail = f"+{event.degrees_c:g} C dry-bulb for {event.hours:g} h"
        if engine.plant is not None:  # whether it matters: the peaks against the cooling design
            dry, wet = engine.plant.weather_peaks(site, env.now, event.hours)
            climate = f.campuses[site].site.spec.climate
            detail += (
                f": peaks {dry:.1f} C dry-bulb, {wet:.1f} C wet-bulb (cooling designed for "
                f"{climate.design_dry_bulb_c:g} C, {climate.design_wet_bulb_c:g} C wet-bulb)"
            )
        engine.note(site, "heat_wave", event.site, detail)
        yield env.timeout(event.hours)
        engine.note(site, "heat_wave_end", event.site, "temperatures back to normal")
    elif event.kind == "curtailment":
        from twin.curtail import curtail

        yield from curtail(engine, event)
