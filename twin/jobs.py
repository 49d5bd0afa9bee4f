"""Training jobs: gang-scheduled, checkpointed, interrupted by failures.

A job needs ``gpus`` GPUs for ``work_hours`` of compute at in-pod speed. While it runs it
alternates ``checkpoint_interval`` hours of compute with a blocking checkpoint write of
``checkpoint_write`` hours; a job over several pods computes ``slowdown`` times slower. When a
failure hits one of its servers, the work since the last checkpoint is lost, the job gets a
replacement server if one is idle nearby (else it gives everything back and queues again), and
it pays ``restart_overhead`` hours before computing again.

Time accounting, in wall hours of the job's allocation (what the ETTR of the Llama 3 paper
measures): ``productive`` is compute whose result was kept; ``lost`` is compute thrown away by a
failure; ``checkpointing`` and ``restarting`` are overheads. ETTR = productive / wall time from
the first start to the end (or the horizon), so waiting in the queue after an interruption counts
against it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

QUEUED, RUNNING, DONE, REJECTED = "queued", "running", "done", "rejected"
NO_SERVERS = np.empty(0, dtype=np.int64)
NO_SERVERS.flags.writeable = False  # shared by every job not yet started


@dataclass(eq=False, slots=True)
class Job:
    id: int
    kind: str  # "training" or "trace"
    owner: str
    gpus: int
    gpu_types: np.ndarray
    sites: np.ndarray
    priority: int
    submit: float
    work_hours: float
    checkpoint_interval: float
    checkpoint_write: float
    restart_overhead: float
    network_sensitivity: float
    status: str = QUEUED
    remaining: float = field(init=False)
    # Not yet started: one shared empty array (read-only; a start replaces it, never writes it).
    servers: np.ndarray = field(default_factory=lambda: NO_SERVERS)
    pods: np.ndarray = field(default_factory=lambda: NO_SERVERS)  # pods it runs in
    slowdown: float = 1.0  # from spreading over pods
    speed: float = 1.0  # compute speed under a power cap (1: uncapped)
    site: int = -1
    gpu_type: int = -1
    phase: str = ""  # "run" while RUNNING
    phase_start: float = 0.0  # when computing (re)starts; after a restart it is restart_from + overhead
    restart_from: float = math.nan  # start of the restart overhead before this run, if any
    # The booked end of the run phase (see Engine._end_at): its time and booking number (-1: none),
    # and the job's first entry in the engine's heap of ends (inf, -1: none).
    end_due: float = math.nan
    end_booking: int = -1
    anchor_at: float = math.inf
    anchor_booking: int = -1
    first_start: float = math.nan
    queued_since: float = 0.0
    queue_wait: float = 0.0
    end: float = math.nan
    interruptions: int = 0
    preemptions: int = 0
    productive: float = 0.0
    lost: float = 0.0
    checkpointing: float = 0.0
    restarting: float = 0.0
    max_slowdown: float = 1.0
    reason: str = ""

    def __post_init__(self) -> None:
        self.remaining = self.work_hours
        self.queued_since = self.submit

    @property
    def cycle(self) -> float:
        return self.checkpoint_interval + self.checkpoint_write

    def run_wall_hours(self) -> float:
        """Wall hours to finish the remaining work from the start of a run phase."""
        compute = self.remaining * self.slowdown / self.speed
        writes = math.ceil(compute / self.checkpoint_interval - 1e-9) - 1
        # Conditionals rather than max(): these run ~600k times a year, and a call costs more.
        return compute + writes * self.checkpoint_write if writes > 0 else compute

    def account_until(self, now: float, failed: bool) -> None:
        """Fold the current phase up to ``now`` into the job's accounts.

        ``failed``: the phase ends by interruption (compute since the last checkpoint is lost);
        else it ends by completion (all compute counts).
        """
        if self.restart_from == self.restart_from and self._fold_restart(now):  # (not NaN: restarted)
            return
        elapsed = now - self.phase_start
        if not elapsed > 0.0:
            elapsed = 0.0
        if self.phase == "run":
            if failed:
                cycle = self.checkpoint_interval + self.checkpoint_write
                cycles = math.floor(elapsed / cycle + 1e-12)
                saved = cycles * self.checkpoint_interval
                self.checkpointing += cycles * self.checkpoint_write
                self.lost += elapsed - cycles * cycle
            else:
                writes = (
                    math.ceil(self.remaining * self.slowdown / self.speed / self.checkpoint_interval - 1e-9)
                    - 1
                )
                if writes < 0:
                    writes = 0
                saved = elapsed - writes * self.checkpoint_write
                self.checkpointing += writes * self.checkpoint_write
            self.productive += saved
            remaining = self.remaining - saved * self.speed / self.slowdown
            self.remaining = remaining if remaining > 0.0 else 0.0
        self.phase_start = now

    def _fold_restart(self, now: float) -> bool:
        """Count the restart overhead before the current run; True if ``now`` is still inside it."""
        if math.isnan(self.restart_from):
            return False
        self.restarting += min(now, self.phase_start) - self.restart_from
        self.restart_from = math.nan
        if now <= self.phase_start:
            self.phase_start = now
            return True
        return False

    def account_at_horizon(self, now: float) -> None:
        """Count a run phase cut without loss (the end of the simulation, a change of speed):
        compute so far is productive."""
        if self._fold_restart(now):
            return
        elapsed = max(0.0, now - self.phase_start)
        if self.phase == "run":
            cycles = math.floor(elapsed / self.cycle + 1e-12)
            in_cycle = elapsed - cycles * self.cycle
            writing = cycles * self.checkpoint_write + max(0.0, in_cycle - self.checkpoint_interval)
            self.checkpointing += writing
            self.productive += elapsed - writing
            self.remaining = max(0.0, self.remaining - (elapsed - writing) * self.speed / self.slowdown)
        self.phase_start = now

    def wall(self, now: float) -> float:
        if math.isnan(self.first_start):
            return 0.0
        end = self.end if not math.isnan(self.end) else now
        return end - self.first_start


def size_distribution(min_gpus: int, max_gpus: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Powers of two from min to max GPUs, with P(size) proportional to size^-alpha."""
    lo = max(0, math.ceil(math.log2(min_gpus)))
    hi = max(lo, math.floor(math.log2(max_gpus)))
    sizes = 2 ** np.arange(lo, hi + 1, dtype=np.int64)
    weights = sizes.astype(np.float64) ** -alpha
    return sizes, weights / weights.sum()
