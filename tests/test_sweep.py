"""Sweeps: a local Dask cluster gives what a serial run gives; a stopped sweep resumes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from app.cli import main
from app.sweep import parse_vary
from twin.sweep import tasks

SCENARIO = str(Path(__file__).resolve().parent.parent / "sample_sites" / "scenarios" / "demo_baseline.yaml")
GRID = ["--vary", "days=2", "--vary", "training.arrivals_per_day=20,60", "--replications", "2"]


def runs_of(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))}


def test_grid_and_seeds() -> None:
    got = tasks({"a": [1, 2], "b": ["x"]}, base_seed=7, replications=3)
    assert [(t.point, dict(t.changes), t.seed) for t in got][:4] == [
        (0, {"a": 1, "b": "x"}, 7), (0, {"a": 1, "b": "x"}, 8), (0, {"a": 1, "b": "x"}, 9), (1, {"a": 2, "b": "x"}, 7),
    ]  # fmt: skip
    assert len({t.name for t in got}) == 6


def test_dask_cluster_matches_serial_and_resumes(tmp_path: Path, capsys) -> None:
    serial, dask = tmp_path / "serial", tmp_path / "dask"
    assert main(["sweep", SCENARIO, *GRID, "--workers", "0", "--out", str(serial)]) == 0
    assert main(["sweep", SCENARIO, *GRID, "--workers", "2", "--out", str(dask)]) == 0
    a, b = runs_of(serial), runs_of(dask)
    assert len(a) == 4 and a == b  # same seeds, same KPIs, wherever they ran
    assert json.loads((serial / "summary.json").read_text()) == json.loads(
        (dask / "summary.json").read_text()
    )
    summary = json.loads((dask / "summary.json").read_text())
    assert [row["runs"] for row in summary] == [2, 2]
    assert [row["days"] for row in summary] == [2, 2]  # as varied, not the run's KPI of that name (2.0)
    assert all(type(row["days"]) is int for row in summary)
    assert summary[1]["utilization_mean"] > summary[0]["utilization_mean"]  # 3x the arrivals
    # Two seeds: their range is printed, not p5/p95 interpolated between them.
    margins = [r["kpis"]["margin_usd"] for r in a.values() if r["point"] == 0]
    row = summary[0]
    assert row["margin_usd_min"] <= row["margin_usd_p5"] <= row["margin_usd_p95"] <= row["margin_usd_max"]
    assert (row["margin_usd_min"], row["margin_usd_max"]) == (min(margins), max(margins))
    printed = capsys.readouterr().out.splitlines()[0]
    assert "margin_usd_min" in printed and "margin_usd_max" in printed and "p95" not in printed

    assert main(["sweep", SCENARIO, *GRID, "--workers", "0", "--out", str(dask)]) == 0
    assert "4 runs: 4 already done, 0 to run" in capsys.readouterr().err
    victim = sorted((dask / "runs").glob("*.json"))[1]
    mtimes = {p.name: p.stat().st_mtime_ns for p in (dask / "runs").glob("*.json")}
    victim.unlink()
    assert main(["sweep", SCENARIO, *GRID, "--workers", "0", "--out", str(dask)]) == 0
    assert "4 runs: 3 already done, 1 to run" in capsys.readouterr().err
    assert runs_of(dask) == b
    for p in (dask / "runs").glob("*.json"):
        if p.name != victim.name:
            assert p.stat().st_mtime_ns == mtimes[p.name]  # finished runs were not run again


@pytest.mark.parametrize(
    ("vary", "message"),
    [
        (["days"], "write PATH=V1,V2"),
        (["../x=1"], "write PATH=V1,V2"),
        (["days=1,,2"], "empty value"),
        (["days=1", "days=2"], "given twice"),
        (["days=2,3,2"], "'2' is given twice; list each value once"),  # it ran twice, counted twice
        (["days=1,1.0"], "'1.0' is given twice"),
        (["seed=1,2"], "--replications"),  # seeds come from replications, never silently ignored
        (["name=a,b"], "changes no result"),  # two identical points under two labels
        (["days=1:30"], "base-60"),  # YAML 1.1 would read 90
        (["days=[1"], "not valid YAML"),
    ],
)
def test_bad_vary_is_refused(vary: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_vary(vary)


def test_a_path_written_as_validate_names_it_is_taken() -> None:
    """validate says leases[0].gpus; --vary took only leases.0.gpus and refused the form it printed."""
    assert parse_vary(["leases[0].price_usd_per_gpu_hour=3,4"]) == {"leases.0.price_usd_per_gpu_hour": [3, 4]}
    with pytest.raises(ValueError, match="given twice"):
        parse_vary(["leases[0].gpus=1", "leases.0.gpus=2"])


def test_bad_grid_point_exits_2_before_any_run(tmp_path: Path, capsys) -> None:
    code = main(["sweep", SCENARIO, "--vary", "days=2,-1", "--workers", "0", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "days" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("vary", "message"),
    [
        (
            "inference.5.peak_gpus=8",
            "--vary inference.5.peak_gpus: inference has 1 entry",
        ),  # not --inference...
        ("inference.x.peak_gpus=8", "--vary inference.x.peak_gpus: inference is a list"),
        ("days.x=1", "days is a single value"),
        ("leases.0.gpus=8", "leases: the scenario has none"),
        (
            "inference.0.peak_gpus=-5",
            "--vary inference.0.peak_gpus: must be greater than 0",
        ),  # the option, not the file
        ("foo.bar=1", "--vary foo.bar: unknown field 'foo'"),  # the section it made, not line 18
    ],
)
def test_a_vary_path_the_scenario_lacks_exits_2_naming_it(
    tmp_path: Path, capsys, vary: str, message: str
) -> None:
    assert main(["sweep", SCENARIO, "--vary", vary, "--workers", "0", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--workers", "-1"], "--workers: from 0"),
        (["--replications", "1000000000"], "at most 10,000 per sweep"),  # counted, never built
        (["--out", ""], "--out: empty"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--workers and --scheduler: give one"),  # --workers 0 too
    ],
)
def test_bad_counts_and_out_exit_2(tmp_path: Path, capsys, options: list[str], message: str) -> None:
    args = ["sweep", SCENARIO, "--vary", "days=2", "--workers", "0", "--out", str(tmp_path / "o"), *options]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_scheduler_exits_2(tmp_path: Path, capsys) -> None:
    args = ["sweep", SCENARIO, "--vary", "days=2", "--scheduler", "nonsense", "--out", str(tmp_path / "o")]
    assert main(args) == 2
    assert "--scheduler nonsense: no Dask scheduler answered" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # it was left with a sweep.json and an empty runs/


def test_resume_refuses_runs_of_a_changed_scenario_and_reruns_damaged_files(tmp_path: Path, capsys) -> None:
    sites = tmp_path / "sites"
    shutil.copytree(Path(SCENARIO).parent.parent, sites)
    scenario = sites / "scenarios" / "demo_baseline.yaml"
    out = tmp_path / "o"
    args = ["sweep", str(scenario), "--vary", "days=0.01,2", "--workers", "0", "--out", str(out)]
    assert main(args) == 0
    text = (out / "summary.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in summary.json"))  # standard JSON
    assert "null" in text  # a run too short to train has no effective training time

    damaged = sorted((out / "runs").glob("*.json"))[0]
    damaged.write_text("")  # as a disk-full crash could leave it
    capsys.readouterr()
    assert main(args) == 0
    assert "2 runs: 1 already done, 1 to run" in capsys.readouterr().err

    scenario.write_text(scenario.read_text().replace("arrivals_per_day: 35", "arrivals_per_day: 5"))
    assert main(args) == 2
    assert "as it was before its files changed" in capsys.readouterr().err
    (sites / "demo.yaml").write_text((sites / "demo.yaml").read_text() + "\n")  # a site file counts too
    scenario.write_text(scenario.read_text().replace("arrivals_per_day: 5", "arrivals_per_day: 35"))
    assert main(args) == 2


def test_a_file_named_only_through_vary_counts_in_the_resume_check(tmp_path: Path, capsys) -> None:
    """A trace swapped in by --vary is read by the runs: changing it makes the old runs stale."""
    sites = tmp_path / "sites"
    shutil.copytree(Path(SCENARIO).parent.parent, sites)
    traces = sites / "traces"
    shutil.copy(traces / "demo_trace.csv", traces / "b.csv")
    scenario = sites / "scenarios" / "demo_trace.yaml"
    out = tmp_path / "o"
    vary = "trace.file=../traces/demo_trace.csv,../traces/b.csv"
    args = ["sweep", str(scenario), "--vary", "days=1", "--vary", vary, "--workers", "0", "--out", str(out)]
    assert main(args) == 0
    (traces / "b.csv").write_text((traces / "b.csv").read_text().splitlines()[0] + "\n")  # header only
    capsys.readouterr()
    assert main(args) == 2
    assert "as it was before its files changed" in capsys.readouterr().err
    other = str(sites / "scenarios" / "demo_baseline.yaml")
    assert main(["sweep", other, "--vary", "days=1", "--workers", "0", "--out", str(out)]) == 2
    assert f"holds runs of another scenario ({scenario.resolve()})" in capsys.readouterr().err


def test_a_folder_of_other_files_is_not_overwritten(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "summary.csv").write_text("precious")
    assert main(["sweep", SCENARIO, "--vary", "days=1", "--workers", "0", "--out", str(out)]) == 2
    assert "holds other files and no sweep.json" in capsys.readouterr().err
    assert (out / "summary.csv").read_text() == "precious" and sorted(out.iterdir()) == [out / "summary.csv"]


def test_an_edited_run_file_is_run_again_not_a_crash(tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    args = ["sweep", SCENARIO, "--vary", "days=0.5", "--workers", "0", "--out", str(out)]
    assert main(args) == 0
    run = next((out / "runs").glob("*.json"))
    for kpis in (
        [],
        {**json.loads(run.read_text())["kpis"], "margin_usd": "abc"},
    ):  # text: NaN in the summary
        run.write_text(json.dumps({**json.loads(run.read_text()), "kpis": kpis}))
        capsys.readouterr()
        assert main(args) == 0
        assert "1 runs: 0 already done, 1 to run" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())[0]["margin_usd_mean"] is not None


def test_a_scheduler_that_never_answers_exits_2_in_time(tmp_path: Path, capsys, monkeypatch) -> None:
    """A listener that accepts and stays silent once hung the sweep for good."""
    import socket

    import app.sweep

    monkeypatch.setattr(app.sweep, "SCHEDULER_TIMEOUT_S", 1)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        args = ["sweep", SCENARIO, "--vary", "days=1", "--scheduler", address, "--out", str(tmp_path / "o")]
        assert main(args) == 2
    assert f"--scheduler {address}: no Dask scheduler answered" in capsys.readouterr().err


def test_a_folder_of_an_older_sweep_is_told_so(tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    args = ["sweep", SCENARIO, "--vary", "days=0.5", "--workers", "0", "--out", str(out)]
    assert main(args) == 0
    stamp = json.loads((out / "sweep.json").read_text())
    del stamp["fingerprint_version"]  # as the previous version wrote it
    (out / "sweep.json").write_text(json.dumps(stamp))
    capsys.readouterr()
    assert main(args) == 2
    assert "holds runs of an older campustwin" in capsys.readouterr().err
    shutil.rmtree(out / "runs")  # as the message advises: then the sweep starts over
    assert main(args) == 0
    assert "1 runs: 0 already done, 1 to run" in capsys.readouterr().err


def test_a_summary_that_cannot_be_written_exits_2_and_keeps_the_last_one_whole(
    tmp_path: Path, capsys
) -> None:
    """A write that failed (a full disk, a read-only file) ended in a traceback, with summary.csv
    and summary.json of different runs and a half-written temporary file left in the folder."""
    out = tmp_path / "o"
    args = ["sweep", SCENARIO, "--vary", "days=0.5", "--workers", "0", "--out", str(out)]
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    blocker = out / f".summary.json.{os.getpid()}.tmp"  # main() runs in this process
    blocker.mkdir()  # so the summary's JSON cannot be written
    capsys.readouterr()
    assert main([*args[:3], "days=0.5,1", *args[4:]]) == 2
    err = capsys.readouterr().err
    assert (
        f"{blocker}: cannot write it (" in err and "run the same command again: finished runs are kept" in err
    )
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # the CSV too
    assert len(list((out / "runs").glob("*.json"))) == 2  # the new run is kept for the resume
    blocker.rmdir()
    assert main([*args[:3], "days=0.5,1", *args[4:]]) == 0
    assert "2 already done, 0 to run" in capsys.readouterr().err


def test_a_point_that_isolation_rounds_up_is_noted_as_validate_notes_it(tmp_path: Path, capsys) -> None:
    """At 288 GPUs a pod-isolated lease still holds the whole 576-GPU pod: the sweep said nothing,
    and its two points showed the same share and costs at half the revenue."""
    whatif = str(Path(SCENARIO).with_name("demo_whatif.yaml"))
    vary = ["--vary", "leases.0.gpus=288,576", "--vary", "days=1"]
    assert main(["sweep", whatif, *vary, "--workers", "0", "--out", str(tmp_path / "o")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note")]
    assert len(notes) == 1 and notes[0].startswith("note, point 0 (leases.0.gpus=288, days=1): lease ")
    assert "at least 576 are held for the 288 it pays for" in notes[0]
