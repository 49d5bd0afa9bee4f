"""``campustwin validate`` on files that are not sites at all, hostile input, scenarios, and the reader.

Alias bombs, deep nesting, Python tags, huge or binary files and pipes must end quickly with a clear,
located message; ``pytest-timeout`` guards against hangs. The last part tests ``twin.yamlsafe`` directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from validate_helpers import (
    DEMO,
    bad,
    check_site,
    expect,
    line_no,
    swap,
    validate,
    write,
)

from twin.errors import ProblemList
from twin.textfile import MAX_FILE_BYTES
from twin.yamlsafe import MAX_DEPTH, MAX_NODES, parse_yaml

# --------------------------------------------------------------------- 9. files that are not sites


def test_empty_and_whitespace_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for name, text in [
        ("empty.yaml", ""),
        ("blank.yaml", "  \n\n\t \n"),
        ("comments.yaml", "# only\n# notes\n"),
    ]:
        path = write(tmp_path, name, text)
        expect(bad(capsys, path), path, 1, "", "file is empty", "write a site")


def test_binary_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    raw = b"name: x\n" + bytes(range(256)) * 4
    path = write(tmp_path, "bin.yaml", raw)
    expect(bad(capsys, path), path, 2, "", "binary data", "YAML text")


def test_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.yaml", "name: Demo\nregion: Caf\u00e9\n".encode("latin-1"))
    expect(bad(capsys, path), path, 2, "", "not UTF-8", "save the file as UTF-8")
    path = write(tmp_path, "utf16.yaml", "name: Demo\n".encode("utf-16"))
    expect(bad(capsys, path), path, 1, "", "UTF-16", "save it as UTF-8")


def test_file_over_the_size_limit(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = DEMO + "#" + "x" * (MAX_FILE_BYTES - len(DEMO.encode()))
    path = write(site_dir, "big.yaml", text)
    assert os.path.getsize(path) == MAX_FILE_BYTES + 1
    (line,) = bad(capsys, path)
    assert line.startswith(f"{path}: ") and f"{MAX_FILE_BYTES:,}-byte" in line and "templates" in line


@pytest.mark.timeout(30)
@pytest.mark.skipif(not yaml.__with_libyaml__, reason="the pure-Python parser takes minutes on 8 MiB")
def test_file_just_under_the_size_limit_is_read(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = DEMO + "#" + "x" * (MAX_FILE_BYTES - len(DEMO.encode()) - 2) + "\n"
    path = write(site_dir, "big.yaml", text)
    assert os.path.getsize(path) == MAX_FILE_BYTES
    code, lines = validate(capsys, path)
    assert code == 0, lines


def _billion_laughs(levels: int = 10, width: int = 9) -> str:
    rows = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    rows += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(rows) + f"\nbuildings: *a{levels - 1}\n"


def _bomb_line(width: int = 9) -> int:
    """The line whose aliases take the expanded document past MAX_NODES (one anchor a line)."""
    total, size = 1, 1 + width  # the top mapping; a0, a list of ``width`` scalars
    for line in range(1, 100):
        if total + 1 + size > MAX_NODES:  # this line's key, then its list as expanded
            return line
        total, size = total + 1 + size, 1 + width * size
    raise AssertionError("no bomb")


@pytest.mark.timeout(30)
def test_alias_bomb_is_refused_quickly(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = _billion_laughs()
    path = write(tmp_path, "bomb.yaml", text)
    (line,) = bad(capsys, path)
    expect([line], path, _bomb_line(), "", "alias bomb", "templates")


@pytest.mark.timeout(30)
def test_alias_bomb_of_mappings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = ["x0: &x0 {k: v}"] + [f"x{i}: &x{i} {{a: *x{i - 1}, b: *x{i - 1}}}" for i in range(1, 40)]
    path = write(tmp_path, "bomb.yaml", "\n".join(rows) + "\n")
    (line,) = bad(capsys, path)
    assert "alias bomb" in line


def test_small_anchors_and_merge_keys_are_fine(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    """A hall written as ``<<: *anchor`` plus its own name is an ordinary, valid hall."""
    text = swap(DEMO, "  h100-hall:\n", "  h100-hall: &h100\n")
    text = swap(text, "      - name: L1\n", "      - <<: *h100\n        name: M1\n      - name: L1\n")
    code, lines = validate(capsys, write(site_dir, "site.yaml", text))
    assert code == 0, lines


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "text",
    [
        "[" * 10_000 + "]" * 10_000,
        "a: " + "[" * 10_000,
        "a: " + "{b: " * 10_000,
        "".join(" " * i + "- \n" for i in range(200)),
    ],
    ids=["brackets", "unclosed", "mappings", "block-lists"],
)
def test_deep_nesting_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "deep.yaml", text)
    (line,) = bad(capsys, path)
    assert f"deeper than {MAX_DEPTH} levels" in line and "flatten" in line
    assert "RecursionError" not in line


@pytest.mark.timeout(30)
def test_deep_nesting_through_aliases_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 2000)]
    text = "\n".join(rows) + "\n"
    path = write(tmp_path, "chain.yaml", text)
    (line,) = bad(capsys, path)
    assert f"deeper than {MAX_DEPTH} levels" in line


def test_alias_cycle_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "cycle.yaml", "name: x\nbuildings: &a\n  - *a\n")
    expect(bad(capsys, path), path, 3, "", "cannot contain itself")


def test_python_tag_is_refused_and_not_run(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    marker = site_dir / "ran"
    tag = f'!!python/object/apply:os.system ["touch {marker}"]'
    text = swap(DEMO, "name: Demo", f"name: {tag}")
    path, lines = check_site(capsys, site_dir, text)
    expect(lines, path, line_no(text, "!!python"), "", "'!!python/object/apply:os.system'", "remove the tag")
    assert not marker.exists()


def test_custom_tag_is_refused(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "  region:", "  region: !secret vault\n  other:")
    text = swap(text, "power:\n", "power: !include power.yaml\n")
    path, lines = check_site(capsys, site_dir, text)
    expect(lines, path, line_no(text, "!secret"), "", "'!secret' is not allowed", "remove the tag")
    expect(lines, path, line_no(text, "!include"), "", "'!include' is not allowed")


def test_top_level_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "# a list\n- name: A\n- name: B\n")
    expect(bad(capsys, path), path, 2, "", "top level is a list", "mapping")


def test_top_level_scalar(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "scalar.yaml", "just words\n")
    expect(bad(capsys, path), path, 1, "", "top level is 'just words'")


def test_missing_file_and_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    (line,) = bad(capsys, missing)
    assert line == f"{missing}: file not found; check the path"
    (line,) = bad(capsys, str(tmp_path))
    assert line.startswith(f"{tmp_path}: is a directory")


@pytest.mark.timeout(30)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_pipe_is_refused_not_read(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    (line,) = bad(capsys, str(fifo))
    assert "not a regular file" in line


def test_multiple_documents(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = DEMO + "---\nname: Other\n"
    path, lines = check_site(capsys, site_dir, text)
    expect(lines, path, line_no(text, "---"), "", "second document", "keep one")


def test_impossible_date_and_undefined_alias(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "name: s\nsites: [a.yaml]\nstart: 2027-02-30\n")
    expect(bad(capsys, path), path, 3, "start", "cannot read", "YYYY-MM-DD")
    path = write(tmp_path, "s.yaml", "name: s\nsites: *nowhere\n")
    expect(bad(capsys, path), path, 2, "", "alias *nowhere", "define the anchor first")


# ------------------------------------------------------------------------------- 10. scenarios


def test_scenario_with_a_missing_site(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    write(site_dir, "demo.yaml", DEMO)
    text = "name: trial\nsites:\n  - demo.yaml\n  - gone.yaml\nstart: 2027-01-01\ndays: 30\nseed: 7\n"
    path = write(site_dir, "scenario.yaml", text)
    lines = bad(capsys, path)
    assert len(lines) == 1, lines
    expect(lines, path, line_no(text, "gone.yaml"), "sites[1]", "not found", "relative to the scenario")


def test_a_folder_or_pipe_named_as_a_file_is_not_called_missing(
    capsys: pytest.CaptureFixture[str], site_dir: Path
) -> None:
    write(site_dir, "demo.yaml", DEMO)
    (site_dir / "folder.yaml").mkdir()
    os.mkfifo(site_dir / "pipe.csv")
    text = (
        "name: trial\nsites:\n  - demo.yaml\n  - folder.yaml\ndays: 3\ntrace:\n  file: pipe.csv\n"
        "  columns: {submit: s, gpus: g, duration: d}\n"
    )
    path = write(site_dir, "scenario.yaml", text)
    lines = bad(capsys, path)
    expect(
        lines, path, line_no(text, "folder.yaml"), "sites[1]", "is not a regular file (a folder or a pipe)"
    )


def test_valid_scenario(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    write(site_dir, "demo.yaml", DEMO)
    path = write(site_dir, "scenario.yaml", "name: trial\nsites: [demo.yaml]\ndays: 30\n")
    code, lines = validate(capsys, path)
    assert code == 0, lines


def test_a_run_of_millions_of_jobs_is_refused_before_it_starts(
    capsys: pytest.CaptureFixture[str], site_dir: Path
) -> None:
    """A year at 10,000 arrivals a day (or a flood of shocks, or a short trace replayed) would fill
    the machine's memory hours later; it is refused up front, at the line that asks for it."""
    write(site_dir, "demo.yaml", DEMO)
    text = "name: trial\nsites: [demo.yaml]\ndays: 365\ntraining:\n  arrivals_per_day: 10000\n"
    path = write(site_dir, "scenario.yaml", text)
    expect(
        bad(capsys, path),
        path,
        5,
        "training.arrivals_per_day",
        "about 3,650,000 jobs",
        "lower arrivals_per_day",
    )
    path = write(site_dir, "scenario.yaml", text.replace("365", "100"))
    assert validate(capsys, path)[0] == 0  # a million is allowed
    shock = "events:\n  - {kind: demand_shock, day: 1, hours: 720, factor: 100}\n"
    path = write(site_dir, "scenario.yaml", text.replace("365", "100") + shock)
    expect(bad(capsys, path), path, 5, "training.arrivals_per_day", "about 30,700,000 jobs")
    # Shocks in force together multiply: three x100 at 20 a day for 30 days is 600 million, not 179k.
    small = "name: trial\nsites: [demo.yaml]\ndays: 30\ntraining:\n  arrivals_per_day: 20\n"
    shocks = "events:\n" + "  - {kind: demand_shock, day: 0, hours: 720, factor: 100}\n" * 3
    path = write(site_dir, "scenario.yaml", small + shocks)
    expect(bad(capsys, path), path, 5, "training.arrivals_per_day", "about 600,000,000 jobs")

    from app.cli import main

    # A short trace replayed: refused by validate too, and before simulate --save records a run.
    write(site_dir, "trace.csv", "submit,gpus,hours\n" + "0,8,1\n" * 1000)
    trace = "trace: {file: trace.csv, columns: {submit: submit, gpus: gpus, duration: hours}, time_unit: h, repeat: true}\n"
    path = write(site_dir, "scenario.yaml", "name: trial\nsites: [demo.yaml]\ndays: 365\n" + trace)
    expect(bad(capsys, path), path, 4, "trace", "about 8,760,000 jobs", "or repeat: false")
    data = site_dir / "lib"
    assert main(["simulate", path, "--save", "flood", "--data", str(data)]) == 2
    assert "about 8,760,000 jobs" in capsys.readouterr().err
    assert not data.exists() or not any(data.rglob("*.sqlite"))  # nothing recorded
    # A bad cell of the trace is found by validate as well, at its CSV line.
    write(site_dir, "trace.csv", "submit,gpus,hours\n0,8,1\n0,many,1\n")
    lines = bad(capsys, path)
    assert any("trace.csv:3" in line and "many" in line for line in lines), lines


