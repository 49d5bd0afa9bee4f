"""Colouring a floor plan's racks: by tenant, by power density or by utilisation, with a legend.

Tenants come from a run of the twin (:class:`twin.results.Results`): the lease holding each rack
at the end of the run, or the hosted model serving from it, so a scenario run to day ``T`` gives
the placement at day ``T``. Without a run every rack is the owner's own (``internal``). Power
density is each rack's full draw in kW; utilisation is its mean share of GPU-hours in use over the
run, and needs a run.

Every export prints which run coloured it (:class:`RunSource`, carried on the colouring): a plan
of day 10 and one of day 99 look alike once printed or imported into CAD, so the scenario, seed
and day have to be written on the plan itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from layouts.geometry import CampusPlan
from layouts.kinds import COLOR_BY
from twin.results import Results

INTERNAL = "internal"
HOSTED_PREFIX = "hosted: "
INTERNAL_HEX = "#b4b4b4"
NO_DATA_HEX = "#e6e6e6"
TENANT_HEX = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5",
)  # fmt: skip
# Five steps from pale yellow to dark red (ColorBrewer YlOrRd) and from dark blue to yellow
# (viridis): enough to read a band at a glance, few enough to name in a legend.
KW_HEX = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
UTIL_HEX = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")


@dataclass(frozen=True)
class RunSource:
    """The run a plan's tenants (and utilisation) come from: its scenario, seed and length."""

    scenario: str
    seed: int | None
    days: float  # the run's length: tenants are as placed at its end, utilisation is the mean over it

    @classmethod
    def of(cls, results: Results) -> RunSource:
        """From a run's KPIs; a run without them (read from an old cache) still says it is a run."""
        kpis = results.kpis
        days = kpis.get("days")
        if days is None:  # one column per day run
            days = results.rack_day_utilization.shape[1] if results.rack_day_utilization.ndim == 2 else 0
        seed = kpis.get("seed")
        return cls(
            str(kpis.get("scenario") or "unnamed run"), None if seed is None else int(seed), float(days)
        )


@dataclass
class Colouring:
    by: str
    hex: list[str]  # per rack, in plan.racks order
    value: list[str]  # per rack, what the colour says ("Acme AI", "132 kW", "63 %")
    tenant: list[str]  # per rack ("internal" when no lease holds it; "hosted: MODEL" for a hosted model)
    lease: list[str]  # per rack ("" when none)
    legend: list[tuple[str, str]]  # (label, hex) in reading order
    title: str
    source: RunSource | None = None  # the run coloured from; None: no run, every rack internal
    # Per rack, its mean share of GPU-hours in use over the run (NaN without one), whatever colours it.
    utilisation: np.ndarray | None = None

    def provenance(self) -> tuple[str, str]:
        """(which run, which day) in words, for a title block's two lines.

        ``("scenario demo_whatif · seed 42", "tenants on day 10, the run's end")``; without a run
        ``("no run of the twin", "no tenants: every rack internal")``.
        """
        s = self.source
        if s is None:
            return "no run of the twin", "no tenants: every rack internal"
        run = f"scenario {s.scenario}" + ("" if s.seed is None else f" · seed {s.seed}")
        if self.by == "utilisation":
            return run, f"mean over the run, days 0-{s.days:g}; tenants on day {s.days:g}"
        return run, f"tenants on day {s.days:g}, the run's end"

    def provenance_line(self) -> str:
        """:meth:`provenance` on one line, for a file's description, header or comment."""
        return " · ".join(self.provenance())

    def legend_of(self, racks) -> list[tuple[str, str]]:
        """The legend for the racks at ``racks`` (positions or a slice): by tenant, only the
        tenants they hold (one hall's drawing, not the campus's with "0 racks"); a scale keeps
        every band."""
        if self.by != "tenant":
            return self.legend
        held = set(np.asarray(self.tenant, dtype=object)[racks].tolist())
        return [entry for entry in self.legend if entry[0] in held] or self.legend


