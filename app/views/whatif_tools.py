"""Two tools under the What-if editor: save a run to the library, and find the largest lease.

*Save* puts the what-if's scenario text and the runs just made (one per Monte Carlo seed) in
the scenario library (:mod:`app.library`), where the Runs page lists and compares them. The
write happens in a thread: a year of both campuses is ~100 MB of Parquet.

*Find the largest lease* runs the lease optimiser (:mod:`twin.fit_lease`) on the what-if in a
worker process, with progress and cancel like a run, and shows its offer table: per site, the
most GPUs the lease can have while meeting its SLA with the stated confidence, slowing internal
training and starving internal inference by no more than the limit, and leaving the scenario's
other products within their SLAs; and what binds beyond that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Callable

import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import NumberFormatter

from app.context import ConsoleContext
from app.library import LibraryError
from app.roles import RUN, SAVE, Access
from app.runs import PoolBusy, RunHandle, outcome_of
from app.state.whatif import WhatIf, WhatIfError
from app.views.markup import plain
from twin.fit_lease import Targets
from twin.results import Results

POLL_S = 0.1
OFFER_COLUMNS = ["site", "start day", "max GPUs", "revenue $", "product margin $", "binds", "sizes tried"]


def offers_frame(offers: list) -> pd.DataFrame:
    """The optimiser's offers as the table shows them."""
    rows = [
        {
            "site": o.site,
            "start day": o.start_day,
            "max GPUs": o.max_gpus,
            "revenue $": round(o.revenue_usd),
            "product margin $": round(o.margin_usd),
            "binds": o.binds,
            "sizes tried": "; ".join(c.told() for c in o.checked),
        }
        for o in offers
    ]
    return pd.DataFrame(rows, columns=OFFER_COLUMNS)


MAX_SEEDS_PER_SIZE = 16  # a console search stays minutes long, not hours


#: The page's fields and the ranges they take, for the messages (Targets' own name options).
TARGET_FIELDS = {
    "sla": "SLA availability",
    "confidence": "Confidence",
    "max_internal_slowdown": "Max internal slowdown",
    "replications": "Seeds per size",
}


def checked_targets(sla, confidence, slowdown, replications) -> dict | str:
    """The optimiser's targets from the page's inputs (:class:`Targets` checks them), or what is
    wrong, told with the page's own field names and limits."""
    values = dict(zip(TARGET_FIELDS, (sla, confidence, slowdown, replications), strict=True))
    for name, value in values.items():
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{TARGET_FIELDS[name]}: type a number."
    seeds = values["replications"]
    if seeds != int(seeds) or not 1 <= seeds <= MAX_SEEDS_PER_SIZE:
        return (
            f"Seeds per size: a whole number from 1 to {MAX_SEEDS_PER_SIZE} here; "
            "run larger searches with campustwin fit-lease."
        )
    values["replications"] = int(seeds)
    try:
        targets = Targets(**values)
    except ValueError as exc:
        message = str(exc)
        for name, option, *_ in Targets.RANGES:  # "--sla: must be ..." -> "SLA availability: must be ..."
            message = message.replace(option + ":", TARGET_FIELDS[name] + ":")
        return message
    return dataclasses.asdict(targets)