def test_a_sampling_step_too_fine_for_the_run_is_refused(
    capsys: pytest.CaptureFixture[str], site_dir: Path
) -> None:
    write(site_dir, "demo.yaml", DEMO)
    for step, words in (("1.0e-300", "7.20e+302 samples"), ("0.0001", "7,200,000 samples")):
        path = write(site_dir, "s.yaml", f"name: trial\nsites: [demo.yaml]\ndays: 30\nsample_hours: {step}\n")
        expect(bad(capsys, path), path, 4, "sample_hours", words, "raise sample_hours to at least 0.0036")
    # The suggested step is enough on its own (rounded up, not to the nearest).
    path = write(site_dir, "s.yaml", "name: trial\nsites: [demo.yaml]\ndays: 10.2875\nsample_hours: 0.0001\n")
    expect(bad(capsys, path), path, 4, "sample_hours", "at least 0.00124")
    path = write(site_dir, "s.yaml", "name: trial\nsites: [demo.yaml]\ndays: 30\nsample_hours: 0.01\n")
    assert validate(capsys, path)[0] == 0


def test_scenario_problems_reach_into_its_sites(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    site_text = swap(DEMO, "latitude: 40.08", "latitude: 400")
    site = write(site_dir, "demo.yaml", site_text)
    text = "name: trial\nsites: [demo.yaml,\n  gone.yaml]\ndays: 10\n"
    path = write(site_dir, "scenario.yaml", text)
    lines = bad(capsys, path)
    assert len(lines) == 2, lines
    expect(lines, path, line_no(text, "gone.yaml"), "sites[1]", "not found")
    expect(lines, site, line_no(site_text, "latitude: 400"), "location.latitude", "at most 90")
    assert lines[0].startswith(path), "the scenario's own problems come first"


def test_misspelt_scenario_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "scenario.yaml", "name: trial\nsite: [demo.yaml]\ndays: 30\n")
    lines = bad(capsys, path)
    assert len(lines) == 1, lines
    expect(lines, path, 2, "site", "did you mean 'sites'?")


