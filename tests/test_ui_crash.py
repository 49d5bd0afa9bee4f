"""Crash safety: the server killed with SIGKILL in the middle of saving runs, then started again.

The What-if page saves one run per Monte Carlo seed; the test watches the library's database and
kills the server the moment a run is being written. After a restart on the same data folder,
every run marked done loads, the run in flight is listed as interrupted with no folder left
behind, no temporary folder remains, and the Runs page says so.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
from pathlib import Path

import psutil
from playwright.sync_api import Page, expect
from test_ui_console import RUN_TIMEOUT_MS
from ui_server import ConsoleServer
from ui_util import wait_for_idle

from app.library import DONE, INTERRUPTED, Library


def _statuses(db: Path) -> list[str]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return [row[0] for row in con.execute("SELECT status FROM runs")]
    except sqlite3.Error:
        return []


def test_sigkill_during_a_save_leaves_the_library_whole(page: Page, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ConsoleServer(["--no-cache", "--data", str(data)], log_dir=tmp_path / "logs").start()
    try:
        page.goto(server.url + "whatif?base=demo_whatif&days=30&reps=8")
        expect(page.get_by_text(re.compile(r"^Ran .*seeds 7–14"))).to_be_visible(timeout=RUN_TIMEOUT_MS)
        # Typed at once, as the run finishes: the default name that comes with the offer to save
        # is only a placeholder, and must not replace it.
        page.locator(".bk-input-group").filter(has_text="Save as").locator("input").fill("eight seeds")
        page.get_by_role("button", name="Save to library").click()
        deadline = time.monotonic() + 60
        while "running" not in _statuses(data / "library.sqlite"):  # a run is being written now
            assert time.monotonic() < deadline, f"no save seen; runs: {_statuses(data / 'library.sqlite')}"
            time.sleep(0.005)
        workers = psutil.Process(server.proc.pid).children(recursive=True)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=30)
        _, alive = psutil.wait_procs(workers, timeout=15)  # orphaned workers leave by themselves
        assert not alive, [p.cmdline()[-3:] for p in alive]
    finally:
        server.stop()

    again = ConsoleServer(["--no-cache", "--data", str(data)], log_dir=tmp_path / "logs").start()
    try:
        assert re.search(r"library: \d+ runs were interrupted", again.log_tail())
        library = Library(data)
        runs = library.runs("eight seeds")
        done = [r for r in runs if r["status"] == DONE]
        interrupted = [r for r in runs if r["status"] == INTERRUPTED]
        assert len(interrupted) == 1 and len(done) + 1 == len(runs) <= 8
        for run in done:  # every finished run is whole
            assert library.load_run(run["id"]).kpis["seed"] == run["seed"]
        folders = sorted(p.name for p in (data / "runs").iterdir())
        assert folders == sorted(r["id"] for r in done)  # no half-written or temporary folder

        page.goto(again.url + "runs")
        wait_for_idle(page, re.compile(r"1 interrupted"))
        expect(page.get_by_role("gridcell", name="interrupted", exact=True)).to_have_count(1)
    finally:
        again.stop()
