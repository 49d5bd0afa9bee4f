"""The time-series figures of the What-if and Runs pages: what each line is a measure of."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
