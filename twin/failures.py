"""Failure rates and repair times, calibrated on the Llama 3 405B pre-training table.

Meta reported 419 unexpected interruptions in 54 days of pre-training on 16,384 H100 GPUs (2,048
servers of 8), broken down by root cause (Dubey et al., "The Llama 3 Herd of Models", 2024,
Table 5; counts as printed, which sum to 419). Every GPU in that run belonged to the job, so each
count divided by the run's GPU-hours is a rate per GPU-hour of a failure that interrupts whatever
runs on the server. The twin applies these rates to every installed GPU; a failure on an idle
server interrupts nothing but still takes the server out until it is repaired.

Repair times are not in the paper. The values below are assumptions, one per category, chosen
from what the category means: software and NCCL faults need only a restart (the server stays in),
hardware swaps take a day or more. They matter for spares and SLAs, not for the interruption
count or the effective training time, which depend on restart overhead and checkpointing.

The twin draws all failures of a fleet from one Poisson process of rate ``GPUs x total rate``,
then picks the victim server (weighted by its GPUs) and the category (weighted by count).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LLAMA3_GPUS = 16_384
LLAMA3_DAYS = 54
LLAMA3_GPU_HOURS = LLAMA3_GPUS * LLAMA3_DAYS * 24.0


@dataclass(frozen=True)
class FailureCategory:
    component: str
    category: str
    count: int  # unexpected interruptions in the Llama 3 run
    repair_hours: float  # assumption: time the server is out of service
    server_out: bool  # False: the job restarts but the server stays in service


LLAMA3_TABLE: tuple[FailureCategory, ...] = (
    FailureCategory("Faulty GPU", "GPU", 148, 48.0, True),
    FailureCategory("GPU HBM3 memory", "GPU", 72, 48.0, True),
    FailureCategory("Software bug", "Dependency", 54, 0.0, False),
    FailureCategory("Network switch/cable", "Network", 35, 4.0, True),
    FailureCategory("Host maintenance", "Unplanned maintenance", 32, 8.0, True),
    FailureCategory("GPU SRAM memory", "GPU", 19, 48.0, True),
    FailureCategory("GPU system processor", "GPU", 17, 24.0, True),
    FailureCategory("NIC", "Host", 7, 12.0, True),
    FailureCategory("NCCL watchdog timeouts", "Unknown", 7, 0.0, False),
    FailureCategory("Silent data corruption", "GPU", 6, 72.0, True),
    FailureCategory("GPU thermal interface + sensor", "GPU", 6, 24.0, True),
    FailureCategory("SSD", "Host", 3, 8.0, True),
    FailureCategory("Power supply", "Host", 3, 6.0, True),
    FailureCategory("Server chassis", "Host", 2, 24.0, True),
    FailureCategory("IO expansion board", "Host", 2, 24.0, True),
    FailureCategory("Dependency", "Dependency", 2, 0.0, False),
    FailureCategory("CPU", "Host", 2, 24.0, True),
    FailureCategory("System memory", "Host", 2, 12.0, True),
)

TOTAL_UNEXPECTED = sum(c.count for c in LLAMA3_TABLE)  # 419


@dataclass(frozen=True)
class FailureModel:
    """Per-GPU-hour failure rates by category, with scales applied, ready to sample from."""

    names: tuple[str, ...]
    rate_per_gpu_hour: np.ndarray  # per category
    repair_hours: np.ndarray
    server_out: np.ndarray  # bool per category
    probabilities: np.ndarray  # category weights

    @property
    def total_rate_per_gpu_hour(self) -> float:
        return float(self.rate_per_gpu_hour.sum())

    @classmethod
    def llama3(cls, rate_scale: float = 1.0, repair_scale: float = 1.0) -> FailureModel:
        counts = np.array([c.count for c in LLAMA3_TABLE], dtype=np.float64)
        rates = counts / LLAMA3_GPU_HOURS * rate_scale
        return cls(
            names=tuple(c.component for c in LLAMA3_TABLE),
            rate_per_gpu_hour=rates,
            repair_hours=np.array([c.repair_hours for c in LLAMA3_TABLE]) * repair_scale,
            server_out=np.array([c.server_out for c in LLAMA3_TABLE]),
            probabilities=counts / counts.sum(),
        )

    def rates_by_category(self) -> dict[str, float]:
        return dict(zip(self.names, self.rate_per_gpu_hour.tolist(), strict=True))


def expected_ettr(
    servers: int,
    rate_per_server_hour: float,
    restart_hours: float,
    checkpoint_hours: float,
    write_hours: float,
) -> float:
    """The published model: E[ETTR] ~ (1 - N r (u0 + dt/2)) / (1 + w/dt)."""
    n_r = servers * rate_per_server_hour
    return (1.0 - n_r * (restart_hours + checkpoint_hours / 2.0)) / (1.0 + write_hours / checkpoint_hours)
