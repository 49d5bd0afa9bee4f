"""The scenario library: round trips, two processes saving at once, a process killed mid-save."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

from app.library import DONE, INTERRUPTED, Library, LibraryError, code_version
from twin.results import Results
from twin.scenario import load_scenario_text
from twin.simulate import simulate

SCENARIOS = Path(__file__).resolve().parent.parent / "sample_sites" / "scenarios"
TEXT = (SCENARIOS / "demo_whatif.yaml").read_text().replace("days: 30", "days: 2")


@pytest.fixture(scope="module")
def results() -> Results:
    return simulate(load_scenario_text(TEXT, SCENARIOS))


def test_scenario_and_run_round_trip(tmp_path: Path, results: Results) -> None:
    lib = Library(tmp_path)
    lib.save_scenario("acme pod", TEXT, SCENARIOS)
    saved = lib.scenario("acme pod")
    assert saved["text"] == TEXT and saved["folder"] == str(SCENARIOS)
    run_id = lib.save_run("acme pod", results)
    (row,) = lib.runs("acme pod")
    assert (row["id"], row["status"], row["seed"]) == (run_id, DONE, 7)
    assert row["scenario_hash"] == saved["hash"] and row["code_version"] == code_version()
    back = Library(tmp_path).load_run(run_id)  # a new process would open it the same way
    pd.testing.assert_frame_equal(back.site_series, results.site_series)
    assert back.rack_leases == results.rack_leases


def test_rename_delete_and_clear_errors(tmp_path: Path, results: Results) -> None:
    lib = Library(tmp_path)
    lib.save_scenario("a", TEXT, SCENARIOS)
    lib.save_scenario("b", TEXT, SCENARIOS)
    run_id = lib.save_run("a", results)
    with pytest.raises(LibraryError, match="'b' exists already"):
        lib.rename("a", "b")
    lib.rename("a", "c")
    assert [s["name"] for s in lib.scenarios()] == ["b", "c"]
    assert lib.runs("c")[0]["id"] == run_id
    lib.delete("c")
    assert not (tmp_path / "runs" / run_id).exists() and lib.runs() == []
    with pytest.raises(LibraryError, match="no scenario 'c'.*saved ones: b"):
        lib.scenario("c")
    with pytest.raises(LibraryError, match="1-128 printable"):
        lib.save_scenario("bad\nname", TEXT, SCENARIOS)
    with pytest.raises(LibraryError, match="no spaces at its start or end; e.g. 'b'"):
        lib.save_scenario(" b", TEXT, SCENARIOS)  # listed as "b", beside the "b" there is
    with pytest.raises(LibraryError, match="no spaces at its start or end"):
        lib.rename("b", "b ")


def _saver(folder: str, name: str, n: int) -> None:
    lib = Library(folder)
    lib.save_scenario(name, TEXT, SCENARIOS)
    res = simulate(load_scenario_text(TEXT, SCENARIOS))
    for _ in range(n):
        Library(folder).save_run(name, res)  # each open recovers, while the other process saves


def test_two_processes_save_at_once(tmp_path: Path) -> None:
    Library(tmp_path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_saver, args=(str(tmp_path), f"s{i}", 4)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    lib = Library(tmp_path)
    rows = lib.runs()
    assert len(rows) == 8 and {r["status"] for r in rows} == {DONE}
    for r in rows:
        assert lib.load_run(r["id"]).kpis["seed"] == 7


def _opener(folder: str, barrier, told) -> None:
    barrier.wait()
    try:
        Library(folder)
        told.put("ok")
    except LibraryError as exc:
        told.put(str(exc))


def test_processes_opening_a_new_library_at_once_all_open_it(tmp_path: Path) -> None:
    """Each saw no table and created them; all but one were told "not a campustwin library"
    (table ... already exists): a console and a `simulate --save` started together failed."""
    ctx = mp.get_context("spawn")
    for trial in range(3):  # the race was lost in 9 trials of 10 with six processes
        folder = str(tmp_path / f"lib{trial}")
        barrier, told = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_opener, args=(folder, barrier, told)) for _ in range(6)]
        for p in procs:
            p.start()
        outcomes = [told.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(60)
        assert outcomes == ["ok"] * 6, outcomes


def test_reopening_leaves_a_live_save_alone(tmp_path: Path, results: Results) -> None:
    lib = Library(tmp_path)
    lib.save_scenario("s", TEXT, SCENARIOS)
    run_id = lib.start_run("s", 7)  # this process is alive and saving
    (tmp_path / "runs" / f".tmp-{run_id}").mkdir()
    again = Library(tmp_path)
    assert again.runs()[0]["status"] == "running"
    assert (tmp_path / "runs" / f".tmp-{run_id}").is_dir()
    (tmp_path / "runs" / f".tmp-{run_id}").rmdir()
    lib.finish_run(run_id, results)
    assert again.load_run(run_id).kpis["seed"] == 7


def _save_forever(folder: str, ready) -> None:
    lib = Library(folder)
    lib.save_scenario("s", TEXT, SCENARIOS)
    res = simulate(load_scenario_text(TEXT, SCENARIOS))
    ready.set()
    while True:
        lib.save_run("s", res)


@pytest.mark.parametrize("delay_s", [0.05, 0.13, 0.31])
def test_killed_mid_save_leaves_no_partial_run(tmp_path: Path, delay_s: float) -> None:
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_save_forever, args=(str(tmp_path), ready))
    proc.start()
    assert ready.wait(120)
    time.sleep(delay_s)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    lib = Library(tmp_path)  # reopening recovers
    rows = lib.runs()
    done = [r for r in rows if r["status"] == DONE]
    assert rows and all(r["status"] in (DONE, INTERRUPTED) for r in rows)
    assert len(rows) - len(done) <= 1  # at most the run in flight
    for r in done:
        assert lib.load_run(r["id"]).kpis["seed"] == 7  # every visible run is whole
    on_disk = {p.name for p in (tmp_path / "runs").iterdir()}
    assert on_disk == {r["id"] for r in done}  # no temporary or orphan folder is left
    with sqlite3.connect(tmp_path / "library.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_opening_a_folder_leaves_its_owners_files_alone(tmp_path: Path) -> None:
    """Only folders shaped like run ids are the library's to clean up; a user's own runs/exp1 stays."""
    (tmp_path / "runs" / "exp1").mkdir(parents=True)
    (tmp_path / "runs" / "exp1" / "notes.txt").write_text("precious")
    stray = tmp_path / "runs" / ("ab" * 16)  # a run folder with no row: the library's leftover
    stray.mkdir()
    Library(tmp_path)
    assert (tmp_path / "runs" / "exp1" / "notes.txt").read_text() == "precious"
    assert not stray.exists()


def test_another_programs_database_is_refused_untouched(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "library.sqlite") as db:
        db.execute("create table scenarios(x)")
    with pytest.raises(
        LibraryError, match=r"library.sqlite: not a campustwin library .*'scenarios'.*move that"
    ):
        Library(tmp_path)
    with sqlite3.connect(tmp_path / "library.sqlite") as db:
        assert db.execute("select name from sqlite_master").fetchall() == [("scenarios",)]
    (tmp_path / "library.sqlite").write_bytes(b"\x00garbage" * 600)
    with pytest.raises(
        LibraryError, match=r"not a campustwin library \(DatabaseError: file is not a database\)"
    ):
        Library(tmp_path)
