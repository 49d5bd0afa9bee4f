"""The What-if page's editable tables: rows to frames and back, and problems told as a row.

The page edits leases, hosted models and events in Tabulator tables. These helpers turn the
what-if's rows into the frames the tables show and the tables' frames back into rows, and tell a
problem of the generated scenario as the table, row and column to fix.
"""

from __future__ import annotations

import math
import re
from typing import get_args

import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import NumberEditor, NumberFormatter

from app.state.whatif_columns import EVENT_COLUMNS, HOSTED_COLUMNS, LEASE_COLUMNS
from app.views.compare import SCROLLBAR_CSS
from app.views.markup import plain
from twin.scenario_spec import Event, Lease

#: Columns of the users' own text (names): wrapped in their cells, never cut off.
FREE_TEXT_COLUMNS = ("name", "tenant", "model", "lease")


def wrapped_text(columns: dict) -> dict[str, dict]:
    """Formatters that wrap free-text columns in their cells.

    Tabulator's textarea formatter escapes HTML, as the plaintext one does, and wraps the text at
    the column's width, so a lease name longer than its column is read whole on two lines; a hover
    tooltip instead would be written as HTML, and names are the users' own text.
    """
    return {c: {"type": "textarea"} for c in columns if c in FREE_TEXT_COLUMNS}


def whole_number_columns(columns: dict) -> list[str]:
    """Columns of whole numbers (GPUs, replicas)."""
    return [c for c, v in columns.items() if isinstance(v, int) and not isinstance(v, bool)]


#: A heading's character at the tables' bold 14 px (a wide one, to be safe), and a cell's padding.
HEADING_CHAR_PX = 8
HEADING_PAD_PX = 20
#: The least width of a number column, in heading characters: room for 10,000.0.
NUMBER_MIN_CHARS = 7
#: Whole numbers (GPUs) get room for 100,000,000, and a row's name for ~24 characters: the table
#: fits its columns to the data it is given, not to what is typed later, which was cut ("250,0").
WHOLE_MIN_CHARS = 11
NAME_PX = 190


def wrapped_headings(columns: dict, lines: int = 3) -> tuple[dict[str, str], dict[str, int]]:
    """Headings that wrap at their underscores, and the widths of the number columns they fit in.

    A title gets an invisible break after each underscore, so it reads as the column's name (the
    name the problems of a scenario quote); a number column is given the least width at which its
    heading takes ``lines`` lines or fewer (its figures are narrower than that). Unwrapped, headings
    such as price_usd_per_gpu_hour set the widths, and the lease table's last columns were out of
    view on a laptop's screen.
    """
    titles, widths = {}, {}
    whole = {c for c in whole_number_columns(columns) if c.startswith("gpus")}  # GPU counts run large
    for name, default in columns.items():
        titles[name] = name.replace("_", "_\u200b")
        if name == "name":
            widths[name] = NAME_PX
        if isinstance(default, str) or "_" not in name:
            if name in whole:
                widths[name] = max(len(name), WHOLE_MIN_CHARS) * HEADING_CHAR_PX + HEADING_PAD_PX
            continue
        parts = [p + "_" for p in name.split("_")]
        parts[-1] = parts[-1][:-1]
        chars = max(WHOLE_MIN_CHARS if name in whole else NUMBER_MIN_CHARS, *map(len, parts))
        while _lines_needed(parts, chars) > lines:
            chars += 1
        widths[name] = chars * HEADING_CHAR_PX + HEADING_PAD_PX
    return titles, widths


def _lines_needed(parts: list[str], chars: int) -> int:
    """Lines that ``parts`` take when wrapped greedily at ``chars`` characters a line."""
    count, used = 1, 0
    for part in parts:
        if used and used + len(part) > chars:
            count, used = count + 1, 0
        used += len(part)
    return count


def table_frame(rows: list[dict], columns: dict) -> pd.DataFrame:
    """The table's rows; an empty table keeps the column types a first row will have.

    Tabulator rebuilds its columns when their types change; an empty all-object frame turning
    into typed columns on the first *Add* made that rebuild race with the new row. Whole-number
    columns are held as floats: a cell emptied, or given text or 3.5, then reaches the server
    (an integer column refused it, so the cell showed one value and the run used another), and
    checking the scenario says what is wrong with it.
    """
    typed = pd.DataFrame([columns]).astype({c: float for c in whole_number_columns(columns)}).iloc[:0]
    if not rows:
        return typed
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype({c: t for c, t in typed.dtypes.items() if frame[c].notna().all()}, errors="ignore")


def table_rows(frame: pd.DataFrame, columns: dict) -> list[dict]:
    counts = set(whole_number_columns(columns))
    out = []
    for rec in frame.to_dict(orient="records"):
        row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
        for k in counts & row.keys():  # 512.0 in the table is the 512 it was; 3.5 stays, to be refused
            if isinstance(row[k], float) and row[k].is_integer():
                row[k] = int(row[k])
        out.append(row)
    return out


