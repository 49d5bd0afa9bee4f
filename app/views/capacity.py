"""The Capacity page: what is committed, free, failed and sellable, by site, hall and week.

For executives: headline figures of a run, four site x hall x week heatmaps, and the rack x day
utilisation matrix. That matrix has ~20,000 rows for Louisiana, too tall for a browser as a plain
image (WebGL refuses it) and far too many cells for a HeatMap, so it goes through datashader's
``rasterize`` with a ``max`` aggregator: each screen pixel shows the busiest rack-day under it,
and a hot spot is never averaged away.

The run shown is named in the URL: ``?run=KEY`` (a what-if just run) or ``?scenario=STEM`` (a
scenario file as written, run once and then read from the cache).
"""

from __future__ import annotations

import asyncio
import html
import math
from urllib.parse import quote

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import BasicTicker, ColorBar, ColumnDataSource, NumeralTickFormatter
from bokeh.palettes import Blues9, Greens9, Purples9, Reds9
from bokeh.plotting import figure
from bokeh.transform import linear_cmap
from holoviews.operation.datashader import rasterize

from app.context import ConsoleContext
from app.runs import PoolBusy, outcome_of
from app.state.whatif import scenario_files
from app.views.compare import CARD_CSS
from app.views.formats import fmt
from app.views.markup import plain
from app.views.sales import sales_money
from app.views.url import missing_run, query_args, run_named
from twin.results import Results
from twin.textfile import read_text

HOURS_PER_WEEK = 168.0
DEFAULT_SCENARIO = "lease_vs_tokens"


