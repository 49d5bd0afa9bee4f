"""A what-if beside its baseline: KPI cards with deltas, series overlays, SLA and impact tables.

Pure functions from :class:`twin.results.Results` to HTML, tables and HoloViews/Bokeh objects;
the what-if view lays them out. Every user-given name (tenants, leases, products) is escaped
before it reaches HTML.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import NumberFormatter

from app.views.formats import fmt
from app.views.sales import sales_money
from app.views.series import band_quantiles
from twin.results import Results


@dataclass(frozen=True)
class Card:
    label: str
    kind: str  # usd, share, hours, mw, ratio, count
    better: int  # +1 higher is better, -1 lower is better, 0 neither
    help: str = ""  # what the figure is, when its name alone could mislead (a tooltip)


def kpi_values(results: Results) -> dict[str, float | None]:
    k = results.kpis
    money = sales_money(k)
    jobs = results.jobs
    # Training jobs from the arrival model or from a job trace, as the ETTR counts them.
    training = (
        jobs[jobs["kind"].isin(["training", "trace"]) & (jobs["status"] == "done")] if len(jobs) else jobs
    )
    turnaround = float((training["end_h"] - training["submit_h"]).mean()) if len(training) else None
    return {
        "revenue": money["revenue"],
        "margin": money["margin"],
        "credits": money["credits"],
        "utilization": k.get("utilization"),
        "leased_share": k.get("leased_share"),
        "hosted_share": k.get("hosted_share"),
        "internal_utilization": k.get("internal_utilization"),
        "queue_wait": k.get("queue_wait_mean_hours"),
        "turnaround": turnaround,
        "ettr": k.get("effective_training_time"),
        "pue": k.get("pue"),
        "peak_mw": k.get("peak_facility_mw"),
        "energy_cost": k.get("energy_cost_usd"),
        "depreciation_covered": k.get("depreciation_covered"),
    }


CARDS = {
    "revenue": Card("Sales revenue", "usd", +1),
    "margin": Card(
        "Sales margin",
        "usd",
        +1,
        "the products' margins (revenue, less SLA credits, their energy and the depreciation of their "
        "GPUs) less what the internal work the sales displaced was worth, net of its own depreciation "
        "and energy",
    ),
    "credits": Card("SLA credits", "usd", -1),
    "utilization": Card("GPU utilisation", "share", +1),
    "leased_share": Card("Leased share", "share", 0),
    "hosted_share": Card(
        "Hosted-model share",
        "share",
        0,
        "GPU-hours held by hosted models' replicas, over the GPU-hours installed",
    ),
    "internal_utilization": Card("Internal utilisation", "share", 0),
    "queue_wait": Card("Mean queue wait", "hours", -1),
    "turnaround": Card("Training turnaround", "hours", -1),
    "ettr": Card("Effective training time", "share", +1),
    "pue": Card("PUE", "ratio", -1),
    "peak_mw": Card("Peak facility", "mw", 0),
    "energy_cost": Card("Energy cost", "usd", 0),
    "depreciation_covered": Card(
        "Fleet depreciation paid by sales",
        "share",
        +1,
        "net sales (leases and hosted models, after SLA credits) over the depreciation of every GPU "
        "of the campuses in the run, not only of the GPUs sold",
    ),  # fmt: skip
}


def kpi_bands(replicates: list[Results]) -> dict[str, tuple[float, float]]:
    """The band of each card's KPI across Monte Carlo replications (:func:`band_quantiles`)."""
    values = [kpi_values(r) for r in replicates]
    quantiles = band_quantiles(len(replicates))
    bands = {}
    for key in CARDS:
        xs = [v[key] for v in values if v.get(key) is not None and math.isfinite(v[key])]
        if len(xs) == len(values) and xs:
            lo, hi = np.percentile(xs, quantiles)
            bands[key] = (float(lo), float(hi))
    return bands


