"""The What-if page: edit what is sold, run it beside its baseline, read the difference.

The page edits a :class:`~app.state.whatif.WhatIf`; *Run* sends the what-if and its baseline to
the server's :class:`~app.runs.RunPool` and awaits them without blocking the event loop, showing
their progress; *Cancel* stops them at their next progress report. A finished run writes the
what-if into the page URL, and opening such a URL reruns it (from the cache when it can).
"""

from __future__ import annotations

import asyncio
import functools
import urllib.parse

import pandas as pd
import panel as pn
import param

from app.context import ConsoleContext
from app.roles import ROLES, RUN
from app.runs import PoolBusy, RunHandle, outcome_of
from app.state.whatif import EVENT_COLUMNS, HOSTED_COLUMNS, LEASE_COLUMNS, WhatIf, WhatIfError
from app.uploads import UploadError, read_scenario_upload
from app.views import compare, sales
from app.views.inputs import checked_number, on_file
from app.views.markup import plain
from app.views.scroll import ScrollTarget
from app.views.series import SeriesFigures, band_label
from app.views.sla_reasons import sla_reasons_markdown
from app.views.url import query_args
from app.views.whatif_tables import edit_table, explain, horizon_notes, table_frame, table_rows
from app.views.whatif_tools import FitPanel, SavePanel
from twin.results import Results

POLL_S = 0.1
TABLES = {
    "leases": (LEASE_COLUMNS, "Leases"),
    "hosted": (HOSTED_COLUMNS, "Hosted models"),
    "events": (EVENT_COLUMNS, "Events"),
}


