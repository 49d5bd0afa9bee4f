"""Time series of runs overlaid: internal, hosted, leased and failed GPUs, headroom, PUE, with bands.

Plain Bokeh figures built once per page and refreshed in place; the what-if and the Runs pages
share them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
from bokeh.plotting import figure

from twin.results import Results
from twin.sweep import PERCENTILE_SEEDS

# ------------------------------------------------------------------------------------- series


def _campus_series(results: Results) -> pd.DataFrame:
    s = results.site_series.groupby("time_h", sort=True).sum(numeric_only=True).reset_index()
    s["day"] = s["time_h"] / 24.0
    # Busy GPUs hold hosted models' replicas too (sold by the token): drawn apart from internal work.
    hosted = s.get("hosted_gpus", 0.0)  # 0: a run saved before it was recorded
    s["internal_gpus"] = s["busy_gpus"] - hosted
    if "facility_kw" in s and "it_kw" in s:
        s["pue"] = np.divide(s["facility_kw"], s["it_kw"], out=np.full(len(s), np.nan), where=s["it_kw"] > 0)
    # Headroom is what the tightest hall (or site) has left: a hall cannot borrow another's cooling,
    # so a sum over halls would hide one running on its reserve units behind the others' margin.
    if "supply_headroom_kw" in results.site_series:
        s = s.drop(columns="supply_headroom_kw").merge(
            _tightest(results.site_series, "site", {"supply_headroom_kw": "supply_where"}),
            on="time_h",
            how="left",
        )
    halls = results.hall_series
    if "cooling_headroom_kw" in halls:
        where = {"power_headroom_kw": "power_where", "cooling_headroom_kw": "cooling_where"}
        s = s.merge(_tightest(halls, "hall", where), on="time_h", how="left")
    return s


def _tightest(frame: pd.DataFrame, by: str, columns: dict[str, str]) -> pd.DataFrame:
    """Per hour, the least of each column over ``by`` (halls or sites), and which one it is."""
    out = pd.DataFrame({"time_h": np.unique(frame["time_h"].to_numpy())})
    for col, where in columns.items():
        known = frame.dropna(subset=[col])  # an hour with no figure at all stays blank, not an error
        rows = known.loc[known.groupby("time_h", sort=True)[col].idxmin(), ["time_h", col, by]]
        out = out.merge(rows.rename(columns={by: where}).astype({where: str}), on="time_h", how="left")
    return out


SERIES = {
    "GPUs": [
        ("internal_gpus", "internal"),
        ("hosted_gpus", "hosted models"),
        ("leased_gpus", "leased"),
        ("failed_gpus", "failed"),
    ],
    "Headroom, tightest site or hall (MW)": [
        ("supply_headroom_kw", "site supply"),
        ("power_headroom_kw", "hall power"),
        ("cooling_headroom_kw", "cooling"),
    ],
    "PUE": [("pue", "PUE")],
}
# The hall or site each headroom line is at, shown on hover.
WHERE = {
    "supply_headroom_kw": "supply_where",
    "power_headroom_kw": "power_where",
    "cooling_headroom_kw": "cooling_where",
}
COLORS = {"internal": "#0969da", "hosted models": "#bf8700", "leased": "#8250df", "failed": "#cf222e", "site supply": "#1a7f37",
          "hall power": "#9a6700", "cooling": "#0598bc", "PUE": "#57606a"}  # fmt: skip


def _series_arrays(results: Results, columns) -> dict[str, np.ndarray]:
    """The campus series of ``results`` for the figures' columns, kW shown as MW, NaN where absent."""
    frame = _campus_series(results)
    data = {"day": frame["day"].to_numpy()}
    for col in columns:
        if col == "day":
            continue
        if col in WHERE.values():
            data[col] = (
                frame[col].fillna("").to_numpy(object) if col in frame else np.full(len(frame), "", object)
            )
        elif col not in frame:  # physics off: no headroom or PUE, drawn as nothing
            data[col] = np.full(len(frame), np.nan)
        else:
            data[col] = (frame[col] / 1000.0 if col.endswith("_kw") else frame[col]).to_numpy(float)
    return data


def band_quantiles(seeds: int) -> list[int]:
    """The percentiles a band over ``seeds`` replications spans. The 5th percentile of four values
    is an interpolation that can leave out a seed's own value (the one the cards show): below
    :data:`PERCENTILE_SEEDS` seeds, a band is their lowest to highest."""
    return [5, 95] if seeds >= PERCENTILE_SEEDS else [0, 100]


def band_label(seeds: int) -> str:
    return f"p5–p95 of the {seeds} seeds" if seeds >= PERCENTILE_SEEDS else f"range of the {seeds} seeds"


