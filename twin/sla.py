"""SLA credits: the schedule a contract names, and the share of a month's bill it returns.

A credit schedule is a list of steps: when a month's attainment (availability for a lease, the
share of requests answered within the latency target for a hosted model) falls below ``below``,
``credit`` of that month's bill goes back to the customer; the largest step that applies wins.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydantic import Field

from twin.catalog import Strict


class CreditStep(Strict):
    """Below ``below`` attainment in a month, ``credit`` of that month's bill is returned."""

    below: float = Field(gt=0, le=1, description="monthly attainment under which this step applies")
    credit: float = Field(ge=0, le=1, description="share of the month's bill credited back")


def credit_share(attainment: np.ndarray, steps: Iterable[CreditStep]) -> np.ndarray:
    """Share of each month's bill credited back (NaN, a month with nothing owed, earns none)."""
    att = np.nan_to_num(attainment, nan=1.0)
    frac = np.zeros_like(att)
    for step in steps:
        frac = np.where(att < step.below - 1e-12, np.maximum(frac, step.credit), frac)
    return frac