class WhatIfView(pn.viewable.Viewer):
    """The what-if editor, its run controls, and the comparison with the baseline."""

    whatif = param.ClassSelector(class_=WhatIf)
    status = param.String(default="Edit the leases and products, then Run.")

    def __init__(self, context: ConsoleContext, **params):
        super().__init__(whatif=WhatIf(context.scenarios_dir), **params)
        self.context = context
        self.access = context.access()
        if not self.access.can(RUN):  # Run and Open are greyed out: say why, once, up front
            who = " or ".join(role for role, can in ROLES.items() if RUN in can)
            self.status = (
                f"You are signed in as a {self.access.role}: you can look at scenarios and saved runs, "
                f"but running a what-if takes the {who} role."
            )
        self._handles: list[RunHandle] = []
        w = self.whatif
        self._base = pn.widgets.Select(name="Base scenario", options=list(w.choices), value=w.base, width=260)
        self._base.param.watch(self._on_base, "value")
        self._upload = pn.widgets.FileInput(
            accept=".yaml,.yml", width=260, disabled=not self.access.can(RUN), name="Open a scenario file"
        )
        on_file(self._upload, self._on_upload)
        self._sites = pn.widgets.MultiChoice.from_param(w.param.sites, name="Sites", width=260)
        # The ranges are in the labels.
        days_lo, days_hi = w.param.days.bounds
        reps_lo, reps_hi = w.param.replications.bounds
        # A refusal is said beside the fields (the status line can be below the fold) and stays
        # until a value is taken; the status line says it too.
        self._input_note = pn.pane.Markdown("", width=270, styles={"color": "#9a3412"}, margin=(0, 10))

        def report(message: str) -> None:
            self._input_note.object = message
            if message:
                self.status = message

        self._days = checked_number(w, "days", f"Days ({days_lo:,g}–{days_hi:,g})", report)
        self._seed = checked_number(w, "seed", "Seed (0 or more)", report)
        self._reps = checked_number(
            w, "replications", f"Seeds, Monte Carlo ({reps_lo}–{reps_hi})", report, 150
        )
        # 270 px: with their margins the sliders stay inside the 300 px controls column
        self._knobs = [
            pn.widgets.FloatSlider.from_param(
                w.param.training_scale, name="Training arrivals ×", step=0.1, end=4, width=270
            ),
            pn.widgets.FloatSlider.from_param(
                w.param.inference_scale, name="Inference peak ×", step=0.1, end=4, width=270
            ),
            pn.widgets.FloatSlider.from_param(
                w.param.failure_scale, name="Failure rates ×", step=0.5, end=20, width=270
            ),
            pn.widgets.Checkbox.from_param(w.param.physics, name="Power, cooling and weather"),
        ]
        self._tables = {key: self._table(key) for key in TABLES}
        w.param.watch(self._refresh_tables, list(TABLES))
        self._run = pn.widgets.Button(
            name="Run", button_type="primary", width=120, disabled=not self.access.can(RUN)
        )
        self._run.on_click(self._on_run)
        self._cancel = pn.widgets.Button(name="Cancel", disabled=True, width=120)
        self._cancel.on_click(self._on_cancel)
        self._progress = pn.indicators.Progress(value=0, max=100, visible=False, sizing_mode="stretch_width")
        self._status = pn.pane.Markdown(self.param.status, sizing_mode="stretch_width")
        self._problems = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self._outcome = ScrollTarget(height=0, margin=0, sizing_mode="stretch_width")  # results or problems
        # The comparison's components are part of the first page, hidden, and each run refreshes
        # them in place. Made later (onload), their new Bokeh models went out in one message and
        # the theme's styling of those models in others; Panel may write the second kind first,
        # and the browser then refused them ("reference p1717 isn't known"), in ~2 loads of 5.
        # A gap above the KPI cards: the optimiser card's shadow lay on their first row.
        self._results = pn.Column(
            *self._build_results(), visible=False, sizing_mode="stretch_width", margin=(18, 5, 5, 5)
        )
        self._save = SavePanel(context, self.access)
        self._fit = FitPanel(context, w, self._sync_from_tables, self.access)
        self._doc = pn.state.curdoc
        if pn.state.curdoc is not None:
            pn.state.onload(self._from_link)
            # A closed tab withdraws its runs at once (a run nobody else wants stops) and lets go
            # of its results; Bokeh then drops the session's document and everything it holds.
            pn.state.curdoc.on_session_destroyed(self._on_session_closed)

    # -- the editor -----------------------------------------------------------------------------

    def _table(self, key: str) -> pn.Column:
        columns, title = TABLES[key]
        table = edit_table(key, table_frame(getattr(self.whatif, key), columns), columns)
        add = pn.widgets.Button(name=f"Add {title.lower().rstrip('s')}", width=170)
        remove = pn.widgets.Button(name="Remove selected", width=150)
        add.on_click(lambda _: self._add_row(key))
        remove.on_click(lambda _: self._remove_rows(key))
        return pn.Column(
            pn.pane.Markdown(f"### {title}"), pn.Row(add, remove), table, sizing_mode="stretch_width"
        )

    def _grid(self, key: str) -> pn.widgets.Tabulator:
        return self._tables[key][2]

    def _sync_from_tables(self) -> None:
        updates = {key: table_rows(self._grid(key).value, TABLES[key][0]) for key in TABLES}
        with param.discard_events(self.whatif):
            self.whatif.param.update(**updates)

    def _add_row(self, key: str) -> None:
        self._sync_from_tables()
        maker = {
            "leases": self.whatif.new_lease,
            "hosted": self.whatif.new_hosted,
            "events": self.whatif.new_event,
        }
        setattr(self.whatif, key, [*getattr(self.whatif, key), maker[key]()])

    def _remove_rows(self, key: str) -> None:
        self._sync_from_tables()
        chosen = set(self._grid(key).selection)
        setattr(self.whatif, key, [r for i, r in enumerate(getattr(self.whatif, key)) if i not in chosen])

    def _refresh_tables(self, *events) -> None:
        for key, (columns, _) in TABLES.items():
            self._grid(key).value = table_frame(getattr(self.whatif, key), columns)

    def _on_upload(self, filename: str, raw: bytes) -> None:
        refused = self.access.refusal(RUN)
        if refused:
            self._show_problems([refused])
            return
        try:
            label, data = read_scenario_upload(filename, raw, self.context.sites_dir)
        except UploadError as exc:
            self.status = "The uploaded scenario was refused; nothing was changed."
            self._show_problems(exc.problems)
            return
        stem = self.whatif.add_upload(label, data)
        self._base.options = [*self.whatif.choices, *self.whatif.uploads]
        self._base.value = stem
        self._refresh_tables()
        self._problems.visible = False
        self.status = (
            f"Opened **{plain(label)}** (in this session only; save a run of it to keep it). Edit, then Run."
        )

    def _on_base(self, event) -> None:
        if event.new != self.whatif.base:
            self.whatif.load_base(event.new)
            self._refresh_tables()

    # -- running --------------------------------------------------------------------------------

    async def _from_link(self) -> None:
        query = query_args()
        if "base" not in query:
            return
        try:
            self.whatif.apply_query(query)
        except WhatIfError as exc:
            self._show_problems(str(exc).splitlines())  # one line per bad parameter
            return
        self._base.value = self.whatif.base
        self._refresh_tables()
        await self._on_run()

    async def _on_run(self, *_) -> None:
        if self._handles:
            return
        refused = self.access.refusal(RUN)  # checked here: a disabled button can still be clicked by a script
        if refused:
            self._show_problems([refused])
            return
        self._sync_from_tables()
        folder = self.context.scenarios_dir
        seeds = self.whatif.replication_seeds()
        try:
            texts = [self.whatif.scenario_text(sales=True), self.whatif.scenario_text(sales=False)]
            texts += [self.whatif.scenario_text(sales=True, seed=s) for s in seeds[1:]]
            for text in texts:  # one by one: a full pool refuses midway, and those taken are withdrawn
                self._handles.append(self.context.pool.submit(text, folder))
        except (PoolBusy, WhatIfError) as exc:
            for handle in self._handles:
                handle.cancel()
            self._handles = []
            self._show_problems([str(exc)])
            return
        self._problems.visible = False
        self._run.disabled, self._cancel.disabled = True, False
        self._progress.visible, self._progress.value = True, 0
        extra = f" on {len(seeds)} seeds" if len(seeds) > 1 else ""
        self.status = f"Running the what-if{extra} and its baseline…"
        try:
            while not all(h.done() for h in self._handles):
                self._progress.value = int(100 * sum(h.progress for h in self._handles) / len(self._handles))
                await asyncio.sleep(POLL_S)
            outcomes = [outcome_of(h) for h in self._handles]
        finally:
            self._handles = []
            self._run.disabled, self._cancel.disabled = not self.access.can(RUN), True
            self._progress.visible = False
        if any(o.cancelled for o in outcomes):
            self.status = "Cancelled. Nothing was changed; edit and Run again."
            return
        problems = [explain(p) for o in outcomes for p in o.problems]
        if problems:
            self.status = "The what-if could not run; fix the rows named below."
            self._show_problems(list(dict.fromkeys(problems)))
            return
        whatif, baseline = outcomes[0].results, outcomes[1].results
        replicates = [whatif, *(o.results for o in outcomes[2:])]
        cached = " (from the cache)" if all(o.cached for o in outcomes) else ""
        seeds_told = f"seeds {seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"
        self.status = (
            f"Ran **{plain(self.whatif.base)}** for {self.whatif.days:g} days, {seeds_told}{cached}. "
            f"Its [capacity](./capacity?run={outcomes[0].key}), [racks](./site?run={outcomes[0].key}) "
            f"and [network](./network?run={outcomes[0].key})."
        ) + horizon_notes(outcomes[0].results.events)
        if not self.whatif.leases and not self.whatif.hosted:
            # The baseline is the same scenario without sales: with none, the two runs are one.
            self.status += (
                " It sells nothing, so its baseline (the same without sales) is the same run and every "
                "card shows no change; events are in both. To see what an event does, save runs with and "
                "without it and compare them on the [Runs](./runs) page."
            )
        if pn.state.location is not None and not self.whatif.from_upload:  # an upload has no link
            pn.state.location.search = "?" + urllib.parse.urlencode(self.whatif.to_query())
        self._show(whatif, baseline, outcomes[0].key[:16], replicates)
        self._save.offer(texts[0], replicates, f"{self.whatif.base} what-if")

    def _on_session_closed(self, _session_context) -> None:
        for handle in self._handles:
            handle.cancel()
        self._fit.close()
        self._results.objects = []

    def _on_cancel(self, *_) -> None:
        for handle in self._handles:
            handle.cancel()
        self.status = "Cancelling…"

    def _show_problems(self, problems: list[str]) -> None:
        # Problems quote what the user typed (a tenant, a link): shown as text, never as markup.
        self._problems.object = "\n".join(f"- {plain(p)}" for p in problems[:20])
        self._problems.visible = True
        self._outcome.bring_into_view()

    def _build_results(self) -> list:
        """The comparison's components, made once; each run refreshes them in place."""
        self._cards = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[compare.CARD_CSS])
        self._sla = compare.readonly_table(
            compare.sla_table_frame(), "sla", compare.SLA_TEXT, compare.SLA_WIDTHS
        )
        self._sla_why = pn.pane.Markdown("", sizing_mode="stretch_width")
        # Every measure in view: at 320 px the last (training turnaround) needed a scroll.
        self._impact = compare.readonly_table(
            compare.impact_frame(), "impact", compare.IMPACT_TEXT, max_height=compare.IMPACT_HEIGHT_PX
        )
        self._log = compare.readonly_table(
            pd.DataFrame(columns=["time_h", "site", "kind", "subject", "detail"]),
            "events",
            ("site", "kind", "subject", "detail"),
        )
        self._waterfall = sales.Waterfall()
        self._series = SeriesFigures()
        return [
            self._cards,
            # The SLA table has eleven columns: the page's full width, or its figures are cut off.
            pn.Column(
                "### SLA per product: leases and hosted models",
                self._sla,
                self._sla_why,
                sizing_mode="stretch_width",
            ),
            pn.Row(
                pn.Column("### Internal work", self._impact, width=600),  # four columns, $1B in view
                pn.pane.Bokeh(self._waterfall.figure, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ),
            *(pn.pane.Bokeh(fig, sizing_mode="stretch_width") for fig in self._series.figures),
            pn.Column("### Event log", self._log, sizing_mode="stretch_width"),
        ]

    def _show(self, whatif: Results, baseline: Results, run_id: str, replicates: list[Results]) -> None:
        # Shown before the tables get their rows: a Tabulator given rows while hidden could lay
        # them out in no height and show none (the first run's SLA table, now and then, under load).
        self._results.visible = True
        self._outcome.bring_into_view()
        bands = compare.kpi_bands(replicates) if len(replicates) > 1 else None
        self._cards.object = compare.cards_html(
            whatif, baseline, run_id, bands, band_name=band_label(len(replicates))
        )
        self._sla.value = compare.sla_table(whatif)
        self._sla_why.object = sla_reasons_markdown(whatif)
        self._impact.value = compare.impact_table(whatif, baseline)
        # Panel locks the document for its own components; the Bokeh sources below are changed
        # directly, which Bokeh allows only in a callback that holds the document's lock.
        plots = functools.partial(self._update_plots, whatif, baseline, replicates)
        if self._doc is not None:
            self._doc.add_next_tick_callback(plots)
        else:
            plots()
        self._log.value = whatif.events.tail(500).round({"time_h": 2}).reset_index(drop=True)

    def _update_plots(self, whatif: Results, baseline: Results, replicates: list[Results]) -> None:
        self._waterfall.update(whatif.kpis)
        self._series.update(whatif, baseline, replicates)

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Column(
            self._base,
            pn.pane.Markdown("or open a scenario file:", margin=(0, 10)),
            self._upload,
            self._sites,
            pn.Row(self._days, self._seed),
            self._reps,
            self._input_note,
            *self._knobs,
            pn.Row(self._run, self._cancel),
            width=300,
        )
        editor = pn.Column(*self._tables.values(), sizing_mode="stretch_width")
        return pn.Column(
            pn.Row(controls, editor, sizing_mode="stretch_width"),
            self._outcome,
            self._progress,
            self._status,
            self._problems,
            # A run's results right under its status, before the tools that act on them.
            self._results,
            pn.Card(self._save, title="Save to the library", collapsed=False, sizing_mode="stretch_width"),
            pn.Card(self._fit, title="Lease optimiser", collapsed=True, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
