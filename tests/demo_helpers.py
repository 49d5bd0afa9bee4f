"""Scenarios and bare engines on the demo site, shared by the engine and lease tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from twin.campus import build_campus
from twin.engine import Engine
from twin.fleet import FREE
from twin.fleet_build import build_fleet
from twin.leases import LeaseState
from twin.load import load_site
from twin.scenario import Scenario
from twin.scenario_checks import check_scenario
from twin.scenario_spec import ScenarioSpec
from twin.simulate import STREAMS, month_edges

SITES = Path(__file__).resolve().parent.parent / "sample_sites"


@cache
def demo_site():
    return load_site(SITES / "demo.yaml")


def scenario(**doc) -> Scenario:
    """A scenario on the demo site from keyword fields (checked like a scenario file)."""
    spec = ScenarioSpec.model_validate({"name": "test", "sites": ["demo.yaml"], **doc})
    problems = check_scenario(spec, [demo_site()], SITES)
    assert not problems, problems
    return Scenario(spec=spec, sites=[demo_site()], file=str(SITES / "test.yaml"))


def bare_engine(**doc) -> Engine:
    """An engine on the demo fleet with the scenario's leases set up but no process running."""
    spec = scenario(**doc).spec
    fleet = build_fleet([build_campus(demo_site())])
    horizon = spec.days * 24.0
    rngs = {name: np.random.default_rng(0) for name in STREAMS}
    engine = Engine(fleet, horizon, rngs)
    fleet.lease_utilization = np.array([lease.tenant_utilization for lease in spec.leases] or [0.0])
    for i, lease in enumerate(spec.leases):
        engine.leases.append(
            LeaseState(
                index=i,
                spec=lease,
                site=0,
                gpu_type=fleet.gpu_type_names.index(lease.gpu_type),
                start=lease.start_day * 24.0,
                end=(lease.start_day + lease.term_days) * 24.0,
                month_edges=month_edges(spec.start, horizon),
            )
        )
    return engine


def pods_of(engine: Engine, gpu_type: str) -> np.ndarray:
    f = engine.fleet
    return np.flatnonzero(f.pod_gpu_type == f.gpu_type_names.index(gpu_type))


def fleet_is_consistent(engine: Engine) -> None:
    """The per-rack and per-pod counters equal a recount from the per-server state."""
    f = engine.fleet
    up = ~f.down

    def count(mask):
        return np.bincount(f.server_rack, weights=f.server_gpus * mask, minlength=f.racks)

    assert np.array_equal(f.rack_busy_gpus, count(up & (f.job != FREE)))
    assert np.array_equal(f.rack_leased_gpus, count(up & (f.lease != FREE)))
    assert np.array_equal(f.rack_failed_gpus, count(f.down))
    idle = up & (f.job == FREE) & (f.lease == FREE)
    assert np.array_equal(f.pod_idle_servers, np.bincount(f.server_pod, weights=idle, minlength=f.pods))