class SavePanel(pn.viewable.Viewer):
    """Save the last run of the what-if (its text and its results) under a name."""

    def __init__(self, context: ConsoleContext, access: Access, **params):
        super().__init__(**params)
        self.context, self.access = context, access
        self._saved: tuple[str, list[Results]] | None = None
        self._saving = False
        self._default_name = ""
        self._name = pn.widgets.TextInput(name="Save as", placeholder="scenario name", width=220)
        self._button = pn.widgets.Button(name="Save to library", disabled=True, width=140)
        self._button.on_click(self._on_save)
        self._status = pn.pane.Markdown("", sizing_mode="stretch_width")
        if context.library is None:
            self._status.object = "This server keeps no library."

    def offer(self, text: str, runs: list[Results], name: str) -> None:
        """A run finished: it may now be saved (``runs``: one per seed, the what-if's own first)."""
        self._saved = (text, runs)
        self._button.disabled = self.context.library is None or not self.access.can(SAVE)
        # The default name is shown as the placeholder and used when the field is left empty; it
        # never goes into the field: the browser sends what is typed only when the field loses
        # focus, so a default written here could replace a name typed while the run finished.
        self._default_name = name
        self._name.placeholder = name

    async def _on_save(self, *_) -> None:
        if self._saved is None or self.context.library is None or self._saving:
            return  # a second click while saving saves nothing twice
        refused = self.access.refusal(SAVE)
        if refused:
            self._status.object = refused
            return
        text, runs = self._saved
        name = self._name.value.strip() or self._default_name
        self._button.disabled, self._saving = True, True
        self._status.object = "Saving…"
        try:
            ids, new = await asyncio.to_thread(self._save, name, text, runs)
        except LibraryError as exc:
            self._status.object = plain(str(exc))
        else:
            done = "Saved" if new else "Already saved as"
            self._status.object = (
                f"{done} **{plain(name)}** with {len(ids)} run{'s' * (len(ids) > 1)}. "
                f"[Open it in Runs](./runs?b=lib-{ids[0]})"
            )
        finally:
            self._button.disabled, self._saving = False, False

    def _save(self, name: str, text: str, runs: list[Results]) -> tuple[list[str], bool]:
        """Save under ``name`` unless these runs are in the library under it already (a second
        click on Save, or the same what-if run again from the cache): the same runs twice would
        count twice in the Runs page's bands."""
        library = self.context.library
        earlier = library.saved_runs(name, text, [int(r.kpis.get("seed", 0)) for r in runs])
        if earlier is not None:
            return earlier, False
        library.save_scenario(name, text, self.context.scenarios_dir, replace=False)
        return [library.save_run(name, results) for results in runs], True

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(self._name, self._button), self._status, sizing_mode="stretch_width")


