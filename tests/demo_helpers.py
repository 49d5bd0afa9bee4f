"""Scenarios and bare engines on the demo site, shared by the engine and lease tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from twin.campus import build_campus
from twin.engine import Engine
from twin.fleet_build import build_fleet
from twin.leases import LeaseState
from twin.load import load_site
from twin.scenario import Scenario, ScenarioSpec
from twin.scenario_checks import check_scenario
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
