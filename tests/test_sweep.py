"""Sweeps: a local Dask cluster gives what a serial run gives; a stopped sweep resumes."""

from __future__ import annotations

import json
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
    assert summary[1]["utilization_mean"] > summary[0]["utilization_mean"]  # 3x the arrivals
    capsys.readouterr()

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
    ],
)
def test_bad_vary_is_refused(vary: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_vary(vary)


def test_bad_grid_point_exits_2_before_any_run(tmp_path: Path, capsys) -> None:
    code = main(["sweep", SCENARIO, "--vary", "days=2,-1", "--workers", "0", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "days" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
