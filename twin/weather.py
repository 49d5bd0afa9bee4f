"""Hourly weather at a campus, drawn from the monthly normals in its site file.

Cooling plants care about two temperatures: the **dry-bulb** (what a thermometer reads; dry
coolers and air economisers reject heat against it) and the **wet-bulb** (the lowest temperature
evaporation can reach; cooling towers and evaporative coolers reject heat against it). Site files
carry monthly mean dry-bulb and relative humidity; a series for a run is built from them as:

1. the **seasonal mean**: the twelve monthly normals placed at mid-month and interpolated
   linearly (periodically) to each hour;
2. a **daily cycle**: a cosine of amplitude ``daily_range_c / 2`` peaking at 15:00 local solar
   time (the usual afternoon maximum);
3. **weather noise**: a seeded first-order autoregressive series, hour to hour correlation
   ``exp(-1 / 36 h)`` (assumed: weather systems last a few days), so warm spells last days rather
   than hours. Its standard deviation follows the season, from ``winter_sd_c`` mid-way through the
   coldest month to ``summer_sd_c`` half a year later: continental winters swing far more than summers (Columbus's
   coldest 0.4 % of hours sit 16 C under January's mean, its warmest 0.4 % 9 C over July's).
   :mod:`twin.weather_fit` fits both, and the dew point's share below, to the site's design
   conditions; without a fit the noise is 2.5 C all year;
4. **humidity**: the month's mean relative humidity at the day's mean temperature fixes the dew
   point; over the day the dew point holds while the temperature swings, so the afternoon is drier
   than the dawn, as observed. The dew point follows a share of the noise (moist air masses come
   with warm spells, but the dew point swings less than the temperature);
5. **heat waves** (scenario events): ``+degrees_c`` on the dry-bulb for their hours, with the dew
   point raised by half as much (assumed: heat waves here come with Gulf or continental humid air,
   not desert air);
6. the **wet-bulb** from dry-bulb and humidity by Stull's formula (J. Appl. Meteor. Climatol. 2011,
   within ~0.3 C for RH 5-99 % at sea-level pressure).

The same site, scenario and seed give the same series on every machine.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from twin.site import Climate, WeatherNoise

DEFAULT_NOISE = WeatherNoise(summer_sd_c=2.5, winter_sd_c=2.5, dew_point_share=0.3)
NOISE_CORRELATION_HOURS = 36.0
PEAK_HOUR_LOCAL = 15.0
DEW_POINT_SHARE_OF_HEAT_WAVE = 0.5
MID_MONTH_DAY = [15.5 + 30.4375 * m for m in range(12)]  # where the monthly normals are placed


@dataclass(frozen=True)
class HeatWave:
    start_h: float
    hours: float
    degrees_c: float


@dataclass(frozen=True)
class WeatherSeries:
    """Temperatures at each sample time of a run, for one site."""

    dry_bulb_c: np.ndarray
    wet_bulb_c: np.ndarray
    relative_humidity_pct: np.ndarray


def dew_point_c(dry_bulb_c: np.ndarray, rh_pct: np.ndarray) -> np.ndarray:
    """Magnus formula (Alduchov & Eskridge 1996 coefficients)."""
    a, b = 17.625, 243.04
    gamma = np.log(np.clip(rh_pct, 1e-3, 100) / 100.0) + a * dry_bulb_c / (b + dry_bulb_c)
    return b * gamma / (a - gamma)


def relative_humidity_pct(dry_bulb_c: np.ndarray, dew_c: np.ndarray) -> np.ndarray:
    a, b = 17.625, 243.04
    rh = 100.0 * np.exp(a * dew_c / (b + dew_c) - a * dry_bulb_c / (b + dry_bulb_c))
    return np.clip(rh, 1.0, 100.0)


def wet_bulb_c(dry_bulb_c: np.ndarray, rh_pct: np.ndarray) -> np.ndarray:
    """Stull (2011): wet-bulb from dry-bulb (C) and relative humidity (%) at sea-level pressure."""
    t, rh = dry_bulb_c, np.clip(rh_pct, 5.0, 99.0)
    return (
        t * np.arctan(0.151977 * np.sqrt(rh + 8.313659))
        + np.arctan(t + rh)
        - np.arctan(rh - 1.676331)
        + 0.00391838 * rh**1.5 * np.arctan(0.023101 * rh)
        - 4.686035
    )


def _seasonal(monthly: list[float], day_of_year: np.ndarray) -> np.ndarray:
    """Monthly normals placed mid-month, interpolated periodically to fractional days of the year."""
    mid = np.array(MID_MONTH_DAY)
    xs = np.concatenate([mid - 365.25, mid, mid + 365.25])
    ys = np.tile(np.asarray(monthly, dtype=np.float64), 3)
    return np.interp(day_of_year % 365.25, xs, ys)


def hourly_weather(
    climate: Climate,
    longitude: float,
    start: dt.date,
    times_h: np.ndarray,
    rng: np.random.Generator,
    heat_waves: list[HeatWave] = (),
) -> WeatherSeries:
    """The weather at ``times_h`` (hours from the run's start) for a site with ``climate``."""
    times_h = np.asarray(times_h, dtype=np.float64)
    base = SeasonalBase.of(climate, longitude, start, times_h, heat_waves)
    return base.weather(_ar1(times_h, rng), climate.weather_noise or DEFAULT_NOISE)


@dataclass(frozen=True)
class SeasonalBase:
    """What the weather is before noise: the normals, the daily cycle, heat waves (steps 1, 2, 5)."""

    mean_c: np.ndarray
    daily_c: np.ndarray
    winter: np.ndarray  # 1 mid-way through the coldest month, 0 half a year on: the noise's winter share
    dew_c: np.ndarray  # the dew point of the normals, heat waves included
    lift_c: np.ndarray

    @classmethod
    def of(
        cls, climate: Climate, longitude: float, start: dt.date, times_h: np.ndarray, heat_waves=()
    ) -> SeasonalBase:
        day_of_year = start.timetuple().tm_yday - 1 + times_h / 24.0
        mean_c = _seasonal(climate.dry_bulb_monthly_c, day_of_year)
        rh_mean = _seasonal(climate.relative_humidity_monthly_pct, day_of_year)
        solar_hour = (times_h + longitude / 15.0) % 24.0
        daily = 0.5 * climate.daily_range_c * np.cos(2 * math.pi * (solar_hour - PEAK_HOUR_LOCAL) / 24.0)
        coldest = MID_MONTH_DAY[int(np.argmin(climate.dry_bulb_monthly_c))]  # July south of the equator
        winter = 0.5 * (1.0 + np.cos(2 * math.pi * (day_of_year - coldest) / 365.25))
        lift = np.zeros_like(times_h)
        for wave in heat_waves:
            lift += np.where(
                (times_h >= wave.start_h) & (times_h < wave.start_h + wave.hours), wave.degrees_c, 0.0
            )
        dew = (
            _dew_point_for_mean_rh(mean_c, rh_mean, climate.daily_range_c)
            + DEW_POINT_SHARE_OF_HEAT_WAVE * lift
        )
        return cls(mean_c, daily, winter, dew, lift)

    def noise_c(self, unit_noise: np.ndarray, noise: WeatherNoise) -> np.ndarray:
        """The noise in degrees: ``unit_noise`` scaled to the season's width."""
        return unit_noise * (noise.summer_sd_c + (noise.winter_sd_c - noise.summer_sd_c) * self.winter)

    def dry_bulb_c(self, noise_c: np.ndarray) -> np.ndarray:
        return self.mean_c + noise_c + self.lift_c + self.daily_c

    def weather(self, unit_noise: np.ndarray, noise: WeatherNoise) -> WeatherSeries:
        noise_c = self.noise_c(unit_noise, noise)
        day_mean_c = self.mean_c + noise_c + self.lift_c
        # Moist air masses come with warm spells, but the dew point swings less than the temperature.
        dew = np.minimum(self.dew_c + noise.dew_point_share * noise_c, day_mean_c)
        dry = day_mean_c + self.daily_c
        rh = relative_humidity_pct(dry, dew)
        return WeatherSeries(dry, wet_bulb_c(dry, rh), rh)


def _dew_point_for_mean_rh(mean_c: np.ndarray, rh_pct: np.ndarray, daily_range_c: float) -> np.ndarray:
    """The dew point whose relative humidity, averaged over a day's temperature cycle, is ``rh_pct``.

    RH normals are means of hourly readings; RH is convex in temperature, so the RH at the mean
    temperature is lower than the mean RH. Two fixed-point steps get within ~0.1 % RH.
    """
    cycle = 0.5 * daily_range_c * np.cos(np.linspace(0, 2 * math.pi, 24, endpoint=False))
    target = np.asarray(rh_pct, dtype=np.float64)
    guess = target.copy()
    for _ in range(3):
        dew = dew_point_c(mean_c, guess)
        mean_rh = relative_humidity_pct(mean_c[:, None] + cycle[None, :], dew[:, None]).mean(axis=1)
        guess = np.clip(guess * target / mean_rh, 1.0, 100.0)
    return dew_point_c(mean_c, guess)


def _ar1(times_h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) noise of unit variance on the (possibly uneven) sample times."""
    n = times_h.size
    if n == 0:
        return times_h.copy()
    gaps = np.diff(times_h, prepend=times_h[0])
    phi = np.exp(-gaps / NOISE_CORRELATION_HOURS)
    # The first value is drawn first: drawn after the n shocks, it made a day's weather depend on
    # how many days the run has (hour 21 at 30.0 C wet-bulb in a 21-day run, 28.4 C in a 60-day one).
    first = rng.standard_normal()
    shocks = rng.standard_normal(n) * np.sqrt(1.0 - phi**2)
    shocks[0] = first
    out = np.empty(n)
    level = 0.0
    for i, (p, s) in enumerate(zip(phi.tolist(), shocks.tolist(), strict=True)):
        level = p * level + s
        out[i] = level
    return out
