"""The console's run pool: runs in worker processes, progress, cancel, the cache, bad input."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.runs import PoolBusy, RunPool, outcome_of, run_key
from app.state.whatif import WhatIf
from twin.results import json_default

SCENARIOS = Path(__file__).resolve().parent.parent / "sample_sites" / "scenarios"


def wait(handle, timeout_s: float = 120.0):
    deadline = time.monotonic() + timeout_s
    seen = []
    while not handle.done():
        seen.append(handle.progress)
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.02)
    return outcome_of(handle), seen


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunPool]:
    pool = RunPool(workers=1, slots=3, cache_dir=tmp_path_factory.mktemp("cache"))
    pool.warm().result(timeout=120)
    yield pool
    pool.shutdown()


def same_kpis(a: dict, b: dict) -> bool:
    # Not compared: wall time, and the SimPy event count, which includes the progress reporter's ticks.
    def text(k: dict) -> str:
        return json.dumps({**k, "wall_seconds": 0, "sim_events": 0}, default=json_default, sort_keys=True)

    return text(a) == text(b)


def demo(days: float = 5, **rows) -> str:
    w = WhatIf(SCENARIOS, base="demo_whatif")
    w.param.update(days=days, **rows)
    return w.scenario_text()


def test_run_matches_a_run_in_this_process_and_is_cached(pool: RunPool) -> None:
    from twin.scenario import load_scenario_text
    from twin.simulate import simulate

    text = demo(days=4)
    outcome, _ = wait(pool.submit(text, SCENARIOS))
    assert outcome.problems == [] and not outcome.cached
    here = simulate(load_scenario_text(text, SCENARIOS))
    assert same_kpis(outcome.results.kpis, here.kpis)
    again = pool.submit(text, SCENARIOS)
    assert again.done() and outcome_of(again).cached


def test_disk_cache_gives_back_the_same_results(pool: RunPool, tmp_path: Path) -> None:
    text = demo(days=3)
    outcome, _ = wait(pool.submit(text, SCENARIOS))
    key = outcome.key
    assert (pool.cache_dir / key / "kpis.json").is_file()
    fresh = RunPool(workers=1, cache_dir=pool.cache_dir)  # a restarted server: nothing in memory
    try:
        back = fresh.cached(key)
    finally:
        fresh.shutdown()
    assert back is not None
    a = outcome.results
    pd.testing.assert_frame_equal(back.site_series, a.site_series)
    np.testing.assert_array_equal(back.rack_day_utilization, a.rack_day_utilization)
    assert back.rack_leases == a.rack_leases and "acme-gb200-pod" in back.rack_leases
    assert same_kpis(back.kpis, a.kpis)


def test_progress_rises_and_cancel_stops_the_run(pool: RunPool) -> None:
    handle = pool.submit(demo(days=365), SCENARIOS)  # seconds of work
    deadline = time.monotonic() + 60
    while handle.progress < 0.05 and not handle.done():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert 0 < handle.progress < 1
    handle.cancel()
    outcome, _ = wait(handle, timeout_s=30)
    assert outcome.cancelled and outcome.results is None
    assert pool.cached(handle.key) is None
    # the worker is free again: a small run goes through
    assert wait(pool.submit(demo(days=1), SCENARIOS))[0].results is not None


def test_invalid_what_if_comes_back_as_problems(pool: RunPool) -> None:
    w = WhatIf(SCENARIOS, base="demo_whatif")
    w.leases = [w.leases[0] | {"gpus": 10**7}]
    outcome, _ = wait(pool.submit(w.scenario_text(), SCENARIOS))
    assert outcome.results is None
    assert any("leases[0].gpus" in p for p in outcome.problems)


def test_same_run_from_two_sessions_is_shared_and_slots_are_bounded(pool: RunPool) -> None:
    texts = [demo(days=200 + d) for d in range(3)]
    first = pool.submit(texts[0], SCENARIOS)
    second = pool.submit(texts[0], SCENARIOS)
    assert second.run is first.run  # one run for both sessions
    others = [pool.submit(t, SCENARIOS) for t in texts[1:]]
    with pytest.raises(PoolBusy, match="3 runs are already queued or running"):
        pool.submit(demo(days=300), SCENARIOS)
    for h in [first, second, *others]:
        h.cancel()
    for h in [first, second, *others]:
        assert wait(h, timeout_s=60)[0].cancelled
    # A session is free at once; the run's slot comes back when its worker stops (next report).
    for h in [first, second, *others]:
        assert h.run.settled.wait(60)
    assert len(pool._free) == pool.slots


def test_one_session_cancelling_a_shared_run_leaves_it_to_the_other(pool: RunPool) -> None:
    text = demo(days=20)
    mine, theirs = pool.submit(text, SCENARIOS), pool.submit(text, SCENARIOS)
    mine.cancel()
    assert mine.done() and outcome_of(mine).cancelled  # this session is free at once
    outcome, _ = wait(theirs)
    assert outcome.results is not None and not outcome.cancelled
    assert pool.cached(theirs.key) is not None


def test_key_follows_the_text_the_input_files_and_the_code(tmp_path: Path, monkeypatch) -> None:
    text = demo(days=2)
    assert run_key(text, SCENARIOS) == run_key(text, SCENARIOS)
    assert run_key(text, SCENARIOS) != run_key(demo(days=3), SCENARIOS)
    (tmp_path / "scenarios").mkdir()
    site = tmp_path / "demo.yaml"
    site.write_text("name: x\n")
    before = run_key(text, tmp_path / "scenarios")
    site.write_text("name: y  \n")
    assert run_key(text, tmp_path / "scenarios") != before
    changed = run_key(text, tmp_path / "scenarios")
    (tmp_path / ".upload-0123.yaml").write_text("name: z\n")  # an upload being checked: no input yet
    assert run_key(text, tmp_path / "scenarios") == changed
    # A new version of the twin does not serve what the old one computed from the same files.
    same = run_key(text, SCENARIOS)
    monkeypatch.setattr("app.runs.code_version", lambda: "0+changed-twin")
    assert run_key(text, SCENARIOS) != same
