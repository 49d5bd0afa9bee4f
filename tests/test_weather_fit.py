"""The weather noise of the sample sites, fitted in the open to their design conditions."""

from __future__ import annotations

from pathlib import Path

import pytest
from validate_helpers import CATALOG, DEMO, bad, expect, line_no, swap, write

from twin.load import load_site
from twin.weather_fit import FIT_SEED, FitError, design_percentiles, fit_weather_noise

SITES = Path(__file__).resolve().parent.parent / "sample_sites"
CAMPUSES = ["ohio.yaml", "louisiana.yaml", "demo.yaml", "llama3_cluster.yaml"]


@pytest.mark.parametrize("name", CAMPUSES)
def test_the_twin_s_weather_meets_the_site_s_design_conditions(name: str):
    """ASHRAE's 0.4 % cooling dry-bulb, 0.4 % evaporation wet-bulb and 99.6 % heating dry-bulb are
    what plants are sized against: the twin's hourly weather must reach them as often as the
    station's record does. Checked on thirty years of another draw than the fit's: within 0.3 C
    for the summer values, 1 C for the cold tail (its noise is three times as wide)."""
    spec = load_site(SITES / name).spec
    got = design_percentiles(spec.climate, spec.location.longitude, seed=FIT_SEED + 1)
    climate = spec.climate
    assert got["design_dry_bulb_c"] == pytest.approx(climate.design_dry_bulb_c, abs=0.3)
    assert got["design_wet_bulb_c"] == pytest.approx(climate.design_wet_bulb_c, abs=0.3)
    assert got["heating_dry_bulb_c"] == pytest.approx(climate.heating_dry_bulb_c, abs=1.0)


@pytest.mark.parametrize("name", ["ohio.yaml", "louisiana.yaml", "demo.yaml"])
def test_the_files_carry_the_fit(name: str):
    """The numbers in the files are the fit's (rounded as written), not tuned by hand."""
    spec = load_site(SITES / name).spec
    fit = fit_weather_noise(spec.climate, spec.location.longitude)
    written = spec.climate.weather_noise
    assert written.summer_sd_c == pytest.approx(fit.summer_sd_c, abs=0.006)
    assert written.winter_sd_c == pytest.approx(fit.winter_sd_c, abs=0.006)
    assert written.dew_point_share == pytest.approx(fit.dew_point_share, abs=0.0006)


def test_the_fit_finds_winter_in_july_south_of_the_equator_and_refuses_the_unreachable():
    """Sydney-like normals (warmest in January): the wide winter noise belongs in July. A heating
    design no noise in range can give is refused by name, not met at an end of the range."""
    ohio = load_site(SITES / "ohio.yaml").spec.climate
    south = ohio.model_copy(
        update={
            "dry_bulb_monthly_c": [23.5, 23.5, 22.4, 19.8, 16.9, 14.3, 13.5, 14.6, 16.9, 19.0, 20.6, 22.3],
            "relative_humidity_monthly_pct": [70, 72, 72, 70, 70, 68, 62, 58, 58, 61, 65, 67],
            "daily_range_c": 8.0, "design_dry_bulb_c": 33.0, "design_wet_bulb_c": 23.5, "heating_dry_bulb_c": 5.5,
            "weather_noise": None,
        }
    )  # fmt: skip
    fit = fit_weather_noise(south, 151.2, years=12)
    assert fit.winter_sd_c > 0.5 and fit.summer_sd_c > 0.5
    got = design_percentiles(south.model_copy(update={"weather_noise": fit}), 151.2, years=12)
    assert got["heating_dry_bulb_c"] == pytest.approx(5.5, abs=0.15)
    with pytest.raises(
        FitError, match=r"climate.heating_dry_bulb_c: -60 C is out of reach \(the closest fit gives -\d"
    ):
        fit_weather_noise(south.model_copy(update={"heating_dry_bulb_c": -60.0}), 151.2, years=12)


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