def cards_html(
    whatif: Results,
    baseline: Results | None,
    run_id: str = "",
    bands: dict[str, tuple[float, float]] | None = None,
    versus: str = "baseline",
    band_name: str = "p5–p95 of the seeds",
) -> str:
    """KPI cards: the what-if's value, and its change from the baseline coloured good or bad.

    ``run_id`` marks which run the cards show (``data-run``), so a test or a script can tell
    fresh cards from the previous ones. ``bands`` (from :func:`kpi_bands`) add the range over
    replications under each value; ``versus`` names what the change is measured from.
    """
    now = kpi_values(whatif)
    before = kpi_values(baseline) if baseline is not None else {}
    parts = []
    for key, card in CARDS.items():
        value, base = now.get(key), before.get(key)
        delta_html = ""
        if base is not None and value is not None:
            delta = value - base
            tone = "same"
            if abs(delta) > 1e-9 * max(1.0, abs(base)):
                tone = "neutral" if card.better == 0 else ("good" if delta * card.better > 0 else "bad")
            text = fmt(delta, card.kind, signed=True)
            if tone == "same" or not any(ch in "123456789" for ch in text):  # "+0.000" reads as none
                tone, text = "same", "no change"
            delta_html = f'<div class="delta {tone}">{html.escape(text)} vs {html.escape(versus)}</div>'
        band_html = ""
        label = card.label
        if bands and key in bands:
            # The value is the what-if's own seed; the band is over all the seeds run, so the
            # value may lie outside it when its seed was an extreme one.
            lo, hi = (fmt(x, card.kind) for x in bands[key])
            band_html = (
                f'<div class="band">{html.escape(band_name)}: {html.escape(lo)} – {html.escape(hi)}</div>'
            )
            label = f"{card.label}, seed {whatif.kpis.get('seed', '?')}"
        parts.append(
            f'<div class="card" data-kpi="{key}" title="{html.escape(card.help)}">'
            f'<div class="label">{html.escape(label)}</div>'
            f'<div class="value">{html.escape(fmt(value, card.kind))}</div>{delta_html}{band_html}</div>'
        )
    return f'<div class="cards" data-run="{html.escape(run_id)}">' + "".join(parts) + "</div>"


# Labels keep two lines' room, so a row's values line up when one label wraps ("Hosted-model share,
# seed 11" beside "PUE, seed 11").
CARD_CSS = """
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 10px; background: #fff; }
.card .label { font-size: 12px; line-height: 1.25; color: #57606a; min-height: 2.5em; }
.card .value { font-size: 20px; font-weight: 600; }
.card .delta { font-size: 12px; }
.delta.good { color: #1a7f37; } .delta.bad { color: #cf222e; }
.delta.neutral { color: #0969da; } .delta.same { color: #57606a; }
.card .band { font-size: 11px; color: #57606a; }
"""

# A table's scroll bar that stays: the system's may show only while scrolling, or never (macOS,
# touch screens), and a table wider than a laptop's screen (the leases, the SLA table) is read by
# scrolling it sideways. A styled scroll bar is one Chromium and Safari do not hide.
SCROLLBAR_CSS = """
.tabulator-tableholder::-webkit-scrollbar { width: 10px; height: 10px; }
.tabulator-tableholder::-webkit-scrollbar-thumb { background: #afb8c1; border-radius: 5px; }
.tabulator-tableholder::-webkit-scrollbar-track { background: #f6f8fa; }
"""


# --------------------------------------------------------------------------------------- tables


def sla_table(results: Results) -> pd.DataFrame:
    """SLA attainment per product: leases (availability) and hosted models (latency)."""
    rows = []
    leases = results.leases
    targets = dict(zip(leases["lease"], leases["sla_target"], strict=True)) if "sla_target" in leases else {}
    for name, p in (results.kpis.get("products") or {}).items():
        hosted = p.get("product") == "hosted_model"
        if hosted:
            ttft = p.get("latency_target_p95_s")
            sla = f"TTFT p95 ≤ {ttft:g} s" if isinstance(ttft, (int, float)) else "latency p95"
        else:
            target = targets.get(name)
            if not isinstance(target, (int, float)):
                sla = "availability"
            elif math.isnan(target):
                sla = "none"  # spot and on-demand capacity: no target, no credits
            else:
                sla = f"availability {target:.2%}"
        rows.append(
            {
                "product": name,
                # A hosted model has no tenant: its buyers are whoever calls it; the model is named.
                "tenant or model": p.get("tenant") or str(p.get("model", "")),
                "kind": "hosted model" if hosted else p.get("kind", ""),
                "GPUs held (peak)": p.get("gpus"),  # a hosted model's replicas scale with demand
                "SLA": sla,
                "attainment": p.get("latency_attainment") if hosted else p.get("sla_attainment"),
                "revenue $": p.get("revenue_usd"),
                "credits $": p.get("credits_usd"),
                "product margin $": p.get("margin_usd"),
                "product margin $/GPU-h": p.get("margin_per_gpu_hour_usd"),
            }
        )
    frame = sla_table_frame(rows)
    if len(frame):
        below = {name: p.get("months_below_sla") for name, p in (results.kpis.get("products") or {}).items()}
        if len(leases) and "months_below_target" in leases:
            below |= dict(zip(leases["lease"], leases["months_below_target"], strict=True))
        frame["months below"] = frame["product"].map(below)
    money = {"revenue $": 0, "credits $": 0, "product margin $": 0, "product margin $/GPU-h": 3}
    return frame.round({"attainment": 6, **money})


