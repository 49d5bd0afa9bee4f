"""The time-series figures of the What-if and Runs pages: what each line is a measure of."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from app.views.series import SeriesFigures
from twin.scenario import load_scenario
from twin.simulate import simulate

SCENARIOS = Path(__file__).resolve().parent.parent / "sample_sites" / "scenarios"


def test_headroom_is_the_tightest_hall_s_and_names_it():
    """In the August heat wave Hyperion's halls run on their reserve cooling (negative headroom
    against the planned plant) while the campus's halls together still have megawatts to spare:
    the chart must show the hall that is out of margin, not a sum that hides it."""
    run = simulate(load_scenario(SCENARIOS / "heat_wave_louisiana.yaml"))
    figures = SeriesFigures()
    figures.update(run, None)
    shown = figures.sources["what-if"].data
    cooling = np.asarray(shown["cooling_headroom_kw"])
    hall_sum_mw = run.hall_series.groupby("time_h", sort=True)["cooling_headroom_kw"].sum().to_numpy() / 1000
    worst = int(np.argmin(cooling))
    assert cooling[worst] < 0 < hall_sum_mw[worst]
    hall = shown["cooling_where"][worst]
    hour = run.hall_series[run.hall_series["time_h"] == run.site_series["time_h"].unique()[worst]]
    assert hour.set_index("hall").loc[hall, "cooling_headroom_kw"] / 1000 == cooling[worst]
    assert hall.startswith("Hyperion/") and shown["supply_where"][worst] in {"Hyperion", "Prometheus"}
    tips = [
        tip
        for fig in figures.figures
        for tool in fig.tools
        if hasattr(tool, "tooltips")
        for tip in tool.tooltips
    ]
    assert ("cooling", "@cooling_headroom_kw{0,0.00} (@cooling_where)") in tips


def test_an_hour_without_headroom_figures_is_left_blank():
    """A saved run whose hall rows lack a figure for an hour (an edited file, an older version)
    still draws: that hour is blank, the others name their tightest hall."""
    from app.views.series import _tightest

    halls = pd.DataFrame(
        {
            "time_h": [0.0, 0.0, 1.0, 1.0],
            "hall": ["A/H1", "A/H2", "A/H1", "A/H2"],
            "cooling_headroom_kw": [5.0, -2.0, np.nan, np.nan],
            "power_headroom_kw": [1.0, 3.0, 4.0, 2.0],
        }
    )
    got = _tightest(
        halls, "hall", {"power_headroom_kw": "power_where", "cooling_headroom_kw": "cooling_where"}
    )
    assert got["cooling_where"].tolist()[0] == "A/H2" and pd.isna(got["cooling_headroom_kw"].iloc[1])
    assert got["power_where"].tolist() == ["A/H1", "A/H2"] and got["power_headroom_kw"].tolist() == [1.0, 2.0]
