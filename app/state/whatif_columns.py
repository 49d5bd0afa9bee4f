"""The columns of a what-if's tables (leases, hosted products, events) and their defaults.

A new row starts from these defaults; a table shows these columns, and a field it does not show is
kept from the base scenario's item of the same name (:mod:`app.state.whatif`).
"""

from __future__ import annotations

import math
from typing import Any

LEASE_COLUMNS = {
    "name": "lease",
    "tenant": "tenant",
    "gpu_type": "H100-SXM",
    "gpus": 512,
    "site": "any",
    "kind": "reserved",
    "billing": "take_or_pay",
    "start_day": 0.0,
    "term_days": 365.0,
    "price_usd_per_gpu_hour": 2.35,
    "sla_availability": 0.99,
    "isolation": "pod",
    "termination_notice_days": 90.0,
}

#: A new hosted product: Llama 3.1 70B on 8 x H100 (the lease_vs_tokens sample, its assumptions).
HOSTED_COLUMNS = {
    "name": "model-api",
    "model": "Llama 3.1 70B Instruct (FP8, TP8)",
    "site": "",
    "gpu_type": "H100-SXM",
    "gpus_per_replica": 8,
    "peak_requests_per_second": 100.0,
    "price_usd_per_million_input_tokens": 0.55,
    "price_usd_per_million_output_tokens": 2.20,
    "ttft_p95_seconds": 2.0,
    "min_replicas": 2,
    "max_replicas": 16,
}
HOSTED_FIXED = {"input_tokens_per_second": 40000, "output_tokens_per_second": 6000, "concurrency": 64}

EVENT_COLUMNS = {
    "kind": "outage",
    "day": 1.0,
    "hours": 24.0,
    "site": "",
    "hall": "",
    "mw": None,
    "lease": "",
    "factor": None,
    "degrees_c": None,
}


class WhatIfError(ValueError):
    """A what-if that cannot be built or read back; the message says what to change."""


def blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))
