"""The compiled loops that find servers give what their numpy formulations give (hypothesis).

Placement picks among pods by rules with ties (best fit, most idle first, least slowdown); these
pin each loop of :mod:`twin.placement_kernels` (and the stand-in search of :mod:`twin.kernels`) to
the numpy expressions it replaced, ties and strict comparisons included, so a run stays the same
to the bit.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from kernel_helpers import SEEDS, random_pods

from twin.kernels import next_idle, spare_for
from twin.placement_kernels import best_fit_pod, first_idle, spread_pods, take_idle


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_best_fit_pod_is_the_argmin_over_fitting_open_pods(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pods = int(rng.integers(1, 40))
    ok, pod_open = rng.random(pods) < 0.7, rng.random(pods) < 0.9
    idle = rng.integers(0, 10, pods).astype(np.int64)
    need = rng.integers(1, 6, pods).astype(np.int64)
    mask = ok & pod_open & (idle >= need)
    cand = np.flatnonzero(mask)
    expected = int(cand[np.argmin(idle[cand] - need[cand])]) if cand.size else -1
    assert best_fit_pod(ok, pod_open, idle, need) == expected


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_idle_scans_match_flatnonzero(seed: int) -> None:
    rng = np.random.default_rng(seed)
    idle = rng.random(int(rng.integers(1, 60))) < 0.4
    start = int(rng.integers(0, idle.size))
    stop = int(rng.integers(start, idle.size + 1))
    n = int(rng.integers(0, 10))
    expected = np.flatnonzero(idle[start:stop])[:n] + start
    np.testing.assert_array_equal(first_idle(idle, start, stop, n), expected)
    found = np.flatnonzero(idle[start:stop])
    assert next_idle(idle, start, stop) == (int(found[0]) + start if found.size else -1)


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_a_stand_in_comes_from_the_lost_pod_first_then_the_jobs_pods_in_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    first, servers, server_pod, _, _ = random_pods(rng)
    idle = rng.random(servers) < 0.2
    pod_idle = np.bincount(server_pod[idle], minlength=first.size - 1).astype(np.int64)
    job_pods = rng.permutation(first.size - 1)[: int(rng.integers(1, first.size))].astype(np.int64)
    lost_pod = int(job_pods[0])
    candidates = [lost_pod] + [int(p) for p in job_pods]
    with_idle = [p for p in candidates if pod_idle[p] > 0]
    want = (
        int(np.flatnonzero(idle[first[with_idle[0]] : first[with_idle[0] + 1]])[0] + first[with_idle[0]])
        if with_idle
        else -1
    )
    assert spare_for(lost_pod, job_pods, idle, first, pod_idle) == want


def _numpy_spread(ok, pod_open, idle_servers, need, scopes, gpu_type, fabric, sensitivity):
    """Placement's steps 2 and 3 as numpy expressions (what ``spread_pods`` replaced)."""
    building, spine, agg, core = fabric
    ok = ok & pod_open
    idle = np.where(ok, idle_servers, 0)
    if not idle.any():
        return None
    best = None
    for scope in scopes:
        groups = scope * 64 + gpu_type
        for g in np.unique(groups[ok]):
            members = np.flatnonzero(ok & (groups == g))
            k = int(need[members[0]])
            if idle[members].sum() < k:
                continue
            order = members[np.argsort(-idle[members], kind="stable")]
            cum = np.cumsum(idle[order])
            n_pods = int(np.searchsorted(cum, k) + 1)
            pods = order[:n_pods]
            counts = idle[pods].copy()
            counts[-1] -= int(cum[n_pods - 1] - k)
            s = 1.0
            if pods.size > 1:
                crossing = 1.0 - counts.max() / counts.sum()
                across = (agg if np.unique(building[pods]).size == 1 else core)[pods].min()
                s = float(1.0 + sensitivity * crossing * (spine[pods].min() / across - 1.0))
            if best is None or s < best[0]:
                best = (s, pods, counts)
        if best is not None:
            return best
    return None


@settings(max_examples=120, deadline=None)
@given(SEEDS)
def test_spread_pods_picks_what_the_numpy_placement_picks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pods = int(rng.integers(1, 60))
    site = np.sort(rng.integers(0, 2, pods)).astype(np.int32)
    building = (site * 10 + rng.integers(0, 4, pods)).astype(np.int32)
    gpu_type = rng.integers(0, 2, pods).astype(np.int32)
    ok, pod_open = rng.random(pods) < 0.8, rng.random(pods) < 0.9
    idle = rng.integers(0, 12, pods).astype(np.int64)
    need = np.full(pods, int(rng.integers(1, 40)), dtype=np.int64)
    # Few distinct bandwidths, so that equal slowdowns (ties between groups) happen.
    spine = rng.choice([400.0, 800.0], pods)
    agg, core = spine / rng.choice([2.0, 3.0], pods), spine / rng.choice([6.0, 7.0], pods)
    fabric = (building, spine, agg, core)
    sensitivity = float(rng.choice([0.0, 0.05, 0.3]))
    got = spread_pods(ok, pod_open, idle, need, site, gpu_type, fabric, sensitivity)
    want = _numpy_spread(ok, pod_open, idle, need, (building, site), gpu_type, fabric, sensitivity)
    if want is None:
        assert got[0].size == 0
        return
    assert np.array_equal(got[0], want[1]) and np.array_equal(got[1], want[2])
    assert got[2] == want[0]
    assert got[1].sum() == need[0] and (got[1] <= idle[got[0]]).all()


@settings(max_examples=80, deadline=None)
@given(SEEDS)
def test_an_inference_fleet_grows_into_the_most_idle_open_pods_first(seed: int) -> None:
    rng = np.random.default_rng(seed)
    first, servers, server_pod, _, _ = random_pods(rng, pods=int(rng.integers(1, 20)))
    idle = rng.random(servers) < 0.4
    pod_idle = np.bincount(server_pod[idle], minlength=first.size - 1).astype(np.int64)
    pod_open = rng.random(first.size - 1) < 0.85
    pods = np.flatnonzero(rng.random(first.size - 1) < 0.7)
    need = int(rng.integers(1, 30))
    got = take_idle(pods, need, pod_idle, pod_open, first, idle)
    # The loop it replaced, in numpy.
    want, left = [], need
    for pod in pods[np.argsort(-pod_idle[pods], kind="stable")].tolist():
        if left == 0 or pod_idle[pod] <= 0:
            break
        if not pod_open[pod]:
            continue
        found = np.flatnonzero(idle[first[pod] : first[pod + 1]])[:left] + first[pod]
        want.append(found)
        left -= found.size
    np.testing.assert_array_equal(got, np.concatenate(want) if want else np.empty(0, dtype=np.int64))
    assert got.size <= need and idle[got].all() and np.unique(got).size == got.size