def test_file_of_unknown_kind(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "what.yaml", "# notes\nname: something\ndescription: else\n")
    expect(
        bad(capsys, path),
        path,
        2,
        "",
        "cannot tell what this file is",
        "'buildings:'",
        "'sites:'",
        "'rack_types:'",
    )


# ---------------------------------------------------------------------- twin.yamlsafe directly


def _problems(text: str) -> list[str]:
    with pytest.raises(ProblemList) as info:
        parse_yaml(text, "f.yaml")
    return [str(p) for p in info.value.problems]


def test_duplicate_key_is_reported_at_the_second() -> None:
    problems = _problems("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n")
    assert problems == ["f.yaml:5: b.c: key 'c' appears twice here (first on line 3); keep one"]


def test_duplicate_anchor() -> None:
    assert _problems("a: &x 1\nb: &x 2\n") == [
        "f.yaml:2: anchor &x is defined twice (first on line 1); rename one"
    ]


def test_merge_keys_and_small_aliases_work() -> None:
    text = (
        "base: &base\n  kind: air\n  capacity: 2\nhall:\n  capacity: 3\n  <<: *base\nlist: [*base, *base]\n"
    )
    doc = parse_yaml(text, "f.yaml")
    assert doc.data["hall"] == {"capacity": 3, "kind": "air"}
    assert doc.data["list"] == [{"kind": "air", "capacity": 2}] * 2
    assert doc.data["list"][0] is not doc.data["list"][1], "aliases are expanded into fresh objects"
    # Explicit keys keep their own line even when the merge comes after them; merged and aliased
    # values are placed where they are written, at the anchor.
    assert doc.lines[("hall", "capacity")] == 5
    assert doc.lines[("hall", "kind")] == 2
    assert doc.lines[("list",)] == 7
    assert doc.lines[("list", 1, "capacity")] == 3


