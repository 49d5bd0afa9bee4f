"""The Runs page: the scenario library, and two saved runs side by side.

Lists every run the library holds (:mod:`app.library`): its scenario, seed, status, when it
finished, the code that produced it and its headline KPIs. Two runs picked as *A* and *B* are
compared with the What-if page's components: KPI cards with B's change from A, internal work
of both, B's SLA table, and the series of both overlaid. A saved run opens in the Capacity,
Site and Network pages as ``?run=lib-ID``. Scenarios can be renamed, downloaded and deleted.

``?b=lib-ID`` preselects run B: the What-if page's *Save* links here that way. ``?a=lib-ID&b=lib-ID``
(what the page's URL says after *Compare*) opens with the comparison shown; an ID may be shortened
to its first 8+ characters, as the command line prints it.
"""

from __future__ import annotations

import asyncio
import functools
import time

import pandas as pd
import panel as pn

from app.context import ConsoleContext
from app.library import DONE, LibraryError
from app.roles import SAVE
from app.scenario_diff import MAX_ROWS, input_differences
from app.uploads import file_stem
from app.views import compare, sales
from app.views.markup import plain
from app.views.series import SeriesFigures
from app.views.site import run_campuses
from app.views.sla_reasons import sla_reasons_markdown
from app.views.url import query_args

CONFIRM_AFTER_S = 0.6  # a second click sooner than this is a double-click, not a confirmation

RUN_COLUMNS = [
    "run",
    "scenario",
    "seed",
    "status",
    "finished",
    "revenue $",
    "margin $",
    "utilisation %",
    "code",
]


def runs_frame(rows: list[dict]) -> pd.DataFrame:
    """The library's runs as the table shows them, newest first."""
    out = []
    for row in reversed(rows):
        money = sales.sales_money(row["kpis"]) if row["kpis"] else {}
        out.append(
            {
                "run": row["id"][:12],
                "scenario": row["name"],
                "seed": row["seed"],
                "status": row["status"],
                "finished": (row["finished_at"] or "")[:19].replace("T", " "),
                "revenue $": round(money["revenue"]) if money else None,
                "margin $": round(money["margin"]) if money else None,
                "utilisation %": round(100 * row["kpis"]["utilization"], 1)
                if "utilization" in row["kpis"]
                else None,
                "code": row["code_version"],
            }
        )
    return pd.DataFrame(out, columns=RUN_COLUMNS)


def run_label(row: dict) -> str:
    return f"{row['name']} · seed {row['seed']} · {row['id'][:8]}"


def different_campuses(results_a, results_b) -> str:
    """A warning when two runs cover different campuses: their changes are not the effect of a change."""
    if results_a is None:
        return ""
    a, b = run_campuses(results_a), run_campuses(results_b)
    if a == b:
        return ""
    return (
        f" **Note:** run A covers {plain(', '.join(a))} and run B {plain(', '.join(b))}: the changes "
        "below compare different campuses, not one change to the same ones."
    )


INPUT_COLUMNS = ["input", "run A", "run B"]
INPUT_WIDTHS_PX = {"input": 300, "run A": 420, "run B": 420}  # 1,140 px: a laptop's page


