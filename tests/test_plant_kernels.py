"""The plant's compiled balance gives what the power chain's numpy formulas give (hypothesis).

The physics tests check whole runs (energy balance, PUE by season, the shedding order); these pin
the loops of :mod:`twin.plant_kernels` to the readable formulas of :mod:`twin.power` and to the
per-hall record written out in numpy, hall by hall to the bit, and the per-site sums to the bit of
a sum in hall order.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.plant import HALL_SERIES, SITE_SERIES
from twin.plant_kernels import (
    COOLING,
    DRAW_ROWS,
    DYN,
    FACILITY,
    HEAT,
    IT,
    LOSSES,
    OTHER,
    any_over,
    hall_draw,
    interp,
    record_sample,
)
from twin.power import HallChain

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def _random_plant(rng: np.random.Generator):
    sites = int(rng.integers(1, 4))
    halls = int(rng.integers(1, 30))
    hall_site = np.sort(rng.integers(0, sites, halls))
    curves = []
    for _ in range(sites):
        loads = np.sort(rng.choice(np.linspace(0.0, 1.2, 25), int(rng.integers(2, 7)), replace=False))
        curves.append(
            [(float(x), float(y)) for x, y in zip(loads, rng.uniform(0.85, 0.99, loads.size), strict=True)]
        )
    chain = HallChain(
        hall_site,
        rng.uniform(1_000, 50_000, halls),
        rng.choice([1.0, 0.8, 0.5], halls),
        rng.uniform(0.97, 0.995, halls),
        rng.uniform(0.98, 0.995, halls),
        rng.uniform(0.0, 0.05, halls),
        curves,
    )
    gpus = rng.integers(0, 40_000, halls).astype(float)
    counts = np.zeros((7, halls))
    counts[0] = np.floor(gpus * rng.random(halls))  # busy
    counts[1] = np.floor((gpus - counts[0]) * rng.random(halls))  # leased
    counts[2] = np.floor((gpus - counts[0] - counts[1]) * rng.random(halls) * 0.1)  # failed
    counts[3] = counts[0] * rng.uniform(0.5, 1.2, halls)  # dynamic kW of busy GPUs
    counts[4] = counts[1] * rng.uniform(0.0, 1.2, halls)
    counts[6] = counts[2] * rng.uniform(0.0, 0.2, halls)
    idle_kw = gpus * rng.uniform(0.1, 0.4, halls)
    cap = np.where(rng.random(halls) < 0.3, rng.uniform(0.6, 1.0, halls), 1.0)
    cop = rng.uniform(3.0, 40.0, halls)
    return chain, counts, idle_kw, cap, cop, gpus, sites


def _drawn(chain: HallChain, counts, idle_kw, cap, cop, sites: int, busy_fraction: float = 0.8):
    """The compiled draw of a random plant: its rows and the sites' facility kW."""
    draw = np.empty((DRAW_ROWS, cap.size))
    site_facility = np.empty(sites)
    hall_draw(counts, busy_fraction, idle_kw, cap, chain.arrays(), cop, draw, site_facility)
    return draw, site_facility


def _numpy_draw(chain: HallChain, counts, idle_kw, cap, cop, busy_fraction: float):
    dyn = busy_fraction * (counts[3] + counts[4])
    it = np.maximum(0.0, idle_kw - counts[6] + cap * dyn)
    pdu, ups = chain.losses(it)
    heat = it + pdu + ups
    terms = chain.facility(it, heat / cop, (pdu, ups))
    return terms | {"heat": heat, "dyn": dyn}


def _sum_by_site(rows: np.ndarray, hall_site: np.ndarray, sites: int) -> np.ndarray:
    """Per-site sums, halls added in index order (``np.add.at`` is unbuffered and in order)."""
    out = np.zeros((*rows.shape[:-1], sites))
    for h in range(hall_site.size):
        out[..., hall_site[h]] += rows[..., h]
    return out


