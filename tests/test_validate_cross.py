"""``campustwin validate`` on site files whose fields are well-formed but do not fit together.

Names that must exist (rack types, GPU types, templates, the catalog), duplicates, capacity (racks
over a hall's power or cooling) and many problems at once. Like ``test_validate.py``, each test
writes ``sample_sites/demo.yaml`` with mistakes into ``tmp_path``, runs the real command-line entry
point and checks the exit code (2), the file, the line (computed from the text written), the dotted
path and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from validate_helpers import (
    CATALOG,
    DEMO,
    bad,
    check_site,
    expect,
    line_no,
    lines_of,
    swap,
    validate,
    write,
)

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
