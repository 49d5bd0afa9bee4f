"""Compiled loops that find servers: a gang's pods, an inference fleet's growth (Numba, cached on
disk, like :mod:`twin.kernels`).

Finding servers means scanning pods (a few hundred) and, inside the chosen ones, the servers' idle
flags (about a thousand a pod). Written as numpy expressions a placement over several pods was a
few dozen small calls per building and site (~0.8 ms); as loops it is one call. Each loop keeps
its numpy version's choices to the bit (the order of candidates, ties, strict comparisons), which
``tests/test_placement_kernels.py`` pins.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


@_jit
def best_fit_pod(ok: np.ndarray, pod_open: np.ndarray, idle_servers: np.ndarray, need: np.ndarray) -> int:
    """The open pod of mask ``ok`` with enough idle servers and the fewest left over, or -1.

    Ties go to the lowest pod index (``np.argmin``'s choice).
    """
    best, best_left = -1, 0
    for pod in range(ok.size):
        if ok[pod] and pod_open[pod]:
            left = idle_servers[pod] - need[pod]
            if left >= 0 and (best < 0 or left < best_left):
                best, best_left = pod, left
    return best


@_jit
def first_idle(idle: np.ndarray, start: int, stop: int, n: int) -> np.ndarray:
    """The first ``n`` idle servers in ``[start, stop)`` (fewer if there are not so many)."""
    out = np.empty(n, dtype=np.int64)
    found = 0
    for server in range(start, stop):
        if found == n:
            break
        if idle[server]:
            out[found] = server
            found += 1
    return out[:found]


@_jit
def place_in_one_pod(
    ok: np.ndarray,
    pod_open: np.ndarray,
    idle_servers: np.ndarray,
    need: np.ndarray,
    pod_first: np.ndarray,
    idle: np.ndarray,
) -> np.ndarray:
    """The first idle servers of the best-fitting pod (:func:`best_fit_pod`); empty if none fits."""
    pod = best_fit_pod(ok, pod_open, idle_servers, need)
    if pod < 0:
        return np.empty(0, dtype=np.int64)
    return first_idle(idle, pod_first[pod], pod_first[pod + 1], need[pod])


@_jit
def spread_slowdown(
    pods: np.ndarray,
    counts: np.ndarray,
    sensitivity: float,
    pod_building: np.ndarray,
    spine_gbps: np.ndarray,
    agg_gbps: np.ndarray,
    core_gbps: np.ndarray,
) -> float:
    """:func:`twin.placement.slowdown` of a gang with ``counts`` servers in each of ``pods``.

    Plain loops, not fancy indexing: numba compiles those for seconds."""
    if pods.size <= 1:
        return 1.0
    most, total = counts[0], 0
    one_building = True
    inside, on_agg, on_core = np.inf, np.inf, np.inf
    for i in range(pods.size):
        pod = pods[i]
        most = max(most, counts[i])
        total += counts[i]
        one_building = one_building and pod_building[pod] == pod_building[pods[0]]
        inside = min(inside, spine_gbps[pod])
        on_agg = min(on_agg, agg_gbps[pod])
        on_core = min(on_core, core_gbps[pod])
    crossing = 1.0 - most / total
    across = on_agg if one_building else on_core
    return 1.0 + sensitivity * crossing * (inside / across - 1.0)


@_jit
def spread_pods(
    ok: np.ndarray,
    pod_open: np.ndarray,
    idle_servers: np.ndarray,
    need: np.ndarray,
    pod_site: np.ndarray,
    pod_gpu_type: np.ndarray,
    fabric: tuple,
    sensitivity: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Steps 2 and 3 of :func:`twin.placement.place`: the pods (and servers from each) of a gang
    spread over one building, else one site, with the least slowdown; empty arrays if none.

    ``fabric`` is (building, spine, aggregation and core Gbit/s) per pod. Within a scope, each group
    (its key times 64 plus the GPU type) is tried in ascending key order, its pods taken most idle
    first (ties by index); the first group with the least slowdown wins, as the numpy version's
    strict ``<`` has it. Written as plain loops: numba compiles array expressions for seconds.
    """
    usable = np.zeros(ok.size, dtype=np.bool_)
    any_idle = False
    for pod in range(ok.size):
        usable[pod] = ok[pod] and pod_open[pod]
        any_idle = any_idle or (usable[pod] and idle_servers[pod] != 0)
    if any_idle:
        pods, counts, s = _spread_in(fabric[0], usable, idle_servers, need, pod_gpu_type, fabric, sensitivity)
        if pods.size:
            return pods, counts, s
        return _spread_in(pod_site, usable, idle_servers, need, pod_gpu_type, fabric, sensitivity)
    empty = np.empty(0, dtype=np.int64)
    return empty, empty, 1.0


@_jit
def _spread_in(
    scope: np.ndarray,
    usable: np.ndarray,
    idle_servers: np.ndarray,
    need: np.ndarray,
    pod_gpu_type: np.ndarray,
    fabric: tuple,
    sensitivity: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """The best group of one scope (buildings, or sites) for :func:`spread_pods`."""
    pod_building, spine, agg, core = fabric
    best_s = np.inf
    best_pods = np.empty(0, dtype=np.int64)
    best_counts = np.empty(0, dtype=np.int64)
    members = np.empty(usable.size, dtype=np.int64)
    for g in sorted_keys(scope, pod_gpu_type, usable):
        m, total = 0, 0
        for pod in range(usable.size):
            if usable[pod] and scope[pod] * 64 + pod_gpu_type[pod] == g:
                members[m] = pod
                m += 1
                total += idle_servers[pod]
        k = need[members[0]]
        if total < k:
            continue
        # The most idle members first, ties by index, until they hold k servers.
        taken = np.zeros(m, dtype=np.bool_)
        pods = np.empty(m, dtype=np.int64)
        counts = np.empty(m, dtype=np.int64)
        n_pods, cum = 0, 0
        while cum < k:
            pick = most_idle(members, m, taken, idle_servers)
            taken[pick] = True
            pods[n_pods] = members[pick]
            counts[n_pods] = idle_servers[members[pick]]
            cum += counts[n_pods]
            n_pods += 1
        counts[n_pods - 1] -= cum - k
        pods, counts = pods[:n_pods], counts[:n_pods]
        s = spread_slowdown(pods, counts, sensitivity, pod_building, spine, agg, core)
        if best_pods.size == 0 or s < best_s:
            best_s, best_pods, best_counts = s, pods, counts
    return best_pods, best_counts, best_s


@_jit
def sorted_keys(scope: np.ndarray, pod_gpu_type: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """The distinct group keys (scope times 64 plus GPU type) of the usable pods, ascending."""
    keys = np.empty(usable.size, dtype=np.int64)
    n = 0
    for pod in range(usable.size):
        if not usable[pod]:
            continue
        key = scope[pod] * 64 + pod_gpu_type[pod]
        at = n
        while at > 0 and keys[at - 1] > key:  # insertion: a few dozen groups at most
            at -= 1
        if at > 0 and keys[at - 1] == key:
            continue
        for i in range(n, at, -1):
            keys[i] = keys[i - 1]
        keys[at] = key
        n += 1
    return keys[:n]


@_jit
def most_idle(pods: np.ndarray, n: int, taken: np.ndarray, idle_servers: np.ndarray) -> int:
    """The index among the first ``n`` of ``pods`` of the pod not yet taken with the most idle
    servers (the first such)."""
    best = -1
    for i in range(n):
        if not taken[i] and (best < 0 or idle_servers[pods[i]] > idle_servers[pods[best]]):
            best = i
    return best


@_jit
def take_idle(
    pods: np.ndarray,
    need: int,
    pod_idle: np.ndarray,
    pod_open: np.ndarray,
    pod_first: np.ndarray,
    idle: np.ndarray,
) -> np.ndarray:
    """Up to ``need`` idle servers from the open ``pods``, the pods with the most idle servers first
    (ties by their order in ``pods``), each pod's first idle servers: how an inference fleet grows."""
    out = np.empty(need, dtype=np.int64)
    n = 0
    taken = np.zeros(pods.size, dtype=np.bool_)
    for _ in range(pods.size):  # pods in order of idle servers, most first, ties by order
        pick = most_idle(pods, pods.size, taken, pod_idle)
        taken[pick] = True
        pod = pods[pick]
        if n == need or pod_idle[pod] <= 0:
            break
        if not pod_open[pod]:
            continue
        for server in first_idle(idle, pod_first[pod], pod_first[pod + 1], need - n):
            out[n] = server
            n += 1
    return out[:n]
