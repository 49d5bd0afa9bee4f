"""Topology-aware gang placement: all of a job's servers or none, in as few pods as possible.

A job asks for GPUs of one type (or any type) at one site (or any site); it never spans sites or
GPU types. Placement tries, in order:

1. **one pod** that has enough idle servers, choosing the fullest such pod (best fit), so that big
   holes stay free for big jobs;
2. **one building**, taking its pods with the most idle servers first;
3. **one site**, the same across buildings.

A job over several pods runs slower: its collectives cross the aggregation (or core) tier, where
each rack's share of bandwidth is the fabric's oversubscription lower than inside a pod. The
slowdown is ``1 + sensitivity x crossing x (inside / across - 1)``, where ``crossing`` is the
share of the job's servers outside its largest pod and ``sensitivity`` the share of a training
step that waits on that traffic (data-parallel gradients mostly overlap with compute; Llama 3
lost ~2 MFU points, 43% -> 41%, going from 8k to 16k GPUs across Meta's 1:7 pods).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from twin.fleet import Fleet
from twin.placement_kernels import place_in_one_pod, spread_pods, spread_slowdown


class Placement(NamedTuple):
    """Where a gang goes (a named tuple: placement runs ~100k times a year, and a frozen dataclass
    costs several times more to build)."""

    servers: np.ndarray
    pods: np.ndarray  # distinct pods used
    slowdown: float
    site: int
    gpu_type: int


def _take(fleet: Fleet, pods: np.ndarray, counts: np.ndarray) -> np.ndarray:
    chunks = []
    for pod, n in zip(pods.tolist(), counts.tolist(), strict=True):
        chunks.append(fleet.idle_in_pod(pod, n))
    return np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)


def slowdown(fleet: Fleet, pods: np.ndarray, counts: np.ndarray, sensitivity: float) -> float:
    """The slowdown of a gang with ``counts`` servers in each of ``pods`` (the module's formula)."""
    return spread_slowdown(pods, counts, sensitivity, *fleet.fabric_arrays)


def accepted_pods(fleet: Fleet, gpu_types: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Boolean mask of the pods whose GPU type and site a job accepts."""
    return np.isin(fleet.pod_gpu_type, gpu_types) & np.isin(fleet.pod_site, sites)


def place(fleet: Fleet, gpus: int, ok: np.ndarray, sensitivity: float) -> Placement | None:
    """Find servers for a gang of ``gpus`` GPUs in the pods of mask ``ok``, or None if it cannot start now."""
    need = fleet.servers_needed(gpus)  # per pod, by its server size
    # 1. one pod, best fit
    servers = place_in_one_pod(
        ok, fleet.pod_open, fleet.pod_idle_servers, need, fleet.pod_first_server, fleet.idle
    )
    if servers.size:
        pod = fleet.server_pod_l[servers[0]]
        return Placement(servers, np.array([pod]), 1.0, fleet.pod_site_l[pod], fleet.pod_gpu_type_l[pod])
    # 2./3. one building, else one site, per (site, GPU type) pool
    pods, counts, s = spread_pods(
        ok, fleet.pod_open, fleet.pod_idle_servers, need, fleet.pod_site,
        fleet.pod_gpu_type, fleet.fabric_arrays, sensitivity,
    )  # fmt: skip
    if pods.size == 0:
        return None
    pod = int(pods[0])
    return Placement(
        _take(fleet, pods, counts), pods, float(s), fleet.pod_site_l[pod], fleet.pod_gpu_type_l[pod]
    )
