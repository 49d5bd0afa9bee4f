"""Helpers of the lease tests: a lease entry for a scenario, a lease's racks, a fleet filled with work."""

from __future__ import annotations

import numpy as np

from twin.engine import Engine
from twin.fleet import FREE, INFERENCE
from twin.leases import LeaseState

GB200_RACK = 72
H100_RACK = 16


def lease(name: str, gpu_type: str, gpus: int, **kw) -> dict:
    return {
        "name": name,
        "tenant": kw.pop("tenant", name.title()),
        "gpu_type": gpu_type,
        "gpus": gpus,
        "term_days": kw.pop("term_days", 30),
        "price_usd_per_gpu_hour": kw.pop("price_usd_per_gpu_hour", 2.5),
        **kw,
    }


def own_racks(engine: Engine, state: LeaseState) -> np.ndarray:
    return np.unique(engine.fleet.server_rack[state.servers])


def fill_with_stand_in(engine: Engine, gpu_type: str, leave_idle: int) -> np.ndarray:
    """Mark every idle server of a type busy (a stand-in inference owner) except the last ``leave_idle``."""
    f = engine.fleet
    idle = np.flatnonzero(
        (f.server_gpu_type == f.gpu_type_names.index(gpu_type))
        & (f.job == FREE)
        & (f.lease == FREE)
        & ~f.down
    )
    busy = idle[: idle.size - leave_idle]
    f.assign_internal(busy, INFERENCE)
    return idle[idle.size - leave_idle :]