SLA_TEXT = ("product", "tenant or model", "kind", "SLA")
# Fixed widths: a long tenant or model name ("Llama 3.1 70B Instruct (FP8, TP8)", 250 px) would push
# the figures out of view; it wraps in its cell instead. No hover tooltip: Tabulator writes a
# tooltip as HTML, and names are the users' own text.
SLA_WIDTHS = {"product": 150, "tenant or model": 250}
IMPACT_TEXT = ("measure",)
IMPACT_HEIGHT_PX = 460  # the internal-work table's every row, without a scroll
SLA_COLUMNS = ["product", "tenant or model", "kind", "GPUs held (peak)", "SLA", "attainment", "revenue $", "credits $",
               "product margin $", "product margin $/GPU-h", "months below"]  # fmt: skip
PERCENT_COLUMNS = ("attainment",)  # shares, shown as percentages (0.999907 is 99.991 %, not "1")


def sla_table_frame(rows: list[dict] | None = None) -> pd.DataFrame:
    return pd.DataFrame(rows or [], columns=SLA_COLUMNS)


def impact_frame(
    rows: list[dict] | None = None, names: tuple[str, str] = ("baseline", "what-if")
) -> pd.DataFrame:
    return pd.DataFrame(rows or [], columns=["measure", *names, "change"])


# (KPI, label, scale, decimals): shares read in % as on the cards, not as fractions; dollars,
# jobs and GPU-hours in whole units.
IMPACT = [
    ("queue_wait_mean_hours", "mean queue wait (h)", 1, 3),
    ("queue_wait_p95_hours", "p95 queue wait (h)", 1, 3),
    ("queue_wait_gpu_weighted_hours", "GPU-weighted queue wait (h)", 1, 3),
    ("effective_training_time", "effective training time (%)", 100, 3),
    ("internal_utilization", "internal utilisation (%)", 100, 3),
    ("jobs_completed", "jobs completed", 1, 0),
    ("preemptions", "preemptions", 1, 0),
    ("inference_unmet_gpu_hours", "inference unmet GPU-h", 1, 0),
    ("displaced_internal_value_usd", "displaced internal value ($)", 1, 0),
    ("displaced_internal_net_value_usd", "displaced internal value, net of its costs ($)", 1, 0),
]


def impact_table(
    whatif: Results, baseline: Results | None, names: tuple[str, str] = ("baseline", "what-if")
) -> pd.DataFrame:
    """Internal work, baseline against what-if (``names``: the columns' headings, before then after)."""
    rows = []
    turn_now = kpi_values(whatif)["turnaround"]
    turn_base = kpi_values(baseline)["turnaround"] if baseline is not None else None
    measures = [*IMPACT, ("", "training turnaround (h)", 1, 3)]
    for key, label, scale, decimals in measures:
        now = whatif.kpis.get(key) if key else turn_now
        base = (baseline.kpis.get(key) if key else turn_base) if baseline is not None else None
        row = {
            "measure": label,
            "baseline": None if base is None else round(float(base) * scale, decimals),
            "what-if": None if now is None else round(float(now) * scale, decimals),
        }
        both = row["baseline"] is not None and row["what-if"] is not None
        row["change"] = round(row["what-if"] - row["baseline"], decimals) if both else None
        rows.append(row)
    return impact_frame(rows).rename(columns=dict(zip(("baseline", "what-if"), names, strict=True)))


def readonly_table(
    frame: pd.DataFrame,
    name: str,
    text: tuple[str, ...],
    widths: dict[str, int] | None = None,
    max_height: int = 320,
) -> pn.widgets.Tabulator:
    """A read-only table; text is shown as text (Tabulator's textarea formatter), never as HTML,
    and wraps in a column of fixed width.

    ``text`` names the text columns, since the tables are made empty and filled later (an empty
    frame's columns are all objects); the other columns are numbers, shown with thousands separators.
    """
    number = NumberFormatter(format="0,0.[000]")
    percent = NumberFormatter(format="0.00[0]%")
    return pn.widgets.Tabulator(
        frame,
        disabled=True,
        show_index=False,
        layout="fit_data_table",
        sizing_mode="stretch_width",
        max_height=max_height,
        formatters={
            c: {"type": "textarea"} if c in text else (percent if c in PERCENT_COLUMNS else number)
            for c in frame.columns
        },
        widths=widths or {},
        # Columns are fitted to each new set of rows; fitted once, to the first, a larger number
        # later was cut short ("1,092,036,"), the digits that count lost. Every row is drawn
        # ("basic", not the virtual renderer, which draws the rows its last height showed): an SLA
        # table of one row given two showed one, now and then, with the page scrolling to it.
        configuration={"layoutColumnsOnNewData": True, "renderVertical": "basic"},
        stylesheets=[SCROLLBAR_CSS],
        name=name,
    )
