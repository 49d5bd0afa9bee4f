"""Compiled loops for the fleet's hot paths (Numba, cached on disk).

The fleet is numpy arrays, and most of its moves are vector operations. But a move touches a few
servers out of hundreds of thousands, and a numpy call costs about a microsecond before it does
any work, so a move written as ten small numpy calls spends its time in call overhead; a fold of
a million journalled moves written as ten passes (gather, multiply, bincount...) reads the data
ten times. The loops here do each such job in one call and one pass.

Each kernel is the plain loop its numpy twin computes, in the same order, so results are the same
to the bit (the float sums of the hall rows accumulate in the order ``np.bincount`` would). Numba
compiles them once per machine into ``__pycache__`` (``cache=True``); a fresh process loads them
in milliseconds. Numba is already what datashader draws the capacity heatmap with.

The loops that find servers for placement and growth are in :mod:`twin.placement_kernels`. No
kernel calls one in another file: Numba's disk cache re-checks a kernel's own file only, so a
change there would leave a stale compiled caller behind.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


@_jit
def fold_moves(
    coded: np.ndarray,
    blocks: np.ndarray,
    block_ends: np.ndarray,
    block_signs: np.ndarray,
    server_gpus: np.ndarray,
    server_rack: np.ndarray,
    server_hall: np.ndarray,
    kw_per_gpu: np.ndarray,
    per_rack: np.ndarray,
    hall_counts: np.ndarray,
    gpus_row: int,
    kw_row: int,
) -> None:
    """Apply journalled moves to per-rack GPU counts and two rows of the per-hall counters.

    ``coded`` holds one-server moves (``s`` for +1, ``~s`` for -1). ``blocks`` holds servers moved
    together, block ``k`` ending before ``block_ends[k]`` with sign ``block_signs[k]``. The hall
    rows get the moved GPUs and the GPUs times ``kw_per_gpu``, summed per hall first and then
    added, as ``+= np.bincount(...)`` would.
    """
    halls = hall_counts.shape[1]
    gpus_sum = np.zeros(halls)
    kw_sum = np.zeros(halls)
    for code in coded:
        if code < 0:
            server, sign = ~code, -1
        else:
            server, sign = code, 1
        gpus = server_gpus[server] * sign
        per_rack[server_rack[server]] += gpus
        hall = server_hall[server]
        gpus_sum[hall] += gpus
        kw_sum[hall] += gpus * kw_per_gpu[server]
    start = 0
    for k in range(block_ends.size):
        sign = block_signs[k]
        for i in range(start, block_ends[k]):
            server = blocks[i]
            gpus = server_gpus[server] * sign
            per_rack[server_rack[server]] += gpus
            hall = server_hall[server]
            gpus_sum[hall] += gpus
            kw_sum[hall] += gpus * kw_per_gpu[server]
        start = block_ends[k]
    for hall in range(halls):
        hall_counts[gpus_row, hall] += gpus_sum[hall]
        hall_counts[kw_row, hall] += kw_sum[hall]


@_jit
def _set_idle(
    server: int,
    now_idle: bool,
    book: tuple,
) -> None:
    """A server becomes idle or stops being idle: its flag, and the idle counts of its pod and pool.

    ``book`` is the fleet's idle book (``Fleet.idle_book``): the idle flag per server, the pod
    of each server, idle servers per pod, the pool of each pod, GPUs per server of each pod,
    idle GPUs per pool.
    """
    idle, server_pod, pod_idle, pod_pool, pod_gpus_per_server, pool_idle = book
    idle[server] = now_idle
    pod = server_pod[server]
    step = 1 if now_idle else -1
    pod_idle[pod] += step
    pool_idle[pod_pool[pod]] += step * pod_gpus_per_server[pod]


@_jit
def assign_servers(
    servers: np.ndarray,
    owner: int,
    job: np.ndarray,
    slot: np.ndarray,
    book: tuple,
) -> None:
    """Idle servers go to internal work ``owner``: the owner and slot arrays (a server's index in
    ``servers``), idle flags, idle counts per pod and pool."""
    for i, server in enumerate(servers):
        job[server] = owner
        slot[server] = i
        _set_idle(server, False, book)


@_jit
def release_servers(
    servers: np.ndarray,
    job: np.ndarray,
    down: np.ndarray,
    lease: np.ndarray,
    book: tuple,
) -> np.ndarray:
    """Internal work leaves ``servers``; return those in service (no longer busy), in order.

    Servers under repair stay down; servers of a lease (a spare that stood in) go back to it,
    the rest become idle.
    """
    up = np.empty(servers.size, dtype=np.int64)
    n = 0
    for server in servers:
        job[server] = -1
        if down[server]:
            continue
        up[n] = server
        n += 1
        if lease[server] == -1:
            _set_idle(server, True, book)
    return up[:n]


@_jit
def add_day_usage(row: np.ndarray, busy: np.ndarray, leased: np.ndarray) -> None:
    """``row += busy; row += leased`` for a float32 day row of the rack x day matrix, in one pass.

    Each addition is done in float64 and rounded to float32, as numpy's mixed-type ``+=`` does.
    """
    for rack in range(row.size):
        value = np.float32(np.float64(row[rack]) + np.float64(busy[rack]))
        row[rack] = np.float32(np.float64(value) + np.float64(leased[rack]))


@_jit
def rack_day_shares(
    day_rack: np.ndarray, step: float, rack_gpus: np.ndarray, day_hours: np.ndarray
) -> np.ndarray:
    """Racks x days: the share of each rack's GPU-hours in use each day, from the recorder's days x
    racks sums of GPUs in use per sample (0 on a day with no sample).

    In float32, as ``(day_rack * f32(step)).T / (rack_gpus[:, None] * day_hours[None, :])`` with
    float32 operands gives, to the bit, in one pass and without the three temporaries of a year's
    ~16M cells.
    """
    days, racks = day_rack.shape
    out = np.zeros((racks, days), dtype=np.float32)
    step32 = np.float32(step)
    for d in range(days):
        hours = np.float32(day_hours[d])
        if not hours > 0:
            continue
        for r in range(racks):
            used = np.float32(day_rack[d, r] * step32)
            out[r, d] = np.float32(used / np.float32(np.float32(rack_gpus[r]) * hours))
    return out


@_jit
def repair_unleased(
    servers: np.ndarray,
    start: int,
    now: float,
    down: np.ndarray,
    down_until: np.ndarray,
    lease: np.ndarray,
    book: tuple,
    repaired: np.ndarray,
) -> tuple[int, int]:
    """Bring back, in order from ``servers[start]``, each server whose repair is due ``now``.

    A repaired server becomes idle. Stops at the first due server that belongs to a lease (its
    return is the lease's business) and returns its index (``servers.size`` if none) and how many
    servers it repaired, written to the start of ``repaired``.
    """
    n = 0
    for k in range(start, servers.size):
        server = servers[k]
        if not down[server] or down_until[server] > now + 1e-9:
            continue  # repaired already, or failed again meanwhile and due later
        if lease[server] != -1:
            return k, n
        down[server] = False
        _set_idle(server, True, book)
        repaired[n] = server
        n += 1
    return servers.size, n


@_jit
def sample_halls(
    i: int,
    counts: np.ndarray,
    cap: np.ndarray,
    busy_fraction: float,
    installed: np.ndarray,
    idle_kw: np.ndarray,
    hall_site: np.ndarray,
    hall_store: np.ndarray,
    site_store: np.ndarray,
) -> None:
    """Sample ``i`` of the recorder's GPU and IT power series, per hall and summed per site.

    Hall rows: installed, busy, leased, failed GPUs and IT kW (idle kW less that of failed GPUs,
    plus busy dynamic kW at the hall's power cap). Site rows 0-4 are their sums, halls added in
    index order; site row 6 the leased GPUs' share of IT kW. Other site rows are left alone.
    """
    sites = site_store.shape[2]
    sums = np.zeros((7, sites))
    for h in range(cap.size):
        frac = busy_fraction * cap[h]
        hall_kw = idle_kw[h] - counts[6, h] + frac * (counts[3, h] + counts[4, h])
        hall_store[0, i, h] = installed[h]
        hall_store[1, i, h] = counts[0, h]
        hall_store[2, i, h] = counts[1, h]
        hall_store[3, i, h] = counts[2, h]
        hall_store[4, i, h] = hall_kw
        s = hall_site[h]
        sums[0, s] += installed[h]
        sums[1, s] += counts[0, h]
        sums[2, s] += counts[1, h]
        sums[3, s] += counts[2, h]
        sums[4, s] += hall_kw
        sums[6, s] += counts[5, h] + frac * counts[4, h]
    for s in range(sites):
        for row in (0, 1, 2, 3, 4, 6):
            site_store[row, i, s] = sums[row, s]


@_jit
def next_idle(idle: np.ndarray, start: int, stop: int) -> int:
    """The first idle server in ``[start, stop)``, or -1."""
    for server in range(start, stop):
        if idle[server]:
            return server
    return -1


@_jit
def spare_for(
    lost_pod: int, job_pods: np.ndarray, idle: np.ndarray, pod_first: np.ndarray, pod_idle: np.ndarray
) -> int:
    """An idle server to stand in for a job's server lost in ``lost_pod``: in that pod, else in
    the first of the job's pods that has one; -1 if none has."""
    if pod_idle[lost_pod] > 0:
        return next_idle(idle, pod_first[lost_pod], pod_first[lost_pod + 1])
    for pod in job_pods:
        if pod_idle[pod] > 0:
            return next_idle(idle, pod_first[pod], pod_first[pod + 1])
    return -1


@_jit
def fail_one(
    server: int,
    until: float,
    down: np.ndarray,
    down_until: np.ndarray,
    job: np.ndarray,
    lease: np.ndarray,
    book: tuple,
) -> tuple[int, int, bool]:
    """A server goes out of service until ``until``: its flags, and the idle counts if it was
    idle. Returns its internal owner and lease before (-1: none) and whether it was up; a server
    already down only keeps the later of the two ends."""
    if down[server]:
        down_until[server] = max(down_until[server], until)
        return -1, -1, False
    owner, leased = job[server], lease[server]
    down[server] = True
    down_until[server] = until
    if leased == -1 and owner == -1:
        _set_idle(server, False, book)
    job[server] = -1
    return owner, leased, True


@_jit
def stand_in(lost: int, job_pods: np.ndarray, owner: int, job: np.ndarray, slot: np.ndarray,
             pod_first: np.ndarray, book: tuple) -> tuple[int, int]:  # fmt: skip
    """An idle server takes the place of ``owner``'s lost server (:func:`spare_for`'s choice):
    it gets the owner and the lost server's slot. Returns the stand-in (-1 if none) and the slot."""
    idle, server_pod, pod_idle = book[0], book[1], book[2]
    spare = spare_for(server_pod[lost], job_pods, idle, pod_first, pod_idle)
    if spare < 0:
        return -1, -1
    job[spare] = owner
    _set_idle(spare, False, book)
    slot[spare] = slot[lost]
    return spare, slot[lost]


@_jit
def fail_under_job(server: int, until: float, job_pods: np.ndarray, down: np.ndarray, down_until: np.ndarray,
                   job: np.ndarray, lease: np.ndarray, slot: np.ndarray, pod_first: np.ndarray,
                   book: tuple) -> tuple[int, int, int]:  # fmt: skip
    """:func:`fail_one` then :func:`stand_in`, for an up server of a running job: the most common
    failure, in one call. Returns the server's lease, the stand-in (-1 if none) and its slot."""
    owner, leased, _ = fail_one(server, until, down, down_until, job, lease, book)
    spare, at = stand_in(server, job_pods, owner, job, slot, pod_first, book)
    return leased, spare, at