def series_bands(replicates: list[Results], columns) -> dict[str, np.ndarray]:
    """Per hour, the band (:func:`band_quantiles`) of each series across replications (``COL_lo``/``COL_hi``)."""
    arrays = [_series_arrays(r, columns) for r in replicates]
    n = min(len(a["day"]) for a in arrays)
    bands = {"day": arrays[0]["day"][:n]}
    for col in columns:
        if col == "day" or col in WHERE.values():
            continue
        stack = np.vstack([a[col][:n] for a in arrays])
        if np.isnan(stack).all():
            lo = hi = np.full(n, np.nan)
        else:
            lo, hi = np.nanpercentile(stack, band_quantiles(len(replicates)), axis=0)
        bands[f"{col}_lo"], bands[f"{col}_hi"] = lo, hi
    return bands


class SeriesFigures:
    """One Bokeh figure per group of SERIES, the what-if solid and the baseline dashed, shared x.

    With Monte Carlo replications, a shaded band under each what-if line spans them hour by hour
    (:func:`band_quantiles`).

    Built once per page and refreshed in place (:meth:`update` swaps the sources' data): a new
    run then costs a data patch, not new plot models for the server to build and the browser to
    lay out. Plain Bokeh rather than HoloViews: converting these overlays cost ~1 s per what-if
    on this machine (measured), which an operator waits for.
    """

    def __init__(self, labels: tuple[str, str] = ("what-if", "baseline"), bands: bool = True) -> None:
        self.runs = ((labels[0], "solid"), (labels[1], "dashed"))
        drawn_columns = [col for metrics in SERIES.values() for col, _ in metrics]
        columns = ["day", *drawn_columns, *WHERE.values()]
        self.columns = columns
        self.sources = {run: ColumnDataSource({c: [] for c in columns}) for run, _ in self.runs}
        band_columns = ["day", *(f"{c}_{end}" for c in drawn_columns for end in ("lo", "hi"))]
        self.band_source = ColumnDataSource({c: [] for c in band_columns})
        self.figures = []
        self._groups: list = []
        x_range = None
        for title, metrics in SERIES.items():
            fig = figure(height=240, sizing_mode="stretch_width", title=title, x_axis_label="day",
                         tools="pan,xwheel_zoom,box_zoom,reset,save", toolbar_location="right")  # fmt: skip
            if x_range is None:
                x_range = fig.x_range
            else:
                fig.x_range = x_range
            drawn = [
                fig.line(
                    "day",
                    col,
                    source=self.sources[run],
                    color=COLORS[label],
                    line_dash=dash,
                    legend_label=f"{label} ({run})",
                )  # fmt: skip
                for run, dash in self.runs
                for col, label in metrics
            ]
            tips = [("day", "@day{0.0}")]
            for col, label in metrics:
                where = f" (@{WHERE[col]})" if col in WHERE else ""
                tips.append((label, f"@{col}{{0,0.00}}{where}"))
            fig.add_tools(HoverTool(renderers=drawn[:1], tooltips=tips, mode="vline"))
            if title == "GPUs":  # 800,000 GPUs, not 8.000e+5 (PUE and MW keep Bokeh's fine ticks)
                fig.yaxis.formatter = NumeralTickFormatter(format="0,0")
            fig.legend.click_policy = "hide"
            fig.legend.label_text_font_size = "10px"
            # 12 px rows: the GPUs legend (4 series x 2 runs, and 4 bands with seeds) fits 240 px.
            fig.legend.update(spacing=0, padding=4, margin=4, glyph_height=12, label_height=12)
            fig.add_layout(fig.legend[0], "right")  # beside the plot: inside, it hid the first days
            self.figures.append(fig)
            self._groups.append((fig, metrics))
        self._bands_allowed, self._bands_drawn = bands, False

    def _draw_bands(self) -> None:
        """Add the band areas, under the lines, the first time there are replications to show.

        Not at construction: most what-ifs run one seed, and every renderer is one more model
        for the server to build per session.
        """
        for fig, metrics in self._groups:
            areas = [
                fig.varea(
                    "day",
                    f"{col}_lo",
                    f"{col}_hi",
                    source=self.band_source,
                    color=COLORS[label],
                    alpha=0.18,
                    legend_label=f"{label}, band of the seeds",
                )  # fmt: skip
                for col, label in metrics
            ]
            fig.renderers = [*areas, *(r for r in fig.renderers if r not in areas)]
        self._bands_drawn = True

    def update(
        self, whatif: Results, baseline: Results | None, replicates: list[Results] | None = None
    ) -> None:
        """Show ``whatif`` against ``baseline``, with bands when ``replicates`` (2 or more runs) are given."""
        for (run, _), results in zip(self.runs, (whatif, baseline), strict=True):
            source = self.sources[run]
            if results is None:
                source.data = {c: [] for c in source.data}
            else:
                source.data = _series_arrays(results, self.columns)
        if replicates and len(replicates) > 1 and self._bands_allowed:
            if not self._bands_drawn:
                self._draw_bands()
            self.band_source.data = series_bands(replicates, self.columns)
        else:
            self.band_source.data = {c: [] for c in self.band_source.data}