def weekly_capacity(results: Results) -> pd.DataFrame:
    """GPUs by hall and week: committed to leases (mean), free (mean), failed (peak), sellable (worst)."""
    h = results.hall_series
    week = (h["time_h"] // HOURS_PER_WEEK).astype(int)
    free = h["installed_gpus"] - h["busy_gpus"] - h["leased_gpus"] - h["failed_gpus"]
    frame = pd.DataFrame(
        {
            "hall": h["hall"],
            "week": week,
            "committed": h["leased_gpus"],
            "free": free,
            "failed": h["failed_gpus"],
        }
    )
    out = frame.groupby(["hall", "week"], sort=False).agg(
        committed=("committed", "mean"), free=("free", "mean"), failed=("failed", "max")
    )
    sell = results.sellable
    if len(sell):
        halls = sell[sell["hall"] != ""].set_index(["hall", "week"])["sellable_gpus"]
        out = out.join(halls.rename("sellable"), how="left")
    else:
        out["sellable"] = np.nan
    return out.reset_index()


def headline(results: Results) -> dict[str, str]:
    k = results.kpis
    days = float(k.get("days") or 1)
    # Net of credits, like the depreciation share beside it; a run average, so a lease that ended
    # mid-run counts for the days it ran, not as if it ran all year.
    money = sales_money(k)
    net_sales = money["revenue"] - money["credits"]
    it_mw = results.site_series.groupby("time_h")["it_kw"].sum().mean() / 1000.0
    return {
        "GPUs": f"{int(k.get('gpus', 0)):,}",
        "Mean IT load": f"{it_mw:,.1f} MW",
        "Peak facility": fmt(k.get("peak_facility_mw"), "mw"),
        "Utilisation": fmt(k.get("utilization"), "share"),
        "Leased share": fmt(k.get("leased_share"), "share"),
        # Replicas of hosted models are sold capacity too (a run with none leaves the card out).
        **({"Hosted-model share": fmt(k.get("hosted_share"), "share")} if k.get("hosted_share") else {}),
        "Net sales a year (run average)": fmt(net_sales / days * 365.0, "usd"),
        "Fleet depreciation paid by sales": fmt(k.get("depreciation_covered"), "share"),
    }


def headline_html(results: Results) -> str:
    cards = "".join(
        f'<div class="card" data-kpi="{html.escape(label)}"><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(value)}</div></div>'
        for label, value in headline(results).items()
    )
    return f'<div class="cards">{cards}</div>'


HEATMAPS = {
    "committed": ("Committed to leases (mean GPUs)", Purples9),
    "free": ("Free (mean GPUs)", Greens9),
    # failed_gpus counts every server out of service: a failure, or power shed in a heat wave or a
    # curtailment (twin.shedding); "Failed" alone misread a heat wave as failures
    "failed": ("Out of service: failed or shed (peak GPUs)", Reds9),
    "sellable": ("Sellable on top (worst hour, GPUs)", Blues9),
}


GRID_CSS = ":host { grid-template-columns: repeat(2, minmax(0, 1fr)) !important; }"


def heatmaps(weekly: pd.DataFrame) -> list:
    """Four hall x week heatmaps over one shared source, hover giving every figure of a cell.

    Plain Bokeh ``rect`` glyphs: the four as HoloViews HeatMaps took 1.2-2 s to convert for both
    campuses (72 halls x 53 weeks, measured), the page's largest cost after the data itself.
    """
    halls = sorted(weekly["hall"].unique().tolist(), reverse=True)
    source = ColumnDataSource(weekly.assign(sellable=weekly["sellable"].astype(float)))
    height = max(220, 60 + 16 * len(halls))
    figures, x_range = [], None
    for metric, (title, palette) in HEATMAPS.items():
        fig = figure(title=title, y_range=halls, height=height, sizing_mode="stretch_width",
                     x_axis_label="week", tools="hover,pan,box_zoom,reset,save", toolbar_location="right")  # fmt: skip
        if x_range is None:
            x_range = fig.x_range
        else:
            fig.x_range = x_range
        values = weekly[metric].to_numpy(float)
        top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
        if not (values > 0).any():  # an empty map with a 0-1 scale read as a fault, not as "none"
            fig.title.text = f"{title}: none in this run"
        mapper = linear_cmap(metric, list(reversed(palette)), 0.0, max(top, 1.0), nan_color="#eeeeee")
        fig.rect(x="week", y="hall", width=1, height=1, source=source, fill_color=mapper, line_color=None)
        # GPU counts: whole ticks only (a scale of 0 to 2 GPUs had ticks at 0.5 and 1.5).
        ticks = BasicTicker(min_interval=1)
        fig.add_layout(ColorBar(color_mapper=mapper["transform"], width=8, ticker=ticks,
                                formatter=NumeralTickFormatter(format="0,0")), "right")  # fmt: skip
        fig.hover.tooltips = [("hall", "@hall"), ("week", "@week"), ("committed", "@committed{0,0}"),
                              ("free", "@free{0,0}"), ("out of service", "@failed{0,0}"), ("sellable", "@sellable{0,0}")]  # fmt: skip
        fig.xaxis.ticker = BasicTicker(min_interval=1)  # weeks are whole: no tick at week -0.5
        fig.yaxis.major_label_text_font_size = "9px"
        fig.grid.visible = False
        figures.append(fig)
    return figures


def maps_told(results: Results) -> str:
    """What the maps measure, and why *sellable* sits far below *free*: a reader once took the gap
    (hundreds free, a handful sellable) for a fault."""
    days = float(results.kpis.get("days") or 0)
    rest = days - 7 * math.floor(days / 7 + 1e-9)
    unit = "day" if rest == 1 else "days"
    partial = (
        f" The last week covers {rest:g} {unit}: the run ends {rest:g} {unit} into it."
        if rest > 1e-9 and days > 7
        else ""
    )
    return (
        "*Free* is the mean of idle, healthy GPUs over the week; *sellable on top* is its worst hour: "
        "the GPUs a new lease could take at full power without crossing a hall's power or cooling "
        "capacity (reserve cooling units not counted) or the site's supply, after holding back spares "
        "at the run's failure rate. It is usually far lower: GPUs free at night are busy at the "
        "afternoon peak, and a hall near its limits takes no more full-power load. It counts GPUs, "
        "not whole racks or pods: a lease isolated by pod needs a whole free pod." + partial
    )


def rack_day_image(results: Results) -> hv.DynamicMap:
    """Rack x day utilisation, rasterized with max so the busiest rack-day under a pixel shows."""
    matrix = results.rack_day_utilization
    racks, days = matrix.shape
    image = hv.Image(
        np.ascontiguousarray(matrix[::-1]),  # first row on top, so rack 0 at the bottom; C order as warmed
        bounds=(0, 0, days, racks),
        kdims=["day", "rack"],
        vdims=["utilisation"],
    )
    return rasterize(image, aggregator="max").opts(
        cmap="viridis", clim=(0, 1), colorbar=True, tools=["hover"], responsive=True, height=420,
        title=f"Rack x day utilisation ({racks:,} racks; max per pixel)",
    )  # fmt: skip


def warm_rasterize() -> None:
    """Compile datashader's kernels now (numba: ~3-5 s once per process), not on a user's first visit."""
    # Larger than any plot in pixels, so the downsampling kernels are the ones compiled.
    image = hv.Image(np.zeros((3000, 900), dtype=np.float32), bounds=(0, 0, 900, 3000))
    hv.render(rasterize(image, aggregator="max", width=400, height=300), backend="bokeh")


class CapacityView(pn.viewable.Viewer):
    """Capacity of one run: ``?run=KEY`` or ``?scenario=STEM``; a scenario is run on demand."""

    scenario = param.Selector(default=DEFAULT_SCENARIO, objects=[DEFAULT_SCENARIO])

    def __init__(self, context: ConsoleContext, **params):
        choices = list(scenario_files(context.scenarios_dir))
        super().__init__(**params)
        self.param.scenario.objects = choices
        self.context = context
        self._select = pn.widgets.Select.from_param(self.param.scenario, name="Scenario", width=260)
        self._progress = pn.indicators.Progress(value=0, max=100, visible=False, width=300)
        self._status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._body = pn.Column(sizing_mode="stretch_width")
        self._run_key: str | None = None
        self._unknown: str | None = None  # a ?scenario= the sites folder has no file for
        args = query_args()
        if args.get("run"):
            self._run_key = args["run"][:64]
        elif args.get("scenario"):
            stem = args["scenario"]
            if stem in choices:
                self.scenario = stem
            else:
                self._unknown = stem[:200]
        if pn.state.curdoc is not None:
            pn.state.onload(self._load)
        self.param.watch(self._on_scenario, "scenario")

    async def _on_scenario(self, event) -> None:
        self._run_key = self._unknown = None
        if pn.state.location is not None:
            pn.state.location.search = "?scenario=" + event.new
        await self._load()

    async def _load(self) -> None:
        pool = self.context.pool
        if self._run_key is not None:
            results = self.context.run_results(self._run_key)
            if results is None:
                again = (
                    "open one from the Runs page"
                    if self._run_key.startswith("lib-")
                    else "run the what-if again"
                )
                self._status.object = f"{missing_run(self._run_key)}; pick a scenario or {again}."
                return
            self._select.visible = False  # the menu names scenario files; this run is none of them
            which = run_named(self.context.saved_run_name(self._run_key), results)
            self._status.object = f"Showing {which}. [Pick a scenario instead](./capacity)"
            self._show(results)
            return
        if self._unknown is not None:
            # Never the default in its place: an old link would show another campus's figures.
            default = f"[open {plain(self.scenario)}](./capacity?scenario={quote(self.scenario)})"
            self._status.object = (
                f"Link parameter scenario: no scenario {plain(repr(self._unknown))} in the sites folder; "
                f"pick one in the menu, or {default}."
            )
            return
        path = scenario_files(self.context.scenarios_dir)[self.scenario]
        try:
            handle = pool.submit(read_text(path), path.parent)
        except PoolBusy as exc:
            self._status.object = plain(exc)
            return
        self._progress.visible = not handle.done()
        while not handle.done():
            self._status.object = f"Running **{self.scenario}** (once; later visits read the cache)…"
            self._progress.value = int(100 * handle.progress)
            await asyncio.sleep(0.2)
        self._progress.visible = False
        outcome = outcome_of(handle)
        if outcome.results is None:
            self._status.object = "The scenario could not run: " + plain("; ".join(outcome.problems))
            return
        self._status.object = f"Scenario **{self.scenario}**, as written in its file."
        self._show(outcome.results)

    def _show(self, results: Results) -> None:
        weekly = weekly_capacity(results)
        maps = [pn.pane.Bokeh(fig, sizing_mode="stretch_width") for fig in heatmaps(weekly)]
        if weekly["sellable"].isna().all():
            maps[-1] = pn.pane.Markdown("Sellable capacity needs physics on (power, cooling, weather).")
        self._body.objects = [
            pn.pane.HTML(headline_html(results), sizing_mode="stretch_width", stylesheets=[CARD_CSS]),
            # minmax(0, 1fr): columns of equal width whatever their figures' labels ask; with plain
            # 1fr a column widened to its content and the page scrolled sideways at 1280 px.
            pn.GridBox(*maps, ncols=2, sizing_mode="stretch_width", stylesheets=[GRID_CSS]),
            pn.pane.Markdown(maps_told(results), sizing_mode="stretch_width"),
            pn.pane.HoloViews(rack_day_image(results), sizing_mode="stretch_width"),
        ]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._select, self._progress),
            self._status,
            self._body,
            sizing_mode="stretch_width",
        )
