"""A sweep's output folder: checked before any run, and written so a stop leaves whole files.

``sweep.json`` records which scenario (and which version of its files) the folder's runs belong
to; ``runs/`` holds one JSON file per finished run, which a rerun counts as done; the summary's
CSV and JSON are renamed into place together.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class SweepError(Exception):
    """A problem with the sweep's options or its output folder; the message says the fix."""


def prepare(out: Path, given: str, scenario: str, fingerprint: str) -> Path:
    """The runs folder of ``out``, checked before any run: made by this scenario, and writable.

    ``sweep.json`` records the scenario file and its fingerprint (every file its grid points read),
    so a resumed sweep never counts runs of another scenario, or of one changed since, as done; a
    folder holding anything else is not a sweep's, and nothing of it is overwritten.
    """
    from twin.sweep import FINGERPRINT_VERSION

    stamp = out / "sweep.json"
    if out.is_dir() and not stamp.exists() and any(not p.name.startswith(".") for p in out.iterdir()):
        raise SweepError(
            f"--out {given}: holds other files and no sweep.json, so it is not a sweep's folder; its "
            "files would be overwritten: give a new or empty folder"
        )
    for name in ("summary.csv", "summary.json", "sweep.json"):
        if (out / name).is_dir():
            raise SweepError(f"--out {given}: {name} there is a folder; move it away, or give another --out")
    runs_dir = out / "runs"
    if runs_dir.exists() and not runs_dir.is_dir():
        raise SweepError(
            f"--out {given}: 'runs' there is a file, not a folder; move it, or give another --out"
        )
    odd = [p.name for p in runs_dir.glob("*.json") if not p.is_file()] if runs_dir.is_dir() else []
    if odd:
        raise SweepError(f"--out {given}: runs/{odd[0]} is not a file; move it away, or give another --out")
    try:
        recorded = json.loads(stamp.read_text()) if stamp.exists() else None
    except (OSError, ValueError):
        recorded = None  # unreadable: rewritten below; the runs' own files decide what is done
    recorded = recorded if isinstance(recorded, dict) else None
    has_runs = runs_dir.is_dir() and any(runs_dir.glob("*.json"))
    if not has_runs:
        recorded = None  # no runs to resume (runs/ deleted, as the messages below advise): start over
    if recorded is not None and recorded.get("scenario", scenario) != scenario:
        raise SweepError(
            f"--out {given}: holds runs of another scenario ({recorded['scenario']}); give another --out, "
            "or delete that folder's runs/ to start over"
        )
    if recorded is not None and recorded.get("fingerprint_version") != FINGERPRINT_VERSION:
        raise SweepError(
            f"--out {given}: holds runs of an older campustwin, whose results lack KPIs this one "
            "writes; give another --out, or delete that folder's runs/ to start over"
        )
    if recorded is not None and recorded.get("scenario_fingerprint") != fingerprint:
        raise SweepError(
            f"--out {given}: holds runs of this scenario as it was before its files changed; "
            "give another --out, or delete that folder's runs/ to start over"
        )
    if has_runs and recorded is None:
        raise SweepError(
            f"--out {given}: holds runs of an unknown scenario (no readable sweep.json); give another --out, "
            "or delete that folder's runs/ to start over"
        )
    try:
        runs_dir.mkdir(exist_ok=True)
        write_json(
            stamp,
            {
                "scenario": scenario,
                "scenario_fingerprint": fingerprint,
                "fingerprint_version": FINGERPRINT_VERSION,
            },
        )
    except OSError as exc:
        raise SweepError(f"--out {given}: cannot write there ({exc.strerror}); give another --out") from None
    return runs_dir


def whole_run(path: Path) -> bool:
    """A run file a finished run wrote (an emptied or edited one is run again)."""
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(row, dict)
        and {"point", "changes", "seed", "kpis"} <= row.keys()
        and isinstance(row["kpis"], dict)
        # a figure edited into text would be summarised as NaN, as if the run had measured nothing
        and all(isinstance(v, int | float) or v is None for v in row["kpis"].values())
    )


def json_text(data: object) -> str:
    from twin.results import json_default, json_safe

    def default(value: object) -> object:  # numbers as the results write them; a date (--vary) as text
        try:
            return json_default(value)
        except TypeError:
            return str(value)

    # Standard JSON: a KPI that is not a number (NaN, as for a run too short to train) is null.
    return json.dumps(json_safe(data), indent=1, default=default, allow_nan=False)


def write_json(path: Path, data: object) -> None:
    write_together({path: json_text(data)})


def write_together(texts: dict[Path, str]) -> None:
    """Write each file beside itself, then rename them all into place: a stopped sweep, or a full
    disk, leaves whole files only, and the summary's CSV and JSON from the same runs. A write the
    system refuses is a SweepError naming the file (the runs already written are kept)."""
    tmps = {path: path.with_name(f".{path.name}.{os.getpid()}.tmp") for path in texts}  # this process's own
    try:
        for path, text in texts.items():
            tmps[path].write_text(text)
        for path, tmp in tmps.items():
            tmp.replace(path)
    except OSError as exc:  # a full disk, a file made read-only
        raise SweepError(
            f"{exc.filename or next(iter(texts))}: cannot write it ({exc.strerror or exc}); free some space or "
            "make it writable, and run the same command again: finished runs are kept"
        ) from None
    finally:
        for tmp in tmps.values():
            if not tmp.is_dir():
                tmp.unlink(missing_ok=True)
