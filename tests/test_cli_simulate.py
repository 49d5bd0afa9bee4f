"""`campustwin simulate`: the KPI JSON contract and the files --out writes, read back."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from app.cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "sample_sites" / "scenarios"

# The keys design.md section 2 makes a contract for `simulate --json`.
CONTRACT = [
    "scenario",
    "seed",
    "days",
    "gpus",
    "racks",
    "jobs_submitted",
    "jobs_completed",
    "events",
    "utilization",
    "interruptions",
    "effective_training_time",
    "energy_mwh",
    "it_energy_mwh",
    "pue",
    "peak_facility_mw",
    "revenue_usd",
    "sla_credits_usd",
    "energy_cost_usd",
    "depreciation_usd",
    "margin_usd",
    "tenants",
    "wall_seconds",
]
TENANT_KEYS = {"committed_gpu_hours", "delivered_gpu_hours", "sla_attainment", "revenue_usd", "credits_usd"}


@pytest.fixture(scope="module")
def whatif(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["simulate", str(SCENARIOS / "demo_whatif.yaml"), "--days", "10", "--out", str(out)]) == 0
    return out


def test_json_has_the_contract_keys(capsys):
    assert main(["simulate", str(SCENARIOS / "demo_whatif.yaml"), "--days", "10", "--json"]) == 0
    kpis = json.loads(capsys.readouterr().out)
    assert [k for k in CONTRACT if k not in kpis] == []
    assert kpis["days"] == 10
    assert kpis["tenants"], "the what-if has a lease, so a tenant"
    for tenant in kpis["tenants"].values():
        assert set(tenant) >= TENANT_KEYS
        assert tenant["delivered_gpu_hours"] <= tenant["committed_gpu_hours"] + 1e-6


def test_out_writes_tables_that_read_back(whatif):
    kpis = json.loads((whatif / "kpis.json").read_text())
    jobs = pd.read_parquet(whatif / "jobs.parquet")
    assert len(jobs) == kpis["jobs_submitted"]
    assert (jobs["status"] == "done").sum() == kpis["jobs_completed"]
    leases = pd.read_parquet(whatif / "leases.parquet")
    assert set(leases["tenant"]) == set(kpis["tenants"])
    site = pd.read_parquet(whatif / "site_series.parquet")
    assert len(site) == 10 * 24  # one site, hourly samples
    balance = site["busy_gpus"] + site["leased_gpus"] + site["failed_gpus"]
    assert (balance <= site["installed_gpus"]).all()
    hall = pd.read_parquet(whatif / "hall_series.parquet")
    assert hall.groupby("time_h")["it_kw"].sum().to_numpy() == pytest.approx(site["it_kw"].to_numpy())
    matrix = pd.read_parquet(whatif / "rack_day_utilization.parquet")
    assert matrix.shape == (kpis["racks"], 3 + 10)  # rack name, its lease, its hosted model + a column a day
    assert set(matrix["lease"]) <= {"", *leases["lease"]} and set(matrix["hosted"]) == {
        ""
    }  # none hosted here
    days = matrix.drop(columns=["rack", "lease", "hosted"]).to_numpy()
    assert ((days >= 0) & (days <= 1 + 1e-6)).all()
    events = pd.read_parquet(whatif / "events.parquet")
    assert {"time_h", "site", "kind", "subject", "detail"} <= set(events.columns)


def test_same_seed_same_files(whatif, tmp_path):
    assert (
        main(["simulate", str(SCENARIOS / "demo_whatif.yaml"), "--days", "10", "--out", str(tmp_path)]) == 0
    )
    for name in ("jobs", "leases", "site_series", "events"):
        a = pd.read_parquet(whatif / f"{name}.parquet")
        b = pd.read_parquet(tmp_path / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "-5"], "days: must be greater than 0"),
        (["--seed", "-1"], "seed"),
        (["--out", "/etc/passwd"], "not a folder"),
        (["--out", ""], "--out: empty"),  # not "nothing written" in silence
    ],
)
def test_bad_arguments_exit_2_with_a_message(args, message, capsys):
    assert main(["simulate", str(SCENARIOS / "demo_whatif.yaml"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_bad_override_is_blamed_on_the_flag_not_the_file(capsys):
    assert main(["simulate", str(SCENARIOS / "demo_whatif.yaml"), "--days", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("--days: must be greater than 0")
    assert "demo_whatif.yaml" not in err


@pytest.mark.parametrize(
    ("command", "path", "words"),
    [
        ("simulate", SCENARIOS.parent / "demo.yaml", "this is a site file, not a scenario"),
        (
            "info",
            SCENARIOS / "demo_whatif.yaml",
            "this is a scenario file, not a site; run it with 'campustwin simulate'",
        ),
    ],
)
def test_a_file_of_the_wrong_kind_gets_one_line(command, path, words, capsys):
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_what_starts_after_the_horizon_is_told_not_dropped(tmp_path, capsys):
    """A lease or an event the run never reaches is valid, but the user hears of it, with its line."""
    text = (SCENARIOS / "demo_whatif.yaml").read_text()
    text = text.replace("    start_day: 0", "    start_day: 40").replace(
        "[../demo.yaml]", f"[{SCENARIOS.parent / 'demo.yaml'}]"
    )
    text += "events:\n  - {kind: outage, site: Demo, day: 12, hours: 4}\n"
    path = tmp_path / "late.yaml"
    path.write_text(text)
    lease_line = text.splitlines().index("    start_day: 40") + 1
    out = tmp_path / "out"
    assert main(["simulate", str(path), "--days", "10", "--out", str(out), "--json"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert (
        f"note: {path}:{lease_line}: leases[0].start_day: lease 'acme-gb200-pod' starts on day 40" in err[0]
    )
    assert "events[0].day: the outage event comes on day 12, after the run's 10 days" in err[1]
    events = pd.read_parquet(out / "events.parquet")
    told = events[events.kind == "not_simulated"]
    assert told.subject.tolist() == ["leases[0].start_day", "events[0].day"]
    assert "outage" not in set(events.kind)
    # With the days to reach it, the outage happens and is no longer pointed out.
    assert main(["simulate", str(path), "--days", "13", "--out", str(tmp_path / "out13"), "--json"]) == 0
    err = capsys.readouterr().err
    assert "leases[0].start_day" in err and "events[0]" not in err
    assert "outage" in set(pd.read_parquet(tmp_path / "out13" / "events.parquet").kind)
    assert main(["validate", str(path)]) == 0
    assert "note:" in capsys.readouterr().err


def test_an_out_folder_that_cannot_take_the_results_is_refused_before_the_run(tmp_path, capsys):
    (tmp_path / "o" / "kpis.json").mkdir(parents=True)
    assert (
        main(["simulate", str(SCENARIOS / "demo_baseline.yaml"), "--days", "1", "--out", str(tmp_path / "o")])
        == 2
    )
    err = capsys.readouterr().err
    assert "o/kpis.json: is a folder, where a result file goes" in err and "Traceback" not in err


def test_an_out_folder_holding_other_files_is_refused_an_earlier_run_is_replaced(tmp_path, capsys):
    """Results went in among a folder's own files (--out sample_sites dropped ten beside the sites)."""
    out = tmp_path / "o"
    args = ["simulate", str(SCENARIOS / "demo_baseline.yaml"), "--days", "1", "--out", str(out)]
    assert main([*args, "--seed", "1"]) == 0
    assert main([*args, "--seed", "2"]) == 0  # only an earlier run there: replaced
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main([*args, "--seed", "3"]) == 2
    assert (
        "o: holds notes.txt, not a run's results; give a new or empty folder for --out"
        in capsys.readouterr().err
    )
    assert json.loads((out / "kpis.json").read_text())["seed"] == 2


