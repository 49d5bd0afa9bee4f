"""What was sold, from revenue down to margin: the figures and the waterfall that draws them.

The figures are the KPI JSON's own (:mod:`twin.money`), so the page and ``simulate --json`` agree;
a run saved by an earlier version, whose totals covered leases only, is added up from its
products as it was then.
"""

from __future__ import annotations

from bokeh.models import ColumnDataSource, CustomJSTickFormatter, HoverTool
from bokeh.plotting import figure

from app.views.formats import fmt


def sales_money(kpis: dict) -> dict[str, float]:
    """Revenue to margin of everything sold (leases and hosted models), as the waterfall shows it:
    the KPI JSON's own figures (twin.money), so the page and ``simulate --json`` agree."""

    def get(*keys: str) -> float:
        return float(sum(kpis.get(key) or 0.0 for key in keys))

    # What selling gave up: the displaced work's value net of its own depreciation and energy (a run
    # saved before twin.money netted it subtracted the gross value, and keeps its margin).
    net = "displaced_internal_net_value_usd"
    displaced = get(net if net in kpis else "displaced_internal_value_usd")
    if "hosted_energy_cost_usd" not in kpis:  # a run saved before twin.money: its totals were leases only
        products = (kpis.get("products") or {}).values()

        def total(key: str) -> float:
            return float(sum((p.get(key) or 0.0) for p in products))

        return {
            "revenue": total("revenue_usd"),
            "credits": total("credits_usd"),
            "energy": total("energy_cost_usd"),
            "depreciation": total("depreciation_usd"),
            "displaced internal work": displaced,
            "margin": total("margin_usd") - displaced,
        }
    return {
        "revenue": get("revenue_usd"),
        "credits": get("sla_credits_usd"),
        "energy": get("lease_energy_cost_usd", "hosted_energy_cost_usd"),
        "depreciation": get("lease_depreciation_usd", "hosted_depreciation_usd"),
        "displaced internal work": displaced,
        "margin": get("margin_usd"),
    }


TITLE = "Sales: revenue to margin"
WATERFALL_STEPS = ["revenue", "credits", "energy", "depreciation", "displaced internal work", "margin"]


def waterfall_data(kpis: dict) -> dict[str, list]:
    """Floating bars from revenue down to margin for everything sold (bottom, top, colour, label)."""
    money = sales_money(kpis)
    data: dict[str, list] = {"name": [], "bottom": [], "top": [], "color": [], "amount": []}
    level = 0.0
    for name in WATERFALL_STEPS:
        if name == "margin":
            lo, hi, color, amount = (
                min(0.0, level),
                max(0.0, level),
                "#0969da" if level >= 0 else "#cf222e",
                level,
            )
        else:
            amount = money[name] if name == "revenue" else -money[name]
            lo, hi = min(level, level + amount), max(level, level + amount)
            # Nothing to show (no credits, nothing displaced) is grey: green read as a gain.
            color = "#8c959f" if amount == 0 else ("#1a7f37" if amount > 0 else "#cf222e")
            level += amount
        for key, value in zip(data, (name, lo, hi, color, fmt(amount, "usd", signed=True)), strict=True):
            data[key].append(value)
    return data


# Dollars on an axis as the cards write them ($2.06M, $450k): numeral's "$0.0a" wrote "$2.0m",
# and a lower-case m reads as milli.
USD_TICK_JS = """
const a = Math.abs(tick), sign = tick < 0 ? "\u2212" : "";
for (const [unit, scale] of [["B", 1e9], ["M", 1e6], ["k", 1e3]]) {
    if (a >= scale) return sign + "$" + Number((a / scale).toFixed(2)) + unit;
}
return sign + "$" + Number(a.toFixed(2));
"""


class Waterfall:
    """Revenue, credits, energy, depreciation and displaced internal work down to margin."""

    def __init__(self) -> None:
        self.source = ColumnDataSource({k: [] for k in ("name", "bottom", "top", "color", "amount")})
        fig = figure(x_range=WATERFALL_STEPS, height=280, sizing_mode="stretch_width",
                     title=TITLE, toolbar_location=None)  # fmt: skip
        fig.vbar(x="name", bottom="bottom", top="top", width=0.7, color="color", source=self.source)
        fig.add_tools(HoverTool(tooltips=[("", "@name"), ("amount", "@amount")]))
        fig.yaxis.formatter = CustomJSTickFormatter(code=USD_TICK_JS)
        # On two lines: on one, "displaced internal work" ran into "depreciation" on a laptop's screen,
        # where the figure shares its row with the internal-work table. (A categorical axis ignores
        # major_label_overrides; a formatter it does not.)
        fig.xaxis.formatter = CustomJSTickFormatter(code='return tick.replace(" ", "\\n");')
        self.figure = fig

    def update(self, kpis: dict) -> None:
        data = waterfall_data(kpis)
        self.source.data = data
        # With nothing sold every bar is flat at $0: say so, rather than leave an empty chart.
        nothing = all(bottom == top == 0 for bottom, top in zip(data["bottom"], data["top"], strict=True))
        self.figure.title.text = TITLE + (" (nothing sold in this run)" if nothing else "")