class FitPanel(pn.viewable.Viewer):
    """Find the largest safe size of one of the what-if's leases, in the background."""

    def __init__(
        self, context: ConsoleContext, whatif: WhatIf, before: Callable[[], None], access: Access, **params
    ):
        super().__init__(**params)
        self.context, self.whatif, self._before, self.access = context, whatif, before, access
        self._handle: RunHandle | None = None
        self._lease = pn.widgets.Select(name="Lease", options=self._lease_names(), width=200)
        whatif.param.watch(lambda *_: setattr(self._lease, "options", self._lease_names()), "leases")
        # No bounds on the inputs: a widget's own bounds refused a value in the server's log while
        # the field kept showing it; checked_targets names what is wrong instead.
        self._sla = pn.widgets.FloatInput(name="SLA availability", value=0.99, step=0.001, width=130)
        self._confidence = pn.widgets.FloatInput(name="Confidence", value=0.95, step=0.05, width=110)
        self._slowdown = pn.widgets.FloatInput(name="Max internal slowdown", value=0.05, step=0.01, width=150)
        self._reps = pn.widgets.IntInput(name="Seeds per size", value=2, width=110)
        self._find = pn.widgets.Button(
            name="Find the largest lease", button_type="primary", width=180, disabled=not access.can(RUN)
        )
        self._find.on_click(self._on_find)
        self._cancel = pn.widgets.Button(name="Cancel search", disabled=True, width=130)
        self._cancel.on_click(lambda *_: self._handle and self._handle.cancel())
        self._progress = pn.indicators.Progress(value=0, max=100, visible=False, sizing_mode="stretch_width")
        self._status = pn.pane.Markdown(
            "Runs the optimiser on this what-if: each size is tried on several seeds. A size passes if "
            "the lease meets its SLA, internal training turnaround and the share of internal inference "
            "left short rise by at most the slowdown limit, and no other lease or hosted model falls "
            "below its SLA more often than without it. Product margin is the lease's revenue less its "
            "credits, energy and depreciation; the internal work it displaces is in the turnaround, "
            "not taken off it.",
            sizing_mode="stretch_width",
        )
        self._offers = pn.widgets.Tabulator(
            offers_frame([]), disabled=True, show_index=False, layout="fit_data_table", visible=False,
            formatters={c: {"type": "plaintext"} for c in ("site", "binds", "sizes tried")}
            | {c: NumberFormatter(format="0,0") for c in ("max GPUs", "revenue $", "product margin $")},
            sizing_mode="stretch_width", name="offers",
        )  # fmt: skip

    def close(self) -> None:
        """The session ended: stop a search nobody else shares."""
        if self._handle is not None:
            self._handle.cancel()

    def _lease_names(self) -> list[str]:
        return [str(r.get("name")) for r in self.whatif.leases if r.get("name")]

    async def _on_find(self, *_) -> None:
        if self._handle is not None:
            return
        refused = self.access.refusal(RUN)
        if refused:
            self._status.object = refused
            return
        self._before()  # the table's edits, not the last synced ones
        lease = self._lease.value
        if lease not in self._lease_names():
            self._status.object = "Add a lease to the Leases table first, then pick it here."
            return
        targets = checked_targets(
            self._sla.value, self._confidence.value, self._slowdown.value, self._reps.value
        )
        if isinstance(targets, str):  # a client can send any value, whatever the inputs' bounds
            self._status.object = plain(targets)
            return
        try:
            text = self.whatif.scenario_text(sales=True)
            self._handle = self.context.pool.submit_fit(text, self.context.scenarios_dir, lease, targets)
        except (PoolBusy, WhatIfError) as exc:
            self._status.object = plain(str(exc))
            return
        self._find.disabled, self._cancel.disabled = True, False
        self._progress.visible, self._progress.value = True, 0
        self._status.object = f"Searching sizes of **{plain(lease)}**…"
        try:
            while not self._handle.done():
                self._progress.value = int(100 * self._handle.progress)
                await asyncio.sleep(POLL_S)
            outcome = outcome_of(self._handle)
        finally:
            self._handle = None
            self._find.disabled, self._cancel.disabled = not self.access.can(RUN), True
            self._progress.visible = False
        if outcome.cancelled:
            self._status.object = "Search cancelled."
        elif outcome.problems:
            self._status.object = "The search could not run: " + plain("; ".join(outcome.problems[:5]))
        else:
            offers = outcome.offers or []
            self._offers.value = offers_frame(offers)
            self._offers.visible = True
            seeds = targets["replications"]
            # "in 95% of 2 seeds" meant nothing: with few seeds, say how many must meet it.
            must = math.ceil(targets["confidence"] * seeds - 1e-9)
            meeting = (
                f"{targets['sla']:g} availability on {must} of {seeds} seeds" if must < seeds
                else f"{targets['sla']:g} availability on {'every one' if seeds > 1 else 'the one'} of "
                f"{seeds} seed{'s' if seeds > 1 else ''}"
            ) + f", internal slowdown ≤ {targets['max_internal_slowdown']:.0%}"  # fmt: skip
            if any(o.max_gpus > 0 for o in offers):
                self._status.object = f"Largest **{plain(lease)}** meeting {meeting}:"
            else:  # a table of zeros under "Largest ... meeting" read as if 0 GPUs were an offer
                self._status.object = (
                    f"No size of **{plain(lease)}** meets {meeting}; the table says what bound each "
                    "search. Loosen a target, or try another start or site."
                )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._lease, self._sla, self._confidence, self._slowdown, self._reps),
            pn.Row(self._find, self._cancel),
            self._progress,
            self._status,
            self._offers,
            sizing_mode="stretch_width",
        )
