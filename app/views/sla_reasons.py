"""Why a product fell short of its SLA, in words, under the SLA table.

The SLA table says *that* a lease or a hosted model missed its target; an operator's next question
is why, and what to change. The run already knows: a hosted model counts the steps its autoscaler
found no pod with room for a replica (it takes idle servers only and never preempts internal
work), the steps its demand wanted more than its ``max_replicas``, and the replicas it lost; a
lease counts the servers it lost with no spare to stand in, and the GPUs it was granted against
those committed; the event log names the outages and curtailments of the product's site. A
product is told here when it fell below its SLA in some month (the table's "months below"), not
for a request dropped in a month that still met it. This module turns those counts into one
sentence per product, with the knob that addresses the cause. Plain text (a view escapes it):
names are the users' own.
"""

from __future__ import annotations

import math

import pandas as pd

from app.views.markup import plain
from twin.leases import PENDING
from twin.results import Results


def _n(count: float, one: str, many: str) -> str:
    count = int(round(count))
    return f"{count:,} {one if count == 1 else many}"


def _site_events(events: pd.DataFrame, site: str | None) -> str:
    """The outages and curtailments of ``site`` in the run's log, as a reader names them."""
    if not site or "kind" not in events:
        return ""
    hits = events[events["kind"].isin(("outage", "curtailment")) & (events["site"] == site)]
    told = [
        f"the {'outage' if kind == 'outage' else 'curtailment'} of {site}"
        + (f" hall {subject}" if kind == "outage" and subject != "whole site" else "")
        + f" from day {time_h / 24:g} ({detail})"
        for time_h, kind, subject, detail in zip(
            hits["time_h"], hits["kind"], hits["subject"], hits["detail"], strict=True
        )
    ]
    more = f" and {len(told) - 3} more" if len(told) > 3 else ""
    return ", ".join(told[:3]) + more


def _hosted(name: str, p: dict, events: pd.DataFrame) -> str | None:
    months = p.get("months_below_sla") or 0
    if not months:
        return None
    target = p.get("latency_target_p95_s")
    told = f"{name} missed its TTFT target" + (
        f" (p95 ≤ {target:g} s)" if isinstance(target, (int, float)) else ""
    )
    told += f" for more requests than its SLA allows in {_n(months, 'month', 'months')}"
    dropped = p.get("dropped_requests") or 0
    if dropped:
        told += f", and dropped {_n(dropped, 'request', 'requests')} past their timeout"
    causes, fixes = [], []
    site_events = _site_events(events, p.get("site"))
    if site_events:
        causes.append(f"{site_events} took its servers")
    unplaced = p.get("unplaced_replica_requests") or 0
    if unplaced:
        causes.append(
            f"at {_n(unplaced, 'step', 'steps')} its autoscaler found no {p.get('gpu_type', '')} pod at "
            f"{p.get('site', 'its site')} with room for another replica (a hosted model takes idle servers "
            "only and never preempts internal work)"
        )
        fixes.append(
            "raise min_replicas to hold servers for it from the start, or sell it where GPUs stand idle"
        )
    over_max = p.get("steps_over_max_replicas") or 0
    if over_max:
        causes.append(f"at {_n(over_max, 'step', 'steps')} its demand wanted more than its max_replicas")
        fixes.append("raise max_replicas")
    failed = p.get("replica_failures") or 0
    shed = p.get("replicas_shed") or 0
    if failed or shed:
        lost = [_n(failed, "replica", "replicas") + " lost to server failures or outages"] if failed else []
        lost += [_n(shed, "replica", "replicas") + " shed by the plant or a lease"] if shed else []
        causes.append(" and ".join(lost))
    if not causes:
        causes.append("no shortage of servers was recorded: requests waited while new replicas started")
        fixes.append("raise min_replicas, or lower the autoscaler's target utilisation")
    fix = f" To fix: {'; '.join(fixes)}." if fixes else ""
    return f"{told}. Why: {'; '.join(causes)}.{fix}"


def _lease(row: dict, site: str | None, events: pd.DataFrame) -> str | None:
    if row.get("status") == PENDING:  # starts after the run: the horizon note says so, no SLA to miss
        return None
    name = row.get("lease", "")
    committed, granted = row.get("committed_gpus"), row.get("granted_gpus")
    target, months = row.get("sla_target"), row.get("months_below_target") or 0
    short_grant = (
        isinstance(committed, (int, float)) and isinstance(granted, (int, float)) and granted < committed
    )
    guaranteed = isinstance(target, (int, float)) and not math.isnan(target)
    below = guaranteed and months > 0
    if not below and not short_grant:
        return None
    parts = []
    if below:
        parts.append(
            f"{name} fell below its {target:.2%} availability target in {_n(months, 'month', 'months')}"
        )
    if short_grant:
        parts.append(f"{name} was granted {int(granted):,} of its {int(committed):,} committed GPUs")
    causes, fixes = [], []
    site_events = _site_events(events, site)
    if site_events:
        causes.append(f"{site_events} took its servers out")
        fixes.append("price the risk of such an event in, or lower the SLA target")
    shortfalls = row.get("shortfall_events") or 0
    if shortfalls:
        causes.append(
            f"{_n(shortfalls, 'time', 'times')} one of its servers went out of service (a failure, an outage or "
            "a shed) with no spare rack its isolation allows to stand in"
        )
        if row.get("isolation") == "pod":
            fixes.append("isolation rack lets spare racks of other pods stand in")
    note = row.get("note")
    if isinstance(note, str) and note:
        causes.append(note)
    why = f" Why: {'; '.join(causes)}." if causes else ""
    fix = f" To fix: {'; '.join(fixes)}." if fixes else ""
    return "; ".join(parts) + "." + why + fix


def sla_reasons(results: Results) -> list[str]:
    """One sentence per product that missed its SLA in a month (or was granted less than
    committed); none when every product met it."""
    lines = []
    products = results.kpis.get("products") or {}
    leases, events = results.leases, results.events
    if len(leases) and "lease" in leases:
        for row in leases.to_dict("records"):
            told = _lease(row, (products.get(row["lease"]) or {}).get("site"), events)
            if told:
                lines.append(told)
    for name, p in products.items():
        if p.get("product") == "hosted_model":
            told = _hosted(name, p, events)
            if told:
                lines.append(told)
    return lines


def sla_reasons_markdown(results: Results) -> str:
    """:func:`sla_reasons` as a Markdown list under a heading ("" when there is nothing to say)."""
    lines = sla_reasons(results)
    if not lines:
        return ""
    return "**Below target, and why**\n\n" + "\n".join(f"- {plain(line)}" for line in lines)
