"""The scheduling queue: backfill, and the pool a long-waiting head of the queue reserves.

Bare engines on the demo site (2,048 H100 in four pods, 1,152 GB200 in two) set up exact
situations. A new job arriving while nothing queued can start is tried alone, without a full
scheduling pass (most of a year's ~100k jobs arrive that way); a property test checks that this
gives the same run, job for job, as a full pass at every submit.
"""

from __future__ import annotations

import numpy as np
import pytest
from demo_helpers import bare_engine, scenario

from twin.engine import Engine
from twin.fleet import INFERENCE
from twin.job_queue import DRAIN_AFTER_HOURS, MAX_BACKFILL_SCAN
from twin.jobs import Job
from twin.simulate import simulate


def new_job(engine: Engine, job_id: int, gpus: int, gpu_types: list[str], work_hours: float = 10.0) -> Job:
    names = engine.fleet.gpu_type_names
    return Job(
        id=job_id,
        kind="training",
        owner="internal",
        gpus=gpus,
        gpu_types=np.array([names.index(t) for t in gpu_types]),
        sites=np.array([0]),
        priority=5,
        submit=engine.env.now,
        work_hours=work_hours,
        checkpoint_interval=1.0,
        checkpoint_write=0.0,
        restart_overhead=0.1,
        network_sensitivity=0.05,
    )


def pool_of(engine: Engine, gpu_type: str) -> int:
    return engine.fleet.gpu_type_names.index(gpu_type)  # site 0: pool key = 0 * 64 + type


def test_a_new_job_backfills_until_the_head_has_waited_then_keeps_out_of_its_pool():
    engine = bare_engine(days=5)
    f = engine.fleet
    h100, gb200 = pool_of(engine, "H100-SXM"), pool_of(engine, "GB200")
    # Half the H100 servers busy elsewhere: a job of all 2,048 H100 cannot start.
    h100_servers = np.flatnonzero(f.pod_gpu_type[f.server_pod] == h100)
    held = h100_servers[: h100_servers.size // 2]
    f.assign_internal(held, INFERENCE)
    big = new_job(engine, 0, 2048, ["H100-SXM"])
    engine.submit(big)
    assert big.status == "queued"

    # Before the head has waited DRAIN_AFTER_HOURS, a small H100 job backfills ahead of it.
    early = new_job(engine, 1, 64, ["H100-SXM"], work_hours=2.0)
    engine.submit(early)
    assert early.status == "running" and early.gpu_type == h100

    engine.env.run(until=DRAIN_AFTER_HOURS + 1)
    assert early.status == "done" and big.status == "queued"
    # Now the head reserves the H100 pool: a job that also accepts GB200 goes there, and an
    # H100-only job waits although H100 GPUs are idle.
    assert f.pool_idle_gpus[h100] >= 64
    either = new_job(engine, 2, 64, ["H100-SXM", "GB200"])
    engine.submit(either)
    assert either.status == "running" and either.gpu_type == gb200
    h100_only = new_job(engine, 3, 64, ["H100-SXM"])
    engine.submit(h100_only)
    assert h100_only.status == "queued"

    # The H100 servers come free: the head starts first and takes them all.
    f.release_internal(held)
    engine._dirty = True
    engine.schedule()
    assert big.status == "running" and h100_only.status == "queued"
    assert f.pool_idle_gpus[h100] == 0
    assert [job.id for _, job in engine.queue] == [3]


def test_a_submit_first_starts_queued_jobs_that_fit_since_the_last_pass():
    """A requeue frees servers without a pass; the next arrival must not skip the jobs waiting."""
    engine = bare_engine(days=5)
    f = engine.fleet
    h100 = pool_of(engine, "H100-SXM")
    h100_servers = np.flatnonzero(f.pod_gpu_type[f.server_pod] == h100)
    f.assign_internal(h100_servers, INFERENCE)
    waiting = new_job(engine, 0, 64, ["H100-SXM"])
    engine.submit(waiting)
    assert waiting.status == "queued"
    f.release_internal(h100_servers[-8:])  # exactly 64 GPUs, the waiting job's size
    engine._dirty = True
    arriving = new_job(engine, 1, 8, ["GB200"])
    engine.submit(arriving)
    assert waiting.status == "running" and arriving.status == "running"
    assert f.pool_idle_gpus[h100] == 0 and not engine.queue


def test_a_new_job_behind_the_scanned_window_waits_even_if_it_fits():
    """Passes look at the first MAX_BACKFILL_SCAN jobs only (a bound on a pass's cost)."""
    engine = bare_engine(days=5)
    f = engine.fleet
    f.assign_internal(np.flatnonzero(f.pod_gpu_type[f.server_pod] == pool_of(engine, "H100-SXM")), INFERENCE)
    for job_id in range(MAX_BACKFILL_SCAN):
        engine.submit(new_job(engine, job_id, 64, ["H100-SXM"]))
    inside = new_job(engine, MAX_BACKFILL_SCAN, 64, ["GB200"])
    inside.priority = 6  # ahead of the others: inside the window
    engine.submit(inside)
    behind = new_job(engine, MAX_BACKFILL_SCAN + 1, 64, ["GB200"])
    engine.submit(behind)
    assert inside.status == "running" and behind.status == "queued"
    assert f.pool_idle_gpus[pool_of(engine, "GB200")] >= 64


BUSY_QUEUE = dict(
    days=12,
    training=dict(
        arrivals_per_day=120,
        size=dict(min_gpus=8, max_gpus=2048, alpha=0.4),
        duration_median_hours=6,
        checkpoint_interval_hours=0.5,
        checkpoint_write_hours=0.01,
        restart_overhead_hours=0.2,
    ),
    inference=[dict(site="Demo", gpu_type="H100-SXM", peak_gpus=400, growth_per_year=0.5)],
    failures=dict(enabled=True, rate_scale=100.0),
)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_new_job_tried_alone_starts_exactly_as_a_full_pass_would(seed, monkeypatch):
    """Same jobs, events and series whether a new job is tried alone or by a full pass."""
    tried_behind_a_queue = 0
    start_alone = Engine._start_alone

    def counting(self, job):
        nonlocal tried_behind_a_queue
        tried_behind_a_queue += bool(self.queue)
        return start_alone(self, job)

    monkeypatch.setattr(Engine, "_start_alone", counting)
    shortcut = simulate(scenario(**BUSY_QUEUE, seed=seed))
    assert tried_behind_a_queue > 50  # the shortcut ran with jobs waiting, not only into an empty queue
    assert (shortcut.jobs["queue_wait_hours"] > 1).sum() > 20

    monkeypatch.setattr(Engine, "_queued_could_start", lambda self: True)  # always a full pass
    full = simulate(scenario(**BUSY_QUEUE, seed=seed))
    assert shortcut.jobs.equals(full.jobs)
    assert shortcut.events.equals(full.events)
    assert shortcut.hall_series.equals(full.hall_series)
    assert {k: v for k, v in shortcut.kpis.items() if "wall" not in k} == {
        k: v for k, v in full.kpis.items() if "wall" not in k
    }
