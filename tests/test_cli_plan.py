"""``campustwin plan``: every format from the command line, tenants from a run, bad input refused."""

from __future__ import annotations

import csv
import resource
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import ezdxf
import pytest
from plan_helpers import pdf_page_texts

from app.cli import main
from layouts.export import ExportError, safe_output

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


def test_a_zip_that_is_not_a_bundle_is_never_replaced(tmp_path: Path, capsys) -> None:
    out = tmp_path / "backup.zip"
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("thesis.txt", "important")
    before = out.read_bytes()
    assert main(["plan", str(DEMO), "--format", "netbox", "--out", str(out), "--hall", "A/H1"]) == 2
    assert (
        "the zip holds thesis.txt, not a NetBox bundle; give a new .zip file name" in capsys.readouterr().err
    )
    assert out.read_bytes() == before  # it was overwritten, the thesis gone
    out.write_text("not a zip")
    assert main(["plan", str(DEMO), "--format", "netbox", "--out", str(out), "--hall", "A/H1"]) == 2
    assert "is not a zip file" in capsys.readouterr().err and out.read_text() == "not a zip"


def test_a_plan_is_never_written_over_its_own_input(tmp_path: Path, capsys) -> None:
    site = tmp_path / "site.csv"
    site.write_bytes(DEMO.read_bytes())
    (tmp_path / "catalog.yaml").write_bytes((SITES / "catalog.yaml").read_bytes())
    assert main(["plan", str(site), "--format", "csv", "--out", str(site)]) == 2
    assert (
        f"--out {site}: is the input file {site}; write the plan to another name" in capsys.readouterr().err
    )
    assert site.read_bytes() == DEMO.read_bytes()


def _limited_to(max_bytes: int):
    """For a child process: no file may grow past ``max_bytes`` (a full disk, as a write sees it)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


@pytest.mark.parametrize("fmt", ["csv", "netbox"])
def test_a_plan_that_cannot_be_written_leaves_the_earlier_one_whole(fmt: str, tmp_path: Path) -> None:
    """A write that fails part way (here: files limited to 256 kB, as on a full disk) left a
    truncated file, or a bundle of two campuses' files, where the earlier export was."""
    out = tmp_path / ("plan.csv" if fmt == "csv" else "bundle")
    assert main(["plan", str(DEMO), "--format", fmt, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in ([out] if out.is_file() else sorted(out.iterdir()))}
    code = f"import sys; from app.cli import main; sys.exit(main(['plan', {str(SITES / 'louisiana.yaml')!r}, '--format', {fmt!r}, '--out', {str(out)!r}]))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        preexec_fn=_limited_to(256_000),
        timeout=300,
    )
    assert done.returncode == 2 and "cannot write (File too large)" in done.stderr, done.stderr[-2000:]
    after = {p.name: p.read_bytes() for p in ([out] if out.is_file() else sorted(out.iterdir()))}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # nothing half-written beside it


