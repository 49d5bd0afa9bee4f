"""``campustwin plan``: every format from the command line, tenants from a run, bad input refused."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest

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


def test_netbox_bundle_as_a_zip_for_one_hall(tmp_path: Path) -> None:
    out = tmp_path / "netbox.zip"
    assert main(["plan", str(DEMO), "--format", "netbox", "--out", str(out), "--hall", "A/H1"]) == 0
    names = zipfile.ZipFile(out).namelist()
    assert "README.md" in [Path(n).name for n in names]
    racks = next(n for n in names if n.endswith("racks.csv"))
    rows = list(csv.DictReader(zipfile.ZipFile(out).read(racks).decode().splitlines()))
    assert len(rows) == 64


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


@pytest.mark.parametrize(
    "name", ["../x.svg", "a/b.svg", "..", ".hidden", "", "x" * 200, "a\x00b.svg", "C:\\x.svg"]
)
def test_console_file_names_never_leave_their_folder(name: str, tmp_path: Path) -> None:
    with pytest.raises(ExportError):
        safe_output(tmp_path, name)


def test_a_plain_name_is_kept(tmp_path: Path) -> None:
    assert safe_output(tmp_path, "Demo-A_H1.svg") == (tmp_path / "Demo-A_H1.svg").resolve()
