"""Reading users' CSV files (job traces, request traces) with errors that name file, row and column."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from twin.errors import Problem, ProblemList


def read_columns(path: Path, wanted: list[str], where: str) -> pd.DataFrame:
    """The ``wanted`` columns of a CSV; ``where`` says where the column names are set (the fix)."""
    file = str(path)
    try:
        head = pd.read_csv(path, nrows=0)
        missing = [c for c in wanted if c not in head.columns]
        if missing:
            have = ", ".join(map(str, head.columns))
            if len(head.columns) == 1 and ";" in str(head.columns[0]):  # no setting would find them
                where = "columns are separated by ';': separate them with commas"
            raise ProblemList(
                [
                    Problem(
                        file,
                        1,
                        "",
                        f"missing column(s) {', '.join(missing)}; columns are {have}; set {where}",
                    )
                ]
            )
        # index_col=False: rows with more cells than the header (a trailing comma) keep their
        # columns; otherwise pandas takes the first column for an index and shifts every value left.
        # keep_default_na=False: a cell reading "nan" or "NA" is quoted as written, not as "empty".
        return pd.read_csv(path, usecols=wanted, index_col=False, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError) as exc:
        raise ProblemList([Problem(file, 1, "", f"not a readable CSV: {exc}")]) from None


def numeric(
    df: pd.DataFrame,
    file: str,
    names: list[str],
    positive: tuple[str, ...] = (),
    whole: tuple[str, ...] = (),
    at_most: dict[str, float] | None = None,
) -> list[Problem]:
    """Make ``names`` numeric in place; a problem (first five per column) for each value that is
    not a finite number >= 0, or > 0 for the ``positive`` columns, or a whole number for ``whole``,
    or is over the column's ``at_most``."""
    found: list[tuple[int, str, str]] = []  # (data row, column, message)
    for name in names:
        values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values < 0) | ((values <= 0) if name in positive else False)
        expected = "a number > 0" if name in positive else "a non-negative number"
        if name in whole:
            bad |= np.isfinite(values) & (values != np.round(values))
            expected = "a whole number > 0" if name in positive else "a whole number >= 0"
        top = (at_most or {}).get(name)
        if top is not None:
            bad |= values > top
            expected += f" up to {top:,.0f}"
        for row in np.flatnonzero(bad)[:5].tolist():
            found.append((row, name, f"bad value {_shown(df[name].iloc[row])}; expected {expected}"))
        df[name] = values
    lines = record_lines(file, {row for row, _, _ in found})
    return [Problem(file, lines.get(row, row + 2), name, message) for row, name, message in found]


def record_lines(file: str, records: set[int]) -> dict[int, int]:
    """The line each of ``records`` (0-based data rows) starts on in ``file``.

    A quoted cell may hold line breaks, so a record's line is not its index + 2; the file is read
    again only when there are problems to place, and only up to the last of them.
    """
    out: dict[int, int] = {}
    if not records:
        return out
    last = max(records)
    try:
        with open(file, newline="", encoding="utf-8-sig", errors="replace") as f:
            reader = csv.reader(f)
            for row in reader:  # the header, after any blank lines
                if not _blank(row):
                    break
            start, index = reader.line_num + 1, 0
            for row in reader:
                if not _blank(row):  # pandas skips blank lines: they are no record
                    if index in records:
                        out[index] = start
                    if index >= last:
                        break
                    index += 1
                start = reader.line_num + 1
    except (OSError, csv.Error):
        return {}  # placed as index + 2, as pandas numbered them
    return out


def _blank(row: list[str]) -> bool:
    """A line pandas skips: empty, or spaces only (``,,`` is a record of empty cells)."""
    return not row or (len(row) == 1 and not row[0].strip())


def _shown(raw: object) -> str:
    """A cell as the user wrote it: ``'abc'``, ``-8``, ``8.5``, ``nan`` or ``empty`` (not numpy's repr)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return "empty"
    if isinstance(raw, str):  # a column with text in it is read as text: -8 is still shown as -8
        try:
            float(raw)
            return raw.strip()
        except ValueError:
            return repr(raw)
    if isinstance(raw, np.generic):
        raw = raw.item()
    return f"{raw:g}" if isinstance(raw, float) else repr(raw)
