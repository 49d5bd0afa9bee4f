"""The money of a run: what sales bring in, what they cost, and the internal work they displace.

Every figure is in USD over the run. *Sales* are leases and hosted models alike:

* ``revenue_usd``: lease bills (committed GPU-hours for take-or-pay, delivered for metered) and
  token bills of hosted models; ``hosted_revenue_usd`` is the hosted part;
* ``sla_credits_usd``: returned under the leases' credit schedules and the hosted models' latency
  SLAs; ``hosted_credits_usd`` is the hosted part;
* ``energy_cost_usd``: all IT energy x PUE x each site's price (the campus, sold or not);
  ``lease_energy_cost_usd`` is metered on the leased racks (at every sample, with their site's PUE,
  spares included); ``hosted_energy_cost_usd`` is the hosted models' replicas at each step;
* ``depreciation_usd``: every installed GPU's capex over its useful life, for the run's hours;
  ``lease_depreciation_usd`` and ``hosted_depreciation_usd`` are the GPU-hours sales held;
* ``displaced_internal_value_usd``: internal GPU-hours that waited while leases held capacity -
  training jobs queued, and GPUs inference fleets wanted and could not get - in each site and GPU
  type, up to the GPUs leased there, at the scenario's internal value per GPU-hour of that GPU type. It is an upper bound: a job may queue for other reasons too. The
  What-if page's comparison with the same run without sales measures the change itself;
* ``displaced_internal_cost_usd``: what that work would itself have cost: the depreciation of the
  GPU-hours it would have held and their energy (busy draw x the hour's PUE x the site's price);
  ``displaced_internal_net_value_usd`` is the value less that cost, what selling gave up;
* ``margin_usd`` = revenue - credits - sales' energy - sales' depreciation - displaced internal
  net value: what selling earns over what it costs, the question the console exists to answer.
  The internal value is a market price of a GPU-hour, which pays for the GPU's depreciation and
  energy; the sales are charged those already, so subtracting the gross value charged the same
  GPU-hours twice;
* ``depreciation_covered``: net sales over the whole fleet's depreciation;
* ``products``: each lease and hosted model on one footing, per GPU-hour and per MWh
  (:mod:`twin.products`); their revenue, credits, energy and depreciation add up to the totals
  above, so the console's waterfall (built from products) and the KPIs tell one story.
"""

from __future__ import annotations

import numpy as np

from twin.products import comparison, hosted_products, lease_products, money_columns, ratios


def depreciation_rates(fleet) -> np.ndarray:
    """USD per GPU-hour of each GPU type (the fleet's order): capex over useful life."""
    gpu = {name: gt for c in fleet.campuses for name, gt in c.site.catalog.gpu_types.items()}
    return np.array([gpu[t].capex_usd / (gpu[t].useful_life_years * 8760.0) for t in fleet.gpu_type_names])


def money_kpis(
    spec,
    engine,
    recorder,
    leases_table,
    n: int,
    site_pue: np.ndarray,
    prices: np.ndarray,
    lease_energy_mwh_by_site: np.ndarray,
) -> dict:
    """The money keys of the KPI JSON (module docstring), with ``products`` and their comparison."""
    f = engine.fleet
    w = recorder.weights[:n]
    dep_rate = depreciation_rates(f)
    installed_by_type = np.bincount(f.server_gpu_type, weights=f.server_gpus, minlength=len(f.gpu_type_names))
    depreciation = float((installed_by_type * dep_rate).sum() * spec.days * 24.0)
    leases = lease_products(
        engine,
        leases_table,
        site_pue,
        recorder.step,
        prices,
        dep_rate,
        spec.money.gpu_busy_fraction_of_max_power,
    )
    _meter_lease_energy(leases, engine, lease_energy_mwh_by_site, prices)
    hosted = hosted_products(engine, site_pue, recorder.step, prices, dep_rate, engine.month_edges)
    products = leases | hosted

    def total(rows: dict, key: str) -> float:
        return float(sum(row[key] for row in rows.values()))

    revenue, credits = total(products, "revenue_usd"), total(products, "credits_usd")
    displaced_gpu_h = recorder.displaced_gpus[:n] * w[:, None, None]  # samples x sites x GPU types
    displaced = float((displaced_gpu_h * recorder.internal_value_usd_per_gpu_hour).sum())
    displaced_cost = _displaced_cost(
        engine.fleet, displaced_gpu_h, dep_rate, site_pue[:n], prices, spec.money
    )
    lease_energy, hosted_energy = (
        float((lease_energy_mwh_by_site * prices).sum()),
        total(hosted, "energy_cost_usd"),
    )
    lease_dep, hosted_dep = total(leases, "depreciation_usd"), total(hosted, "depreciation_usd")
    given_up = displaced - displaced_cost  # what the displaced work would have earned, net
    return {
        "revenue_usd": revenue,
        "sla_credits_usd": credits,
        "lease_energy_cost_usd": lease_energy,
        "hosted_energy_cost_usd": hosted_energy,
        "depreciation_usd": depreciation,
        "lease_depreciation_usd": lease_dep,
        "hosted_depreciation_usd": hosted_dep,
        "displaced_internal_value_usd": displaced,
        "displaced_internal_cost_usd": displaced_cost,
        "displaced_internal_net_value_usd": given_up,
        "margin_usd": revenue - credits - lease_energy - hosted_energy - lease_dep - hosted_dep - given_up,
        "hosted_revenue_usd": total(hosted, "revenue_usd"),
        "hosted_credits_usd": total(hosted, "credits_usd"),
        "depreciation_covered": (revenue - credits) / depreciation if depreciation else 0.0,
        "products": products,
        "product_comparison": comparison(products),
    }


def _displaced_cost(fleet, gpu_h: np.ndarray, dep_rate, site_pue, prices, money) -> float:
    """Depreciation and energy of the displaced internal GPU-hours (samples x sites x GPU types)."""
    if not gpu_h.any():
        return 0.0
    busy_kw = np.array(
        [
            [
                idle + dyn * money.gpu_busy_fraction_of_max_power
                for idle, dyn in (fleet.gpu_kw(s, t) for t in range(dep_rate.size))
            ]
            for s in range(len(fleet.campuses))
        ]
    )  # sites x types, per GPU
    usd_per_gpu_hour = dep_rate + busy_kw / 1000.0 * site_pue[:, :, None] * prices[None, :, None]
    return float((gpu_h * usd_per_gpu_hour).sum())


def _meter_lease_energy(leases: dict, engine, metered_mwh_by_site: np.ndarray, prices: np.ndarray) -> None:
    """Put each site's metered lease energy into its leases' products.

    A product's own estimate (delivered GPU-hours at the tenant's utilisation) leaves out spares'
    idle draw and power caps; the recorder meters the leased racks at every sample. Each site's
    metered MWh are split between its leases in proportion to their estimates (by GPU-hours held
    when none drew), so the products add up to ``lease_energy_cost_usd``.
    """
    for s, metered in enumerate(metered_mwh_by_site.tolist()):
        rows = [leases[lease.spec.name] for lease in engine.leases if lease.site == s]
        weights = np.array([row["energy_mwh"] for row in rows])
        if weights.sum() <= 0:
            weights = np.array([row["gpu_hours"] for row in rows], dtype=np.float64)
        if weights.sum() <= 0:
            continue
        for row, share in zip(rows, (weights / weights.sum()).tolist(), strict=True):
            row.update(money_columns(row["gpu_hours"], row["revenue_usd"], row["credits_usd"], metered * share,
                                     prices[s], row["depreciation_usd"]))  # fmt: skip
            ratios(row)
