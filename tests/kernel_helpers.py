"""A random fleet's pod layout for the compiled-loop tests (test_kernels, test_placement_kernels)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def random_pods(rng: np.random.Generator, pods: int = 12):
    """Pods of 1-8 servers: first server of each pod (and the end), servers, each server's pod,
    GPUs per server of each pod, and each pod's pool (of 3)."""
    per_pod = rng.integers(1, 9, pods)
    first = np.concatenate([[0], np.cumsum(per_pod)]).astype(np.int64)
    servers = int(first[-1])
    server_pod = np.repeat(np.arange(pods, dtype=np.int64), per_pod)
    gps = rng.choice([4, 8], pods).astype(np.int64)
    pool = rng.integers(0, 3, pods).astype(np.int64)
    return first, servers, server_pod, gps, pool