def colour_racks(plan: CampusPlan, by: str = "tenant", results: Results | None = None) -> Colouring:
    """Colours for every rack of ``plan``; raise ValueError for an unknown ``by``."""
    if by not in COLOR_BY:
        raise ValueError(f"colour by one of {', '.join(COLOR_BY)}, not {by!r}")
    tenant, lease, util = _from_run(plan, results)
    source = RunSource.of(results) if results is not None else None
    if by == "tenant":
        names = sorted({t for t in tenant if t != INTERNAL})
        palette = {name: TENANT_HEX[i % len(TENANT_HEX)] for i, name in enumerate(names)}
        palette[INTERNAL] = INTERNAL_HEX
        hexes = [palette[t] for t in tenant]
        legend = [(name, palette[name]) for name in names] + [(INTERNAL, INTERNAL_HEX)]
        title = "Racks by tenant" + ("" if results is not None else " (no run: all internal)")
        return Colouring(by, hexes, list(tenant), tenant, lease, legend, title, source, util)
    if by == "kw":
        kw = plan.racks["kw"].to_numpy(float)
        top = float(kw.max()) if kw.size else 1.0
        edges = np.linspace(0.0, top, len(KW_HEX) + 1)
        band = np.clip(np.searchsorted(edges, kw, side="right") - 1, 0, len(KW_HEX) - 1)
        legend = [(f"{edges[i]:,.0f}-{edges[i + 1]:,.0f} kW", KW_HEX[i]) for i in range(len(KW_HEX))]
        return Colouring(by, [KW_HEX[b] for b in band], [f"{v:,.0f} kW" for v in kw], tenant, lease, legend,
                         "Racks by power density (kW per rack at full draw)", source, util)  # fmt: skip
    band = np.clip((np.nan_to_num(util, nan=-1.0) * len(UTIL_HEX)).astype(int), -1, len(UTIL_HEX) - 1)
    hexes = [UTIL_HEX[b] if b >= 0 else NO_DATA_HEX for b in band]
    values = ["no run" if np.isnan(u) else f"{u * 100:.0f} %" for u in util]
    step = 100 // len(UTIL_HEX)
    legend = [(f"{i * step}-{(i + 1) * step} %", UTIL_HEX[i]) for i in range(len(UTIL_HEX))]
    if results is None:
        legend = [("no run", NO_DATA_HEX)]
    return Colouring(
        by, hexes, values, tenant, lease, legend, "Racks by mean utilisation over the run", source, util
    )


def run_tenancy(
    campus: str, rack_names: list[str], results: Results | None
) -> tuple[list[str], list[str], np.ndarray]:
    """Tenant, lease and mean utilisation of each named rack of ``campus`` in a run.

    A rack a lease holds is its tenant's; one with servers serving a hosted model is named
    ``hosted: MODEL`` (:func:`hosted_tenant`); the rest are internal.

    The run names racks ``Campus/B1/H1/P1/R001``; ``rack_names`` are the campus's own names
    (``B1/H1/P1/R001``). Without a run every rack is internal, with no utilisation (NaN).
    """
    n = len(rack_names)
    lease = np.full(n, "", dtype=object)
    hosted = np.full(n, "", dtype=object)
    util = np.full(n, np.nan)
    tenant_of: dict[str, str] = {}
    if results is not None:
        prefix = campus + "/"
        where = {name: i for i, name in enumerate(results.rack_names) if name.startswith(prefix)}
        rows = np.array([where.get(prefix + name, -1) for name in rack_names], dtype=np.int64)
        found = rows >= 0
        if len(results.rack_leases) == len(results.rack_names):
            lease[found] = np.asarray(results.rack_leases, dtype=object)[rows[found]]
        if len(results.rack_hosted) == len(results.rack_names):
            hosted[found] = np.asarray(results.rack_hosted, dtype=object)[rows[found]]
        matrix = results.rack_day_utilization
        if matrix.ndim == 2 and matrix.shape[1] and matrix.shape[0] == len(results.rack_names):
            util[found] = matrix[rows[found]].mean(axis=1)
        if {"lease", "tenant"} <= set(results.leases.columns):
            pairs = zip(results.leases["lease"], results.leases["tenant"], strict=True)
            tenant_of = {str(k): str(v) for k, v in pairs}
    leases = ["" if pd.isna(x) else str(x) for x in lease]
    tenants = [
        tenant_of.get(x, x) if x else (hosted_tenant(str(h)) if h and not pd.isna(h) else INTERNAL)
        for x, h in zip(leases, hosted, strict=True)
    ]
    return tenants, leases, util


def hosted_tenant(model: str) -> str:
    """How a rack serving a hosted model is named where tenants are (the model is sold by the token,
    to many customers, so it is the owner's own service rather than a lessee)."""
    return f"{HOSTED_PREFIX}{model}"


def _from_run(plan: CampusPlan, results: Results | None) -> tuple[list[str], list[str], np.ndarray]:
    return run_tenancy(plan.name, plan.racks["name"].tolist(), results)