def test_a_disk_that_fills_during_the_run_loses_no_earlier_results(tmp_path, capsys, monkeypatch):
    """Results are written all or nothing; when writing fails the KPIs are still printed, exit 2."""
    out = tmp_path / "o"
    args = ["simulate", str(SCENARIOS / "demo_baseline.yaml"), "--days", "1", "--out", str(out)]
    assert main([*args, "--seed", "1"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(self, path, **kwargs):
        if "site_series" in str(path) or "jobs" in str(path):
            raise OSError(28, "No space left on device")
        return original(self, path, **kwargs)

    original = pd.DataFrame.to_parquet
    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    capsys.readouterr()
    assert main([*args, "--seed", "2"]) == 2
    out_text, err = capsys.readouterr()
    assert "cannot write the results (No space left on device); nothing there was changed" in err
    assert "utilization" in out_text and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # seed 1's files, whole


def test_a_run_stopped_midway_leaves_no_empty_folder_and_an_earlier_run_whole(tmp_path, capsys, monkeypatch):
    """Ctrl-C during the run: the folders --out made are removed; a folder that was there is kept."""
    import twin.simulate

    def stopped(scenario, progress=None):
        raise KeyboardInterrupt

    kept = tmp_path / "kept"
    args = ["simulate", str(SCENARIOS / "demo_baseline.yaml"), "--days", "1"]
    assert main([*args, "--out", str(kept)]) == 0
    before = {p.name: p.read_bytes() for p in kept.iterdir()}
    monkeypatch.setattr(twin.simulate, "simulate", stopped)
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "new" / "deeper")]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
    assert main([*args, "--out", str(kept)]) == 130
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == before