def test_a_netbox_folder_is_replaced_file_by_file_keeping_a_users_hidden_files(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    args = ["plan", str(DEMO), "--format", "netbox", "--out", str(out)]
    assert main([*args, "--hall", "A/H1"]) == 0
    (out / ".git").mkdir()  # the user keeps the bundle under version control
    assert main(args) == 0
    assert (out / ".git").is_dir()
    assert (
        len(list(csv.DictReader((out / "05_racks.csv").read_text().splitlines()))) > 64
    )  # the whole site now
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


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


def test_netbox_out_is_a_new_folder_or_an_earlier_bundle(tmp_path: Path, capsys) -> None:
    def plan(out: Path) -> int:
        return main(["plan", str(DEMO), "--format", "netbox", "--out", str(out), "--hall", "A/H1"])

    assert plan(tmp_path / "nb.tar") == 2  # once wrote a folder named like an archive
    assert (
        "--out " + str(tmp_path / "nb.tar") + ": a NetBox bundle is a folder (or a .zip), not a .tar file"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "nb.tar").exists()
    folder = tmp_path / "nb"
    assert plan(folder) == 0
    (folder / "05_racks.csv").write_text("stale")
    assert plan(folder) == 0  # only an earlier bundle there: replaced
    assert (folder / "05_racks.csv").read_text().startswith("site,name,")
    (folder / "notes.txt").write_text("mine")
    assert plan(folder) == 2
    assert (
        "the folder holds notes.txt, not a NetBox bundle; give a new or empty folder"
        in capsys.readouterr().err
    )
    assert (folder / "notes.txt").read_text() == "mine"
    (folder / "notes.txt").unlink()
    (folder / ".DS_Store").write_text("")  # a file browser looked at it: still the bundle's folder
    (folder / "Thumbs.db").write_text("")
    assert plan(folder) == 0
    assert plan(tmp_path / "netbox.v2") == 0  # a dotted folder name is not a file's extension
    (tmp_path / "plain").write_text("")
    assert (
        plan(tmp_path / "plain") == 2 and "is a file; a NetBox bundle is a folder" in capsys.readouterr().err
    )


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


@pytest.mark.skipif(not Path("/proc/sys").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("fmt", ["svg", "netbox"])
def test_an_out_the_system_refuses_names_the_fix(fmt: str, capsys) -> None:
    out = "/proc/sys/x.svg" if fmt == "svg" else "/proc/sys/bundle"  # no file can be made there, even by root
    assert main(["plan", str(DEMO), "--format", fmt, "--out", out, "--hall", "A/H1"]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: cannot write (" in err and err.endswith(
        "; give a path in a folder you can write to\n"
    )


@pytest.mark.parametrize("fmt", ["pdf", "dxf"])
def test_a_name_at_the_length_limit_is_written_one_past_it_is_told(tmp_path: Path, fmt: str, capsys) -> None:
    """The plan is written under a hidden name first: it once took the whole name and failed at 255 bytes."""
    longest = tmp_path / ("p" * (255 - len(fmt) - 1) + "." + fmt)
    assert main(["plan", str(DEMO), "--format", fmt, "--out", str(longest), "--hall", "A/H1"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [longest.name]
    too_long = tmp_path / ("p" * 256 + "." + fmt)
    assert main(["plan", str(DEMO), "--format", fmt, "--out", str(too_long), "--hall", "A/H1"]) == 2
    assert "a file name holds at most 255 bytes, give a shorter one" in capsys.readouterr().err


def test_a_folder_that_cannot_be_looked_into_is_refused_without_a_traceback(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    locked = tmp_path / "locked"
    real_exists = Path.exists

    def exists(self: Path, *args, **kwargs) -> bool:  # what a folder without read permission gives
        if self == locked:
            raise PermissionError(13, "Permission denied")
        return real_exists(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", exists)
    assert main(["plan", str(DEMO), "--format", "svg", "--out", str(locked / "in" / "p.svg")]) == 2
    assert (
        "cannot write (Permission denied); give a path in a folder you can write to"
        in capsys.readouterr().err
    )


def test_scenario_of_another_campus_is_refused(tmp_path: Path, capsys) -> None:
    args = ["plan", str(SITES / "ohio.yaml"), "--format", "csv", "--out", str(tmp_path / "o.csv"),
            "--scenario", str(WHATIF)]  # fmt: skip
    assert main(args) == 2
    assert "runs Demo, not Prometheus" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(
    "name", ["../x.svg", "a/b.svg", "..", ".hidden", "", "x" * 200, "a\x00b.svg", "C:\\x.svg"]
)
def test_console_file_names_never_leave_their_folder(name: str, tmp_path: Path) -> None:
    with pytest.raises(ExportError):
        safe_output(tmp_path, name)


def test_a_plain_name_is_kept(tmp_path: Path) -> None:
    assert safe_output(tmp_path, "Demo-A_H1.svg") == (tmp_path / "Demo-A_H1.svg").resolve()


def test_a_plan_goes_through_a_link_keeps_its_mode_and_may_go_to_dot(tmp_path: Path, monkeypatch) -> None:
    """Written aside and renamed, a plan replaced the link itself (its target kept the old plan),
    lost the file's mode, and '--out .' failed in a traceback."""
    real = tmp_path / "real" / "plan.csv"
    assert main(["plan", str(DEMO), "--format", "csv", "--out", str(real)]) == 0
    real.write_text("an old plan\n")
    real.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert main(["plan", str(DEMO), "--format", "csv", "--out", str(link)]) == 0
    assert link.is_symlink() and real.read_text().startswith("rack_id,")
    assert oct(real.stat().st_mode & 0o777) == oct(0o640)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    monkeypatch.chdir(bundle)
    assert main(["plan", str(DEMO), "--format", "netbox", "--out", ".", "--hall", "A/H1"]) == 0
    assert (bundle / "05_racks.csv").is_file() and sorted(p.name for p in tmp_path.iterdir()) == [
        "bundle", "link.csv", "real"
    ]  # fmt: skip
