"""The KPIs of a run as ``simulate`` prints them on a terminal (``--json`` prints the JSON itself)."""

from __future__ import annotations


def print_kpis(k: dict) -> None:
    print(
        f"{k['scenario']}: {k['days']:g} days, seed {k['seed']}, {k['gpus']:,} GPUs, {k['wall_seconds']:.2f} s"
    )
    lines = [
        (
            "jobs submitted / completed / running / queued",
            f"{k['jobs_submitted']:,} / {k['jobs_completed']:,} / {k['jobs_running']:,} / {k['jobs_queued']:,}",
        ),
        (
            "utilization (internal + hosted models + leased)",
            f"{k['utilization']:.1%}  ({k['internal_utilization']:.1%} + {k['hosted_share']:.1%}"
            f" + {k['leased_share']:.1%})",
        ),
        ("failures / job interruptions", f"{k['failures']:,} / {k['interruptions']:,}"),
        (
            "effective training time",
            f"{k['effective_training_time']:.3f}" if k["effective_training_time"] is not None else "-",
        ),
        ("queue wait mean / p95 h", f"{k['queue_wait_mean_hours']:.1f} / {k['queue_wait_p95_hours']:.1f}"),
        ("energy MWh (IT)", f"{k['energy_mwh']:,.0f} ({k['it_energy_mwh']:,.0f})"),
        ("peak facility MW", f"{k['peak_facility_mw']:,.1f}"),
        (
            "PUE" + (" / water m3" if "water_m3" in k else " (constant, physics off)"),
            f"{k['pue']:.3f}" + (f" / {k['water_m3']:,.0f}" if "water_m3" in k else ""),
        ),
        *(
            [
                (
                    "GPU-h under a power cap / compute lost",
                    f"{k['throttled_gpu_hours']:,.0f} / {k['throttle_lost_gpu_hours']:,.0f}",
                )
            ]
            if "water_m3" in k
            else []
        ),
        (
            "sales revenue / credits USD (leases and hosted models)",
            f"{k['revenue_usd']:,.0f} / {k['sla_credits_usd']:,.0f}",
        ),
        (
            "campus energy cost / depreciation USD",
            f"{k['energy_cost_usd']:,.0f} / {k['depreciation_usd']:,.0f}",
        ),
        (
            "sales: energy / depreciation USD",
            f"{k['lease_energy_cost_usd'] + k['hosted_energy_cost_usd']:,.0f}"
            f" / {k['lease_depreciation_usd'] + k['hosted_depreciation_usd']:,.0f}",
        ),
        (
            "displaced internal work: value / its own costs / net USD",
            f"{k['displaced_internal_value_usd']:,.0f} / {k['displaced_internal_cost_usd']:,.0f}"
            f" / {k['displaced_internal_net_value_usd']:,.0f}",
        ),
        (
            "sales margin USD (revenue - credits - energy - depreciation - net displaced)",
            f"{k['margin_usd']:,.0f}",
        ),
    ]
    for name, t in k["tenants"].items():
        att = t["sla_attainment"]
        lines.append(
            (
                f"tenant {name}",
                f"SLA {att:.4f}, gross revenue {t['revenue_usd']:,.0f}" if att is not None else "not started",
            )
        )
    width = max(len(a) for a, _ in lines)
    for a, b in lines:
        print(f"  {a:<{width}}  {b}")
    print_products(k.get("products") or {}, k.get("product_comparison") or {})


def money(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_products(products: dict, best: dict) -> None:
    """One row per lease or hosted model: what it earned per GPU-hour held and per MWh drawn."""
    if not products:
        return
    print("  products (net of credits; margin after energy and depreciation):")
    head = (
        "name",
        "kind",
        "GPU-h",
        "net revenue",
        "margin",
        "net $/GPU-h",
        "margin $/GPU-h",
        "net $/MWh",
        "SLA",
    )
    rows = []
    for name, p in products.items():
        sla = p.get("latency_attainment") if p["product"] == "hosted_model" else p.get("sla_attainment")
        rows.append(
            (
                name,
                p.get("kind") or "hosted model",
                f"{p['gpu_hours']:,.0f}",
                f"{p['revenue_usd'] - p['credits_usd']:,.0f}",
                f"{p['margin_usd']:,.0f}",
                money(p["revenue_per_gpu_hour_usd"]),
                money(p["margin_per_gpu_hour_usd"]),
                money(p["revenue_per_mwh_usd"], 0),
                "-" if sla is None else f"{sla:.4f}",
            )
        )
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print(
            "    "
            + "  ".join(
                str(c).rjust(w) if i > 1 else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    if best:
        print(
            f"    most per GPU-hour: {best.get('best_revenue_per_gpu_hour', '-')} (revenue), "
            f"{best.get('best_margin_per_gpu_hour', '-')} (margin); "
            f"per MWh: {best.get('best_revenue_per_mwh', '-')}"
        )