def inputs_compared(library, row_a: dict, row_b: dict) -> tuple[pd.DataFrame, str]:
    """What runs A and B were given differently (:mod:`app.scenario_diff`), and a sentence on it."""
    found = [library.run_inputs(row["id"]) for row in (row_a, row_b)]
    gone = [name for name, inputs in zip(("A", "B"), found, strict=True) if inputs is None]
    if gone:
        runs_told = " and ".join(f"run {g}" for g in gone)
        return pd.DataFrame(columns=INPUT_COLUMNS), (
            f"The scenario of {runs_told} was saved again with other text after the run, and the library "
            "keeps a scenario's latest text only: its inputs cannot be listed."
        )
    rows = input_differences(
        (*found[0], row_a["seed"]),
        (*found[1], row_b["seed"]),
    )
    if row_a["code_version"] != row_b["code_version"]:
        rows.append(("campustwin code version", row_a["code_version"], row_b["code_version"]))
    if not rows:
        return pd.DataFrame(columns=INPUT_COLUMNS), (
            "The two runs had the same inputs (scenario, seed, site folder) and code: the twin is "
            "deterministic, so their results are the same."
        )
    more = f" The first {MAX_ROWS} are listed of {len(rows):,}." if len(rows) > MAX_ROWS else ""
    told = f"{len(rows)} input{'s' if len(rows) > 1 else ''} differ{'s' if len(rows) == 1 else ''}.{more}"
    if row_a["seed"] != row_b["seed"] and len(rows) > 1:
        told += (
            " The seeds differ too: part of every change below is chance, not the other inputs; "
            "compare runs of one seed, or a what-if's Monte Carlo seeds."
        )
    return pd.DataFrame(rows[:MAX_ROWS], columns=INPUT_COLUMNS), told


def _one_run(want: str | None, ids: list[str]) -> str | None:
    """The run whose id is ``want`` or starts with it (8+ characters, one run only)."""
    if not want or len(want) < 8:
        return None
    found = [i for i in ids if i.startswith(want)]
    return found[0] if len(found) == 1 else None


