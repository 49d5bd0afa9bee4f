"""``campustwin validate`` on site files with mistakes of syntax, type, missing or unknown fields, bounds.

Each test writes ``sample_sites/demo.yaml`` with one mistake into ``tmp_path`` (beside a copy of
``catalog.yaml`` so the catalog reference resolves), runs the real command-line entry point and checks
the exit code (2), that no traceback leaked, and that a problem names the right file, the right line
(computed from the text written, not hard-coded), the right dotted path, and says what to do.
Mistakes across fields (names that must exist, duplicates, capacity, many at once) are in
``test_validate_cross.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from validate_helpers import (
    CATALOG,
    DEMO,
    SAMPLES,
    bad,
    check_site,
    expect,
    line_no,
    swap,
    validate,
    write,
)

# -------------------------------------------------------------------------------- the good files


def test_sample_files_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = validate(capsys, str(SAMPLES / "demo.yaml"), str(SAMPLES / "catalog.yaml"))
    assert code == 0, lines
    assert lines == []


def test_unchanged_copy_is_valid(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    """The fixture itself is sound, so every failure below is the mutation's doing."""
    code, lines = validate(capsys, write(site_dir, "site.yaml", DEMO))
    assert code == 0, lines


def test_a_site_whose_supply_cannot_carry_its_design_load_is_valid_with_a_note(
    capsys: pytest.CaptureFixture[str], site_dir: Path
) -> None:
    """It passed with nothing said: 2.1 MW of firm supply under 5.9 MW of design facility load."""
    path = write(site_dir, "site.yaml", swap(DEMO, "capacity_mw: 6\n", "capacity_mw: 0.1\n"))
    code, lines = validate(capsys, path)
    assert code == 0
    assert lines == [
        f"note: {path}:{line_no(DEMO, 'sources:')}: power.sources: firm supply 2.1 MW is below the campus's "
        "design facility load 5.9 MW (every rack at full draw, design weather): near full load the twin caps "
        "GPUs and sheds work; add capacity to the sources or fewer racks if that is not meant"
    ]


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


def test_yes_or_true_is_no_number(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    """YAML reads yes/no/on/off as booleans; pydantic would have taken them as 1 and 0."""
    text = swap(DEMO, "rack_type: gb200-nvl72, racks: 8}", "rack_type: gb200-nvl72, racks: yes}")
    text = swap(text, "it_capacity_mw: 2.2", "it_capacity_mw: on")
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 2, lines
    for where, field in (
        ("racks: yes", "buildings[1].halls[0].pods[0].racks"),
        ("it_capacity_mw: on", "buildings[1].halls[0].it_capacity_mw"),
    ):
        expect(lines, path, line_no(text, where), field, "write a number here, not true")


def test_control_characters_in_a_name_are_refused(capsys: pytest.CaptureFixture[str], site_dir: Path) -> None:
    """An ESC sequence in a name would act on the terminal that prints it; a bidi override hides text."""
    text = swap(DEMO, "name: Demo", 'name: "Demo\\e[2J"')
    text = swap(text, "name: L1", 'name: "L\\u202e1"')
    path, lines = check_site(capsys, site_dir, text)
    assert len(lines) == 2, lines
    expect(lines, path, line_no(text, "Demo\\e"), "name", "control character U+001B at position 5")
    expect(lines, path, line_no(text, "L\\u202e"), "buildings[1].halls[0].name", "U+202E", "printable text")
    assert not any("\x1b" in line for line in lines)


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


def test_a_number_too_big_for_a_float_is_told_not_raised(tmp_path, capsys):
    """A 400-digit integer cannot become a float: describing it must not raise OverflowError."""
    write(tmp_path, "catalog.yaml", CATALOG)
    site = write(
        tmp_path,
        "demo.yaml",
        swap(DEMO, "energy_price_usd_per_mwh: 74", "energy_price_usd_per_mwh: 1" + "0" * 399),
    )
    assert any("got 1.00e+399" in line for line in bad(capsys, site))
