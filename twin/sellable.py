"""Sellable capacity: GPUs that could be leased on top of a run, per site (and hall) and week.

The plant records, at every sample, how many idle healthy GPUs each hall could lease at full
power without crossing its cooling (at the planned capacity: reserve units are not sold) or power
limit, and how many the site's supply allows, after
holding back spares at the run's failure rate. A lease must hold for the whole week, so a week's
sellable capacity is its *lowest* sample. The binding constraint is the smallest of the
candidate limits at that sample: idle GPUs, cooling, hall power or site supply.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HOURS_PER_WEEK = 168.0


def _site_of(halls: pd.Series) -> pd.Series:
    """The site part of "Site/B1/H1" names, split once per distinct hall rather than per row."""
    codes, names = pd.factorize(halls)
    return pd.Series(np.array([n.split("/", 1)[0] for n in names], dtype=object)[codes], index=halls.index)


def weekly(
    site_series: pd.DataFrame, hall_series: pd.DataFrame, site_gpu_kw: dict[str, float]
) -> pd.DataFrame:
    """One row per site and week, then per hall and week: the sellable GPUs and what binds."""
    if "sellable_gpus" not in site_series:
        return pd.DataFrame(columns=["site", "hall", "week", "start_h", "sellable_gpus", "binding"])
    site = site_series.assign(week=(site_series["time_h"] // HOURS_PER_WEEK).astype(int))
    hall = hall_series.assign(
        week=(hall_series["time_h"] // HOURS_PER_WEEK).astype(int),
        site=_site_of(hall_series["hall"]),
    )
    per_sample = (
        hall.groupby(["site", "time_h"], sort=False)[["cooling_headroom_kw", "power_headroom_kw"]]
        .sum()
        .reset_index()
    )
    site = site.merge(per_sample, on=["site", "time_h"], how="left")
    gpu_kw = site["site"].map(site_gpu_kw).to_numpy(float)
    pue = np.divide(
        site["facility_kw"], site["it_kw"], out=np.ones(len(site)), where=site["it_kw"].to_numpy() > 0
    )
    limits = np.column_stack(
        [
            site["installed_gpus"] - site["busy_gpus"] - site["leased_gpus"] - site["failed_gpus"],
            site["cooling_headroom_kw"] / gpu_kw,
            site["power_headroom_kw"] / gpu_kw,
            site["supply_headroom_kw"] / (gpu_kw * pue),
        ]
    )
    names = np.array(["idle GPUs", "cooling", "hall power", "site supply"])
    site["binding"] = names[np.argmin(limits, axis=1)]
    worst = site.loc[site.groupby(["site", "week"], sort=False)["sellable_gpus"].idxmin()]
    rows = worst.assign(hall="", start_h=worst["week"] * HOURS_PER_WEEK)[
        ["site", "hall", "week", "start_h", "sellable_gpus", "binding"]
    ]
    hall_worst = hall.groupby(["site", "hall", "week"], sort=False)["sellable_gpus"].min().reset_index()
    hall_worst["start_h"] = hall_worst["week"] * HOURS_PER_WEEK
    hall_worst["binding"] = ""
    out = pd.concat([rows, hall_worst[rows.columns]], ignore_index=True)
    out["sellable_gpus"] = out["sellable_gpus"].astype(np.int64)
    return out
