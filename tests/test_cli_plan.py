"""``campustwin plan``: every format from the command line, tenants and days from a run, bad arguments refused."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import ezdxf
import pytest
from plan_helpers import pdf_page_texts

from app.cli import main

SITES = Path(__file__).resolve().parent.parent / "sample_sites"
DEMO = SITES / "demo.yaml"
WHATIF = SITES / "scenarios" / "demo_whatif.yaml"


@pytest.mark.parametrize("fmt", ["svg", "pdf", "dxf", "csv"])
def test_each_format_is_written(fmt: str, tmp_path: Path) -> None:
    out = tmp_path / "deep" / f"demo.{fmt}"
    assert main(["plan", str(DEMO), "--format", fmt, "--out", str(out), "--color-by", "kw"]) == 0
    assert out.stat().st_size > 1000


def test_tenants_come_from_the_scenario_run(tmp_path: Path) -> None:
    out = tmp_path / "demo.csv"
    args = ["plan", str(DEMO), "--format", "csv", "--out", str(out), "--scenario", str(WHATIF), "--day", "2"]
    assert main(args) == 0
    rows = list(csv.DictReader(out.open(newline="")))
    assert len(rows) == 144
    leased = [r for r in rows if r["tenant"] == "Acme AI"]
    assert len(leased) >= 8 and {r["lease"] for r in leased} == {"acme-gb200-pod"}
    assert {r["gpu_type"] for r in leased} == {"GB200"}


def test_racks_serving_a_hosted_model_are_named_for_it(tmp_path: Path) -> None:
    """lease_vs_tokens sells an H100 pod by the GPU-hour and a hosted model by the token: the
    plan names both, and the model's racks are the ones its replicas hold at the run's end."""
    from twin.results import Results
    from twin.scenario import load_scenario
    from twin.simulate import simulate

    scenario = SITES / "scenarios" / "lease_vs_tokens.yaml"
    run = simulate(load_scenario(scenario, {"days": 3}))
    serving = {
        name for name, model in zip(run.rack_names, run.rack_hosted, strict=True) if model == "llama-70b-api"
    }
    replicas = int(run.hosted_series["replicas_held"].iloc[-1])  # one 8-GPU server each
    assert replicas / 2 <= len(serving) <= replicas  # a rack of the demo's H100 holds two servers
    Results.write(run, tmp_path / "run")
    assert Results.read(tmp_path / "run").rack_hosted == run.rack_hosted

    out = tmp_path / "plan.csv"
    args = [
        "plan",
        str(DEMO),
        "--format",
        "csv",
        "--out",
        str(out),
        "--scenario",
        str(scenario),
        "--day",
        "3",
    ]
    assert main(args) == 0
    rows = list(csv.DictReader(out.open(newline="")))
    assert {f"Demo/{r['rack_id']}" for r in rows if r["tenant"] == "hosted: llama-70b-api"} == serving
    assert {r["lease"] for r in rows if r["tenant"] == "hosted: llama-70b-api"} == {""}
    assert {r["lease"] for r in rows if r["tenant"] not in {"internal", "hosted: llama-70b-api"}} == {
        "h100-pod-lease"
    }

    bundle = tmp_path / "netbox"
    assert main([*args[:3], "netbox", "--out", str(bundle), *args[6:]]) == 0
    tenants = {
        r["name"]: r["description"] for r in csv.DictReader((bundle / "01_tenants.csv").open(newline=""))
    }
    assert tenants["hosted: llama-70b-api"].endswith("a hosted model, sold by the token")


def test_netbox_bundle_as_a_zip_for_one_hall(tmp_path: Path) -> None:
    out = tmp_path / "netbox.zip"
    assert main(["plan", str(DEMO), "--format", "netbox", "--out", str(out), "--hall", "A/H1"]) == 0
    names = zipfile.ZipFile(out).namelist()
    assert "README.md" in [Path(n).name for n in names]
    racks = next(n for n in names if n.endswith("racks.csv"))
    rows = list(csv.DictReader(zipfile.ZipFile(out).read(racks).decode().splitlines()))
    assert len(rows) == 64


def _plan_of_day(day: int, fmt: str, folder: Path, color_by: str = "tenant") -> Path:
    out = folder / f"day{day}.{fmt}"
    args = ["plan", str(DEMO), "--format", fmt, "--out", str(out), "--scenario", str(WHATIF), "--day", str(day),
            "--color-by", color_by]  # fmt: skip
    assert main(args) == 0
    return out


@pytest.mark.parametrize("day", [10, 20])
def test_every_format_names_the_run_and_day_it_is_coloured_from(day: int, tmp_path: Path) -> None:
    # Printed or imported into CAD, a plan of day 10 and one of day 20 must be told apart.
    run, when, other = (
        "scenario demo-whatif · seed 7",
        f"tenants on day {day}, the run's end",
        f"day {30 - day}",
    )
    root = ET.parse(_plan_of_day(day, "svg", tmp_path)).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    for tag in ("title", "desc"):
        text = root.find(ns + tag).text
        assert run in text and when in text and other not in text
    pages = pdf_page_texts(_plan_of_day(day, "pdf", tmp_path))
    assert len(pages) == 4  # the overview and three halls: the title block of each says it
    assert all(run in page and when in page and other not in page for page in pages)
    doc = ezdxf.readfile(_plan_of_day(day, "dxf", tmp_path))
    props = dict(doc.header.custom_vars)
    assert (props["Scenario"], props["Seed"], props["Day"]) == ("demo-whatif", "7", str(day))
    assert f"{run} · {when}" in {t.dxf.text for t in doc.modelspace().query("TEXT[layer=='ANNO']")}
    rows = list(csv.DictReader(_plan_of_day(day, "csv", tmp_path).open(newline="")))
    assert {(r["scenario"], r["seed"], r["day"]) for r in rows} == {("demo-whatif", "7", str(day))}


def test_utilisation_plans_say_they_are_a_mean_over_the_run(tmp_path: Path) -> None:
    root = ET.parse(_plan_of_day(12, "svg", tmp_path, "utilisation")).getroot()
    desc = root.find("{http://www.w3.org/2000/svg}desc").text
    assert "seed 7 · mean over the run, days 0-12; tenants on day 12" in desc


@pytest.mark.parametrize("color_by", ["tenant", "utilisation"])
def test_the_csv_gives_each_rack_s_mean_utilisation_of_the_run(color_by: str, tmp_path: Path) -> None:
    """Whatever colours the plan, the CSV carries each rack's mean utilisation from day 0 to --day,
    the same as the run's rack x day matrix."""
    from twin.scenario import load_scenario
    from twin.simulate import simulate

    out = _plan_of_day(10, "csv", tmp_path, color_by)
    rows = list(csv.DictReader(out.open(newline="")))
    run = simulate(load_scenario(WHATIF, {"days": 10}))
    mean = dict(zip(run.rack_names, run.rack_day_utilization.mean(axis=1), strict=True))
    assert [float(r["utilisation_pct"]) for r in rows] == [
        round(float(mean[f"Demo/{r['rack_id']}"]) * 100, 1) for r in rows
    ]
    assert len({r["utilisation_pct"] for r in rows}) > 10  # racks differ: not one figure for all