@settings(max_examples=80, deadline=None)
@given(SEEDS)
def test_hall_draw_equals_the_power_chain_formulas_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    chain, counts, idle_kw, cap, cop, _, sites = _random_plant(rng)
    draw, site_facility = _drawn(chain, counts, idle_kw, cap, cop, sites)
    want = _numpy_draw(chain, counts, idle_kw, cap, cop, 0.8)
    for row, name in ((IT, "it_kw"), (COOLING, "cooling_kw"), (LOSSES, "losses_kw"), (OTHER, "other_kw"),
                      (FACILITY, "facility_kw"), (HEAT, "heat"), (DYN, "dyn")):  # fmt: skip
        assert np.array_equal(draw[row], want[name]), name
    assert np.array_equal(site_facility, _sum_by_site(want["facility_kw"], chain.hall_site, sites))
    # The balance holds hall by hall.
    np.testing.assert_allclose(
        draw[FACILITY], draw[IT] + draw[LOSSES] + draw[COOLING] + draw[OTHER], rtol=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_any_over_is_true_exactly_when_a_hall_or_site_is_over_a_limit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    chain, counts, idle_kw, cap, cop, _, sites = _random_plant(rng)
    draw, site_facility = _drawn(chain, counts, idle_kw, cap, cop, sites)
    cooling_capacity = draw[HEAT] * rng.uniform(0.9, 3.0, cap.size)
    supply = site_facility * rng.uniform(0.95, 2.0, sites)
    over = (
        (draw[HEAT] > cooling_capacity).any()
        or (draw[IT] > chain.it_capacity_kw).any()
        or (site_facility > supply).any()
    )
    assert any_over(draw, cooling_capacity, chain.it_capacity_kw, site_facility, supply) == over


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_record_sample_equals_the_numpy_record(seed: int) -> None:
    rng = np.random.default_rng(seed)
    chain, counts, idle_kw, cap, cop, gpus, sites = _random_plant(rng)
    halls, bf = cap.size, 0.8
    draw, site_facility = _drawn(chain, counts, idle_kw, cap, cop, sites, bf)
    d = _numpy_draw(chain, counts, idle_kw, cap, cop, bf)
    cooling_capacity = d["heat"] * rng.uniform(0.5, 2.0, halls)
    water = rng.uniform(0.0, 2.0, halls)
    admitting = rng.random(halls) < 0.8
    dyn_per_gpu = rng.uniform(0.3, 1.0, halls)
    limit = site_facility * rng.uniform(0.8, 1.5, sites)
    site_gpu_kw = rng.uniform(0.5, 1.0, sites)
    dry, wet = rng.uniform(-10, 40, sites), rng.uniform(-10, 30, sites)
    installed = float(gpus.sum())
    old_share = float(rng.uniform(0.0, 0.05))
    hall_store = np.zeros((len(HALL_SERIES), 3, halls), dtype=np.float32)
    site_store = np.zeros((len(SITE_SERIES), 3, sites))
    share = record_sample(
        1, draw, counts, cap, admitting, (bf, dyn_per_gpu, gpus, chain.it_capacity_kw),
        (cooling_capacity, water),
        (chain.hall_site.astype(np.int64), limit, site_gpu_kw, dry, wet, site_facility, installed),
        old_share, hall_store, site_store, np.zeros((len(HALL_SERIES), halls)),
    )  # fmt: skip

    # The record as numpy expressions, term by term.
    busy, leased, failed = counts[0], counts[1], counts[2]
    want_share = max(old_share, failed.sum() / installed) if installed else old_share
    assert share == want_share
    cool_room = cooling_capacity - d["heat"]
    power_room = chain.it_capacity_kw - d["it_kw"]
    per_gpu = bf * dyn_per_gpu
    heat_per_it = np.divide(d["heat"], d["it_kw"], out=np.ones(halls), where=d["it_kw"] > 0)
    idle = np.maximum(0.0, gpus - busy - leased - failed)
    fits = np.minimum(np.minimum(idle, cool_room / (per_gpu * heat_per_it)), power_room / per_gpu)
    fits = np.where(admitting & (cap >= 1.0) & (per_gpu > 0), np.maximum(fits, 0.0), 0.0)
    rows = {
        "it_kw": d["it_kw"], "facility_kw": d["facility_kw"], "cooling_kw": d["cooling_kw"],
        "losses_kw": d["losses_kw"], "other_kw": d["other_kw"], "power_cap": cap,
        "cooling_capacity_kw": cooling_capacity, "cooling_headroom_kw": cool_room,
        "power_headroom_kw": power_room, "throttled_gpus": np.where(cap < 1.0, busy + leased, 0.0),
        "water_l_per_h": d["heat"] * water, "sellable_gpus": np.floor(fits / (1.0 + want_share)),
    }  # fmt: skip
    hall = np.array([rows[name] for name in HALL_SERIES])
    assert np.array_equal(hall_store[:, 1], hall.astype(np.float32))
    assert not hall_store[:, [0, 2]].any()  # only sample 1 is written
    sums = _sum_by_site(hall, chain.hall_site, sites)
    supply_room = limit - site_facility
    pue = np.divide(site_facility, sums[0], out=np.ones(sites), where=sums[0] > 0)
    by_supply = np.maximum(0.0, supply_room) / (site_gpu_kw * pue) / (1.0 + want_share)
    site = {
        "it_kw": sums[0], "facility_kw": site_facility, "cooling_kw": sums[2], "losses_kw": sums[3],
        "other_kw": sums[4], "supply_kw": limit, "supply_headroom_kw": supply_room, "dry_bulb_c": dry,
        "wet_bulb_c": wet, "throttled_gpus": sums[9], "water_l_per_h": sums[10],
        "sellable_gpus": np.floor(np.minimum(sums[11], by_supply)),
    }  # fmt: skip
    for k, name in enumerate(SITE_SERIES):
        assert np.array_equal(site_store[k, 1], site[name]), name


@settings(max_examples=80, deadline=None)
@given(SEEDS)
def test_interp_is_numpys_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xp = np.sort(rng.choice(np.linspace(0.0, 1.2, 49), int(rng.integers(1, 9)), replace=False))
    fp = rng.uniform(0.8, 1.0, xp.size)
    xs = np.concatenate([rng.uniform(-0.2, 1.4, 50), xp, [xp[0] - 1e-12, xp[-1] + 1e-12]])
    for x in xs.tolist():
        assert interp(x, xp, fp) == np.interp(x, xp, fp)
