"""Compiled loops for the plant's hourly balance (Numba, cached on disk, like :mod:`twin.kernels`).

Every sample the plant works out a dozen quantities per hall (IT draw, PDU and UPS losses, heat,
cooling, the transformer, headroom, sellable GPUs) and sums them per site. A run has a few dozen
halls, so written as numpy expressions each quantity is one small-array call and the sample
spends its time in call overhead (about a hundred calls, 8,760 samples a year). Here the draw and
the record are one pass each over the halls.

The arithmetic is the numpy expressions' own, term by term in the same order; the per-site sums
add the halls in index order. :mod:`twin.power` and :mod:`twin.plant` keep the readable formulas,
and ``tests/test_plant_kernels.py`` pins these loops to them.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)

# Rows of the draw (``hall_draw``'s ``out``).
IT, PDU, UPS, HEAT, COOLING, OTHER, LOSSES, FACILITY, DYN = range(9)
DRAW_ROWS = 9


@_jit
def interp(x: float, xp: np.ndarray, fp: np.ndarray) -> float:
    """``np.interp`` at one point, step for step as numpy computes it (numba's own compiles for
    seconds; this is a dozen lines): flat beyond the ends, exact at the points."""
    if x < xp[0]:
        return fp[0]
    last = xp.size - 1
    if x >= xp[last]:
        return fp[last]
    j = 0
    while xp[j + 1] <= x:
        j += 1
    if xp[j] == x:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    return slope * (x - xp[j]) + fp[j]


@_jit
def hall_draw(
    counts: np.ndarray,
    busy_fraction: float,
    idle_kw: np.ndarray,
    cap: np.ndarray,
    chain: tuple,
    cop: np.ndarray,
    out: np.ndarray,
    site_facility_kw: np.ndarray,
) -> None:
    """Each hall's draw at power caps ``cap``, into the rows of ``out``, and the sites' facility kW.

    ``counts`` is the fleet's per-hall counters (:meth:`twin.fleet.Fleet.hall_counts`); ``chain``
    the power chain as arrays (:meth:`twin.power.HallChain.arrays`); ``cop`` this sample's cooling
    COP per hall.
    """
    hall_site, it_capacity, share, pdu_eff, tr_eff, other_frac, curve_of, starts, xs, ys = chain
    site_facility_kw[:] = 0.0
    for h in range(cap.size):
        dyn = busy_fraction * (counts[3, h] + counts[4, h])
        it = max(0.0, idle_kw[h] - counts[6, h] + cap[h] * dyn)
        ups_out = it / pdu_eff[h]
        load = it / it_capacity[h] * share[h]
        c = curve_of[h]
        eff = interp(load, xs[starts[c] : starts[c + 1]], ys[starts[c] : starts[c + 1]])
        pdu = ups_out - it
        ups = ups_out / eff - ups_out
        heat = it + pdu + ups
        cooling = heat / cop[h]
        other = it * other_frac[h]
        upstream = it + pdu + ups + cooling + other
        transformer = upstream / tr_eff[h] - upstream
        out[IT, h] = it
        out[PDU, h] = pdu
        out[UPS, h] = ups
        out[HEAT, h] = heat
        out[COOLING, h] = cooling
        out[OTHER, h] = other
        out[LOSSES, h] = pdu + ups + transformer
        out[FACILITY, h] = upstream + transformer
        out[DYN, h] = dyn
        site_facility_kw[hall_site[h]] += upstream + transformer


@_jit
def any_over(
    draw: np.ndarray,
    cooling_capacity_kw: np.ndarray,
    it_capacity_kw: np.ndarray,
    site_facility_kw: np.ndarray,
    supply_limit_kw: np.ndarray,
) -> bool:
    """Whether any hall wants more cooling or power than it has, or any site more than its supply."""
    for h in range(it_capacity_kw.size):
        if draw[HEAT, h] > cooling_capacity_kw[h] or draw[IT, h] > it_capacity_kw[h]:
            return True
    for s in range(site_facility_kw.size):  # noqa: SIM110 (a loop compiles; a generator any() does not)
        if site_facility_kw[s] > supply_limit_kw[s]:
            return True
    return False


@_jit
def record_sample(
    i: int,
    draw: np.ndarray,
    counts: np.ndarray,
    cap: np.ndarray,
    admitting: np.ndarray,
    hall_consts: tuple,
    sample_rows: tuple,
    site_consts: tuple,
    spare_share: float,
    hall_store: np.ndarray,
    site_store: np.ndarray,
    hall_scratch: np.ndarray,
) -> float:
    """Write sample ``i`` of the hall and site series (:data:`twin.plant.HALL_SERIES`, ``SITE_SERIES``
    order); return the spare share (the largest failed share of installed GPUs so far).

    ``hall_consts``: busy fraction, dynamic kW per GPU, installed GPUs and IT capacity per hall.
    ``sample_rows``: this sample's cooling capacity and water per kWh of heat per hall.
    ``site_consts``: each hall's site, the sites' supply limit, their busy kW per GPU, dry- and
    wet-bulb, facility kW, and the installed GPUs of the whole run.
    """
    busy_fraction, dyn_kw_per_gpu, hall_gpus, it_capacity = hall_consts
    cooling_capacity, water_per_kwh = sample_rows
    hall_site, limit, site_gpu_kw, dry, wet, site_facility, installed = site_consts
    halls = cap.size
    failed_sum = 0.0
    for h in range(halls):
        failed_sum += counts[2, h]  # whole GPUs: exact in any order
    if installed:
        spare_share = max(spare_share, failed_sum / installed)
    row = hall_scratch
    for h in range(halls):
        busy, leased, failed = counts[0, h], counts[1, h], counts[2, h]
        it, heat = draw[IT, h], draw[HEAT, h]
        cool_room = cooling_capacity[h] - heat
        power_room = it_capacity[h] - it
        # A new leased GPU at full busy power adds its dynamic draw as IT, and a bit more as heat.
        per_gpu = busy_fraction * dyn_kw_per_gpu[h]
        heat_per_it = heat / it if it > 0 else 1.0
        fits = 0.0
        if admitting[h] and cap[h] >= 1.0 and per_gpu > 0:
            idle = max(0.0, hall_gpus[h] - busy - leased - failed)
            fits = max(min(min(idle, cool_room / (per_gpu * heat_per_it)), power_room / per_gpu), 0.0)
        row[0, h] = it
        row[1, h] = draw[FACILITY, h]
        row[2, h] = draw[COOLING, h]
        row[3, h] = draw[LOSSES, h]
        row[4, h] = draw[OTHER, h]
        row[5, h] = cap[h]
        row[6, h] = cooling_capacity[h]
        row[7, h] = cool_room
        row[8, h] = power_room
        row[9, h] = busy + leased if cap[h] < 1.0 else 0.0
        row[10, h] = heat * water_per_kwh[h]  # litres per hour, a rate like the kW beside it
        row[11, h] = np.floor(fits / (1.0 + spare_share))
    sites = limit.size
    sums = np.zeros((row.shape[0], sites))
    for k in range(row.shape[0]):
        for h in range(halls):
            hall_store[k, i, h] = row[k, h]
            sums[k, hall_site[h]] += row[k, h]
    for s in range(sites):
        supply_room = limit[s] - site_facility[s]
        it_site = sums[0, s]
        pue = site_facility[s] / it_site if it_site > 0 else 1.0
        by_supply = max(0.0, supply_room) / (site_gpu_kw[s] * pue) / (1.0 + spare_share)
        site_store[0, i, s] = it_site
        site_store[1, i, s] = site_facility[s]
        site_store[2, i, s] = sums[2, s]
        site_store[3, i, s] = sums[3, s]
        site_store[4, i, s] = sums[4, s]
        site_store[5, i, s] = limit[s]
        site_store[6, i, s] = supply_room
        site_store[7, i, s] = dry[s]
        site_store[8, i, s] = wet[s]
        site_store[9, i, s] = sums[9, s]
        site_store[10, i, s] = sums[10, s]
        site_store[11, i, s] = np.floor(min(sums[11, s], by_supply))
    return spare_share
