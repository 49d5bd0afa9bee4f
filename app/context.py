"""What every page of one console server shares: where the sites are, and the run pool.

Made once by :func:`app.server.serve` and handed to each session's page; sessions keep their own
state (a :class:`app.state.whatif.WhatIf` each) and share only what is the same for everyone.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from app.auth import LiveAccess, UserStore
from app.library import Library, LibraryError
from app.roles import LOCAL, NOBODY, Access
from app.runs import POOL_KEY, RunPool
from app.stamps import site_files, yaml_stamp
from layouts.geometry import CampusPlan, plan_campus
from twin.campus import Campus, build_campus
from twin.errors import ProblemList
from twin.inventory import inventory
from twin.load import file_kind, load_site
from twin.results import Results
from twin.yamlsafe import load_yaml

# a run of the library, by its id or the first 8+ characters of it (as `campustwin library runs` prints)
SAVED_RUN = re.compile(r"lib-[0-9a-f]{8,32}")


@dataclass(eq=False)
class ConsoleContext:
    sites_dir: Path
    pool: RunPool
    library: Library | None = None  # the scenario library; None where a server keeps none
    users: UserStore | None = None  # sign-in is on when there are users

    def access(self) -> Access | LiveAccess:
        """The signed-in user of the current session and their role (NOBODY: not, or no longer, a user).

        Without sign-in the console serves this machine only, to one person who may do all.
        """
        if self.users is None:
            return LOCAL
        import panel as pn

        user = pn.state.user
        return LiveAccess(self.users, user) if self.users.role_of(user) else NOBODY

    @property
    def scenarios_dir(self) -> Path:
        return self.sites_dir / "scenarios"

    def site_files(self) -> dict[str, Path]:
        """Site files in the sites folder by campus name (:func:`app.stamps.site_files`)."""
        return site_files(self.sites_dir)

    def run_results(self, key: str) -> Results | None:
        """The run a page's ``?run=`` names: a what-if in the pool's cache, or ``lib-ID``, a saved run.

        Anything else is no run: a key from a URL never becomes a path of its own.
        """
        if SAVED_RUN.fullmatch(key) and self.library is not None:
            run_id = key.removeprefix("lib-")
            try:
                if len(run_id) < 32:  # one cache entry per run, however its link shortened the id
                    run_id = self.library.run_folder(run_id).name
                key = f"lib-{run_id}"
                results = self.pool.cached(key)
                if results is None:
                    results = self.library.load_run(run_id)
                    self.pool.remember(key, results)
            except (LibraryError, OSError, ValueError):
                return None
            return results
        return self.pool.cached(key) if POOL_KEY.fullmatch(key) else None

    def saved_run_name(self, key: str) -> str | None:
        """The library name of the saved run ``?run=lib-ID`` names; None for a what-if's key or a
        run the library does not hold."""
        if not SAVED_RUN.fullmatch(key) or self.library is None:
            return None
        try:
            return self.library.run_scenario(self.library.run_folder(key.removeprefix("lib-")).name)
        except (LibraryError, OSError):
            return None

    def campus(self, name: str) -> Campus:
        path = self.site_files()[name]
        return cached_campus(str(path), path.stat().st_mtime_ns)

    def campus_with_plan(self, name: str) -> tuple[Campus, CampusPlan]:
        """Campus ``name`` and its floor plan (as the plan exports draw it), of one version of its
        file: a file saved between two separate look-ups would pair a plan with another campus."""
        path = self.site_files()[name]
        mtime_ns = path.stat().st_mtime_ns
        return cached_campus(str(path), mtime_ns), cached_plan(str(path), mtime_ns)


def site_inventories(folder: Path) -> tuple[pd.DataFrame, list[str]]:
    """Inventory rows for every valid site file in ``folder``, and the problems of the others.

    Cached on the files' names and modification times: every session shares one computation
    until a site file changes.
    """
    return _inventories(str(folder), yaml_stamp(folder))


@functools.lru_cache(maxsize=8)
def _inventories(folder: str, stamp: tuple) -> tuple[pd.DataFrame, list[str]]:
    rows, problems = [], []
    for name, _ in stamp:
        path = Path(folder) / name
        try:
            if file_kind(load_yaml(path)) != "site":
                continue
            inv = inventory(cached_campus(str(path), path.stat().st_mtime_ns))
        except ProblemList as exc:
            problems.extend(str(p) for p in exc.problems)
            continue
        rows.append(
            {
                "campus": inv["name"],
                "buildings": inv["buildings"],
                "halls": inv["halls"],
                "racks": inv["racks"],
                "GPUs": inv["gpus"],
                "IT MW": round(inv["it_mw"], 1),
                "facility MW": round(inv["facility_mw"], 1),
                "switches": inv["switches"],
            }
        )
    return pd.DataFrame(rows), problems


@functools.lru_cache(maxsize=8)
def cached_campus(path: str, mtime_ns: int) -> Campus:
    """A built campus, shared by every session until its file changes."""
    return build_campus(load_site(path))


@functools.lru_cache(maxsize=8)
def cached_plan(path: str, mtime_ns: int) -> CampusPlan:
    """A campus's floor plan (~50 ms for Louisiana), shared like the campus."""
    return plan_campus(cached_campus(path, mtime_ns))
