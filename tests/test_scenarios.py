"""The sample scenarios in ``sample_sites/scenarios/``: they validate, and the demo ones run sensibly.

The campus-scale scenarios (baseline, baseline_lease, spot_heavy) take minutes to run a year, so
here they are only validated; the demo ones (3,200 GPUs, 30 days) run in about a second each and
their KPIs are checked: a what-if lease earns and shows its tenant, the events scenario logs each
event, the trace scenario submits exactly the trace rows that fall inside the horizon. A lease
larger than its site is refused at load with exit code 2 and a message that names the lease's line
and says what to do.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.cli import main
from twin.results import Results
from twin.scenario import load_scenario
from twin.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "sample_sites" / "scenarios"
DEMO_SITE = ROOT / "sample_sites" / "demo.yaml"


def _run(name: str) -> Results:
    return simulate(load_scenario(SCENARIOS / name))


@pytest.fixture(scope="module")
def baseline() -> Results:
    return _run("demo_baseline.yaml")


@pytest.fixture(scope="module")
def whatif() -> Results:
    return _run("demo_whatif.yaml")


def test_every_scenario_validates(capsys):
    files = sorted(str(p) for p in SCENARIOS.glob("*.yaml"))
    expected = {
        "baseline",
        "baseline_lease",
        "spot_heavy",
        "demo_baseline",
        "demo_whatif",
        "demo_events",
        "demo_trace",
        "llama3_405b",
    }
    assert expected <= {Path(f).stem for f in files}
    assert main(["validate", *files]) == 0
    out, err = capsys.readouterr()
    # The one note: the 100k-GPU sample lease rounds up to whole pods, as its comments say.
    assert err.splitlines() == [
        f"note: {SCENARIOS / 'baseline_lease.yaml'}:58: leases[0].gpus: lease 'frontier-gb200' takes whole "
        "pods of 4,608 GPUs: at least 101,376 are held for the 100,000 it pays for, and the other 1,376 earn "
        "nothing; ask for a multiple of 4,608, or use isolation: rack"
    ]
    assert out.count(": valid scenario") == len(files)


def test_demo_baseline_is_busy_and_internal(baseline):
    k = baseline.kpis
    assert 0.6 <= k["utilization"] <= 0.95
    assert k["leased_share"] == 0 and k["revenue_usd"] == 0 and k["tenants"] == {}
    assert k["jobs_submitted"] > 500 and k["jobs_completed"] > 0.8 * k["jobs_submitted"]
    assert k["failures"] > 0
    assert 0.9 <= k["effective_training_time"] <= 1.0
    assert k["wall_seconds"] < 10


def test_demo_whatif_lease_earns_and_displaces(baseline, whatif):
    k, base = whatif.kpis, baseline.kpis
    assert k["revenue_usd"] > 0
    assert "Acme AI" in k["tenants"]
    acme = k["tenants"]["Acme AI"]
    assert acme["leases"] == ["acme-gb200-pod"]
    # Take-or-pay bills the committed 576 GPUs for the 30 days, at $4.00.
    assert acme["revenue_usd"] == pytest.approx(576 * 30 * 24 * 4.00)
    assert acme["sla_attainment"] >= 0.99
    lease = whatif.leases.set_index("lease").loc["acme-gb200-pod"]
    assert lease["status"] == "active" and lease["granted_gpus"] == 576  # one whole pod
    # The same demand and seed as the baseline: the lease takes capacity from internal work.
    assert k["jobs_submitted"] == base["jobs_submitted"]
    assert k["leased_share"] == pytest.approx(576 / 3200, rel=0.02)
    assert k["internal_utilization"] < base["internal_utilization"]
    assert k["queue_wait_mean_hours"] > base["queue_wait_mean_hours"]
    assert k["displaced_internal_value_usd"] > 0


def test_demo_events_are_logged_and_felt():
    res = _run("demo_events.yaml")
    ev = res.events
    outage = ev[ev["kind"] == "outage"]
    assert len(outage) == 1 and outage["subject"].iloc[0] == "B/L1"
    assert outage["time_h"].iloc[0] == pytest.approx(8 * 24)
    assert "B/L1" in " ".join(ev["subject"].astype(str))
    notice = ev[(ev["kind"] == "lease_notice") & (ev["subject"] == "burst-h100")]
    assert len(notice) == 1 and notice["time_h"].iloc[0] == pytest.approx(12 * 24)
    ended = ev[(ev["kind"] == "lease_ended") & (ev["subject"] == "burst-h100")]
    assert len(ended) == 1 and ended["time_h"].iloc[0] == pytest.approx(19 * 24)  # 7 days' notice
    assert (ev["kind"] == "curtailment").any() and (ev["kind"] == "curtailment_end").any()
    assert (ev["kind"] == "demand_shock").any()
    leases = res.leases.set_index("lease")
    assert leases.loc["burst-h100", "status"] == "ended"
    # Every GB200 is in the hall that went out: the reserved tenant has no spare and gets a credit.
    assert leases.loc["acme-gb200-pod", "sla_attainment"] < 0.99
    assert leases.loc["acme-gb200-pod", "credits_usd"] > 0
    k = res.kpis
    assert k["sla_credits_usd"] > 0 and k["preemptions"] > 0
    assert set(k["tenants"]) == {"Acme AI", "Burstco"}


def test_demo_trace_submits_the_rows_inside_the_horizon():
    scenario = load_scenario(SCENARIOS / "demo_trace.yaml")
    trace = scenario.spec.trace
    assert trace is not None
    csv = pd.read_csv(scenario.folder / trace.file)
    hours = (csv[trace.columns.submit] - csv[trace.columns.submit].min()) / 3600.0
    inside = int((hours < scenario.spec.days * 24).sum())
    assert 0 < inside < len(csv)  # the file runs past the horizon on purpose
    res = simulate(scenario)
    assert res.kpis["jobs_submitted"] == inside
    assert set(res.jobs["kind"]) == {"trace"}
    assert set(res.jobs["owner"]) <= set(csv[trace.columns.owner])
    # The mapping carried sizes through: the jobs' GPU counts are the first rows' counts, in order.
    order = csv.assign(h=hours).sort_values("h", kind="stable")
    assert res.jobs["gpus"].tolist() == order[trace.columns.gpus].head(inside).tolist()


def test_a_lease_too_big_for_its_site_is_refused(tmp_path, capsys):
    path = tmp_path / "too_big.yaml"
    path.write_text(
        "name: too-big\n"
        f"sites: [{DEMO_SITE}]\n"
        "days: 30\n"
        "leases:\n"
        "  - name: whale\n"
        "    tenant: Whale AI\n"
        "    gpu_type: GB200\n"
        "    gpus: 2000\n"
        "    site: Demo\n"
        "    term_days: 365\n"
        "    price_usd_per_gpu_hour: 4.0\n"
    )
    assert main(["validate", str(path)]) == 2
    _, err = capsys.readouterr()
    assert f"{path}:8: leases[0].gpus:" in err  # line 8 is `gpus: 2000`
    assert "2,000 GB200" in err and "1,152" in err
    assert "lower gpus" in err
    assert main(["simulate", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"{path}:8: leases[0].gpus:" in err


def _scenario_file(tmp_path, body: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nsites: [{DEMO_SITE}]\ndays: 5\n" + body)
    return path


@pytest.mark.parametrize(
    ("body", "line", "where", "words"),
    [
        # A catalog type the site does not have: refused at load, not a crash in the run.
        ("training:\n  gpu_type: B200\n", 5, "training.gpu_type", "no B200 GPUs are installed"),
        (
            "inference:\n  - {site: Demo, gpu_type: GB300, peak_gpus: 10}\n",
            5,
            "inference[0].gpu_type",
            "GB300",
        ),
        ("inference:\n  - {site: any, peak_gpus: 10}\n", 5, "inference[0].site", "one site"),
        ("events:\n  - {kind: outage, site: any, day: 1}\n", 5, "events[0].site", "name it"),
        (
            "money:\n  internal_value_usd_per_gpu_hour_by_type:\n    H100-SXM: 2\n    GB20: 3.5\n",
            7,
            "money.internal_value_usd_per_gpu_hour_by_type.GB20",
            "unknown GPU type 'GB20'; did you mean 'GB200'",
        ),
        # Two reserved leases that overlap and together outgrow the site's 1,152 GB200.
        (
            "leases:\n"
            "  - {name: a, tenant: A, gpu_type: GB200, gpus: 700, term_days: 10, price_usd_per_gpu_hour: 3}\n"
            "  - {name: b, tenant: B, gpu_type: GB200, gpus: 700, start_day: 2, term_days: 10, price_usd_per_gpu_hour: 3}\n",
            6,
            "leases[1].start_day",
            "1,400 GB200",
        ),
    ],
)
def test_impossible_scenarios_are_refused_with_their_line(tmp_path, capsys, body, line, where, words):
    path = _scenario_file(tmp_path, body)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: {where}:" in err and words in err and "Traceback" not in err


def test_leases_one_after_the_other_may_each_take_the_whole_site(tmp_path):
    body = (
        "leases:\n"
        "  - {name: a, tenant: A, gpu_type: GB200, gpus: 1000, term_days: 2, price_usd_per_gpu_hour: 3}\n"
        "  - {name: b, tenant: B, gpu_type: GB200, gpus: 1000, start_day: 2, term_days: 2, price_usd_per_gpu_hour: 3}\n"
    )
    assert main(["validate", "-q", str(_scenario_file(tmp_path, body))]) == 0


@pytest.mark.parametrize("days", [1e-10, 1e-4, 0.5])
def test_a_horizon_shorter_than_a_day_gives_every_table(days: float) -> None:
    """Regression: under ~1e-9 days the rack x day matrix had no day and the run died in a traceback."""
    res = simulate(load_scenario(SCENARIOS / "demo_whatif.yaml", {"days": days}))
    assert res.kpis["days"] == days and res.rack_day_utilization.shape[1] == 1
    assert len(res.site_series) >= 1 and len(res.leases) == 1


def _trace_scenario(tmp_path: Path) -> Path:
    """demo_trace.yaml copied into ``tmp_path/scenarios``; its trace goes in ``tmp_path/traces``."""
    src = (SCENARIOS / "demo_trace.yaml").read_text()
    (tmp_path / "traces").mkdir()
    scenario = tmp_path / "scenarios" / "s.yaml"
    scenario.parent.mkdir()
    scenario.write_text(src.replace("../demo.yaml", str(ROOT / "sample_sites" / "demo.yaml")))
    return scenario


def test_a_trailing_cell_on_every_trace_row_shifts_no_column(tmp_path):
    """With one cell more than the header on every row, pandas once took the first column for an
    index and read the user name as the duration."""
    scenario = _trace_scenario(tmp_path)
    rows = "job_id,submitted_at,num_gpus,runtime_s,user\nj0,0,8,3600,evals,\nj1,60,16,7200,evals,\n"
    (tmp_path / "traces" / "demo_trace.csv").write_text(rows)
    jobs = simulate(load_scenario(scenario, {"days": 1})).jobs
    assert jobs["gpus"].tolist() == [8, 16]


def test_bad_trace_rows_are_named_as_written(tmp_path, capsys):
    """Rows with a negative, fractional, text or missing GPU count are refused, each by its line."""
    scenario = _trace_scenario(tmp_path)
    header = "job_id,submitted_at,num_gpus,runtime_s,user\n"
    for gpus, shown in (
        (["-8", "8.5", ""], ["-8", "8.5", "empty"]),  # numbers only: read as numbers
        (["-8", "8.5", "many"], ["-8", "8.5", "'many'"]),  # a word among them: numbers still as written
        (["nan", "NA", " "], ["nan", "'NA'", "empty"]),  # "nan" read "empty" before
        (["1e30", "-1", "2e9"], ["1e+30", "-1", "2e+09"]),  # past int64 once crashed the run
    ):
        rows = "".join(f"j{i},1798761720,{g},3042,evals\n" for i, g in enumerate(gpus))
        (tmp_path / "traces" / "demo_trace.csv").write_text(header + rows + "ok,1798761720,8,3042,evals\n")
        assert main(["simulate", str(scenario), "--days", "1"]) == 2
        err = capsys.readouterr().err
        for line, value in enumerate(shown, start=2):
            assert (
                f"demo_trace.csv:{line}: num_gpus: bad value {value}; expected a whole number > 0" in err
            ), err
        assert "np." not in err and "Traceback" not in err and ":5:" not in err


def test_a_trace_is_quoted_without_what_a_terminal_would_act_on(tmp_path, capsys):
    """A header of escape sequences (a window title, a colour) and NULs was echoed byte for byte."""
    scenario = _trace_scenario(tmp_path)
    header = "job_id,submitted_at,\x1b]0;PWNED\x07\x1b[31mnum_gpus\x00,runtime_s,user\n"
    (tmp_path / "traces" / "demo_trace.csv").write_text(header + "j0,0,8,3600,evals\n")
    assert main(["simulate", str(scenario), "--days", "1"]) == 2
    err = capsys.readouterr().err
    assert "missing column(s) num_gpus; columns are job_id, submitted_at, \\x1b]0;PWNED\\x07\\x1b[31m" in err
    assert not any(c in err for c in "\x1b\x07\x00")


def test_a_trace_separated_by_semicolons_is_told_to_use_commas(tmp_path, capsys):
    scenario = _trace_scenario(tmp_path)
    (tmp_path / "traces" / "demo_trace.csv").write_text(
        "job_id;submitted_at;num_gpus;runtime_s;user\nj0;0;8;3600;u\n"
    )
    assert main(["simulate", str(scenario), "--days", "1"]) == 2
    assert "columns are separated by ';': separate them with commas" in capsys.readouterr().err


def test_a_bad_trace_row_is_named_by_its_line_after_cells_spanning_lines(tmp_path, capsys):
    """A quoted cell with line breaks (and blank lines) ahead of a bad row put it lines early."""
    scenario = _trace_scenario(tmp_path)
    rows = '\njob_id,submitted_at,num_gpus,runtime_s,user\nj0,0,8,3600,"two\nline\nname"\n\n   \nj1,60,-8,3600,u\n'
    (tmp_path / "traces" / "demo_trace.csv").write_text(rows)
    assert main(["simulate", str(scenario), "--days", "1"]) == 2
    assert "demo_trace.csv:8: num_gpus: bad value -8" in capsys.readouterr().err


def test_trace_jobs_too_big_for_any_pool_are_told_at_their_lines_before_the_run(tmp_path, capsys):
    """A replayed trace of a bigger cluster: valid, but such a job is rejected when it arrives; the
    note names its CSV line (the trace is sorted by submit time, the line is the file's)."""
    scenario = _trace_scenario(tmp_path)
    rows = (
        "job_id,submitted_at,num_gpus,runtime_s,user\n"
        'j0,600,8,3600,"two\nlines"\n'  # a quoted line break: the next record starts on line 4
        "j1,0,4096,3600,big\n"  # the demo's largest pool holds 2,048 H100
        "j2,60,16,7200,evals\n"
    )
    (tmp_path / "traces" / "demo_trace.csv").write_text(rows)
    assert main(["validate", str(scenario)]) == 0
    err = capsys.readouterr().err
    assert "demo_trace.csv:4: num_gpus: a job of 4,096 GPUs, more than the 2,048 of the largest pool" in err
    assert err.count("note:") == 1
    res = simulate(load_scenario(scenario, {"days": 1}))
    assert res.jobs.set_index("gpus").loc[4096, "status"] == "rejected"
