"""The what-if an operator is editing: a base scenario, a few knobs, and tables of what is sold.

A what-if starts from a scenario file (its sites, internal demand and money) and changes what an
operator changes: the horizon and seed, how much internal work arrives, how often hardware fails,
the leases and hosted-model products sold, and events. From it come two scenario texts: the
what-if itself and its *baseline*, the same with nothing sold, so that the difference between
their results is what the sales do.

Tables are lists of plain rows (one dict per lease, product or event) with the columns an
operator edits; fields the table does not show (a custom credit schedule, a request trace) are
kept from the base scenario's item of the same name. The whole what-if fits in a URL query
(:mod:`app.state.whatif_link`), so a link reproduces it; the tables' columns are in
:mod:`app.state.whatif_columns`. No Panel here: views bind to these params.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import param
import yaml

from app.stamps import yaml_stamp
from app.state.whatif_columns import (
    EVENT_COLUMNS,
    HOSTED_COLUMNS,
    HOSTED_FIXED,
    LEASE_COLUMNS,
    WhatIfError,
    blank,
)
from app.state.whatif_link import WhatIfLink
from twin.errors import ProblemList
from twin.load import file_kind
from twin.scenario_spec import SEED_MAX
from twin.yamlsafe import load_yaml

__all__ = ["EVENT_COLUMNS", "HOSTED_COLUMNS", "LEASE_COLUMNS", "WhatIf", "WhatIfError", "scenario_files"]


def scenario_files(folder: Path) -> dict[str, Path]:
    """Scenario files in ``folder`` by stem (the name a URL uses), valid YAML of kind scenario only.

    Read once per change of the folder's files: every session starts by listing them.
    """
    return dict(_scenario_files(str(folder), yaml_stamp(folder)))


@functools.lru_cache(maxsize=8)
def _scenario_files(folder: str, stamp: tuple) -> tuple[tuple[str, Path], ...]:
    found = {}
    for name, _ in stamp:
        path = Path(folder) / name
        try:
            if file_kind(load_yaml(path)) == "scenario":
                found[path.stem] = path
        except (ProblemList, OSError):
            continue
    return tuple(found.items())


def _row(item: dict, columns: dict) -> dict:
    return {k: item.get(k, default) for k, default in columns.items()}


def lease_row(lease: dict) -> dict:
    row = _row(lease, LEASE_COLUMNS)
    row["sla_availability"] = (lease.get("sla") or {}).get("availability", LEASE_COLUMNS["sla_availability"])
    return row


def hosted_row(product: dict) -> dict:
    row = _row(product, HOSTED_COLUMNS)
    demand = product.get("demand") or {}
    row["peak_requests_per_second"] = demand.get("peak_requests_per_second")
    row["ttft_p95_seconds"] = (product.get("latency") or {}).get("ttft_p95_seconds", 2.0)
    return row


class WhatIf(WhatIfLink, param.Parameterized):
    """One session's what-if: a base scenario and the operator's changes to it."""

    base = param.String(default="demo_baseline", doc="stem of the base scenario file")
    sites = param.ListSelector(default=[], objects=[], doc="campuses of the base to run (all by default)")
    days = param.Number(default=30, bounds=(1, 3650), doc="horizon")
    seed = param.Integer(default=7, bounds=(0, SEED_MAX))
    replications = param.Integer(
        default=1, bounds=(1, 32), doc="seeds run for the what-if (seed, seed+1, ...): Monte Carlo bands"
    )
    training_scale = param.Number(default=1.0, bounds=(0, 10), doc="x the base's training arrivals")
    inference_scale = param.Number(default=1.0, bounds=(0, 10), doc="x the base's inference peaks")
    failure_scale = param.Number(default=1.0, bounds=(0, 100), doc="x the Llama 3 failure rates")
    physics = param.Boolean(default=True, doc="power chain, cooling and weather on")
    leases = param.List(default=[], item_type=dict)
    hosted = param.List(default=[], item_type=dict)
    events = param.List(default=[], item_type=dict)

    def __init__(self, folder: Path, **params: Any) -> None:
        super().__init__(**params)
        self.folder = Path(folder)
        self.choices = scenario_files(self.folder)
        #: scenarios uploaded in this session, by label: seen by this session only
        self.uploads: dict[str, dict] = {}
        self._base_data: dict = {}
        self.load_base(self.base)

    # -- the base -------------------------------------------------------------------------------

    def load_base(self, stem: str) -> None:
        """Start over from scenario ``stem``: its horizon, seed, sales and events become the tables."""
        if stem in self.uploads:
            data = copy.deepcopy(self.uploads[stem])
        elif stem in self.choices:
            data = load_yaml(self.choices[stem]).data
        else:
            raise WhatIfError(
                f"no scenario {stem!r} in {self.folder}; choose one of: {', '.join(self.choices)}"
            )
        self._base_data = data
        self._site_files = self._campus_names(data.get("sites") or [])
        self.param.sites.objects = list(self._site_files)
        failures = data.get("failures") or {}
        self.param.update(
            base=stem,
            sites=list(self._site_files),
            days=float(data.get("days", 365)),
            seed=int(data.get("seed", 0)),
            training_scale=1.0,
            inference_scale=1.0,
            failure_scale=float(failures.get("rate_scale", 1.0)),
            physics=bool((data.get("physics") or {}).get("enabled", True)),
            leases=[lease_row(x) for x in data.get("leases") or []],
            hosted=[hosted_row(x) for x in data.get("hosted_models") or []],
            events=[_row(x, EVENT_COLUMNS) for x in data.get("events") or []],
        )

    def add_upload(self, label: str, data: dict) -> str:
        """Make an uploaded (already checked) scenario the base; return the name it goes by."""
        stem = f"upload: {label}"
        self.uploads[stem] = data
        self.load_base(stem)
        return stem

    @property
    def from_upload(self) -> bool:
        """True when the base was uploaded: a link cannot reproduce it in another session."""
        return self.base in self.uploads

    def _campus_names(self, paths: list) -> dict[str, str]:
        """Campus name -> site path of the base (a file that cannot be read keeps its path as name)."""
        names = {}
        for rel in paths:
            try:
                name = str(load_yaml(self.folder / str(rel)).data.get("name"))
            except (ProblemList, AttributeError):
                name = str(rel)  # the twin reports the file itself when the scenario is loaded
            names[name] = str(rel)
        return names

    @property
    def site_names(self) -> list[str]:
        """The campuses this what-if runs."""
        return [name for name in self._site_files if name in self.sites]

    def new_lease(self) -> dict:
        taken = {r["name"] for r in self.leases}
        n = len(self.leases) + 1
        while f"lease-{n}" in taken:
            n += 1
        sites = self.site_names
        return LEASE_COLUMNS | {
            "name": f"lease-{n}",
            "tenant": f"Tenant {n}",
            "site": sites[0] if sites else "any",
        }

    def new_event(self) -> dict:
        """A day's outage of the first site: an event needs its place, and a row that fails on Run
        teaches nothing."""
        sites = self.site_names
        return EVENT_COLUMNS | {"site": sites[0] if sites else ""}

    def new_hosted(self) -> dict:
        taken = {r["name"] for r in self.hosted} | {r["name"] for r in self.leases}
        n = len(self.hosted) + 1
        while f"model-api-{n}" in taken:
            n += 1
        sites = self.site_names
        return HOSTED_COLUMNS | {"name": f"model-api-{n}", "site": sites[0] if sites else ""}

    # -- scenario text --------------------------------------------------------------------------

    def scenario_data(self, sales: bool = True, seed: int | None = None) -> dict:
        """The scenario as a dict; ``sales=False`` gives the baseline (no leases, no products).

        ``seed`` replaces the what-if's own seed (a replication of it)."""
        data = copy.deepcopy(self._base_data)
        data["name"] = f"{data.get('name', self.base)}-{'what-if' if sales else 'baseline'}"
        if not self.sites:
            raise WhatIfError("pick at least one site")
        if set(self.sites) != set(self._site_files):
            _keep_sites(
                data, set(self.sites), [self._site_files[n] for n in self._site_files if n in self.sites]
            )
        data["days"] = self.days
        data["seed"] = self.seed if seed is None else seed
        if isinstance(data.get("training"), dict) and self.training_scale != 1.0:
            data["training"]["arrivals_per_day"] = (
                data["training"].get("arrivals_per_day", 20) * self.training_scale
            )
        for inf in data.get("inference") or []:
            if isinstance(inf, dict) and "peak_gpus" in inf:
                inf["peak_gpus"] = max(1, round(inf["peak_gpus"] * self.inference_scale))
        if self.inference_scale == 0:
            data["inference"] = []
        data["failures"] = {**(data.get("failures") or {}), "rate_scale": self.failure_scale}
        data["failures"]["enabled"] = self.failure_scale > 0
        data["physics"] = {**(data.get("physics") or {}), "enabled": self.physics}
        base_leases = {x.get("name"): x for x in data.get("leases") or [] if isinstance(x, dict)}
        base_hosted = {x.get("name"): x for x in data.get("hosted_models") or [] if isinstance(x, dict)}
        data["leases"] = (
            [self._lease(r, base_leases.get(r.get("name"))) for r in self.leases] if sales else []
        )
        data["hosted_models"] = (
            [self._hosted(r, base_hosted.get(r.get("name"))) for r in self.hosted] if sales else []
        )
        lease_names = {r.get("name") for r in self.leases}
        data["events"] = [
            e
            for e in (self._event(r) for r in self.events)
            if sales or e["kind"] != "lease_termination" or e.get("lease") not in lease_names
        ]
        return data

    def scenario_text(self, sales: bool = True, seed: int | None = None) -> str:
        return yaml.safe_dump(self.scenario_data(sales, seed), sort_keys=False, allow_unicode=True)

    def replication_seeds(self) -> list[int]:
        """The seeds of the what-if's Monte Carlo replications, its own seed first."""
        return [(self.seed + i) % (SEED_MAX + 1) for i in range(self.replications)]

    @staticmethod
    def _lease(row: dict, base: dict | None) -> dict:
        """A lease row as the scenario's item. The table's cells rule over the base file's item
        of the same name: a cell emptied there is emptied in the run too (a required one is then
        refused at its row and column, an optional one takes the default), never quietly kept
        from the file while the page shows it empty. Fields the table has no column for are kept."""
        out = copy.deepcopy(base) if base else {}
        for key in LEASE_COLUMNS:
            if key != "sla_availability":
                _set_or_drop(out, key, row.get(key))
        if isinstance(out.get("sla"), dict) or not blank(row.get("sla_availability")):
            out["sla"] = dict(out.get("sla") or {})
            _set_or_drop(out["sla"], "availability", row.get("sla_availability"))
        if out.get("kind") in ("on_demand", "spot"):
            out["billing"] = "metered"  # they are billed by use; a table should not trip on it
        return out

    @staticmethod
    def _hosted(row: dict, base: dict | None) -> dict:
        out = copy.deepcopy(base) if base else dict(HOSTED_FIXED)
        for key in HOSTED_COLUMNS:
            if key not in ("peak_requests_per_second", "ttft_p95_seconds"):
                _set_or_drop(out, key, row.get(key))  # as for leases (see _lease)
        if "trace" not in out:
            out["demand"] = dict(out.get("demand") or {})
            _set_or_drop(out["demand"], "peak_requests_per_second", row.get("peak_requests_per_second"))
        if isinstance(out.get("latency"), dict) or not blank(row.get("ttft_p95_seconds")):
            out["latency"] = dict(out.get("latency") or {})
            _set_or_drop(out["latency"], "ttft_p95_seconds", row.get("ttft_p95_seconds"))
        return out

    @staticmethod
    def _event(row: dict) -> dict:
        return {k: row[k] for k in EVENT_COLUMNS if not blank(row.get(k))}


def _set_or_drop(item: dict, key: str, value: Any) -> None:
    """A cell's value into the scenario item; an empty cell removes the field."""
    if blank(value):
        item.pop(key, None)
    else:
        item[key] = value


def _keep_sites(data: dict, keep: set[str], paths: list[str]) -> None:
    """Run only the campuses in ``keep``, with the base's internal demand of those campuses.

    Rows of the tables (leases, products, events) are not dropped: one bound to a campus left
    out is refused by the twin with its row named, which says more than a row quietly gone.
    """
    data["sites"] = paths
    training = data.get("training")
    if isinstance(training, dict) and training.get("site", "any") not in keep:
        training["site"] = "any"
    data["inference"] = [
        x for x in data.get("inference") or [] if isinstance(x, dict) and x.get("site") in keep
    ]
