"""The Site page: the racks of one data hall as a floor grid, coloured by tenant, power or utilisation.

A hall is drawn as its floor plan places it (:mod:`layouts.geometry`, the plan the page's
downloads export): rows in aisle pairs, north at the top, in rack widths. Each rack is one
rectangle coloured by the tenant holding it at the end of a run, by its power envelope (kW per
rack, the figure that decides where liquid cooling is needed) or by its mean utilisation over the
run. Tenants and utilisation come from the run named in the page URL (``?run=KEY``); without one
the racks are shown as the owner's own (``internal``) and utilisation is not known.

The drawing is :mod:`app.views.site_grid`; the run helpers here are pure (no Panel), so the
Network page shares them and the tests check them without a browser.
"""

from __future__ import annotations

import pandas as pd
import panel as pn
import param

from app.context import ConsoleContext, site_inventories
from app.roles import ADMIN
from app.uploads import UploadError, store_site_upload
from app.views.inputs import on_file
from app.views.markup import plain
from app.views.plan_downloads import PlanDownloads
from app.views.site_grid import grid_plot, hall_floor, hall_grid, hall_summary
from app.views.url import missing_run, query_args, run_named
from layouts.colour import run_tenancy
from twin.campus import Campus
from twin.results import Results

COLOR_BY = {
    "tenant": "Tenant",
    "kw": "Power density (kW per rack)",
    "utilisation": "Utilisation (mean over run)",
}


# ------------------------------------------------------------------------------- run helpers


def run_from_query(context: ConsoleContext, args: dict[str, str]) -> tuple[Results | None, str, str | None]:
    """The run named by ``?run=KEY`` (None if none), a line telling which, and its library name
    if it is a saved run (two saves of one what-if share their scenario's name)."""
    key = args.get("run", "")[:64]
    if not key:
        return None, "No run in the URL (`?run=KEY`): racks are shown with no tenants.", None
    results = context.run_results(key)
    if results is None:
        return None, f"{missing_run(key)}: racks are shown with no tenants.", None
    saved = context.saved_run_name(key)
    told = f"Tenants and utilisation from {run_named(saved, results)} (leases and hosted models at the end of the run)."
    return results, told, saved


def run_campuses(results: Results | None) -> list[str]:
    """The campuses a run covers, from its rack names (none without a run)."""
    names = results.rack_names if results is not None else []
    return sorted({name.split("/", 1)[0] for name in names})


def rack_tenancy(campus: Campus, results: Results | None) -> pd.DataFrame:
    """Lease, tenant and mean utilisation (0..1, NaN without a run) of each rack of the campus."""
    tenant, lease, utilisation = run_tenancy(
        campus.name, [campus.rack_name(r) for r in range(campus.racks)], results
    )
    return pd.DataFrame({"lease": lease, "tenant": tenant, "utilisation": utilisation})


class RunTenancy:
    """The run a page colours its racks by (``?run=KEY``), and each campus's rack tenancy from it."""

    def __init__(self, context: ConsoleContext, args: dict[str, str]):
        self.results, self.note, self.saved_name = run_from_query(context, args)
        self._by_campus: dict[str, pd.DataFrame] = {}
        self._campuses: list[str] | None = None

    def campuses(self) -> list[str]:
        """The campuses the run covers (none without a run)."""
        if self._campuses is None:
            self._campuses = run_campuses(self.results)
        return self._campuses

    def covers(self, campus_name: str) -> bool:
        return campus_name in self.campuses()

    def first_campus(self, names: list[str], asked: str | None) -> str | None:
        """The campus a page opens on: the one its URL asks for, else the run's first, else the first."""
        if asked in names:
            return asked
        covered = [name for name in names if self.covers(name)]
        return (covered or names or [None])[0]

    def note_for(self, campus: Campus) -> str:
        """The page's line about the run, for the campus on show (a run may not cover it)."""
        covered = self.campuses()
        if self.results is None or campus.name in covered:
            return self.note
        return (
            f"The run in the URL covers {plain(', '.join(covered))}, not {plain(campus.name)}: "
            "its racks are shown with no tenants."
        )

    def of(self, campus: Campus) -> pd.DataFrame:
        if campus.name not in self._by_campus:
            self._by_campus[campus.name] = rack_tenancy(campus, self.results)
        return self._by_campus[campus.name]


# ------------------------------------------------------------------------------------ the view


