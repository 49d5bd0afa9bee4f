"""``campustwin validate`` on bad input: every problem located, actionable, all at once.

Each test writes a file into ``tmp_path`` (mostly ``sample_sites/demo.yaml`` with one mistake,
beside a copy of ``catalog.yaml`` so the catalog reference resolves), runs the real command-line
entry point and checks the exit code (2), that no traceback leaked, and that a problem names the
right file, the right line (computed from the text written, not hard-coded), the right dotted
path, and says what to do. The hostile inputs (alias bombs, deep nesting, Python tags, huge or
binary files, pipes) must end quickly with a clear message; ``pytest-timeout`` guards against hangs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from app.cli import main
from twin.errors import ProblemList
from twin.yamlsafe import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, parse_yaml

SAMPLES = Path(__file__).resolve().parent.parent / "sample_sites"
DEMO = (SAMPLES / "demo.yaml").read_text(encoding="utf-8")
CATALOG = (SAMPLES / "catalog.yaml").read_text(encoding="utf-8")

PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+): ")


# ------------------------------------------------------------------------------------------ helpers


def line_no(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line of ``text`` that contains ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} (occurrence {occurrence}) not in the text"
    return hits[occurrence - 1]


def swap(text: str, old: str, new: str) -> str:
    """Replace the first ``old`` with ``new``, insisting it is there (the sample may have moved on)."""
    assert old in text, f"{old!r} not in the text; the sample file changed"
    return text.replace(old, new, 1)


def write(folder: Path, name: str, text: str | bytes) -> str:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """A folder holding a copy of the sample catalog, for site files that refer to it."""
    write(tmp_path, "catalog.yaml", CATALOG)
    return tmp_path


def validate(capsys: pytest.CaptureFixture[str], *paths: str) -> tuple[int, list[str]]:
    """Run ``campustwin validate PATHS``; return the exit code and the stderr lines."""
    code = main(["validate", *paths])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    return code, captured.err.splitlines()


def bad(capsys: pytest.CaptureFixture[str], *paths: str) -> list[str]:
    """Validate files that must fail; return the problem lines."""
    code, lines = validate(capsys, *paths)
    assert code == 2, lines
    assert lines, "exit code 2 but no problem printed"
    return lines


def expect(lines: list[str], file: str, line: int, path: str, *words: str) -> str:
    """The problem line at FILE:LINE: PATH: that contains every one of ``words``."""
    head = f"{file}:{line}: " + (f"{path}: " if path else "")
    found = [entry for entry in lines if entry.startswith(head) and all(w in entry for w in words)]
    assert found, f"no problem {head!r} with {words} in:\n" + "\n".join(lines)
    return found[0]


def lines_of(problems: list[str]) -> list[int]:
    return [int(m["line"]) for m in map(PROBLEM.match, problems) if m]


def check_site(capsys: pytest.CaptureFixture[str], folder: Path, text: str) -> tuple[str, list[str]]:
    path = write(folder, "site.yaml", text)
    return path, bad(capsys, path)


# -------------------------------------------------------------------------------- the good files


def test_sample_files_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = validate(capsys, str(SAMPLES / "demo.yaml"), str(SAMPLES / "catalog.yaml"))
    assert code == 0, lines
    assert lines == []


def test_unchanged_copy_is_valid(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    """The fixture itself is sound, so every failure below is the mutation's doing."""
    code, lines = validate(capsys, write(site_dir, "site.yaml", DEMO))
    assert code == 0, lines


# ----------------------------------------------------------------------------------- 1. syntax


def test_bad_indentation_points_at_the_line(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "\n  longitude:", "\n longitude:")
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 1
    expect(lines, path, line_no(text, " longitude:"), "", "malformed YAML", "indent")


