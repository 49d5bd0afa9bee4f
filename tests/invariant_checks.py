"""The invariants of a run, checked at every sample: the engine, the sample, the results.

``checked_simulate`` runs a scenario with :meth:`twin.recorder.Recorder.sample` wrapped so that, after
each sample is taken, the engine's state is recounted from the per-server arrays and compared with the
per-rack and per-pod counters, every running job and active lease is checked against the fleet, and
the books of jobs are balanced. After the run, the recorded series and the money are checked too.
``tests/test_invariants.py`` runs it on generated scenarios and on fixed ones that reach the corners.
"""

from __future__ import annotations

import contextlib
import json
import math

import numpy as np
from demo_helpers import SITES, demo_site
from hypothesis import assume

from twin import plant as plant_module
from twin import recorder as recorder_module
from twin.fleet import FREE
from twin.scenario import Scenario
from twin.scenario_checks import check_scenario
from twin.scenario_spec import ScenarioSpec
from twin.simulate import simulate

PRICE = 2.5


def scenario(doc: dict) -> Scenario:
    spec = ScenarioSpec.model_validate({"name": "generated", "sites": ["demo.yaml"], **doc})
    problems = check_scenario(spec, [demo_site()], SITES)
    # Generated guaranteed leases may overlap beyond the site's GPUs: validation refuses those
    # (tests/test_scenarios.py); here they are simply not a case to run.
    assert all("guaranteed leases book" in message for _, message in problems), problems
    if problems:
        assume(False)
    return Scenario(spec=spec, sites=[demo_site()], file=str(SITES / "generated.yaml"))


# -- the checks ----------------------------------------------------------------------------------


