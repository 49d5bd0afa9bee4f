"""Each way of selling capacity, on one footing: leases and hosted models side by side.

For every lease and every hosted model of a run, the KPI JSON's ``products`` section gives the
GPU-hours it held, what it billed and credited back, the energy it drew (IT energy times its
site's PUE over the hours it drew it; the site's own price) and the depreciation of the GPUs it
held (capex over useful life, per hour held). Its margin is revenue - credits - energy -
depreciation; divided by GPU-hours held and by facility MWh drawn, it answers "which earns more
per GPU, per MW?". The internal work a product displaces is a campus-wide figure (see
:mod:`twin.results`), not split between products.

Hosted models add their token books (requested = served + dropped + still queued), latency
attainment (the share of requests answered within the TTFT target; dropped requests count as
misses), the p95 TTFT over their requests, replica failures and the replica shortfall.
"""

from __future__ import annotations

import math

import numpy as np

from twin.hosted import COL
from twin.sla import credit_share


def _window_pue(site_pue: np.ndarray, sample_h: float, site: int, start_h: float, end_h: float) -> float:
    a, b = int(start_h // sample_h), max(int(start_h // sample_h) + 1, math.ceil(end_h / sample_h - 1e-9))
    window = site_pue[a:b, site]
    return float(window.mean()) if window.size else float(site_pue[:, site].mean())


def money_columns(
    gpu_h: float, revenue: float, credits: float, energy_mwh: float, price: float, dep: float
) -> dict:
    """The money columns every product shares; margin = revenue - credits - energy - depreciation."""
    energy_cost = energy_mwh * price
    return {
        "gpu_hours": gpu_h,
        "revenue_usd": revenue,
        "credits_usd": credits,
        "energy_mwh": energy_mwh,
        "energy_cost_usd": energy_cost,
        "depreciation_usd": dep,
        "margin_usd": revenue - credits - energy_cost - dep,
    }


def _per(value: float, amount: float) -> float | None:
    """``value`` per unit of ``amount``; None when there is no amount, or so little that the ratio
    overflows (a lease active for an instant), without numpy's overflow warning."""
    if amount <= 0:
        return None
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ratio = value / amount
    return float(ratio) if math.isfinite(ratio) else None


def ratios(row: dict) -> dict:
    """Set the row's per GPU-hour and per MWh figures (net of credits); return it."""
    net = row["revenue_usd"] - row["credits_usd"]
    gpu_h, mwh = row["gpu_hours"], row["energy_mwh"]
    row["revenue_per_gpu_hour_usd"] = _per(net, gpu_h)
    row["margin_per_gpu_hour_usd"] = _per(row["margin_usd"], gpu_h)
    row["revenue_per_mwh_usd"] = _per(net, mwh)
    row["margin_per_mwh_usd"] = _per(row["margin_usd"], mwh)
    return row


def lease_products(engine, leases_table, site_pue, sample_h, prices, dep_rate, busy_fraction) -> dict:
    out = {}
    for lease, row in zip(engine.leases, leases_table.to_dict("records"), strict=True):
        # The GPUs it held, hour by hour: spot racks taken by a reserved lease leave it, spares
        # join it (its granted size held to the end charged a lost rack twice).
        gpu_h = lease.held_gpu_hours
        idle_kw, dyn_kw = engine.fleet.gpu_kw(lease.site, lease.gpu_type)
        kw = idle_kw + dyn_kw * busy_fraction * lease.spec.tenant_utilization
        it_mwh = row["delivered_gpu_hours"] * kw / 1000.0
        energy_mwh = it_mwh * _window_pue(site_pue, sample_h, lease.site, lease.start, lease.end)
        dep = gpu_h * dep_rate[lease.gpu_type]
        revenue, credits = float(row["revenue_usd"]), float(row["credits_usd"])
        out[lease.spec.name] = ratios(
            {
                "product": "lease",
                "kind": lease.spec.kind,
                "tenant": lease.spec.tenant,
                "site": engine.site_names[lease.site],
                "gpu_type": lease.spec.gpu_type,
                "gpus": lease.granted_gpus,
                **money_columns(gpu_h, revenue, credits, energy_mwh, prices[lease.site], dep),
                "sla_attainment": row["sla_attainment"],
            }
        )
    return out


def hosted_products(engine, site_pue, sample_h, prices, dep_rate, month_edges) -> dict:
    out = {}
    for service in engine.hosted.values():
        d, spec = service.data, service.spec
        samples = np.minimum((service.t0 // sample_h).astype(np.int64), site_pue.shape[0] - 1)
        energy_mwh = float((d[COL["it_kwh"]] * site_pue[samples, service.site]).sum() / 1000.0)
        month = np.searchsorted(month_edges, service.t0, side="right") - 1
        months = max(1, month_edges.size - 1)
        revenue_m = np.bincount(month, weights=d[COL["revenue_usd"]], minlength=months)
        asked_m = np.bincount(month, weights=d[COL["requests"]], minlength=months)
        within_m = np.bincount(month, weights=d[COL["within_target_requests"]], minlength=months)
        with np.errstate(invalid="ignore", divide="ignore"):
            attainment_m = np.where(asked_m > 0, within_m / asked_m, np.nan)
        credits = float((credit_share(attainment_m, spec.sla.credits) * revenue_m).sum())
        revenue = float(revenue_m.sum())
        gpu_h = float(d[COL["gpu_hours"]].sum())
        dep = gpu_h * dep_rate[service.gpu_type]
        asked = float(d[COL["requests"]].sum())
        served_in, served_out = (
            float(d[COL[c]].sum()) for c in ("served_input_tokens", "served_output_tokens")
        )
        out[spec.name] = ratios(
            {
                "product": "hosted_model",
                "model": spec.model,
                "site": spec.site,
                "gpu_type": spec.gpu_type,
                "gpus": int(d[COL["replicas_held"]].max() * service.replica_gpus) if d.shape[1] else 0,
                **money_columns(gpu_h, revenue, credits, energy_mwh, prices[service.site], dep),
                "requests": asked,
                "served_requests": float(d[COL["served_requests"]].sum()),
                "dropped_requests": float(d[COL["dropped_requests"]].sum()),
                "queued_requests_at_end": float(d[COL["queued_requests"], -1]) if d.shape[1] else 0.0,
                "input_tokens": float(d[COL["input_tokens"]].sum()),
                "output_tokens": float(d[COL["output_tokens"]].sum()),
                "served_input_tokens": served_in,
                "served_output_tokens": served_out,
                "dropped_output_tokens": float(d[COL["dropped_output_tokens"]].sum()),
                "latency_attainment": float(d[COL["within_target_requests"]].sum() / asked)
                if asked
                else None,
                "latency_target_p95_s": spec.latency.ttft_p95_seconds,
                "ttft_p95_s": _weighted_p95(d[COL["ttft_p95_s"]], d[COL["requests"]]),
                "months_below_sla": int(
                    np.sum(np.nan_to_num(attainment_m, nan=1.0) < spec.sla.attainment - 1e-12)
                ),
                "mean_replicas_serving": float(d[COL["replicas_serving"]].mean()) if d.shape[1] else 0.0,
                "replica_failures": service.replica_failures,
                "replicas_shed": service.replicas_shed,
                "unplaced_replica_requests": service.unplaced_replica_steps,
                "steps_over_max_replicas": service.over_max_replica_steps,
                "usd_per_million_tokens_served": (revenue / ((served_in + served_out) / 1e6))
                if served_in + served_out > 0
                else None,
            }
        )
    return out


def _weighted_p95(values: np.ndarray, weights: np.ndarray) -> float | None:
    """The step p95 that 95 % of requests met or beat (steps weighted by their requests)."""
    if weights.sum() <= 0:
        return None
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(order.size - 1, int(np.searchsorted(cum, 0.95)))])


def comparison(products: dict) -> dict:
    """Which product earns most per GPU-hour and per MWh (net of credits), and by margin."""
    if not products:
        return {}
    out = {}
    for key in (
        "revenue_per_gpu_hour_usd",
        "margin_per_gpu_hour_usd",
        "revenue_per_mwh_usd",
        "margin_per_mwh_usd",
    ):
        ranked = [(row[key], name) for name, row in products.items() if row[key] is not None]
        if ranked:
            out[f"best_{key.removesuffix('_usd')}"] = max(ranked)[1]
    return out
