"""The compiled fleet loops give what their numpy formulations give, on random fleets (hypothesis).

The engine's own tests check whole runs; these pin each loop to the vector expression it replaced,
including the choice among ties and the order of float sums, so a run stays the same to the bit.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from kernel_helpers import SEEDS, random_pods

from twin.kernels import (
    add_day_usage,
    assign_servers,
    fail_one,
    fail_under_job,
    fold_moves,
    rack_day_shares,
    release_servers,
    repair_unleased,
    sample_halls,
    spare_for,
    stand_in,
)


def _idle_counts(idle: np.ndarray, server_pod: np.ndarray, pool: np.ndarray, gps: np.ndarray):
    """A recount of idle servers per pod and idle GPUs per pool (3 pools)."""
    pod_idle = np.bincount(server_pod[idle], minlength=pool.size).astype(np.int64)
    return pod_idle, np.bincount(pool, weights=pod_idle * gps, minlength=3).astype(np.int64)


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_fold_equals_the_bincount_formulation_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    servers, racks, halls = 50, 9, 4
    server_gpus = rng.choice([4, 8], servers).astype(np.int64)
    server_rack = rng.integers(0, racks, servers).astype(np.int64)
    server_hall = rng.integers(0, halls, servers).astype(np.int64)
    kw = rng.random(servers) * 1.7
    ones = rng.integers(0, servers, int(rng.integers(0, 30)))
    coded = np.where(rng.random(ones.size) < 0.5, ones, ~ones).astype(np.int64)
    blocks = [
        rng.integers(0, servers, int(rng.integers(1, 12))).astype(np.int64) for _ in range(rng.integers(0, 4))
    ]
    block_signs = rng.choice([-1, 1], len(blocks)).astype(np.int64)
    start = rng.integers(-50, 50, racks).astype(np.int64)
    start_halls = rng.random((7, halls)) * 100

    # What the fleet computed before the loop: one concatenation, then a bincount per counter.
    moved = np.concatenate([np.where(coded < 0, ~coded, coded), *blocks]).astype(np.int64)
    signs = np.concatenate(
        [np.where(coded < 0, -1, 1), *[np.full(b.size, s) for b, s in zip(blocks, block_signs, strict=True)]]
    )
    gpus = server_gpus[moved] * signs
    want_rack = start + np.bincount(server_rack[moved], weights=gpus, minlength=racks).astype(np.int64)
    want_halls = start_halls.copy()
    want_halls[0] += np.bincount(server_hall[moved], weights=gpus, minlength=halls)
    want_halls[3] += np.bincount(server_hall[moved], weights=gpus * kw[moved], minlength=halls)

    per_rack, hall_counts = start.copy(), start_halls.copy()
    flat = np.concatenate(blocks) if blocks else np.empty(0, dtype=np.int64)
    ends = np.cumsum([b.size for b in blocks], dtype=np.int64)
    fold_moves(
        coded, flat, ends, block_signs, server_gpus, server_rack, server_hall, kw, per_rack, hall_counts, 0, 3
    )
    np.testing.assert_array_equal(per_rack, want_rack)
    assert np.array_equal(hall_counts, want_halls)  # bit-identical, not approximately


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_assign_then_release_restores_the_idle_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    first, servers, server_pod, gps, pool = random_pods(rng)
    idle = rng.random(servers) < 0.6
    down = ~idle & (rng.random(servers) < 0.5)
    lease = np.full(servers, -1, dtype=np.int32)
    job = np.full(servers, -1, dtype=np.int64)
    slot = np.zeros(servers, dtype=np.int64)
    pod_idle, pool_idle = _idle_counts(idle, server_pod, pool, gps)
    before = (idle.copy(), pod_idle.copy(), pool_idle.copy())

    taken = np.flatnonzero(idle)[: int(rng.integers(0, idle.sum() + 1))]
    book = (idle, server_pod, pod_idle, pool, gps, pool_idle)
    assign_servers(taken, 7, job, slot, book)
    assert (job[taken] == 7).all() and not idle[taken].any()
    np.testing.assert_array_equal(slot[taken], np.arange(taken.size))
    for got, want in zip((pod_idle, pool_idle), _idle_counts(idle, server_pod, pool, gps), strict=True):
        np.testing.assert_array_equal(got, want)

    # One of them fails meanwhile: it is not given back as idle, nor counted as leaving busy work.
    if taken.size:
        down[taken[0]] = True
    up = release_servers(taken, job, down, lease, book)
    np.testing.assert_array_equal(up, taken[~down[taken]])
    assert (job[taken] == -1).all()
    if taken.size:
        before[0][taken[0]] = False
        before[1][server_pod[taken[0]]] -= 1
        before[2][pool[server_pod[taken[0]]]] -= gps[server_pod[taken[0]]]
    for got, want in zip((idle, pod_idle, pool_idle), before, strict=True):
        np.testing.assert_array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_day_usage_rounds_as_numpy_does(seed: int) -> None:
    rng = np.random.default_rng(seed)
    racks = int(rng.integers(1, 50))
    row = (rng.random(racks) * 1e7).astype(np.float32)
    busy = rng.integers(0, 1 << 20, racks).astype(np.int64)
    leased = rng.integers(0, 1 << 20, racks).astype(np.int64)
    want = row.copy()
    want += busy
    want += leased
    add_day_usage(row, busy, leased)
    assert np.array_equal(row, want)


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_repairs_stop_at_a_leased_server_and_skip_those_not_due(seed: int) -> None:
    rng = np.random.default_rng(seed)
    first, servers, server_pod, gps, pool = random_pods(rng)
    down = rng.random(servers) < 0.5
    down_until = np.where(down, rng.choice([1.0, 2.0], servers), 0.0)
    lease = np.where(rng.random(servers) < 0.15, 0, -1).astype(np.int32)
    idle = ~down & (lease == -1)
    pod_idle, pool_idle = _idle_counts(idle, server_pod, pool, gps)
    due = rng.integers(0, servers, int(rng.integers(0, 20))).astype(np.int64)  # repeats happen too

    # The loop it replaced: one server at a time, stopping at a due server of a lease.
    want_down, want_idle, want_repaired, stop = down.copy(), idle.copy(), [], due.size
    for k, server in enumerate(due.tolist()):
        if not want_down[server] or down_until[server] > 1.0 + 1e-9:
            continue
        if lease[server] != -1:
            stop = k
            break
        want_down[server], want_idle[server] = False, True
        want_repaired.append(server)

    repaired = np.empty(due.size, dtype=np.int64)
    got_stop, n = repair_unleased(
        due, 0, 1.0, down, down_until, lease, (idle, server_pod, pod_idle, pool, gps, pool_idle), repaired
    )
    assert (got_stop, repaired[:n].tolist()) == (stop, want_repaired)
    np.testing.assert_array_equal(down, want_down)
    np.testing.assert_array_equal(idle, want_idle)
    for got, want in zip((pod_idle, pool_idle), _idle_counts(idle, server_pod, pool, gps), strict=True):
        np.testing.assert_array_equal(got, want)


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_sample_halls_writes_the_hall_rows_and_their_site_sums(seed: int) -> None:
    rng = np.random.default_rng(seed)
    halls, sites = int(rng.integers(1, 30)), int(rng.integers(1, 4))
    hall_site = np.sort(rng.integers(0, sites, halls)).astype(np.int64)
    counts = rng.integers(0, 5_000, (7, halls)).astype(np.float64)
    counts[3:] *= rng.uniform(0.1, 1.5, (4, halls))
    cap = np.where(rng.random(halls) < 0.3, rng.uniform(0.6, 1.0, halls), 1.0)
    installed = rng.integers(0, 40_000, halls).astype(np.float64)
    idle_kw = installed * rng.uniform(0.1, 0.4, halls)
    hall_store = np.zeros((5, 3, halls), dtype=np.float32)
    site_store = np.full((9, 3, sites), -1.0)
    sample_halls(2, counts, cap, 0.8, installed, idle_kw, hall_site, hall_store, site_store)

    frac = 0.8 * cap
    hall_kw = idle_kw - counts[6] + frac * (counts[3] + counts[4])
    rows = np.vstack([installed, counts[:3], hall_kw])
    assert np.array_equal(hall_store[:, 2], rows.astype(np.float32))
    assert not hall_store[:, :2].any()
    leased_kw = counts[5] + frac * counts[4]
    for s in range(sites):
        mine = np.flatnonzero(hall_site == s)
        want = np.zeros(6)
        for h in mine:  # halls in index order
            want += np.append(rows[:, h], leased_kw[h])
        assert np.array_equal(site_store[[0, 1, 2, 3, 4, 6], 2, s], want)
    assert (site_store[[5, 7, 8]] == -1.0).all() and (site_store[:, :2] == -1.0).all()  # left alone


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_a_failed_servers_stand_in_takes_its_place_and_the_counts_stay_a_recount(seed: int) -> None:
    rng = np.random.default_rng(seed)
    first, servers, server_pod, gps, pool = random_pods(rng)
    idle = rng.random(servers) < 0.5
    down = np.zeros(servers, dtype=bool)
    down_until = np.zeros(servers)
    lease = np.where(~idle & (rng.random(servers) < 0.2), 3, -1).astype(np.int32)
    job = np.where(~idle & (lease == -1), 5, -1).astype(np.int64)
    slot = np.zeros(servers, dtype=np.int64)
    mine = np.flatnonzero(job == 5)
    slot[mine] = np.arange(mine.size)
    pod_idle, pool_idle = _idle_counts(idle, server_pod, pool, gps)
    book = (idle, server_pod, pod_idle, pool, gps, pool_idle)

    server = int(rng.integers(0, servers))
    owner_before, lease_before = int(job[server]), int(lease[server])
    owner, leased, was_up = fail_one(server, 10.0, down, down_until, job, lease, book)
    assert (owner, leased, was_up) == (owner_before, lease_before, True)
    assert down[server] and down_until[server] == 10.0 and job[server] == -1 and not idle[server]
    for got, want in zip((pod_idle, pool_idle), _idle_counts(idle, server_pod, pool, gps), strict=True):
        np.testing.assert_array_equal(got, want)
    # Failing again only keeps the later end.
    assert fail_one(server, 4.0, down, down_until, job, lease, book) == (-1, -1, False)
    assert down_until[server] == 10.0
    fail_one(server, 12.0, down, down_until, job, lease, book)
    assert down_until[server] == 12.0

    if owner == 5:
        pods = np.unique(server_pod[mine])
        want = spare_for(int(server_pod[server]), pods, idle.copy(), first, pod_idle.copy())
        spare, place = stand_in(server, pods, 5, job, slot, first, book)
        assert spare == want
        if spare >= 0:
            assert job[spare] == 5 and not idle[spare] and slot[spare] == place == slot[server]
        for got, want_counts in zip(
            (pod_idle, pool_idle), _idle_counts(idle, server_pod, pool, gps), strict=True
        ):
            np.testing.assert_array_equal(got, want_counts)


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_failing_a_jobs_server_in_one_call_equals_fail_then_stand_in(seed: int) -> None:
    """The engine's usual failure (a running job's server) is one compiled call: it must leave
    every array as the two calls it fuses do, and return the same lease, stand-in and slot."""
    rng = np.random.default_rng(seed)
    first, servers, server_pod, gps, pool = random_pods(rng)
    idle = rng.random(servers) < 0.4
    lease = np.where(~idle & (rng.random(servers) < 0.2), 3, -1).astype(np.int32)
    job = np.where(~idle & (lease == -1), 5, -1).astype(np.int64)
    mine = np.flatnonzero(job == 5)
    if mine.size == 0:
        return
    slot = np.zeros(servers, dtype=np.int64)
    slot[mine] = np.arange(mine.size)
    pod_idle, pool_idle = _idle_counts(idle, server_pod, pool, gps)
    arrays = (np.zeros(servers, dtype=bool), np.zeros(servers), job, lease, slot, idle, pod_idle, pool_idle)
    fused, apart = [a.copy() for a in arrays], [a.copy() for a in arrays]
    server, pods = int(rng.choice(mine)), np.unique(server_pod[mine])

    def book(a):
        return (a[5], server_pod, a[6], pool, gps, a[7])

    got = fail_under_job(server, 7.5, pods, *fused[:5], first, book(fused))
    _, leased, _ = fail_one(server, 7.5, *apart[:4], book(apart))
    spare, at = stand_in(server, pods, 5, apart[2], apart[4], first, book(apart))
    assert got == (leased, spare, at)
    for a, b in zip(fused, apart, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_rack_day_shares_equal_the_float32_numpy_expression_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    days, racks = int(rng.integers(1, 9)), int(rng.integers(1, 30))
    day_rack = (rng.random((days, racks)) * 400).astype(np.float32)
    rack_gpus = rng.choice([8, 64, 72], racks).astype(np.float32)
    day_hours = np.where(rng.random(days) < 0.2, 0.0, rng.random(days) * 24).astype(np.float32)
    step = float(rng.choice([0.25, 1.0, 7.0 / 3.0]))
    used = (day_rack * np.float32(step)).T
    want = np.divide(
        used,
        rack_gpus[:, None] * day_hours[None, :],
        out=np.zeros(used.shape, np.float32),
        where=day_hours > 0,
    )
    got = rack_day_shares(day_rack, step, rack_gpus, day_hours)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)