class SiteView(pn.viewable.Viewer):
    """A hall's rack grid with its colour choice and summary table; state from ``?campus=&hall=&color=``."""

    campus = param.Selector(objects=[])
    hall = param.Selector(objects=[])
    color = param.Selector(default="tenant", objects=list(COLOR_BY))

    def __init__(self, context: ConsoleContext, **params):
        super().__init__(**params)
        self.context = context
        self.access = context.access()
        self._files = context.site_files()
        args = query_args()
        self._run = RunTenancy(context, args)
        names = list(self._files)
        self.param.campus.objects = names
        self._syncing = True
        try:
            self.campus = self._run.first_campus(names, args.get("campus"))
            self._fill_halls(args.get("hall"))
            if args.get("color") in COLOR_BY:
                self.color = args["color"]
        finally:
            self._syncing = False
        self._run_note = pn.pane.Markdown(self._run.note, sizing_mode="stretch_width")
        self._note = pn.pane.Markdown("", sizing_mode="stretch_width")
        # No sizing mode: the drawing has its own size, one scale for both axes
        # (site_grid.true_scale); a stretched pane widened the figure and drew racks out of shape.
        self._plot = pn.pane.HoloViews(None, linked_axes=False)
        self._table = pn.pane.DataFrame(None, index=False, width=760)
        self._widgets = pn.Row(
            pn.widgets.Select.from_param(self.param.campus, name="Campus", width=200),
            pn.widgets.Select.from_param(self.param.hall, name="Hall", width=160),
            pn.widgets.Select.from_param(
                self.param.color, name="Colour by", width=240, options=_color_options()
            ),
        )
        self._downloads = PlanDownloads(
            context, lambda: (self.campus, self.hall, self.color), self._run_covering, watch_on=self,
            run_name=lambda: self._run.saved_name,
        )  # fmt: skip
        self._uploads = pn.Column()
        if self.access.can(ADMIN):  # admins edit the sites; nobody else gets the widget
            upload = pn.widgets.FileInput(accept=".yaml,.yml", name="Add a site file", width=260)
            on_file(upload, self._on_site_upload)
            self._upload_status = pn.pane.Markdown("", sizing_mode="stretch_width")
            self._uploads.objects = ["Add a site file (admins):", upload, self._upload_status]
        self.param.watch(self._on_change, ["campus", "hall", "color"])
        self._draw()

    def _run_covering(self, campus_name: str | None) -> Results | None:
        """The page's run, if it covers the campus (else its racks are shown with no tenants)."""
        return self._run.results if campus_name and self._run.covers(campus_name) else None

    def _on_site_upload(self, filename: str, raw: bytes) -> None:
        refused = self.access.refusal(ADMIN)
        if refused:
            self._upload_status.object = plain(refused)
            return
        try:
            path = store_site_upload(filename, raw, self.context.sites_dir, set(self.context.site_files()))
        except UploadError as exc:
            self._upload_status.object = "\n".join(f"- {plain(p)}" for p in exc.problems[:20])
            return
        self._upload_status.object = f"Added **{plain(path.name)}**; reload the page to see it."

    def _fill_halls(self, wanted: str | None = None) -> None:
        halls = self.context.campus(self.campus).hall_names if self.campus else []
        self.param.hall.objects = halls
        keep = wanted if wanted in halls else (self.hall if self.hall in halls else None)
        self.hall = keep or (halls[0] if halls else None)

    def _on_change(self, event: param.parameterized.Event) -> None:
        if self._syncing:
            return
        if event.name == "campus":
            self._syncing = True
            try:
                self._fill_halls()
            finally:
                self._syncing = False
        if pn.state.location is not None:  # update_query keeps run= and the other pages' keys
            pn.state.location.update_query(campus=self.campus, hall=self.hall, color=self.color)
        self._draw()

    def _draw(self) -> None:
        if not self.campus or self.hall is None:
            self._note.object = "No site files in the sites folder."
            self._plot.object, self._table.object = None, None
            return
        campus, plan = self.context.campus_with_plan(self.campus)
        hall = campus.hall_names.index(self.hall)
        grid = hall_grid(campus, hall, plan)
        kw_max = float(campus.rack_max_kw.max()) if campus.racks else None
        floor = hall_floor(campus, hall, plan)
        self._plot.object = grid_plot(grid, self._run.of(campus), self.color, kw_max, floor)
        self._run_note.object = self._run.note_for(campus)
        table = hall_summary(campus, hall)
        numbers = ["racks", "GPUs", "IT at full draw (kW)"]
        self._table.object = table.assign(**{c: table[c].map("{:,.0f}".format) for c in numbers})
        envelope = float(campus.hall_it_capacity_kw[hall])
        note = (
            f"IT envelope of the hall: {envelope:,.0f} kW. Rack cells: {len(grid):,}. "
            "The dark line along a row marks its racks' fronts, on the cold-aisle side."
        )
        if self.color == "utilisation" and self._run.results is None:
            note += " Utilisation needs a run (`?run=KEY`): racks are shown grey."
        self._note.object = note

    def __panel__(self) -> pn.viewable.Viewable:
        table, problems = site_inventories(self.context.sites_dir)
        campuses = pn.widgets.Tabulator(table, disabled=True, show_index=False, name="sites")
        parts: list = ["### Campuses in the sites folder", campuses]
        if problems:
            parts.append(pn.pane.Alert("\n".join(plain(p) for p in problems), alert_type="danger"))
        return pn.Column(
            *parts,
            "### Hall",
            self._widgets,
            self._run_note,
            self._downloads,
            self._plot,
            self._note,
            self._table,
            self._uploads,
            sizing_mode="stretch_width",
        )


def _color_options() -> dict[str, str]:
    return {label: key for key, label in COLOR_BY.items()}
