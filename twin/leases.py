"""Leases in a run: carving capacity out, delivering it through failures, and billing it.

At its start a lease is carved out of its site as whole racks (or whole pods) of its GPU type:
racks with no internal work first; a reserved lease or capacity block may then take racks that
run internal jobs, which are preempted and queue again; on-demand and spot leases take only what
is free and may start partly filled. The tenant's racks are never shared with internal work.

*Delivered* capacity is ``min(healthy GPUs, committed GPUs)``, integrated exactly over time in
calendar-month buckets. When a server of a reserved lease or capacity block fails and the lease
is short, a spare stands in that keeps its isolation: a whole rack with nothing on it, of the same
type and site (else a whole rack of a spot lease), until the lease is whole without it; with pod
isolation only inside its own pods, so a whole-pod lease rides out failures on the GPUs it holds
above its commitment. What cannot be replaced is a shortfall. Each month, attainment below a step
of the SLA's credit schedule returns that share of the month's bill.

Billing: ``take_or_pay`` bills committed GPU-hours whatever is delivered; ``metered`` bills
delivered GPU-hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from twin.fleet import FREE
from twin.scenario_spec import Lease
from twin.sla import credit_share

PENDING, ACTIVE, ENDED, REFUSED = "pending", "active", "ended", "refused"


@dataclass(eq=False)
class LeaseState:
    index: int
    spec: Lease
    site: int
    gpu_type: int
    start: float
    end: float  # when it stops in this run: its contract's end, or the horizon if sooner
    month_edges: np.ndarray  # hours since scenario start of each calendar month boundary
    contract_end: float = math.inf  # its term's end, or a termination's, whether in the run or after
    status: str = PENDING
    servers: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    target_servers: int = 0
    members: int = 0  # servers flagged for the lease, down ones included
    held_gpus: int = 0  # the GPUs of those servers: what no one else may use while it holds them
    held_gpu_hours: float = 0.0  # held_gpus integrated over time: what the lease's depreciation is on
    healthy_gpus: int = 0
    granted_gpus: int = 0
    last: float = 0.0
    delivered: np.ndarray = field(init=False)  # GPU-hours per month
    committed: np.ndarray = field(init=False)  # GPU-hours per month
    shortfall_events: int = 0
    spares_used: int = 0
    preempted_servers: int = 0
    note: str = ""

    def __post_init__(self) -> None:
        months = self.month_edges.size - 1
        self.delivered = np.zeros(months)
        self.committed = np.zeros(months)

    @property
    def spec_end_hour(self) -> float:
        return (self.spec.start_day + self.spec.term_days) * 24.0

    @property
    def guaranteed(self) -> bool:
        return self.spec.kind in ("reserved", "capacity_block")

    def touch(self, now: float) -> None:
        """Integrate delivery and holding from the last change to ``now`` (call before every change)."""
        if self.status != ACTIVE or now <= self.last:
            self.last = max(self.last, now)
            return
        rate = min(self.healthy_gpus, self.spec.gpus)
        self.held_gpu_hours += self.held_gpus * (now - self.last)
        self._spread(self.delivered, self.last, now, rate)
        self._spread(self.committed, self.last, now, self.spec.gpus)
        self.last = now

    def _spread(self, buckets: np.ndarray, t0: float, t1: float, rate: float) -> None:
        i = int(np.searchsorted(self.month_edges, t0, side="right")) - 1
        while t0 < t1 and 0 <= i < buckets.size:
            upto = min(t1, self.month_edges[i + 1])
            buckets[i] += rate * (upto - t0)
            t0 = upto
            i += 1

    # -- money ----------------------------------------------------------------------------------
    def revenue_by_month(self) -> np.ndarray:
        price = self.spec.price_usd_per_gpu_hour
        basis = self.committed if self.spec.billing == "take_or_pay" else self.delivered
        return basis * price

    def attainment_by_month(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.committed > 0, self.delivered / np.maximum(self.committed, 1e-12), np.nan)

    def credits_by_month(self) -> np.ndarray:
        if not self.guaranteed:
            return np.zeros_like(self.committed)
        return credit_share(self.attainment_by_month(), self.spec.sla.credits) * self.revenue_by_month()

    def summary(self) -> dict:
        committed = float(self.committed.sum())
        delivered = float(self.delivered.sum())
        revenue = float(self.revenue_by_month().sum())
        credits = float(self.credits_by_month().sum())
        return {
            "lease": self.spec.name,
            "tenant": self.spec.tenant,
            "kind": self.spec.kind,
            "billing": self.spec.billing,
            "status": self.status,
            "gpu_type": self.spec.gpu_type,
            "isolation": self.spec.isolation,
            "committed_gpus": self.spec.gpus,
            "granted_gpus": self.granted_gpus,
            "start_hour": self.start,
            # The contract's end, past the horizon too (the horizon is not when the lease ends);
            # a refused lease never began, so it ends where it would have started.
            "end_hour": (
                self.start
                if self.status == REFUSED
                else max(self.start, min(self.contract_end, self.spec_end_hour))
            ),
            "committed_gpu_hours": committed,
            "delivered_gpu_hours": delivered,
            # Spot and on-demand capacity carry no SLA: attainment is then the share of the asked
            # GPU-hours delivered, with no target to fall below.
            "sla_target": self.spec.sla.availability if self.guaranteed else math.nan,
            "sla_attainment": delivered / committed if committed > 0 else math.nan,
            "months_below_target": int(
                np.sum(self.attainment_by_month() < self.spec.sla.availability - 1e-12)
            )
            if self.guaranteed
            else 0,
            "revenue_usd": revenue,
            "credits_usd": credits,
            "spares_used": self.spares_used,
            "shortfall_events": self.shortfall_events,
            "preempted_internal_servers": self.preempted_servers,
            "note": self.note,
        }


def choose_racks(
    fleet, lease: LeaseState, allow_busy: bool, spot_leases: np.ndarray | None = None
) -> np.ndarray:
    """Whole racks (or pods) for a lease; may be short of what it asks.

    Free racks come first; then, if ``spot_leases`` (indexes) are given, racks of those spot leases
    (spot work is preempted before anything else); then, with ``allow_busy``, racks running
    internal work, the least busy first.
    """
    site_racks = np.flatnonzero(fleet.rack_site == lease.site)
    first_server = fleet.pod_first_server[fleet.rack_pod[site_racks]]
    type_ok = fleet.server_gpu_type[first_server] == lease.gpu_type
    racks = site_racks[type_ok]
    if lease.spec.kind in ("on_demand", "spot"):  # not admitted where the plant stopped admission
        racks = racks[fleet.pod_open[fleet.rack_pod[racks]]]
    leased = fleet.lease != FREE
    spot = (
        np.isin(fleet.lease, spot_leases)
        if spot_leases is not None and spot_leases.size
        else np.zeros_like(leased)
    )
    other = np.bincount(fleet.server_rack[leased & ~spot], minlength=fleet.racks)[racks] > 0
    on_spot = np.bincount(fleet.server_rack[spot], minlength=fleet.racks)[racks] > 0
    busy = fleet.rack_busy_gpus[racks]
    usable = ~other & (allow_busy | (busy == 0))
    rank = np.where(busy > 0, 2, np.where(on_spot, 1, 0))  # free, then spot, then internal work
    if lease.spec.isolation == "pod":
        pods = fleet.rack_pod[racks]
        bad_pods = np.unique(pods[~usable])
        usable &= ~np.isin(pods, bad_pods)
        pod_rank = np.zeros(fleet.pods)
        np.maximum.at(pod_rank, pods, rank)
        pod_busy = np.bincount(pods, weights=busy, minlength=fleet.pods)
        order = np.lexsort((racks, pod_busy[pods], pod_rank[pods]))
    else:
        # Keep a tenant in few pods: free racks of the emptiest pods first.
        order = np.lexsort((racks, busy, rank))
    racks = racks[order][usable[order]]
    need_gpus = lease.spec.gpus
    cum = np.cumsum(fleet.rack_gpus[racks])
    n = int(np.searchsorted(cum, need_gpus)) + 1
    chosen = racks[: min(n, racks.size)]
    if lease.spec.isolation == "pod" and chosen.size:
        whole = np.isin(fleet.rack_pod[racks], np.unique(fleet.rack_pod[chosen]))
        chosen = racks[whole]
    return chosen
