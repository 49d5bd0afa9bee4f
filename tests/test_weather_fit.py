"""The weather noise of the sample sites, fitted in the open to their design conditions."""

from __future__ import annotations

from pathlib import Path

import pytest
from validate_helpers import CATALOG, DEMO, bad, expect, line_no, swap, write

from twin.load import load_site
from twin.weather_fit import design_percentiles, fit_weather_noise

SITES = Path(__file__).resolve().parent.parent / "sample_sites"
CAMPUSES = ["ohio.yaml", "louisiana.yaml", "demo.yaml", "llama3_cluster.yaml"]


@pytest.mark.parametrize("name", CAMPUSES)
def test_the_twin_s_weather_meets_the_site_s_design_conditions(name: str):
    """ASHRAE's 0.4 % cooling dry-bulb, 0.4 % evaporation wet-bulb and 99.6 % heating dry-bulb are
    what plants are sized against: the twin's hourly weather must reach them as often as the
    station's record does (within 0.15 C over twelve years of the fit's draw)."""
    spec = load_site(SITES / name).spec
    got = design_percentiles(spec.climate, spec.location.longitude)
    climate = spec.climate
    assert got["design_dry_bulb_c"] == pytest.approx(climate.design_dry_bulb_c, abs=0.15)
    assert got["design_wet_bulb_c"] == pytest.approx(climate.design_wet_bulb_c, abs=0.15)
    assert got["heating_dry_bulb_c"] == pytest.approx(climate.heating_dry_bulb_c, abs=0.15)


@pytest.mark.parametrize("name", ["ohio.yaml", "louisiana.yaml"])
def test_the_files_carry_the_fit(name: str):
    """The numbers in the files are the fit's (rounded as written), not tuned by hand."""
    spec = load_site(SITES / name).spec
    fit = fit_weather_noise(spec.climate, spec.location.longitude)
    written = spec.climate.weather_noise
    assert written.summer_sd_c == pytest.approx(fit.summer_sd_c, abs=0.006)
    assert written.winter_sd_c == pytest.approx(fit.winter_sd_c, abs=0.006)
    assert written.dew_point_share == pytest.approx(fit.dew_point_share, abs=0.0006)


def test_continental_winters_swing_more_than_gulf_summers():
    ohio = load_site(SITES / "ohio.yaml").spec.climate.weather_noise
    louisiana = load_site(SITES / "louisiana.yaml").spec.climate.weather_noise
    assert ohio.winter_sd_c > louisiana.winter_sd_c > ohio.summer_sd_c > louisiana.summer_sd_c


def test_a_heating_design_above_the_coldest_month_is_refused(tmp_path, capsys):
    write(tmp_path, "catalog.yaml", CATALOG)
    text = swap(DEMO, "heating_dry_bulb_c: -17.4", "heating_dry_bulb_c: 3")
    site = write(tmp_path, "demo.yaml", text)
    lines = bad(capsys, site)
    line = line_no(text, "heating_dry_bulb_c")
    expect(lines, site, line, "climate.heating_dry_bulb_c", "below the coldest monthly mean (-1.1 C)")
