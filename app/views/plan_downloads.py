"""The Site page's plan downloads: the hall on show, or the whole campus, in every plan format.

Planners take plans to CAD, to print and to the DCIM system (NetBox). A hall is what the page
draws, but a NetBox import or a CAD base drawing is usually the whole campus: so the buttons
write either, as the scope switch says. A hall is written in well under a second; the whole
Louisiana campus takes about a second in most formats and ~9 s as DXF (13 MB, every rack a
block). The file is written in a worker thread (the button's callback is a coroutine), so the
server goes on answering every other tab meanwhile, and a line under the buttons says what is
being written and then what was.

Racks are coloured as on screen, from the run in the URL when there is one; the file name says
the campus, the hall (or ``campus``) and, coloured from a run, its scenario and seed, so two
plans never overwrite each other in a downloads folder.
"""

from __future__ import annotations

import asyncio
import io
import re
import tempfile
import time
from pathlib import Path

import panel as pn
import param

from app.context import ConsoleContext
from app.roles import EXPORT
from app.views.markup import plain
from layouts.export import ExportError, export, safe_output
from twin.campus import Campus
from twin.results import Results

#: Plan downloads: format -> (button label, file suffix).
DOWNLOADS = {
    "svg": ("SVG plan", ".svg"),
    "pdf": ("PDF plan", ".pdf"),
    "dxf": ("DXF for CAD", ".dxf"),
    "csv": ("Rack CSV", ".csv"),
    "netbox": ("NetBox bundle", ".zip"),
}
SCOPES = {"Hall shown": "hall", "Whole campus": "campus"}


def plan_file_name(
    campus: str | None, hall: str | None, results: Results | None, suffix: str, run_name: str | None = None
) -> str:
    """``Demo-A_H1.svg`` for a hall, ``Demo-campus.svg`` for the whole campus (``hall`` None);
    coloured from a run that covers the campus, its name (``run_name``: a saved run's in the
    library, else its scenario's) and seed too."""
    if not campus:
        return "plan" + suffix
    name = f"{campus}-{hall if hall is not None else 'campus'}"
    if results is not None:
        kpis = results.kpis
        name += f"-{run_name or kpis.get('scenario', 'run')}-seed{kpis.get('seed', '')}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120] + suffix


def write_plan(
    campus: Campus, fmt: str, name: str, hall: str | None, color: str, results: Results | None
) -> bytes:
    """The plan file's bytes, written in a scratch folder that is gone when this returns."""
    with tempfile.TemporaryDirectory(prefix="campustwin-plan-") as tmp:
        # Campus and hall names come from a site file: the name is checked to stay in tmp.
        out = safe_output(Path(tmp), name)
        return export(campus, fmt, out, hall, color, results).read_bytes()


class PlanDownloads(pn.viewable.Viewer):
    """The scope switch, one button per format, and the line saying what was written.

    ``selection`` gives the campus name, the hall on show and the colouring; ``run`` the results
    the page colours by, for the campus named (None when the run does not cover it).
    """

    scope = param.Selector(default="hall", objects=list(SCOPES.values()))
    status = param.String(default="")

    def __init__(
        self, context: ConsoleContext, selection, run, watch_on: param.Parameterized, run_name=None, **params
    ):
        super().__init__(**params)
        self.context = context
        self.access = context.access()
        self._selection = selection
        self._run = run
        self._run_name = run_name or (lambda: None)  # a saved run's library name, for the file names
        self._buttons = {fmt: self._button(fmt) for fmt in DOWNLOADS}
        # File names follow what is on show; set when it changes, read when a button is clicked.
        # A line about a file written for another campus, hall or scope would read as this one's.
        watch_on.param.watch(lambda *_: self._changed(), ["campus", "hall"])
        self.param.watch(lambda *_: self._changed(), "scope")
        self._name_buttons()

    def _button(self, fmt: str) -> pn.widgets.FileDownload:
        label, _ = DOWNLOADS[fmt]

        async def callback() -> io.BytesIO:  # a coroutine: Panel then awaits it off the click
            return await self._export(fmt)

        return pn.widgets.FileDownload(
            callback=callback, filename="plan", label=label, width=150, disabled=not self.access.can(EXPORT)
        )

    def file_name(self, fmt: str) -> str:
        campus, hall, _ = self._selection()
        return plan_file_name(
            campus,
            hall if self.scope == "hall" else None,
            self._run(campus),
            DOWNLOADS[fmt][1],
            self._run_name(),
        )

    def _changed(self) -> None:
        self.status = ""
        self._name_buttons()

    def _name_buttons(self) -> None:
        for fmt, button in self._buttons.items():
            button.filename = self.file_name(fmt)

    async def _export(self, fmt: str) -> io.BytesIO:
        refused = self.access.refusal(EXPORT)  # a disabled button can still be clicked by a script
        if refused:
            self.status = plain(refused)
            raise PermissionError(refused)
        campus_name, hall, color = self._selection()
        name = self.file_name(fmt)
        whole = self.scope == "campus"
        campus = self.context.campus(campus_name)
        self.status = f"Writing {plain(name)}" + (" (the whole campus: a few seconds)…" if whole else "…")
        started = time.perf_counter()
        try:
            data = await asyncio.to_thread(
                write_plan, campus, fmt, name, None if whole else hall, color, self._run(campus_name)
            )
        except ExportError as exc:
            self.status = plain(str(exc))
            raise
        seconds = time.perf_counter() - started
        took = f"in {seconds:.1f} s" if seconds >= 0.1 else "in under 0.1 s"
        self.status = f"Wrote **{plain(name)}**: {_size(len(data))} {took}."
        return io.BytesIO(data)

    def __panel__(self) -> pn.viewable.Viewable:
        scope = pn.widgets.RadioButtonGroup.from_param(self.param.scope, options=SCOPES, name="Download")
        # The toggle sets what the downloads cover, not what the drawing shows: said before it.
        said = pn.pane.Markdown("Downloads cover:", margin=(12, 4, 0, 10))
        return pn.Column(
            pn.FlexBox(said, scope, *self._buttons.values()),  # wraps in a narrow window rather than overflow
            pn.pane.Markdown(self.param.status, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:,.1f} MB" if n_bytes >= 1e6 else f"{max(n_bytes / 1e3, 0.1):,.1f} kB"
