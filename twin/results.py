"""What a run produces: KPIs, time series, job / lease / event tables, the rack x day matrix.

The money keys and how they add up are in :mod:`twin.money`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from twin.job_table import job_table, text_column
from twin.jobs import DONE, QUEUED, REJECTED, RUNNING
from twin.kernels import rack_day_shares
from twin.money import money_kpis
from twin.plant import HALL_SERIES, SITE_SERIES
from twin.recorder import HALL_METRICS, SITE_METRICS
from twin.sellable import weekly


@dataclass
class Results:
    kpis: dict
    site_series: pd.DataFrame  # time_h, site, metric columns
    hall_series: pd.DataFrame  # time_h, hall, metric columns
    tenant_series: pd.DataFrame  # time_h, lease, tenant, healthy_gpus, committed_gpus
    jobs: pd.DataFrame
    leases: pd.DataFrame
    events: pd.DataFrame
    rack_day_utilization: np.ndarray  # racks x days, share of GPU-hours in use
    rack_names: list[str]
    sellable: pd.DataFrame = field(default_factory=pd.DataFrame)  # site/hall x week (physics on)
    hosted_series: pd.DataFrame = field(default_factory=pd.DataFrame)  # product x serving step
    rack_leases: list[str] = field(default_factory=list)  # lease holding each rack at the horizon, or ""
    # The hosted model with the most servers in each rack at the horizon, or "" where none serves.
    rack_hosted: list[str] = field(default_factory=list)

    TABLES = (
        "site_series",
        "hall_series",
        "tenant_series",
        "jobs",
        "leases",
        "events",
        "sellable",
        "hosted_series",
    )

    @classmethod
    def file_names(cls) -> list[str]:
        """The files :meth:`write` puts in its folder."""
        return ["kpis.json", *(f"{name}.parquet" for name in cls.TABLES), "rack_day_utilization.parquet"]

    def write(self, folder: str | Path) -> list[Path]:
        """Write the results as JSON + Parquet files in ``folder``; return the paths written.

        All or nothing: the files are written in a hidden folder beside them and moved into place
        only once every one is written, so a full disk leaves the previous results whole and no
        half-written file behind (OSError is raised).
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=out))
        try:
            (staging / "kpis.json").write_text(json.dumps(self.kpis, indent=2, default=json_default) + "\n")
            for name in self.TABLES:
                getattr(self, name).to_parquet(staging / f"{name}.parquet", index=False)
            days = self.rack_day_utilization.shape[1]
            matrix = pd.DataFrame(self.rack_day_utilization, columns=[f"d{d:04d}" for d in range(days)])
            matrix.insert(0, "rack", self.rack_names)
            matrix.insert(1, "lease", self.rack_leases or [""] * len(self.rack_names))
            matrix.insert(2, "hosted", self.rack_hosted or [""] * len(self.rack_names))
            matrix.to_parquet(staging / "rack_day_utilization.parquet", index=False)
            paths = []
            for name in self.file_names():
                os.replace(staging / name, out / name)
                paths.append(out / name)
            return paths
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def read(cls, folder: str | Path) -> Results:
        """Results written by :meth:`write` (NaN KPIs come back as None, as JSON has them)."""
        src = Path(folder)
        kpis = json.loads((src / "kpis.json").read_text())
        tables = {name: pd.read_parquet(src / f"{name}.parquet") for name in cls.TABLES}
        matrix = pd.read_parquet(src / "rack_day_utilization.parquet")
        names = matrix.pop("rack").tolist()
        leases = matrix.pop("lease").tolist()
        hosted = matrix.pop("hosted").tolist() if "hosted" in matrix else []  # runs saved before it was kept
        return cls(
            kpis=kpis,
            **tables,
            rack_day_utilization=matrix.to_numpy(np.float32),
            rack_names=names,
            rack_leases=leases,
            rack_hosted=hosted,
        )