def test_merge_of_a_list_of_mappings_first_wins() -> None:
    doc = parse_yaml("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n", "f.yaml")
    assert doc.data["c"] == {"x": 1, "y": 2}


def test_merge_of_a_scalar_is_a_problem() -> None:
    assert "merges a mapping" in _problems("a: &a 1\nb:\n  <<: *a\n")[0]


def test_keys_are_kept_as_written() -> None:
    doc = parse_yaml("on: 1\n1: 2\nnull: 3\n", "f.yaml")
    assert set(doc.data) == {"on", "1", "null"}


def test_lines_of_nested_values() -> None:
    doc = parse_yaml("a:\n  - {x: 1, y: [2, 3]}\n  -\n    x: 4\n", "f.yaml")
    assert doc.line_of(("a", 0, "y", 1)) == 2
    assert doc.line_of(("a", 1, "x")) == 4
    assert doc.line_of(("a", 1, "missing")) == 4  # falls back to the nearest written ancestor


def test_keep_going_returns_problems_with_the_document() -> None:
    doc = parse_yaml("a: 2027-02-30\nb: 2\n", "f.yaml", keep_going=True)
    assert doc.data == {"a": None, "b": 2}
    assert [p.line for p in doc.problems] == [1] and ("a",) in doc.problem_paths
