"""``campustwin simulate --save`` and ``campustwin library``: the library from a terminal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from app.library import INTERRUPTED, Library

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "sample_sites" / "scenarios" / "demo_whatif.yaml"


def cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_simulate_save_then_list_show_export_rename_delete(tmp_path: Path) -> None:
    done = cli("simulate", DEMO, "--days", "3", "--seed", "11", "--save", "acme 3d", "--data", "lib",
               "--out", "direct", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = json.loads(cli("library", "--data", "lib", "--json", "list", cwd=tmp_path).stdout)
    assert [(s["name"], s["runs"]) for s in listed] == [("acme 3d", 1)]
    (run,) = json.loads(cli("library", "--data", "lib", "--json", "runs", cwd=tmp_path).stdout)
    assert (run["status"], run["seed"]) == ("done", 11)
    # The saved text is the scenario as it ran: --days and --seed applied.
    shown = cli("library", "--data", "lib", "show", "acme 3d", cwd=tmp_path)
    assert "days: 3" in shown.stdout and "seed: 11" in shown.stdout
    # stdout is the YAML alone; where its relative site paths lead is said aside
    assert shown.stderr.strip() == f"# its site paths are relative to {Path(DEMO).resolve().parent}"

    inside = cli("library", "--data", "lib", "export", run["id"][:8], "--out", "lib/runs/over", cwd=tmp_path)
    assert inside.returncode == 2 and "inside the library's folder" in inside.stderr
    exported = cli("library", "--data", "lib", "export", run["id"][:8], "--out", "copy", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    kept = (tmp_path / "copy" / "kpis.json").read_bytes()
    again = cli("library", "--data", "lib", "export", run["id"][:8], "--out", "copy", cwd=tmp_path)
    assert again.returncode == 2 and "holds files already; give a new or empty folder" in again.stderr
    assert (tmp_path / "copy" / "kpis.json").read_bytes() == kept
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "copy" / "site_series.parquet"),
        pd.read_parquet(tmp_path / "direct" / "site_series.parquet"),
    )  # the library holds exactly what the run wrote

    assert cli("library", "--data", "lib", "rename", "acme 3d", "acme", cwd=tmp_path).returncode == 0
    assert cli("library", "--data", "lib", "delete", "acme", cwd=tmp_path).returncode == 0
    assert json.loads(cli("library", "--data", "lib", "--json", "runs", cwd=tmp_path).stdout) == []
    assert not any((tmp_path / "lib" / "runs").iterdir())


def test_library_errors_name_the_fix_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "mine" / "runs" / "exp1").mkdir(parents=True)
    Library(tmp_path / "lib")  # an empty library
    cases = [
        (("library", "--data", "nowhere", "list"), "nowhere: no library there; 'simulate --save'"),
        (("library", "--data", "a-file", "list"), "give a writable folder of your own with --data"),
        (("library", "--data", "lib", "show", "nope"), "no scenario 'nope' in the library"),
        (("library", "--data", "lib", "runs", "nope"), "no scenario 'nope' in the library"),  # not silence
        (("library", "--data", "mine", "list"), "mine: no library there"),  # a folder of one's own
        (("library", "--data", "lib", "export", "../../etc", "--out", "x"), "8 to 32 hexadecimal characters"),
        (("library", "--data", "lib", "export", "0123abcd", "--out", "x"), "no run '0123abcd'"),
        (("simulate", DEMO, "--days", "1", "--save", "", "--data", "lib"), "1-128 printable characters"),
        (("library", "--data", "sqlite:///x.db", "list"), "a folder is wanted here, not a database URL"),
    ]
    for args, message in cases:
        done = cli(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    assert not (tmp_path / "sqlite:").exists()  # the URL did not become a folder
    assert not (tmp_path / "nowhere").exists()  # a read made no library
    assert sorted(p.name for p in (tmp_path / "mine").rglob("*")) == ["exp1", "runs"]


def test_a_killed_simulate_save_is_listed_as_interrupted(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "simulate", str(DEMO), "--days", "3650", "--save", "long",
         "--data", "lib"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = (
            time.monotonic() + 300
        )  # a fresh clone compiles its kernels first, slowly on a busy machine
        while time.monotonic() < deadline:  # the run is recorded before it starts
            if (tmp_path / "lib" / "library.sqlite").exists() and Library(tmp_path / "lib").runs():
                break
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    (run,) = Library(tmp_path / "lib").runs()
    assert run["status"] == INTERRUPTED and run["name"] == "long"
    listed = cli("library", "--data", "lib", "runs", cwd=tmp_path)
    assert "1 interrupted" in listed.stderr


def test_an_export_that_runs_out_of_space_leaves_nothing_half_copied(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    import shutil

    from app.cli import main

    data = tmp_path / "lib"
    assert main(["simulate", str(DEMO), "--days", "1", "--save", "one day", "--data", str(data)]) == 0
    run_id = Library(data).runs()[0]["id"]
    copied: list[str] = []

    real_copyfile = shutil.copyfile

    def copy_until_full(src, dst, **kwargs):  # copytree's copy2 copies each file's bytes with this
        if copied:
            raise OSError(28, "No space left on device")
        copied.append(str(src))
        return real_copyfile(src, dst, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", copy_until_full)
    capsys.readouterr()
    out = tmp_path / "copy"
    assert main(["library", "--data", str(data), "export", run_id[:8], "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot copy the run there" in err and "No space left on device" in err and len(err) < 400
    assert copied and list(out.iterdir()) == []


def test_a_read_only_library_is_read_and_its_changes_refused_with_the_fix(tmp_path: Path) -> None:
    """A library file that cannot be written (immutable here: root ignores file modes) gave two
    tracebacks on rename, delete and --save; it is still listed."""
    assert (
        cli("simulate", DEMO, "--days", "1", "--save", "base", "--data", "lib", cwd=tmp_path).returncode == 0
    )
    db = tmp_path / "lib" / "library.sqlite"
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not allowed here")
    try:
        assert cli("library", "--data", "lib", "list", cwd=tmp_path).returncode == 0
        for args in (("library", "--data", "lib", "rename", "base", "other"),
                     ("library", "--data", "lib", "delete", "base"),
                     ("simulate", DEMO, "--days", "1", "--save", "more", "--data", "lib")):  # fmt: skip
            done = cli(*args, cwd=tmp_path)
            assert done.returncode == 2 and "Traceback" not in done.stderr, (args, done.stderr)
            assert "the library cannot be changed there" in done.stderr, (args, done.stderr)
            assert "give that with --data" in done.stderr
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)
    assert [s["name"] for s in Library(tmp_path / "lib").scenarios()] == ["base"]


def test_show_into_a_reader_that_leaves_early_ends_quietly(tmp_path: Path) -> None:
    """`library show NAME | head`: the reader closing the pipe was reported as a read-only library."""
    big = tmp_path / "big.yaml"
    text = DEMO.read_text().replace("../demo.yaml", str(ROOT / "sample_sites" / "demo.yaml"))
    big.write_text(text + "# " + "x" * 300_000 + "\n")
    assert cli("simulate", big, "--days", "1", "--save", "big", "--data", "lib", cwd=tmp_path).returncode == 0
    reader = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "library", "--data", "lib", "show", "big"], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    reader.stdout.close()  # as `| true` does: the reader is gone before the text is written
    err = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 0 and "read-only" not in err and "Traceback" not in err, err
