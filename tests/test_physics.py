"""Physics: weather drawn from the normals, the power chain and cooling, and their hold on the jobs.

The energy balance (facility = IT + losses + cooling + other) is checked at every sample of the
property-based runs in tests/test_invariants.py; these tests check what the plant says about the
sample campuses over seasons, heat waves and curtailments.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from twin.load import load_site
from twin.scenario import load_scenario
from twin.simulate import simulate
from twin.weather import HeatWave, hourly_weather

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "sample_sites" / "scenarios"


def _ohio_year(seed: int, waves=()):
    site = load_site(ROOT / "sample_sites" / "ohio.yaml").spec
    return hourly_weather(
        site.climate,
        site.location.longitude,
        dt.date(2030, 1, 1),
        np.arange(8760.0),
        np.random.default_rng(seed),
        waves,
    )


def test_columbus_weather_matches_its_ashrae_design_values():
    """ASHRAE 2009, Columbus (facts section 2): 0.4 % dry-bulb 32.4 C, 0.4 % evaporation wet-bulb 24.7 C."""
    years = [_ohio_year(seed) for seed in range(3)]
    dry = np.mean([np.percentile(w.dry_bulb_c, 99.6) for w in years])
    wet = np.mean([np.percentile(w.wet_bulb_c, 99.6) for w in years])
    mean = np.mean([w.dry_bulb_c.mean() for w in years])
    assert dry == pytest.approx(32.4, abs=1.5)
    assert wet == pytest.approx(24.7, abs=2.0)
    assert mean == pytest.approx(11.9, abs=0.6)  # the 1991-2020 annual normal
    assert all((w.wet_bulb_c <= w.dry_bulb_c + 1e-9).all() for w in years)


def test_a_days_weather_does_not_depend_on_how_long_the_run_is():
    site = load_site(ROOT / "sample_sites" / "louisiana.yaml").spec
    short, long = (
        hourly_weather(
            site.climate,
            site.location.longitude,
            dt.date(2030, 8, 1),
            np.arange(hours),
            np.random.default_rng(5),
            [],
        )  # fmt: skip
        for hours in (21 * 24.0, 60 * 24.0)
    )
    assert np.array_equal(short.wet_bulb_c, long.wet_bulb_c[: 21 * 24])


def test_weather_is_seeded_and_a_heat_wave_lifts_its_days_only():
    a, b, other = _ohio_year(1), _ohio_year(1), _ohio_year(2)
    assert np.array_equal(a.dry_bulb_c, b.dry_bulb_c) and not np.array_equal(a.dry_bulb_c, other.dry_bulb_c)
    hot = _ohio_year(1, [HeatWave(start_h=5000.0, hours=48.0, degrees_c=6.0)])
    lift = hot.dry_bulb_c - a.dry_bulb_c
    assert np.allclose(lift[5000:5048], 6.0) and np.allclose(np.delete(lift, np.s_[5000:5048]), 0.0)
    assert (hot.wet_bulb_c[5000:5048] > a.wet_bulb_c[5000:5048]).all()


@cache
def steady_year():
    return simulate(load_scenario(SCENARIOS / "steady_load.yaml"))


def _season_pue(res, site: str, months: tuple[int, ...]) -> float:
    s = res.site_series[res.site_series["site"] == site]
    day = (s["time_h"] // 24).astype(int)
    month = np.array([(dt.date(2030, 1, 1) + dt.timedelta(days=int(d))).month for d in day])
    rows = s[np.isin(month, months)]
    return float(rows["facility_kw"].sum() / rows["it_kw"].sum())


def test_annual_pue_of_each_sample_campus_is_in_the_published_range():
    sites = steady_year().kpis["sites"]
    for name in ("Hyperion", "Prometheus"):
        assert 1.05 <= sites[name]["pue"] <= 1.20, name


def _hall_family(res, prefix: str):
    halls = res.hall_series[res.hall_series["hall"].str.match(prefix)]
    it_kw = halls["it_kw"].sum()
    return halls["facility_kw"].sum() / it_kw, halls["water_l_per_h"].sum() / it_kw


def test_meta_style_h_buildings_land_on_metas_published_pue_and_wue():
    """Prometheus's H buildings are Meta's conventional design: air, direct evaporative media, no
    central double-conversion UPS. Meta published PUE 1.08-1.09 and WUE 0.26 L/kWh for them (facts
    section 5, P); the media start is fitted to the WUE (tests/test_calibration.py), the PUE is not."""
    pue, wue = _hall_family(steady_year(), r"Prometheus/H\d+/")
    assert 1.075 <= pue <= 1.095
    assert wue == pytest.approx(0.26, abs=0.03)
    # Towers evaporate most of their heat: 1.47 L per kWh evaporated, x 4/3 blowdown, x a 0.7-1 share.
    _, tower_wue = _hall_family(steady_year(), r"Hyperion/")
    assert 1.2 <= tower_wue <= 2.0


def test_louisiana_summer_is_worst_and_every_summer_beats_its_winter():
    res = steady_year()
    summer, winter = (6, 7, 8), (12, 1, 2)
    la_summer, oh_summer = _season_pue(res, "Hyperion", summer), _season_pue(res, "Prometheus", summer)
    assert la_summer > oh_summer
    assert la_summer > _season_pue(res, "Hyperion", winter)
    assert oh_summer > _season_pue(res, "Prometheus", winter)


def test_tower_cooled_louisiana_uses_water_and_the_kpis_add_up():
    k = steady_year().kpis
    assert k["sites"]["Hyperion"]["water_m3"] > 0
    assert k["energy_mwh"] == pytest.approx(k["it_energy_mwh"] * k["pue"], rel=1e-9)
    assert k["energy_mwh"] == pytest.approx(
        k["it_energy_mwh"] + k["loss_energy_mwh"] + k["cooling_energy_mwh"]
        + sum(0.02 * v["it_energy_mwh"] for v in k["sites"].values()),
        rel=1e-6,
    )  # fmt: skip
    assert k["energy_cost_usd"] == pytest.approx(
        k["sites"]["Hyperion"]["energy_mwh"] * 58 + k["sites"]["Prometheus"]["energy_mwh"] * 74, rel=1e-9
    )


def _heat_wave(with_event: bool, folder: Path | None = None):
    """The August heat wave scenario; ``folder``: run it on the site files copied there."""
    path = SCENARIOS / "heat_wave_louisiana.yaml"
    if folder is not None:
        path = folder / "scenarios" / path.name
    sc = load_scenario(path)
    if not with_event:
        sc.spec.events = []
    return simulate(sc)


def _hours_on_reserve(res, window=(7 * 24, 12 * 24)) -> int:
    """Hall-hours in the window with more heat than the planned cooling (the reserve running)."""
    hall = res.hall_series[res.hall_series["time_h"].between(*window)]
    return int((hall["cooling_headroom_kw"] < 0).sum())


def test_a_heat_wave_in_august_runs_the_reserve_cooling_and_lowers_sellable_capacity():
    """Hyperion's N+1 towers: the operator runs the reserve units before capping any GPU, so the
    heat wave costs redundancy (logged, hall by hall) and what can be sold, not compute."""
    hot, normal = _heat_wave(True), _heat_wave(False)
    assert _hours_on_reserve(hot) > 2 * _hours_on_reserve(normal)
    week = lambda r: r.sellable[(r.sellable["hall"] == "") & (r.sellable["week"] == 1)].iloc[0]  # noqa: E731
    assert week(hot)["sellable_gpus"] < week(normal)["sellable_gpus"]
    assert week(hot)["binding"] == "cooling"  # planning never counts the reserve units
    ev = hot.events
    wave = ev[(ev["kind"] == "cooling_reserve") & (ev["time_h"].between(7 * 24, 12 * 24))]
    assert len(wave) > 0 and wave["subject"].str.match(r"Hyperion/[AB]\d/H\d$").all()
    assert (
        wave["detail"]
        .str.contains(r"over the planned .* MW at .* C wet-bulb, .* C dry-bulb: reserve units running")
        .all()
    )
    assert hot.kpis["throttled_gpu_hours"] == 0
    # The wave's own entry says how hot it gets against the design, so one that changes nothing
    # (a January wave) reads as such.
    (told,) = ev.loc[ev["kind"] == "heat_wave", "detail"]
    peak = re.search(
        r"peaks ([\d.]+) C dry-bulb, ([\d.]+) C wet-bulb \(cooling designed for ([\d.]+) C", told
    )
    assert peak and float(peak[1]) > float(peak[3]) - 5


def test_without_reserve_units_the_heat_wave_caps_gpus_and_says_where(tmp_path: Path):
    """The same heat wave on towers with no redundancy (N): the halls cap their GPUs."""
    shutil.copytree(ROOT / "sample_sites", tmp_path, dirs_exist_ok=True)
    site = tmp_path / "louisiana.yaml"
    site.write_text(
        site.read_text().replace('capacity_mw: 51, redundancy: "N+1"', 'capacity_mw: 51, redundancy: "N"')
    )
    hot, normal = _heat_wave(True, tmp_path), _heat_wave(False, tmp_path)
    assert hot.kpis["throttled_gpu_hours"] > normal.kpis["throttled_gpu_hours"]
    assert _hours_on_reserve(hot) > 0 and not (hot.events["kind"] == "cooling_reserve").any()
    ev = hot.events
    wave = ev[(ev["kind"] == "cooling") & (ev["time_h"].between(7 * 24, 12 * 24))]
    assert len(wave) > 0
    assert wave["detail"].str.contains(r"hall Hyperion/[AB]\d/H\d: heat .* over cooling capacity").all()
    assert wave["detail"].str.contains("wet-bulb").all() and not wave["detail"].str.contains("reserve").any()
    caps = hot.hall_series[hot.hall_series["time_h"].between(7 * 24, 12 * 24)]["power_cap"]
    assert caps.min() < 1.0 and caps.min() >= 0.5
    # The compute lost is the speed the caps took (cap ** exponent), a small part of the GPU-hours
    # spent under a cap: a 0.98 cap costs well under 1 % of a GPU's speed, not all of it.
    k = hot.kpis
    exponent = load_scenario(SCENARIOS / "heat_wave_louisiana.yaml").spec.physics.throughput_exponent
    assert 0 < k["throttle_lost_gpu_hours"] <= k["throttled_gpu_hours"] * (1 - caps.min() ** exponent) + 1e-6
    hall = hot.hall_series
    by_hall = (hall["throttled_gpus"] * (1 - hall["power_cap"] ** exponent)).sum()  # hourly samples
    assert k["throttle_lost_gpu_hours"] == pytest.approx(by_hall, rel=1e-4)
    assert k["throttle_lost_gpu_hours"] == pytest.approx(
        sum(s["throttle_lost_gpu_hours"] for s in k["sites"].values()), rel=1e-9
    )
