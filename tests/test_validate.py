"""``campustwin validate`` on site files with mistakes: every problem located, actionable, all at once.

Each test writes ``sample_sites/demo.yaml`` with one mistake into ``tmp_path`` (beside a copy of
``catalog.yaml`` so the catalog reference resolves), runs the real command-line entry point and checks
the exit code (2), that no traceback leaked, and that a problem names the right file, the right line
(computed from the text written, not hard-coded), the right dotted path, and says what to do.
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
    lines_of,
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