def check_engine(engine) -> None:
    """Everything that must hold of the engine's state at any instant between events."""
    f = engine.fleet
    up = ~f.down
    gpus = f.server_gpus

    def per_rack(mask):
        return np.bincount(f.server_rack, weights=gpus * mask, minlength=f.racks).astype(np.int64)

    # A server's state is exclusive: down wins over its lease; busy and leased never overlap.
    assert not np.any((f.job != FREE) & (f.lease != FREE)), "a server both busy and leased"
    assert not np.any(f.down & (f.job != FREE)), "a down server still runs internal work"
    # Counters equal a recount from the per-server arrays (catches drift).
    assert np.array_equal(f.rack_busy_gpus, per_rack(up & (f.job != FREE))), "rack_busy_gpus drifted"
    assert np.array_equal(f.rack_leased_gpus, per_rack(up & (f.lease != FREE))), "rack_leased_gpus drifted"
    assert np.array_equal(f.rack_failed_gpus, per_rack(f.down)), "rack_failed_gpus drifted"
    leased_by_pool = np.bincount(
        f.pod_pool_key[f.server_pod],
        weights=gpus * (up & (f.lease != FREE)),
        minlength=f.pool_leased_gpus.size,
    )
    assert np.array_equal(f.pool_leased_gpus, leased_by_pool), "pool_leased_gpus drifted"
    idle = up & (f.job == FREE) & (f.lease == FREE)
    assert np.array_equal(f.idle, idle), "idle flags drifted"
    recount = np.bincount(f.server_pod, weights=idle, minlength=f.pods)
    assert np.array_equal(f.pod_idle_servers, recount), "pod_idle_servers drifted"
    pool_recount = np.bincount(
        f.pod_pool_key, weights=recount * f.pod_gpus_per_server, minlength=f.pool_idle_gpus.size
    )
    assert np.array_equal(f.pool_idle_gpus, pool_recount.astype(np.int64)), "pool_idle_gpus drifted"
    # installed = busy + leased + failed + idle, idle >= 0, per rack.
    used = f.rack_busy_gpus + f.rack_leased_gpus + f.rack_failed_gpus
    assert (
        (f.rack_busy_gpus >= 0).all() and (f.rack_leased_gpus >= 0).all() and (f.rack_failed_gpus >= 0).all()
    )
    assert (used <= f.rack_gpus).all(), "a rack is over-allocated"
    # Hosted models hold exactly their replicas' servers, all healthy; their GPU count is a recount.
    for owner, service in engine.hosted.items():
        held = [s for r in service.replicas.values() for s in r.servers.tolist()]
        assert np.count_nonzero(f.job == owner) == len(held) == len(set(held)), "hosted servers drifted"
        assert (f.job[held] == owner).all() and not f.down[held].any()
        assert service.held_gpus == service.replica_gpus * len(service.replicas)
        assert len(service.replicas) <= service.spec.max_replicas
    # Inference fleets hold exactly the servers marked theirs, each once (holes left by losses aside).
    for owner, held in engine.inference_held.items():
        alive = held.alive()
        assert np.array_equal(np.sort(alive), np.flatnonzero(f.job == owner)), "inference servers drifted"
        assert held.count == alive.size and (f.slot[alive] == np.flatnonzero(held.servers != -1)).all()
    assert np.array_equal(f.rack_gpus - used, per_rack(idle))
    tenant_busy = np.bincount(
        f.server_rack,
        weights=gpus * (up & (f.lease != FREE)) * f.lease_utilization[np.maximum(f.lease, 0)],
        minlength=f.racks,
    )
    assert np.allclose(f.rack_tenant_busy_gpus, tenant_busy, atol=1e-6)

    # Jobs: the books balance, a running job holds exactly its gang, nobody else holds its servers.
    status = [job.status for job in engine.jobs]
    queued = {job.id for _, job in engine.queue}
    assert queued == {job.id for job in engine.jobs if job.status == "queued"}
    assert len(engine.queue) == status.count("queued")
    assert len(status) == sum(status.count(s) for s in ("queued", "running", "done", "rejected"))
    held = f.job[f.job >= 0]
    marked = np.bincount(held, minlength=len(engine.jobs)) if held.size else np.zeros(len(engine.jobs), int)
    for job in engine.jobs:
        if job.status != "running":
            assert marked[job.id] == 0, f"{job.status} job {job.id} holds servers"
            continue
        servers = job.servers
        assert np.unique(servers).size == servers.size, f"job {job.id} holds a server twice"
        assert (f.job[servers] == job.id).all() and marked[job.id] == servers.size
        assert not f.down[servers].any()
        got = int(gpus[servers].sum())
        assert job.gpus <= got < job.gpus + int(gpus[servers].max()), f"job {job.id}: {got} for {job.gpus}"
        assert np.unique(f.server_site[servers]).size == 1 and np.unique(f.server_gpu_type[servers]).size == 1
        assert job.slowdown >= 1.0 and job.remaining >= 0

    # Leases: healthy GPUs and members recount; delivered never above committed; racks not shared.
    for lease in engine.leases:
        mine = f.lease == lease.index
        if lease.status != "active":
            assert not mine.any(), f"{lease.status} lease {lease.spec.name} still holds servers"
            continue
        assert lease.healthy_gpus == int(gpus[mine & up].sum()), f"lease {lease.spec.name} healthy_gpus"
        assert lease.members == int(mine.sum())
        assert lease.held_gpus == int(gpus[mine].sum()), (
            f"lease {lease.spec.name} held_gpus (its depreciation)"
        )
        assert (f.server_gpu_type[mine] == lease.gpu_type).all()
        assert (lease.delivered <= lease.committed + 1e-6).all()
        racks = np.unique(f.server_rack[lease.servers])
        assert f.rack_busy_gpus[racks].sum() == 0, f"internal work on lease {lease.spec.name}'s racks"