def horizon_notes(events: pd.DataFrame) -> str:
    """The run's notes on rows that start after its end (valid, but they change nothing) or on
    leases that hold more GPUs than they pay for, told as the table rows they are (the twin logs
    them as ``not_simulated`` and ``held_unbilled`` events)."""
    late = (
        events[events["kind"].isin(("not_simulated", "held_unbilled"))]
        if "kind" in events
        else events.iloc[:0]
    )
    if late.empty:
        return ""
    told = [
        plain(explain(f"<what-if>:0: {s}: {d}")) for s, d in zip(late["subject"], late["detail"], strict=True)
    ]
    more = f"; and {len(told) - 3} more" if len(told) > 3 else ""
    return " Note: " + "; ".join(told[:3]) + more + "."


_WHERE = re.compile(r"^<what-if>:\d+: (leases|hosted_models|events)\[(\d+)\]\.?(\S*): ")


def explain(problem: str) -> str:
    """A problem of the generated scenario, told as the table row and column to fix."""
    m = _WHERE.match(problem)
    if not m:
        return problem.replace("<what-if>:", "what-if, line ")
    table = {"leases": "Leases", "hosted_models": "Hosted models", "events": "Events"}[m.group(1)]
    column = f", {_column(m.group(1), m.group(3))}" if m.group(3) else ""
    detail = problem[m.end() :]
    if detail.startswith("required field missing"):  # the file's terms ("add 'gpus: ...' to leases[0]")
        detail = "empty (or not a number where one is wanted); type a value in the cell"
    return f"{table} table, row {int(m.group(2)) + 1}{column}: {detail}"


def _column(section: str, field: str) -> str:
    """The table column a scenario field is edited in: 'sla.availability' is the Leases table's
    sla_availability, 'latency.ttft_p95_seconds' the Hosted models table's ttft_p95_seconds."""
    columns = {"leases": LEASE_COLUMNS, "hosted_models": HOSTED_COLUMNS, "events": EVENT_COLUMNS}[section]
    for name in (field, field.replace(".", "_"), field.rsplit(".", 1)[-1]):
        if name in columns:
            return name
    return field


#: The columns picked from a list, per table: the scenario model whose field allows the values.
CHOICE_COLUMNS = {"leases": (Lease, ("kind", "billing", "isolation")), "events": (Event, ("kind",))}


def edit_table(key: str, frame: pd.DataFrame, columns: dict) -> pn.widgets.Tabulator:
    """The editable Tabulator of one what-if table (``key``: leases, hosted or events)."""
    # Each choice column lists what the scenario's model allows: one place to add a kind.
    model, choices = CHOICE_COLUMNS.get(key, (None, ()))
    editors = {
        field: {"type": "list", "values": list(get_args(model.model_fields[field].annotation))}
        for field in choices
    }
    # Whole numbers step by 1 (the arrows went by 0.01); a typed 3.5 is still refused at Run.
    # Bokeh's editor, the kind Panel gives a number column itself: an emptied cell still reads "-"
    # (a plain Tabulator "number" editor sent "" and the server refused it).
    editors |= {c: NumberEditor(step=1) for c in whole_number_columns(columns)}
    # 1,024 (not 1,024.0), 3.5 as typed. An emptied required cell reads "-" (what the run is
    # given: nothing); an empty optional one (an event's mw or factor, which only some kinds
    # use) reads blank, not "NaN".
    whole = NumberFormatter(format="0,0.[00]")
    blank = NumberFormatter(format="0,0.[00]", nan_format="", null_format="")
    optional = {c: blank for c, default in columns.items() if default is None}
    # Days, prices, shares: 365 and 0.995 as typed (not "365.0", and not 0.995 rounded to "1").
    decimal = NumberFormatter(format="0,0.[0000]")
    decimals = {c: decimal for c, default in columns.items() if isinstance(default, float)}
    titles, widths = wrapped_headings(columns)
    table = pn.widgets.Tabulator(
        frame,
        show_index=False,
        editors=editors,
        formatters=decimals
        | {c: whole for c in whole_number_columns(columns)}
        | optional
        | wrapped_text(columns),
        selectable="checkbox",
        layout="fit_data_table",
        # Narrow enough for the page beside the controls: headings wrap at their underscores,
        # and no sort arrows (a sorted view also made "Leases table, row 2" name another row).
        # Columns are fitted again to new rows: a heading now narrower than H100-SXM cut it.
        titles=titles,
        widths=widths,
        configuration={"columnDefaults": {"headerWordWrap": True}, "layoutColumnsOnNewData": True},
        stylesheets=[SCROLLBAR_CSS],
        sortable=False,
        frozen_columns=[next(iter(columns))],  # the row's name stays in view when the table scrolls
        sizing_mode="stretch_width",
        height=190,
        name=key,
    )
    table.on_edit(lambda event: _resend_on_text_edit(table, event))
    return table


def _resend_on_text_edit(table: pn.widgets.Tabulator, event) -> None:
    # Tabulator sizes a row when it is drawn, not when a cell is edited: a name typed longer
    # than its column wrapped under the row's edge, cut. Sent again, the row is drawn to fit.
    if event.column in FREE_TEXT_COLUMNS:
        table.param.trigger("value")
