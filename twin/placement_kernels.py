"""Compiled loops that find servers: a gang's pods, a stand-in for a lost server, an inference
fleet's growth (Numba, cached on disk, like :mod:`twin.kernels`).

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
    """:func:`twin.placement.slowdown` of a gang with ``counts`` servers in each of ``pods``."""
    if pods.size <= 1:
        return 1.0
    crossing = 1.0 - counts.max() / counts.sum()
    one_building = True
    for pod in pods:
        if pod_building[pod] != pod_building[pods[0]]:
            one_building = False
    inside = spine_gbps[pods].min()
    across = (agg_gbps if one_building else core_gbps)[pods].min()
    return 1.0 + sensitivity * crossing * (inside / across - 1.0)


@_jit
def spread_pods(
    ok: np.ndarray,
    pod_open: np.ndarray,
    idle_servers: np.ndarray,
    need: np.ndarray,
    scopes: tuple,
    pod_gpu_type: np.ndarray,
    fabric: tuple,
    sensitivity: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Steps 2 and 3 of :func:`twin.placement.place`: the pods (and servers from each) of a gang
    spread over one building, else one site, with the least slowdown; empty arrays if none.

    ``scopes`` is (building, site) per pod; ``fabric`` is (building, spine, aggregation and core
    Gbit/s) per pod. Within a scope, each group (its key times 64 plus the GPU type) is tried in
    ascending key order, its pods taken most idle first (ties by index); the first group with the
    least slowdown wins, as the numpy version's strict ``<`` has it.
    """
    pod_building, spine, agg, core = fabric
    usable = ok & pod_open
    idle = np.where(usable, idle_servers, 0)
    empty = np.empty(0, dtype=np.int64)
    if not idle.any():
        return empty, empty, 1.0
    for scope in scopes:
        groups = scope * 64 + pod_gpu_type
        best_s, best_pods, best_counts = np.inf, empty, empty
        for g in np.unique(groups[usable]):
            members = np.flatnonzero(usable & (groups == g))
            k = need[members[0]]
            if idle[members].sum() < k:
                continue
            order = members[np.argsort(-idle[members], kind="mergesort")]
            cum = np.cumsum(idle[order])
            n_pods = np.searchsorted(cum, k) + 1
            pods = order[:n_pods]
            counts = idle[pods].copy()
            counts[-1] -= cum[n_pods - 1] - k
            s = spread_slowdown(pods, counts, sensitivity, pod_building, spine, agg, core)
            if best_pods.size == 0 or s < best_s:
                best_s, best_pods, best_counts = s, pods, counts
        if best_pods.size:
            return best_pods, best_counts, best_s
    return empty, empty, 1.0


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
    order = pods[np.argsort(-pod_idle[pods], kind="mergesort")]
    out = np.empty(need, dtype=np.int64)
    n = 0
    for pod in order:
        if n == need or pod_idle[pod] <= 0:
            break
        if not pod_open[pod]:
            continue
        got = first_idle(idle, pod_first[pod], pod_first[pod + 1], need - n)
        out[n : n + got.size] = got
        n += got.size
    return out[:n]