def check_results(res, doc: dict) -> None:
    """What must hold of a finished run's tables, series and money."""
    k = res.kpis
    # The KPI JSON is standard JSON (collect nulls NaN and infinities): strict parsers refuse them.
    json.dumps(k, allow_nan=False, default=str)
    hall = res.hall_series
    used = hall["busy_gpus"] + hall["leased_gpus"] + hall["failed_gpus"]
    assert (hall[["busy_gpus", "leased_gpus", "failed_gpus"]] >= 0).all().all()
    assert (used <= hall["installed_gpus"]).all()
    site = res.site_series
    sums = hall.groupby("time_h")[["installed_gpus", "busy_gpus", "leased_gpus", "failed_gpus"]].sum()
    assert np.allclose(sums.to_numpy(), site.set_index("time_h")[sums.columns].to_numpy())
    assert (site["displaced_gpus"] <= site["leased_gpus"] + 1e-6).all()
    util = res.rack_day_utilization
    assert ((util >= 0) & (util <= 1 + 1e-5)).all()

    assert (
        k["jobs_submitted"] == k["jobs_completed"] + k["jobs_running"] + k["jobs_queued"] + k["jobs_rejected"]
    )
    jobs = res.jobs
    if len(jobs):
        started = jobs[jobs["first_start_h"].notna()]
        after_start = started["queue_wait_hours"] - (started["first_start_h"] - started["submit_h"])
        parts = started[["productive_hours", "lost_hours", "checkpoint_hours", "restart_hours"]].sum(axis=1)
        assert np.allclose(parts + after_start, started["wall_hours"], rtol=1e-9, atol=1e-6)
        assert (started["productive_hours"] <= started["wall_hours"] + 1e-9).all()
        training = doc["training"]
        cycle = training["checkpoint_interval_hours"] + training["checkpoint_write_hours"]
        events = (jobs["interruptions"] + jobs["preemptions"]).clip(lower=1)
        assert (jobs["lost_hours"] <= events * cycle + 1e-9).all()
        assert (jobs["max_slowdown"] >= 1).all()
    if not math.isnan(k["effective_training_time"] or math.nan):
        assert 0 <= k["effective_training_time"] <= 1 + 1e-12

    margin = (
        k["revenue_usd"]
        - k["sla_credits_usd"]
        - k["lease_energy_cost_usd"]
        - k["hosted_energy_cost_usd"]
        - k["lease_depreciation_usd"]
        - k["hosted_depreciation_usd"]
        - k["displaced_internal_net_value_usd"]
    )
    assert math.isclose(k["margin_usd"], margin, rel_tol=1e-9, abs_tol=1e-6)
    # The products (leases and hosted models) add up to the totals: the console's waterfall is
    # built from them, the CLI from the totals, and both must tell one story.
    products = list(k["products"].values())
    for key, total in (
        ("revenue_usd", k["revenue_usd"]),
        ("credits_usd", k["sla_credits_usd"]),
        ("energy_cost_usd", k["lease_energy_cost_usd"] + k["hosted_energy_cost_usd"]),
        ("depreciation_usd", k["lease_depreciation_usd"] + k["hosted_depreciation_usd"]),
        ("margin_usd", k["margin_usd"] + k["displaced_internal_net_value_usd"]),
    ):
        assert math.isclose(sum(p[key] for p in products), total, rel_tol=1e-9, abs_tol=1e-6), key
    assert math.isclose(
        k["utilization"], k["internal_utilization"] + k["hosted_share"] + k["leased_share"], abs_tol=1e-9
    )
    assert k["internal_utilization"] >= -1e-9 and k["hosted_share"] >= 0
    assert k["lease_energy_cost_usd"] <= k["energy_cost_usd"] + 1e-6
    assert k["lease_depreciation_usd"] <= k["depreciation_usd"] + 1e-6
    for row in res.leases.to_dict("records") if len(res.leases) else []:
        assert row["delivered_gpu_hours"] <= row["committed_gpu_hours"] + 1e-6
        assert 0 <= row["credits_usd"] <= row["revenue_usd"] + 1e-6
        basis = row["committed_gpu_hours"] if row["billing"] == "take_or_pay" else row["delivered_gpu_hours"]
        assert math.isclose(row["revenue_usd"], basis * PRICE, rel_tol=1e-9, abs_tol=1e-6)
        if row["kind"] in ("spot", "on_demand"):
            assert row["credits_usd"] == 0
        if row["status"] == "refused":
            assert row["granted_gpus"] == 0 and row["revenue_usd"] == 0
            assert row["end_hour"] == row["start_hour"]  # it never ran: no contract end to show
    lease_revenue = float(res.leases["revenue_usd"].sum()) if len(res.leases) else 0.0
    assert math.isclose(k["revenue_usd"] - k["hosted_revenue_usd"], lease_revenue, abs_tol=1e-6)
    # Hosted models: every request and token is served, dropped or still queued.
    hosted = res.hosted_series
    for name, s in hosted.groupby("product") if len(hosted) else []:
        for unit in ("requests", "input_tokens", "output_tokens"):
            accounted = s[f"served_{unit}"].cumsum() + s[f"dropped_{unit}"].cumsum() + s[f"queued_{unit}"]
            assert np.allclose(s[unit].cumsum(), accounted, rtol=1e-9, atol=1e-6), (name, unit)
        assert (
            (s[["served_requests", "dropped_requests", "queued_requests", "gpu_hours"]] >= -1e-9).all().all()
        )
    healthy = res.tenant_series
    if len(healthy):
        assert (healthy["healthy_gpus"] >= 0).all()


