"""Where ``campustwin plan`` writes: never over its input or someone's files, whole or not at all,
and a refused or impossible output named with its fix."""

from __future__ import annotations

import csv
import resource
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.cli import main
from layouts.export import ExportError, safe_output

SITES = Path(__file__).resolve().parent.parent / "sample_sites"
DEMO = SITES / "demo.yaml"
WHATIF = SITES / "scenarios" / "demo_whatif.yaml"


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
