"""Fitting the weather noise to a site's design conditions, in the open.

The monthly normals fix the weather's seasons; how far single hours stray from them is what
cooling plants are sized against. ASHRAE publishes, per weather station, the dry-bulb and
wet-bulb exceeded in 0.4 % of a year's hours (cooling and evaporation design) and the dry-bulb
the year stays above in 99.6 % of them (heating design). A site file carries them as
``design_dry_bulb_c``, ``design_wet_bulb_c`` and ``heating_dry_bulb_c``.

:func:`fit_weather_noise` finds the three numbers of :class:`twin.site.WeatherNoise` with which
the twin's own weather meets those percentiles, over ``years`` years of one fixed noise draw:

* ``summer_sd_c`` sets the 0.4 % dry-bulb (the hottest hours are summer afternoons);
* ``winter_sd_c`` sets the 99.6 % heating dry-bulb (the coldest are winter dawns); without a
  heating design value it equals the summer one;
* ``dew_point_share`` sets the 0.4 % wet-bulb, for a given dry-bulb.

Each percentile rises (or falls) monotonically with its own parameter, so each is found by
bisection while the others are held; three rounds settle the small coupling between them. The
sample site files carry the result (with the command that reproduces it), and
``tests/test_weather_fit.py`` fits again and compares.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from twin.site import Climate, WeatherNoise
from twin.weather import DEFAULT_NOISE, SeasonalBase, _ar1

DESIGN_PERCENTILE = 99.6  # ASHRAE's 0.4 % cooling and evaporation values
HEATING_PERCENTILE = 0.4  # ASHRAE's 99.6 % heating value
FIT_SEED = 20_301
SD_RANGE_C = (0.0, 15.0)
ROUNDS = 3
STEPS = 24  # bisection steps: 15 C / 2**24, far below the 0.01 C the files keep
REACH_C = 0.05  # how close the fit must come to each design value
YEARS = 30  # 1,050 hours in each 0.4 % tail: another draw's percentiles stay within ~0.3 C


class FitError(ValueError):
    """A design value the twin's weather cannot reach with any noise in range."""


def fit_weather_noise(climate: Climate, longitude: float, years: int = YEARS) -> WeatherNoise:
    """The noise with which the climate's weather meets its design percentiles (module docstring)."""
    base, unit = _fixed_draw(climate, longitude, years)

    def dry(noise: WeatherNoise, q: float) -> float:
        return float(np.percentile(base.dry_bulb_c(base.noise_c(unit, noise)), q))

    def wet(noise: WeatherNoise) -> float:
        return float(np.percentile(base.weather(unit, noise).wet_bulb_c, DESIGN_PERCENTILE))

    noise = WeatherNoise(summer_sd_c=2.5, winter_sd_c=2.5, dew_point_share=0.3)
    for _ in range(ROUNDS):
        summer = _bisect(
            lambda v, n=noise: dry(_with(n, summer_sd_c=v, **_tied(climate, v)), DESIGN_PERCENTILE),
            climate.design_dry_bulb_c, *SD_RANGE_C,
        )  # fmt: skip
        noise = _with(noise, summer_sd_c=summer, **_tied(climate, summer))
        if climate.heating_dry_bulb_c is not None:
            # Colder with more winter noise: bisect on the negated percentile, which rises.
            winter = _bisect(
                lambda v, n=noise: -dry(_with(n, winter_sd_c=v), HEATING_PERCENTILE),
                -climate.heating_dry_bulb_c, *SD_RANGE_C,
            )  # fmt: skip
            noise = _with(noise, winter_sd_c=winter)
        share = _bisect(
            lambda v, n=noise: wet(_with(n, dew_point_share=v)), climate.design_wet_bulb_c, 0.0, 1.0
        )
        noise = _with(noise, dew_point_share=share)
    # A target out of reach leaves its parameter at an end of its range: say so, by name.
    reached = {
        "design_dry_bulb_c": dry(noise, DESIGN_PERCENTILE),
        "design_wet_bulb_c": wet(noise),
        "heating_dry_bulb_c": dry(noise, HEATING_PERCENTILE),
    }
    missed = [
        f"climate.{name}: {getattr(climate, name):g} C is out of reach (the closest fit gives {got:.1f} C)"
        for name, got in reached.items()
        if getattr(climate, name) is not None and abs(got - getattr(climate, name)) > REACH_C
    ]
    if missed:
        raise FitError("; ".join(missed) + ". Check these values against the monthly normals")
    return noise


def design_percentiles(
    climate: Climate, longitude: float, years: int = YEARS, seed: int = FIT_SEED
) -> dict[str, float]:
    """The 0.4 % dry- and wet-bulb and 99.6 % heating dry-bulb of the twin's weather for ``climate``
    (with its own noise), over ``years`` of a draw (the fit's own by default)."""
    base, unit = _fixed_draw(climate, longitude, years, seed)
    w = base.weather(unit, climate.weather_noise or DEFAULT_NOISE)
    return {
        "design_dry_bulb_c": float(np.percentile(w.dry_bulb_c, DESIGN_PERCENTILE)),
        "design_wet_bulb_c": float(np.percentile(w.wet_bulb_c, DESIGN_PERCENTILE)),
        "heating_dry_bulb_c": float(np.percentile(w.dry_bulb_c, HEATING_PERCENTILE)),
    }


def _fixed_draw(climate: Climate, longitude: float, years: int, seed: int = FIT_SEED):
    times_h = np.arange(years * 8760, dtype=np.float64)
    unit = _ar1(times_h, np.random.default_rng(seed))
    return SeasonalBase.of(climate, longitude, dt.date(2001, 1, 1), times_h), unit


def _with(noise: WeatherNoise, **changes: float) -> WeatherNoise:
    return noise.model_copy(update=changes)


def _tied(climate: Climate, summer: float) -> dict[str, float]:
    """Without a heating design value the winter noise is the summer's."""
    return {"winter_sd_c": summer} if climate.heating_dry_bulb_c is None else {}


def _bisect(f, target: float, lo: float, hi: float) -> float:
    """The ``x`` in [lo, hi] where the rising ``f`` meets ``target`` (an end if it never does)."""
    if f(lo) >= target:
        return lo
    if f(hi) <= target:
        return hi
    for _ in range(STEPS):
        mid = 0.5 * (lo + hi)
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def main() -> None:  # pragma: no cover - the command the sample files quote
    import sys

    from twin.load import load_site

    for path in sys.argv[1:]:
        spec = load_site(path).spec
        try:
            fit = fit_weather_noise(spec.climate, spec.location.longitude)
        except FitError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        print(f"{path}: summer_sd_c {fit.summer_sd_c:.2f}, winter_sd_c {fit.winter_sd_c:.2f}, "
              f"dew_point_share {fit.dew_point_share:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