def test_plans_without_a_run_say_so(tmp_path: Path) -> None:
    out = tmp_path / "plan.pdf"
    assert main(["plan", str(DEMO), "--format", "pdf", "--out", str(out)]) == 0
    assert all("no run of the twin" in page for page in pdf_page_texts(out))
    out = tmp_path / "plan.csv"
    assert main(["plan", str(DEMO), "--format", "csv", "--out", str(out)]) == 0
    assert {
        (r["scenario"], r["seed"], r["day"], r["utilisation_pct"])
        for r in csv.DictReader(out.open(newline=""))
    } == {("", "", "", "")}


def test_console_download_names_the_run_it_is_coloured_from(tmp_path: Path) -> None:
    from app.views.plan_downloads import write_plan
    from twin.campus import build_campus
    from twin.load import load_site
    from twin.scenario import load_scenario
    from twin.simulate import simulate

    results = simulate(load_scenario(WHATIF, {"days": 6}))
    data = write_plan(build_campus(load_site(DEMO)), "svg", "p.svg", "A/H1", "tenant", results)
    desc = ET.fromstring(data).find("{http://www.w3.org/2000/svg}desc").text
    assert "scenario demo-whatif · seed 7 · tenants on day 6, the run's end" in desc


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "svg", "--out", "{tmp}/plan.pdf"], "a svg file should end in .svg"),
        (
            ["--format", "svg", "--out", "{tmp}/p.svg", "--hall", "Z/H9"],
            "--hall 'Z/H9': no such hall in Demo",
        ),
        (["--format", "svg", "--out", "{tmp}/p.svg", "--day", "3"], "--day: needs --scenario"),
        (
            ["--format", "svg", "--out", "{tmp}/p.svg", "--color-by", "utilisation"],
            "--color-by utilisation: needs --scenario",
        ),
        (["--format", "pdf", "--out", "{tmp}"], "is a folder"),
        (["--format", "csv", "--out", ""], "--out: empty"),
        (["--format", "svg", "--out", "{tmp}/plan.svg/x.svg"], "is a file, not a folder"),
        (
            ["--format", "svg", "--out", "{tmp}/p.svg", "--scenario", "{scenario}", "--day", "-1"],
            "--day: a day after",
        ),
        (  # demo_baseline runs 30 days: --day 99 once ran 99 and labelled the plan "day 99"
            ["--format", "svg", "--out", "{tmp}/p.svg", "--scenario", "{scenario}", "--day", "99"],
            "--day: 99 is after the scenario's last day, 30; give a day up to 30",
        ),
    ],
)
def test_bad_arguments_exit_2_with_the_fix(extra: list[str], message: str, tmp_path: Path, capsys) -> None:
    scenario = str(DEMO.parent / "scenarios" / "demo_baseline.yaml")
    args = [
        "plan",
        str(DEMO),
        *(a.replace("{tmp}", str(tmp_path)).replace("{scenario}", scenario) for a in extra),
    ]
    (tmp_path / "plan.svg").write_text("")  # a file where a folder is asked for
    if "is a folder" in message:
        args[-1] = str(tmp_path) + "/x.pdf"
        (tmp_path / "x.pdf").mkdir()
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_scenario_of_another_campus_is_refused(tmp_path: Path, capsys) -> None:
    args = ["plan", str(SITES / "ohio.yaml"), "--format", "csv", "--out", str(tmp_path / "o.csv"),
            "--scenario", str(WHATIF)]  # fmt: skip
    assert main(args) == 2
    assert "runs Demo, not Prometheus" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