def json_default(value):
    """``json.dumps``'s ``default`` for results: numpy's scalars as the numbers they are (NaN as null)."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if math.isnan(value) else float(value)
    raise TypeError(type(value))


def json_safe(value):
    """NaN and infinities become null (JSON has neither), in nested sections too."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def collect(scenario, engine, recorder, inference_gpus: np.ndarray, wall_seconds: float) -> Results:
    spec = scenario.spec
    f = engine.fleet
    now = engine.env.now
    step = recorder.step
    n = recorder.taken
    site_names = [c.name for c in f.campuses]

    # -- series ---------------------------------------------------------------------------------
    t = recorder.t[:n]
    site_frames = []
    for s, name in enumerate(site_names):
        cols = {m: recorder.site[k, :n, s] for k, m in enumerate(SITE_METRICS)}
        site_frames.append(pd.DataFrame({"time_h": t, "site": name, **cols}))
    site_series = pd.concat(site_frames, ignore_index=True)
    plant = recorder.plant
    if plant is None:
        site_series["facility_kw"] = site_series["it_kw"] * spec.money.pue
    else:
        for k, m in enumerate(SITE_SERIES):
            site_series[m] = plant.site[k, :n].T.reshape(-1)
    halls = len(f.hall_names)
    hall_series = pd.DataFrame(
        {
            "time_h": np.repeat(t, halls),
            "hall": _repeated_text(f.hall_names, n),
            **{m: recorder.hall[k, :n].reshape(-1) for k, m in enumerate(HALL_METRICS)},
            **(
                {m: plant.hall[k, :n].reshape(-1) for k, m in enumerate(HALL_SERIES) if m not in HALL_METRICS}
                if plant is not None
                else {}
            ),
        }
    )
    healthy = recorder.tenant_healthy[:n] if recorder.tenant_healthy is not None else np.zeros((n, 0))
    tenant_series = pd.DataFrame(
        {
            "time_h": np.repeat(t, len(engine.leases)),
            "lease": _repeated_text([lease.spec.name for lease in engine.leases], n),
            "tenant": _repeated_text([lease.spec.tenant for lease in engine.leases], n),
            "healthy_gpus": healthy.reshape(-1),
            "committed_gpus": np.tile(np.array([lease.spec.gpus for lease in engine.leases]), n)
            * (
                (np.repeat(t, len(engine.leases)) >= np.tile([lease.start for lease in engine.leases], n))
                & (np.repeat(t, len(engine.leases)) < np.tile([lease.end for lease in engine.leases], n))
            ),
        }
    )

    # -- tables ---------------------------------------------------------------------------------
    jobs = job_table(engine.jobs, now, site_names, f.gpu_type_names)
    lease_rows = [lease.summary() | {"site": site_names[lease.site]} for lease in engine.leases]
    leases = pd.DataFrame(lease_rows) if lease_rows else pd.DataFrame(columns=["lease", "tenant"])
    events = pd.DataFrame(engine.log, columns=["time_h", "site", "kind", "subject", "detail"])
    gpus_per_rack = f.rack_gpus.astype(np.float32)
    # Hours sampled in each day (the recorder adds a whole step to the day a sample falls in, so with
    # a step that does not divide 24 h a day holds more or fewer than 24 h of samples).
    # Sample times summed step by step, as the clock was when the recorder chose the day.
    sample_now = np.concatenate([[0.0], np.cumsum(np.full(max(n - 1, 0), step))])
    sample_day = np.minimum(sample_now // 24.0, recorder.days - 1).astype(np.int64)
    day_hours = np.bincount(sample_day, weights=recorder.weights[:n], minlength=recorder.days)
    rack_day = rack_day_shares(recorder.day_rack, step, gpus_per_rack, day_hours.astype(np.float32))
    rack_names = [f"{c.name}/{c.rack_name(r)}" for c in f.campuses for r in range(c.racks)]
    holder = np.full(len(rack_names), -1, dtype=np.int64)
    held = f.lease >= 0
    holder[f.server_rack[held]] = f.lease[held]
    lease_names = [lease.spec.name for lease in engine.leases]
    rack_leases = [lease_names[i] if i >= 0 else "" for i in holder.tolist()]
    rack_hosted = _rack_hosted(engine, len(rack_names))

    kpis = _kpis(scenario, engine, recorder, jobs, leases, inference_gpus, n, step, wall_seconds)
    sellable = pd.DataFrame()
    if plant is not None:
        site_gpu_kw = dict(zip(site_names, plant.site_gpu_kw.tolist(), strict=True))
        sellable = weekly(site_series, hall_series, site_gpu_kw)
    hosted = [service.series() for service in engine.hosted.values()]
    hosted_series = pd.concat(hosted, ignore_index=True) if hosted else pd.DataFrame()
    return Results(
        kpis, site_series, hall_series, tenant_series, jobs, leases, events, rack_day, rack_names, sellable,
        hosted_series, rack_leases, rack_hosted,
    )  # fmt: skip


def _repeated_text(names: list[str], n: int) -> pd.api.extensions.ExtensionArray:
    """``names`` over and over, ``n`` times, as a text column.

    A year's hall series has ~600k rows; repeating in Arrow beats pandas converting each Python
    string of an object array on its own (~5x).
    """
    return text_column(np.tile(np.arange(len(names)), n), names)


def _rack_hosted(engine, racks: int) -> list[str]:
    """Per rack, the hosted model with the most of its servers at the horizon ("" where none serves).

    Replicas are placed server by server and move as demand does, so this is the end of the run's
    picture, as a rack's lease is.
    """
    f = engine.fleet
    names = [""] * racks
    most = np.zeros(racks, dtype=np.int64)
    for owner, service in engine.hosted.items():
        held = np.bincount(f.server_rack[f.job == owner], minlength=racks)
        for rack in np.flatnonzero(held > most).tolist():
            names[rack] = service.spec.name
        most = np.maximum(most, held)
    return names


def _kpis(scenario, engine, recorder, jobs, leases, inference_gpus, n, step, wall_seconds) -> dict:
    spec = scenario.spec
    f = engine.fleet
    site = recorder.site[:, :n, :]
    w = recorder.weights[:n]  # hours each sample stands for (the last may be a partial step)
    installed_h = (site[0] * w[:, None]).sum()
    busy_h = (site[1] * w[:, None]).sum()
    leased_h = (site[2] * w[:, None]).sum()
    it_kwh_site = (site[4] * w[:, None]).sum(axis=0)
    prices = np.array([c.site.spec.energy_price_usd_per_mwh for c in f.campuses])
    physics = _physics_kpis(recorder.plant, site, w, n, prices)
    if physics:
        site_pue = physics.pop("_site_pue")
        energy_cost = physics["energy_cost_usd"]
    else:
        site_pue = np.full((max(n, 1), prices.size), spec.money.pue)
        energy_cost = float((it_kwh_site / 1000.0 * spec.money.pue * prices).sum())
    # Leased racks pay their site's hourly PUE: the plant's overheads scale with what they draw.
    lease_mwh_site = (site[6] * site_pue[:n] * w[:, None]).sum(axis=0) / 1000.0
    money = money_kpis(spec, engine, recorder, leases, n, site_pue, prices, lease_mwh_site)
    hosted_h = float((site[9] * w[:, None]).sum())

    training = jobs[jobs["kind"].isin(["training", "trace"]) & (jobs["wall_hours"] > 0)]
    gpu_wall = float((training["wall_hours"] * training["gpus"]).sum())
    ettr = (
        float((training["productive_hours"] * training["gpus"]).sum() / gpu_wall)
        if gpu_wall > 0
        else math.nan
    )
    started = jobs[jobs["first_start_h"].notna()]
    it_mwh = float(it_kwh_site.sum() / 1000.0)
    if not physics:
        facility_kw = site[4].sum(axis=1) * spec.money.pue
        physics = {
            "energy_mwh": it_mwh * spec.money.pue,
            "pue": spec.money.pue,
            "peak_facility_mw": float(facility_kw.max() / 1000.0) if facility_kw.size else 0.0,
            "energy_cost_usd": energy_cost,
        }

    tenants: dict[str, dict] = {}
    for row in leases.to_dict("records") if len(leases) else []:
        t = tenants.setdefault(
            row["tenant"],
            {
                "committed_gpu_hours": 0.0,
                "delivered_gpu_hours": 0.0,
                "revenue_usd": 0.0,
                "credits_usd": 0.0,
                "leases": [],
            },
        )
        for key in ("committed_gpu_hours", "delivered_gpu_hours", "revenue_usd", "credits_usd"):
            t[key] += float(row[key])
        t["leases"].append(row["lease"])
    for t in tenants.values():
        t["sla_attainment"] = (
            t["delivered_gpu_hours"] / t["committed_gpu_hours"] if t["committed_gpu_hours"] > 0 else None
        )

    status = jobs["status"].value_counts()
    kpis = {
        "scenario": spec.name,
        "seed": spec.seed,
        "days": spec.days,
        "gpus": f.gpus,
        "racks": f.racks,
        "jobs_submitted": len(jobs),
        "jobs_completed": int(status.get(DONE, 0)),
        "jobs_running": int(status.get(RUNNING, 0)),
        "jobs_queued": int(status.get(QUEUED, 0)),
        "jobs_rejected": int(status.get(REJECTED, 0)),
        "events": len(engine.log),
        "sim_events": next(engine.env._eid),
        "utilization": (busy_h + leased_h) / installed_h if installed_h else 0.0,
        # Hosted models' replicas run on internal servers but are sold capacity: their own share.
        "internal_utilization": (busy_h - hosted_h) / installed_h if installed_h else 0.0,
        "hosted_share": hosted_h / installed_h if installed_h else 0.0,
        "leased_share": leased_h / installed_h if installed_h else 0.0,
        "interruptions": engine.interruptions,
        "failures": engine.failures,
        "failures_by_category": dict(sorted(engine.failures_by_category.items())),
        "inference_failures": engine.inference_failures,
        "inference_unmet_gpu_hours": float((inference_gpus[0, :n] * w[:, None]).sum()),
        "inference_gpu_hours": float((inference_gpus[1, :n] * w[:, None]).sum()),
        "preemptions": engine.preemptions,
        "effective_training_time": ettr,
        "queue_wait_mean_hours": float(started["queue_wait_hours"].mean()) if len(started) else 0.0,
        "queue_wait_p95_hours": float(started["queue_wait_hours"].quantile(0.95)) if len(started) else 0.0,
        # Weighted by GPUs: a 131k-GPU run waiting a week matters more than many 8-GPU jobs not waiting.
        "queue_wait_gpu_weighted_hours": float(
            (started["queue_wait_hours"] * started["gpus"]).sum() / started["gpus"].sum()
        )
        if len(started)
        else 0.0,
        "it_energy_mwh": it_mwh,
        **physics,
        **money,
        "tenants": tenants,
        "wall_seconds": wall_seconds,
    }
    return {k: json_safe(v) for k, v in kpis.items()}


def _physics_kpis(plant, site: np.ndarray, w: np.ndarray, n: int, prices: np.ndarray) -> dict:
    """Energy, PUE, water and throttling from the plant's series (empty when physics is off)."""
    if plant is None:
        return {}
    col = {m: plant.site[k, :n] for k, m in enumerate(SITE_SERIES)}  # samples x sites
    facility_kwh = (col["facility_kw"] * w[:, None]).sum(axis=0)
    it_kwh = (col["it_kw"] * w[:, None]).sum(axis=0)
    names = [c.name for c in plant.fleet.campuses]
    total_fac = col["facility_kw"].sum(axis=1)
    # "Throttled" GPU-hours count every busy GPU of a hall under any cap, however slight; the
    # compute a cap costs is busy GPU-hours x (1 - cap ** exponent) in the capped halls (tenants'
    # GPUs too). A job spread into an uncapped hall that runs at its capped hall's pace loses a
    # little more there; that is not counted.
    cap = plant.hall[HALL_SERIES.index("power_cap"), :n].astype(np.float64)
    capped = plant.hall[HALL_SERIES.index("throttled_gpus"), :n].astype(np.float64)
    lost_by_hall = ((capped * (1.0 - np.clip(cap, 0.0, 1.0) ** plant.exponent)) * w[:, None]).sum(axis=0)
    lost = np.bincount(plant.hall_site, weights=lost_by_hall, minlength=len(names))
    site_pue = np.divide(
        col["facility_kw"], col["it_kw"], out=np.ones_like(col["it_kw"]), where=col["it_kw"] > 0
    )
    return {
        "energy_mwh": float(facility_kwh.sum() / 1000.0),
        "pue": float(facility_kwh.sum() / it_kwh.sum()) if it_kwh.sum() > 0 else None,
        "peak_facility_mw": float(total_fac.max() / 1000.0) if total_fac.size else 0.0,
        "energy_cost_usd": float((facility_kwh / 1000.0 * prices).sum()),
        "cooling_energy_mwh": float((col["cooling_kw"] * w[:, None]).sum() / 1000.0),
        "loss_energy_mwh": float((col["losses_kw"] * w[:, None]).sum() / 1000.0),
        "water_m3": float((col["water_l_per_h"] * w[:, None]).sum() / 1000.0),
        "throttled_gpu_hours": float((col["throttled_gpus"] * w[:, None]).sum()),
        "throttle_lost_gpu_hours": float(lost.sum()),
        "sites": {
            name: {
                "energy_mwh": float(facility_kwh[s] / 1000.0),
                "it_energy_mwh": float(it_kwh[s] / 1000.0),
                "pue": float(facility_kwh[s] / it_kwh[s]) if it_kwh[s] > 0 else None,
                "peak_facility_mw": float(col["facility_kw"][:, s].max() / 1000.0),
                "energy_cost_usd": float(facility_kwh[s] / 1000.0 * prices[s]),
                "water_m3": float((col["water_l_per_h"][:, s] * w).sum() / 1000.0),
                "throttled_gpu_hours": float((col["throttled_gpus"][:, s] * w).sum()),
                "throttle_lost_gpu_hours": float(lost[s]),
            }
            for s, name in enumerate(names)
        },
        "_site_pue": site_pue,
    }