def test_unclosed_bracket_names_where_it_opened(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = re.sub(r"(dry_bulb_monthly_c: \[[^\]\n]*)\]", r"\1", DEMO, count=1)
    opened = line_no(text, "dry_bulb_monthly_c: [")
    path, lines = check_site(capsys, site_dir, text)
    # The parser notices on the next line; the message names the line the '[' is on.
    expect(
        lines, path, opened + 1, "", "malformed YAML", f"starts on line {opened}", "close the list with ']'"
    )


def test_unclosed_bracket_at_end_of_file_stays_in_the_file(
    capsys: pytest.CaptureFixture[str], site_dir: Path
) -> None:
    text = DEMO.rstrip("\n") + "\nextra: [1, 2\n"
    path, lines = check_site(capsys, site_dir, text)
    expect(lines, path, len(text.splitlines()), "", "malformed YAML", "']'")


def test_tab_indentation(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "\n  latitude:", "\n\tlatitude:")
    path, lines = check_site(capsys, site_dir, text)
    expect(lines, path, line_no(text, "\tlatitude:"), "", "spaces, not tabs")


# ------------------------------------------------------------------------------ 2. wrong types


def test_wrong_types(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "rack_type: gb200-nvl72, racks: 8}", "rack_type: gb200-nvl72, racks: many}")
    text = swap(text, "it_capacity_mw: 2.2", 'it_capacity_mw: "big"')
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 2, lines
    expect(
        lines,
        path,
        line_no(text, "racks: many"),
        "buildings[1].halls[0].pods[0].racks",
        "whole number",
        "'many'",
    )
    expect(
        lines,
        path,
        line_no(text, '"big"'),
        "buildings[1].halls[0].it_capacity_mw",
        "expected a number",
        "write digits",
    )


def test_mapping_where_a_list_belongs(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "  sources:\n", "  sources: grid\n  unused:\n")
    path, lines = check_site(capsys, site_dir, text)
    expect(lines, path, line_no(text, "sources: grid"), "power.sources", "expected a list", "'- item'")


# ---------------------------------------------------------------------- 3. missing and unknown


def test_missing_top_level_field(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = re.sub(r"(?m)^energy_price_usd_per_mwh:.*\n", "", DEMO)
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 1, lines
    first_key = line_no(text, "name: Demo")  # a missing top-level field is placed at the top mapping
    expect(lines, path, first_key, "energy_price_usd_per_mwh", "required", "add 'energy_price_usd_per_mwh:")


def test_missing_field_in_a_pod(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "rack_type: gb200-nvl72, racks: 8}", "rack_type: gb200-nvl72}")
    path, lines = check_site(capsys, site_dir, text)
    expect(
        lines,
        path,
        line_no(text, "rack_type: gb200-nvl72}"),
        "buildings[1].halls[0].pods[0].racks",
        "add 'racks:",
    )


def test_unknown_field_suggests_the_right_one(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "it_capacity_mw: 2.2", "it_capacity_mv: 2.2")
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 1, lines
    expect(
        lines,
        path,
        line_no(text, "it_capacity_mv"),
        "buildings[1].halls[0].it_capacity_mv",
        "unknown field",
        "did you mean 'it_capacity_mw'?",
    )


def test_misspelt_buildings_is_still_a_site_and_one_problem(
    capsys: pytest.CaptureFixture[str], site_dir: Path
) -> None:
    """Without 'buildings:' the file kind is guessed from its other keys; the typo is one line."""
    text = swap(DEMO, "\nbuildings:", "\nbuidings:")
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 1, lines
    expect(lines, path, line_no(text, "buidings:"), "buidings", "did you mean 'buildings'?")


def test_unknown_field_far_from_any_lists_the_fields(
    capsys: pytest.CaptureFixture[str], site_dir: Path
) -> None:
    text = swap(DEMO, "  region:", "  zzzzzz: 1\n  region:")
    path, lines = check_site(capsys, site_dir, text)
    expect(lines, path, line_no(text, "zzzzzz"), "location.zzzzzz", "remove it or use one of", "'latitude'")


# -------------------------------------------------------------------------------- 4. bounds


def test_zero_and_negative_capacities(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(
        DEMO, "{kind: liquid_drycooler, capacity_mw: 2.2}", "{kind: liquid_drycooler, capacity_mw: 0}"
    )
    text = swap(text, "it_capacity_mw: 2.2", "it_capacity_mw: -5")
    text = swap(text, "rack_type: gb200-nvl72, racks: 8}", "rack_type: gb200-nvl72, racks: 0}")
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 3, lines
    hall = "buildings[1].halls[0]"
    expect(lines, path, line_no(text, "capacity_mw: 0}"), f"{hall}.cooling.capacity_mw", "got 0", "positive")
    expect(lines, path, line_no(text, "it_capacity_mw: -5"), f"{hall}.it_capacity_mw", "got -5", "positive")
    expect(lines, path, line_no(text, "racks: 0}"), f"{hall}.pods[0].racks", "got 0", "positive")


def test_out_of_range_and_bad_choice(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "latitude: 40.08", "latitude: 140.08")
    text = swap(text, "kind: grid", "kind: grd")
    path, lines = check_site(capsys, site_dir, text)
    expect(lines, path, line_no(text, "latitude: 140"), "location.latitude", "at most 90", "got 140.08")
    expect(
        lines,
        path,
        line_no(text, "kind: grd"),
        "power.sources[0].kind",
        "must be one of",
        "did you mean 'grid'?",
    )


def test_infinite_number_is_refused(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "energy_price_usd_per_mwh: 74", "energy_price_usd_per_mwh: .inf")
    path, lines = check_site(capsys, site_dir, text)
    expect(lines, path, line_no(text, ".inf"), "energy_price_usd_per_mwh", "not a finite number")


# ---------------------------------------------------------------------- 5. names that must exist


def test_unknown_rack_type_with_suggestion(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "rack_type: gb200-nvl72", "rack_type: gb200-nvl27")
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 1, lines
    expect(
        lines,
        path,
        line_no(text, "gb200-nvl27"),
        "buildings[1].halls[0].pods[0].rack_type",
        "unknown rack type 'gb200-nvl27'",
        "did you mean 'gb200-nvl72'?",
    )


def test_unknown_rack_type_ignores_case_and_lists_choices(
    capsys: pytest.CaptureFixture[str], site_dir: Path
) -> None:
    text = swap(DEMO, "rack_type: gb200-nvl72", "rack_type: GB200-NVL72")
    path, lines = check_site(capsys, site_dir, text)
    expect(
        lines, path, line_no(text, "GB200-NVL72"), "buildings[1].halls[0].pods[0].rack_type", "'gb200-nvl72'?"
    )
    text = swap(DEMO, "rack_type: gb200-nvl72", "rack_type: zzz")
    path, lines = check_site(capsys, site_dir, text)
    expect(
        lines,
        path,
        line_no(text, "zzz"),
        "buildings[1].halls[0].pods[0].rack_type",
        "use one of",
        "gb200-nvl72",
    )


def _catalog_with_bad_gpu(folder: Path) -> tuple[str, str, int]:
    """Misspell the catalog's first gpu_type (O for 0, else a suffix); return path, rack name, line."""
    rows = CATALOG.splitlines()
    at = next(i for i, row in enumerate(rows) if row.strip().startswith("gpu_type:"))
    rack = next(row.strip()[:-1] for row in reversed(rows[:at]) if re.fullmatch(r"  \S+:", row))
    gpu = rows[at].split(":", 1)[1].split("#")[0].strip()
    rows[at] = rows[at].replace(gpu, gpu.replace("0", "O") if "0" in gpu else gpu + "x")
    return write(folder, "catalog.yaml", "\n".join(rows) + "\n"), rack, at + 1


def test_unknown_gpu_type_is_reported_in_the_catalog(
    capsys: pytest.CaptureFixture[str], site_dir: Path
) -> None:
    catalog, rack, line = _catalog_with_bad_gpu(site_dir)
    lines = bad(capsys, catalog)
    expect(lines, catalog, line, f"rack_types.{rack}.gpu_type", "unknown GPU type", "did you mean")
    # Validating the site reports the catalog's problem at the catalog's line.
    site = write(site_dir, "site.yaml", DEMO)
    lines = bad(capsys, site)
    expect(lines, catalog, line, f"rack_types.{rack}.gpu_type", "unknown GPU type")


def test_site_and_catalog_problems_come_together(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    catalog, rack, line = _catalog_with_bad_gpu(site_dir)
    text = swap(DEMO, "latitude: 40.08", "latitude: -91")
    site, lines = check_site(capsys, site_dir, text)
    expect(lines, site, line_no(text, "latitude: -91"), "location.latitude", "at least -90")
    expect(lines, catalog, line, f"rack_types.{rack}.gpu_type", "unknown GPU type")
    assert lines[0].startswith(site), "the file asked about comes first"


def test_unknown_template_is_one_problem(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    """No cascade of 'field required' for the fields the missing template would have given."""
    text = swap(DEMO, "{template: h100-hall,", "{template: h100-hal,")
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 1, lines
    expect(
        lines,
        path,
        line_no(text, "h100-hal,"),
        "buildings[0].halls[0].template",
        "unknown hall template 'h100-hal'",
        "did you mean 'h100-hall'?",
    )


def test_template_cannot_set_count(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "    it_capacity_mw: 1.8\n", "    it_capacity_mw: 1.8\n    count: 3\n")
    path, lines = check_site(capsys, site_dir, text)
    expect(
        lines,
        path,
        line_no(text, "count: 3"),
        "hall_templates.h100-hall.count",
        "set count: where it is used",
    )


def test_missing_catalog_file(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "catalog: catalog.yaml", "catalog: nope/catalog.yaml")
    path, lines = check_site(capsys, site_dir, text)
    expect(lines, path, line_no(text, "catalog: nope"), "catalog", "not found", "relative to the site file")


# ------------------------------------------------------------------------------ 6. duplicates


def test_two_buildings_with_one_name(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "  - name: B\n", "  - name: A\n")
    path, lines = check_site(capsys, site_dir, text)
    first, later = line_no(text, "- name: A"), line_no(text, "- name: A", 2)
    expect(lines, path, later, "buildings[1].name", "duplicate building name 'A'", f"line {first}", "rename")


def test_hall_count_needs_n_in_the_name(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, 'name: "H{n}", count: 2', 'name: "H", count: 2')
    path, lines = check_site(capsys, site_dir, text)
    expect(
        lines,
        path,
        line_no(text, 'name: "H", count: 2'),
        "buildings[0].halls[0].name",
        "needs '{n}'",
        "'H{n}'",
    )


def test_duplicate_pod_names(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    pods = "- {name: X, rack_type: gb200-nvl72, racks: 4}\n          - {name: X, rack_type: gb200-nvl72, racks: 4}"
    text = swap(DEMO, '- {name: "P{n}", count: 2, rack_type: gb200-nvl72, racks: 8}', pods)
    path, lines = check_site(capsys, site_dir, text)
    first, later = line_no(text, "{name: X"), line_no(text, "{name: X", 2)
    expect(
        lines, path, later, "buildings[1].halls[0].pods[1].name", "duplicate pod name 'X'", f"line {first}"
    )


def test_unnamed_entries_do_not_collide(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    """Two pod entries without names get P1, P2 (not two P1s)."""
    pods = "- {rack_type: gb200-nvl72, racks: 4}\n          - {rack_type: gb200-nvl72, racks: 4}"
    text = swap(DEMO, '- {name: "P{n}", count: 2, rack_type: gb200-nvl72, racks: 8}', pods)
    code, lines = validate(capsys, write(site_dir, "site.yaml", text))
    assert code == 0, lines


# -------------------------------------------------------------------------------- 7. capacity


def test_racks_over_hall_capacity(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "rack_type: gb200-nvl72, racks: 8}", "rack_type: gb200-nvl72, racks: 9}")
    path, lines = check_site(capsys, site_dir, text)
    hall = "buildings[1].halls[0]"
    # 2 pods x 9 racks x 132 kW = 2.376 MW in a 2.2 MW hall with 2.2 MW of cooling
    expect(
        lines,
        path,
        line_no(text, "it_capacity_mw: 2.2"),
        f"{hall}.it_capacity_mw",
        "18 racks draw up to 2.376 MW",
        "it_capacity_mw is 2.2 MW",
        "raise it_capacity_mw to at least 2.376",
    )
    expect(
        lines, path, line_no(text, "liquid_drycooler"), f"{hall}.cooling.capacity_mw", "2.376 MW", "raise it"
    )


def test_capacity_problem_points_into_the_template(
    capsys: pytest.CaptureFixture[str], site_dir: Path
) -> None:
    """When the capacity comes from a template, the line to change is the template's."""
    text = swap(DEMO, "rack_type: grand-teton-h100, racks: 32}", "rack_type: grand-teton-h100, racks: 45}")
    path, lines = check_site(capsys, site_dir, text)
    # 2 pods x 45 racks x 22 kW = 1.98 MW against 1.8 MW
    expect(
        lines,
        path,
        line_no(text, "it_capacity_mw: 1.8"),
        "hall_templates.h100-hall.it_capacity_mw",
        "1.98 MW",
        "is 1.8 MW",
    )


def test_liquid_racks_in_an_air_hall(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "{kind: liquid_drycooler,", "{kind: air_economizer,")
    path, lines = check_site(capsys, site_dir, text)
    expect(
        lines,
        path,
        line_no(text, "air_economizer"),
        "buildings[1].halls[0].cooling.kind",
        "liquid-cooled",
        "liquid_*",
    )


@pytest.mark.timeout(30)
def test_counts_that_multiply_to_absurd_sizes_stop(
    capsys: pytest.CaptureFixture[str], site_dir: Path
) -> None:
    text = swap(DEMO, "  - name: B\n", "  - name: B{n}\n    count: 1000\n")
    text = swap(text, "      - name: L1\n", "      - name: L{n}\n        count: 10000\n")
    text = swap(text, "rack_type: gb200-nvl72, racks: 8}", "rack_type: gb200-nvl72, racks: 100000}")
    path, lines = check_site(capsys, site_dir, text)
    expect(
        lines,
        path,
        line_no(text, "racks: 100000"),
        "buildings[1].halls[0].pods[0].racks",
        "over 1,000,000 racks",
    )


# ----------------------------------------------------------------------------- 8. all at once


def test_many_schema_problems_at_once_sorted(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "latitude: 40.08", "latitude: 400")
    text = swap(text, "time_zone: America/New_York", "time_zone: Mars/Olympus")
    text = swap(text, "energy_price_usd_per_mwh: 74", "energy_price_usd_per_mwh: -1")
    text = swap(text, "kind: gas", "kind: coal")
    text = swap(text, "rack_type: grand-teton-h100, racks: 32}", "rack_type: grand-teton-h100, racks: many}")
    text = swap(text, "it_capacity_mw: 2.2", "it_capacity_mv: 2.2")
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 6, lines
    expected = [
        line_no(text, "latitude: 400"),
        line_no(text, "Mars/Olympus"),
        line_no(text, "energy_price_usd_per_mwh: -1"),
        line_no(text, "kind: coal"),
        line_no(text, "racks: many"),
        line_no(text, "it_capacity_mv"),
    ]
    assert lines_of(lines) == sorted(expected)
    expect(lines, path, expected[1], "location.time_zone", "IANA name")


def test_many_cross_checks_at_once(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    text = swap(DEMO, "  - name: B\n", "  - name: A\n")
    text = swap(text, "rack_type: gb200-nvl72, racks: 8}", "rack_type: gb200-nvl72, racks: 9}")
    text = swap(text, "rack_type: grand-teton-h100", "rack_type: grand-teton-h10")
    path, lines = check_site(capsys, site_dir, text)
    assert lines_of(lines) == sorted(lines_of(lines))
    expect(
        lines,
        path,
        line_no(text, "grand-teton-h10,"),
        "hall_templates.h100-hall.pods[0].rack_type",
        "did you mean",
    )
    expect(lines, path, line_no(text, "- name: A", 2), "buildings[1].name", "duplicate")
    expect(lines, path, line_no(text, "it_capacity_mw: 2.2"), "buildings[1].halls[0].it_capacity_mw", "raise")


def test_reader_and_schema_problems_at_once(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    """A duplicate key or an unreadable value does not hide the schema's problems elsewhere."""
    text = swap(DEMO, "description:", "name: Again\ndescription:")
    text = swap(text, "energy_price_usd_per_mwh: 74", "energy_price_usd_per_mwh: .nan")
    text = swap(text, "latitude: 40.08", "latitude: 400")
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 3, lines
    expect(
        lines,
        path,
        line_no(text, "name: Again"),
        "name",
        "appears twice",
        f"line {line_no(text, 'name: Demo')}",
    )
    expect(lines, path, line_no(text, ".nan"), "energy_price_usd_per_mwh", "finite")
    expect(lines, path, line_no(text, "latitude: 400"), "location.latitude", "at most 90")


def test_several_files_in_one_run(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    one = write(site_dir, "one.yaml", swap(DEMO, "latitude: 40.08", "latitude: 400"))
    two = write(site_dir, "two.yaml", "")
    good = write(site_dir, "good.yaml", DEMO)
    code, lines = validate(capsys, one, good, two)
    assert code == 2
    assert any(entry.startswith(one) for entry in lines) and any(entry.startswith(two) for entry in lines)
    assert not any(entry.startswith(good) for entry in lines)


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


def test_valid_scenario(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    write(site_dir, "demo.yaml", DEMO)
    path = write(site_dir, "scenario.yaml", "name: trial\nsites: [demo.yaml]\ndays: 30\n")
    code, lines = validate(capsys, path)
    assert code == 0, lines


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