class RunsView(pn.viewable.Viewer):
    """The library's runs, a comparison of two, and the scenarios' rename, download and delete."""

    def __init__(self, context: ConsoleContext, **params):
        super().__init__(**params)
        self.context = context
        self.access = context.access()
        self._rows: list[dict] = []
        self._table = pn.widgets.Tabulator(
            runs_frame([]), disabled=True, show_index=False, layout="fit_data_table", height=260,
            formatters={c: {"type": "plaintext"} for c in ("run", "scenario", "status", "code")},
            sizing_mode="stretch_width", name="runs",
        )  # fmt: skip
        self._a = pn.widgets.Select(name="Run A (before)", width=340)
        self._b = pn.widgets.Select(name="Run B (after)", width=340)
        self._compare = pn.widgets.Button(name="Compare", button_type="primary", width=120)
        self._compare.on_click(self._on_compare)
        self._refresh_button = pn.widgets.Button(name="Refresh", width=100)
        self._refresh_button.on_click(lambda *_: self._refresh())
        self._status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._scenario = pn.widgets.Select(name="Scenario", width=260)
        self._new_name = pn.widgets.TextInput(name="New name", width=220)
        self._rename = pn.widgets.Button(name="Rename", width=100, disabled=not self.access.can(SAVE))
        self._rename.on_click(self._on_rename)
        self._delete = pn.widgets.Button(
            name="Delete", button_type="danger", width=100, disabled=not self.access.can(SAVE)
        )
        self._delete.on_click(self._on_delete)
        self._delete_armed: tuple[str, float] | None = None  # (scenario, when) of a first click
        self._download = pn.widgets.FileDownload(
            callback=self._scenario_yaml, filename="scenario.yaml", label="Download YAML", width=150
        )
        self._scenario.param.watch(self._on_pick_scenario, "value")
        self._manage_status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._cards = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[compare.CARD_CSS])
        self._impact = compare.readonly_table(
            compare.impact_frame(names=("run A", "run B")), "impact", compare.IMPACT_TEXT,
            max_height=compare.IMPACT_HEIGHT_PX,
        )  # fmt: skip
        self._sla = compare.readonly_table(
            compare.sla_table_frame(), "sla", compare.SLA_TEXT, compare.SLA_WIDTHS
        )
        self._sla_why = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._series = SeriesFigures(labels=("run B", "run A"), bands=False)
        # Every column of fixed width, so a long value (a hosted model's whole demand curve) wraps
        # in its cell: fitted to its text, run A took the page and run B was cut off.
        self._inputs = compare.readonly_table(
            pd.DataFrame(columns=INPUT_COLUMNS), "inputs", tuple(INPUT_COLUMNS), INPUT_WIDTHS_PX
        )
        self._inputs_note = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._result = pn.Column(
            pn.Column(
                "### Inputs that differ (A → B)", self._inputs_note, self._inputs, sizing_mode="stretch_width"
            ),
            self._cards,
            # One above the other, as on the What-if page: the SLA table's columns need the width.
            pn.Column(
                "### SLA per product: leases and hosted models (run B)",
                self._sla,
                self._sla_why,
                sizing_mode="stretch_width",
            ),
            pn.Column("### Internal work (A → B)", self._impact, width=640),  # alone here: room for $1B
            *(pn.pane.Bokeh(fig, sizing_mode="stretch_width") for fig in self._series.figures),
            visible=False,
            sizing_mode="stretch_width",
        )
        self._doc = pn.state.curdoc
        if context.library is None:
            self._status.object = "This server keeps no library."
        else:
            args = query_args()
            self._refresh(args)
            wanted = [args.get(k, "").removeprefix("lib-") for k in ("a", "b")]
            if all(wanted):  # a shared link shows its comparison, not just the picks
                picked = [self._a.value or "", self._b.value or ""]
                if all(_one_run(w, [p]) for w, p in zip(wanted, picked, strict=True)):
                    if self._doc is not None:
                        pn.state.onload(self._on_compare)
                else:
                    self._status.object = (
                        "The link's runs are not both in the library (deleted, or the link is cut short); "
                        "pick two runs and Compare."
                    )

    # -- the list -------------------------------------------------------------------------------

    def _refresh(self, args: dict[str, str] | None = None) -> None:
        library = self.context.library
        if library is None:
            return
        self._rows = library.runs()
        self._table.value = runs_frame(self._rows)
        done = {run_label(r): r["id"] for r in reversed(self._rows) if r["status"] == DONE}
        keep_a, keep_b = self._a.value, self._b.value
        self._a.options, self._b.options = dict(done), dict(done)
        ids = list(done.values())
        args = args or {}
        want_b = args.get("b", "").removeprefix("lib-") or keep_b
        want_a = args.get("a", "").removeprefix("lib-") or keep_a
        want_b, want_a = _one_run(want_b, ids), _one_run(want_a, ids)
        self._b.value = want_b or (ids[0] if ids else None)
        others = [i for i in ids if i != self._b.value]
        self._a.value = want_a or (others[0] if others else self._b.value)
        names = [s["name"] for s in library.scenarios()]
        self._scenario.options = names
        if self._scenario.value not in names:
            self._scenario.value = names[0] if names else None
        interrupted = sum(r["status"] == "interrupted" for r in self._rows)
        self._status.object = (
            f"{len(self._rows)} runs of {len(names)} scenarios"
            + (
                f"; {interrupted} interrupted (a server stopped while saving them; run them again)"
                if interrupted
                else ""
            )
            + "."
            if self._rows
            else "The library is empty: run a what-if and save it."
        )

    # -- comparing ------------------------------------------------------------------------------

    async def _on_compare(self, *_) -> None:
        a, b = self._a.value, self._b.value
        if not b:
            self._status.object = "Save a run first (What-if page, *Save to the library*)."
            return
        self._compare.disabled = True
        self._status.object = "Loading the runs…"
        try:
            results_b = await asyncio.to_thread(self.context.run_results, f"lib-{b}")
            results_a = await asyncio.to_thread(self.context.run_results, f"lib-{a}") if a else None
            rows = {r["id"]: r for r in self._rows}
            inputs = (
                await asyncio.to_thread(inputs_compared, self.context.library, rows[a], rows[b])
                if a and a in rows and b in rows
                else None
            )
        finally:
            self._compare.disabled = False
        if results_b is None or (a and results_a is None):
            self._status.object = "That run is no longer in the library; Refresh and pick another."
            return
        self._result.visible = True  # before the tables get rows (see WhatIfView._show)
        self._cards.object = compare.cards_html(results_b, results_a, f"lib-{b}", versus="run A")
        self._impact.value = compare.impact_table(results_b, results_a, ("run A", "run B"))
        self._sla.value = compare.sla_table(results_b)
        self._sla_why.object = sla_reasons_markdown(results_b)
        frame, told = inputs if inputs is not None else (pd.DataFrame(columns=INPUT_COLUMNS), "")
        self._inputs.value, self._inputs.visible = frame, len(frame) > 0
        self._inputs_note.object = told  # the page's own words: no user text in it
        update = functools.partial(self._series.update, results_b, results_a)
        if self._doc is not None:  # Bokeh sources change only under the document's lock
            self._doc.add_next_tick_callback(update)
        else:
            update()
        links = " · ".join(
            f"[{label}](./{page}?run=lib-{b})" for page, label in (("capacity", "capacity"), ("site", "racks"),
                                                                    ("network", "network"))
        )  # fmt: skip
        self._status.object = f"Run B against run A. Run B's {links}." + different_campuses(
            results_a, results_b
        )
        if pn.state.location is not None:
            pn.state.location.search = f"?a=lib-{a}&b=lib-{b}"

    # -- scenarios ------------------------------------------------------------------------------

    def _disarm_delete(self) -> None:
        if self._delete_armed is not None:
            self._delete_armed = None
            self._delete.name = "Delete"
            self._manage_status.object = ""

    def _on_pick_scenario(self, event) -> None:
        self._disarm_delete()  # a confirmation names one scenario: never delete another
        self._new_name.value = event.new or ""
        self._download.filename = f"{file_stem(event.new or '', 'scenario')}.yaml"

    def _scenario_yaml(self):
        import io

        if not self._scenario.value or self.context.library is None:
            return io.StringIO("")
        found = self.context.library.scenario(self._scenario.value)
        # Its site and trace paths are relative: saved elsewhere, the file would not find them.
        where = str(found["folder"]).replace("\n", " ")
        return io.StringIO(f"# site and trace paths below are relative to {where}\n{found['text']}")

    def _on_rename(self, *_) -> None:
        refused = self.access.refusal(SAVE)
        if refused:
            self._manage_status.object = refused
            return
        old, new = self._scenario.value, self._new_name.value.strip()
        if not old or new == old:
            return
        try:
            self.context.library.rename(old, new)
        except LibraryError as exc:
            self._manage_status.object = plain(str(exc))
            return
        self._manage_status.object = f"Renamed to **{plain(new)}**."
        self._refresh()
        self._scenario.value = new

    def _on_delete(self, *_) -> None:
        """Delete on a second click, for the scenario the first one named.

        Runs are not undone, so the confirmation holds only for the scenario it names (picking
        another disarms it) and only from :data:`CONFIRM_AFTER_S` on: a double-click is one click.
        """
        refused = self.access.refusal(SAVE)
        if refused:
            self._manage_status.object = refused
            return
        name = self._scenario.value
        if not name:
            return
        armed = self._delete_armed
        if armed is None or armed[0] != name:
            self._delete_armed = (name, time.monotonic())
            self._delete.name = "Confirm delete"
            self._manage_status.object = f"Click again to delete **{plain(name)}** and all its runs."
            return
        if time.monotonic() - armed[1] < CONFIRM_AFTER_S:
            return  # the second click of a double-click
        self._disarm_delete()
        try:
            self.context.library.delete(name)
        except LibraryError as exc:
            self._manage_status.object = plain(str(exc))
            return
        self._manage_status.object = f"Deleted **{plain(name)}** and its runs."
        self._refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._refresh_button, self._status, sizing_mode="stretch_width"),
            self._table,
            pn.Row(self._a, self._b, self._compare),
            self._result,
            pn.Card(
                pn.Row(self._scenario, self._new_name, self._rename, self._download, self._delete),
                self._manage_status,
                title="Scenarios",
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