def check_energy_balance(plant, i: int, recorded_it_kw: np.ndarray) -> None:
    """facility = IT + losses + cooling + other, per hall and per site, and the plant's IT is the recorder's."""
    hall = {m: plant.hall[k, i].astype(np.float64) for k, m in enumerate(plant_module.HALL_SERIES)}
    site = {m: plant.site[k, i] for k, m in enumerate(plant_module.SITE_SERIES)}
    for rows, rtol in ((hall, 1e-5), (site, 1e-9)):
        parts = rows["it_kw"] + rows["losses_kw"] + rows["cooling_kw"] + rows["other_kw"]
        assert np.allclose(rows["facility_kw"], parts, rtol=rtol, atol=1e-3), "energy balance broken"
        assert (rows["losses_kw"] >= 0).all() and (rows["cooling_kw"] >= 0).all()
    assert np.allclose(hall["it_kw"], recorded_it_kw, rtol=1e-5, atol=1e-2)
    assert np.allclose(site["facility_kw"], hall["facility_kw"] @ plant._hall_to_site, rtol=1e-5)
    assert ((hall["power_cap"] >= plant.min_cap - 1e-9) & (hall["power_cap"] <= 1.0)).all()


def check_sample(recorder, i: int, engine) -> None:
    """The sample just taken agrees with a recount of the engine's state."""
    f = engine.fleet
    halls = f.hall_site.size
    hall = {m: recorder.hall[k, i] for k, m in enumerate(recorder_module.HALL_METRICS)}
    for metric, counter in (
        ("busy_gpus", f.rack_busy_gpus),
        ("leased_gpus", f.rack_leased_gpus),
        ("failed_gpus", f.rack_failed_gpus),
    ):
        assert np.array_equal(hall[metric], np.bincount(f.rack_hall, weights=counter, minlength=halls)), (
            metric
        )
    installed = np.bincount(f.rack_hall, weights=f.rack_gpus, minlength=halls)
    assert np.array_equal(hall["installed_gpus"], installed)
    # IT kW recounted per rack: idle draw of the GPUs in service, plus the load-dependent part of the
    # busy and tenant-busy ones; out-of-service servers draw nothing.
    per_gpu_idle = f.rack_idle_kw / f.rack_gpus
    per_gpu_dyn = (f.rack_max_kw - f.rack_idle_kw) / f.rack_gpus
    # A power-capped hall's GPUs draw only the cap's share of their busy dynamic power.
    cap = recorder.plant.cap[f.rack_hall] if recorder.plant is not None else 1.0
    rack_kw = per_gpu_idle * (
        f.rack_gpus - f.rack_failed_gpus
    ) + recorder.busy_power_fraction * cap * per_gpu_dyn * (f.rack_busy_gpus + f.rack_tenant_busy_gpus)
    expected_kw = np.bincount(f.rack_hall, weights=rack_kw, minlength=halls)
    assert np.allclose(hall["it_kw"], expected_kw, rtol=1e-5, atol=1e-2), "hall IT kW differs from a recount"
    if recorder.plant is not None:
        check_energy_balance(recorder.plant, i, hall["it_kw"])
    max_kw = np.bincount(f.rack_hall, weights=f.rack_max_kw, minlength=halls)
    assert (hall["it_kw"] <= max_kw + 1e-3).all()
    site = {m: recorder.site[k, i] for k, m in enumerate(recorder_module.SITE_METRICS)}
    queued = np.zeros(len(f.campuses))
    for job in engine.jobs:
        if job.status == "queued" and job.sites.size == 1:
            queued[job.sites[0]] += job.gpus
    assert np.array_equal(site["queued_gpus"], queued), "queued_gpus differs from the queue"
    assert (site["leased_it_kw"] <= site["it_kw"] + 1e-6).all()
    if recorder.tenant_healthy is not None and engine.leases:
        expected = [lease.healthy_gpus if lease.status == "active" else 0 for lease in engine.leases]
        assert np.array_equal(recorder.tenant_healthy[i], expected)


@contextlib.contextmanager
def checking_every_sample(counter: list[int]):
    """Wrap Recorder.sample: after each sample, check the engine's state and the sample."""
    original = recorder_module.Recorder.sample

    def sample(self, i, engine):
        original(self, i, engine)
        check_engine(engine)
        check_sample(self, i, engine)
        counter[0] += 1

    recorder_module.Recorder.sample = sample
    try:
        yield
    finally:
        recorder_module.Recorder.sample = original


def checked_simulate(doc: dict):
    samples = [0]
    with checking_every_sample(samples):
        res = simulate(scenario(doc))
    assert samples[0] == int(doc["days"] * 24 / doc.get("sample_hours", 1) + 1e-9)
    check_results(res, doc)
    return res
