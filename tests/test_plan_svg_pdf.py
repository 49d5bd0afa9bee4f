"""SVG and PDF floor plans of the demo site.

The SVG must be well-formed XML with exactly one ``rect.rack`` per rack drawn, each with a
tooltip; text a user typed (a tenant name) must stay text, never become markup; the PDF has a
campus page plus one per hall; and the same input gives the same bytes in both.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from demo_helpers import SITES, demo_site
from plan_helpers import pdf_page_strings, pdf_page_texts

from layouts.colour import Colouring, RunSource, colour_racks
from layouts.geometry import CampusPlan, plan_campus
from layouts.pdf import write_pdf
from layouts.svg import write_svg
from twin.campus import build_campus
from twin.load import load_site

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = "<img src=x onerror=alert(1)>"
ODD = 'Bell\x07 & "Sons" <Co>'  # a control character XML forbids, quotes, an ampersand, brackets


@pytest.fixture(scope="module")
def plan() -> CampusPlan:
    return plan_campus(build_campus(demo_site()))


@pytest.fixture(scope="module")
def tenants(plan: CampusPlan) -> Colouring:
    """Racks by tenant as a run would colour them, with tenant names a user could type."""
    names, hexes = [HOSTILE, ODD, "internal"], ["#ff7f0e", "#2ca02c", "#b4b4b4"]
    which = [(i // 10) % 3 for i in range(len(plan.racks))]
    return dataclasses.replace(
        colour_racks(plan, "tenant"),
        tenant=[names[k] for k in which],
        value=[names[k] for k in which],
        lease=["" if k == 2 else f"L{k}" for k in which],
        hex=[hexes[k] for k in which],
        legend=list(zip(names, hexes, strict=True)),
        title="Racks by tenant",
    )


def svg_racks(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{NS}rect") if e.get("class") == "rack"]


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{NS}text")]


def pdf_pages(path: Path) -> int:
    try:
        from pypdf import PdfReader
    except ImportError:  # not in every venv: count page objects, not the /Pages tree node
        return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", path.read_bytes()))
    return len(PdfReader(path).pages)


def test_svg_campus_has_one_rack_rect_with_tooltip_per_rack(plan: CampusPlan, tmp_path: Path) -> None:
    colouring = colour_racks(plan, "kw")
    root = ET.parse(write_svg(plan, colouring, tmp_path / "campus.svg")).getroot()
    racks = svg_racks(root)
    assert [e.get("data-rack") for e in racks] == plan.racks["name"].tolist()
    assert [e.get("fill") for e in racks] == colouring.hex
    for rect, (_, rack) in zip(racks, plan.racks.iterrows(), strict=True):
        tip = rect.find(f"{NS}title").text
        assert tip.startswith(rack["name"] + "\n")
        for part in (rack["rack_type"], rack["gpu_type"], f"{rack['gpus']} ×", f"{rack['kw']:,.0f} kW",
                     "tenant internal", "lease none", f"row R{rack['row']:02d}", f"position {rack['position']}"):  # fmt: skip
            assert part in tip
    assert root.get("width").endswith("mm") and len(root.get("viewBox").split()) == 4
    words = texts(root)
    assert all(label in words for label, _ in colouring.legend)
    assert colouring.title in words and "whole campus" in words and "N" in words
    assert any(w.startswith("scale 1:") for w in words) and any(w.endswith(" m") for w in words)
    assert {f"building {name}" for name, _ in plan.buildings} <= set(words)


def test_svg_of_one_hall_draws_its_racks_from_its_own_origin(plan: CampusPlan, tmp_path: Path) -> None:
    hall = plan.halls[1]
    root = ET.parse(
        write_svg(plan, colour_racks(plan, "kw"), tmp_path / "hall.svg", hall=hall.name)
    ).getroot()
    racks = svg_racks(root)
    mine = plan.racks.iloc[hall.rack_slice]
    assert [e.get("data-rack") for e in racks] == mine["name"].tolist()
    assert [int(e.get("x")) for e in racks] == mine["hall_x_mm"].tolist()
    # SVG's y grows down: a rack's top edge sits (hall depth - its north edge) below the hall's.
    assert [int(e.get("y")) for e in racks] == (hall.box.d_mm - mine["hall_y_mm"] - mine["d_mm"]).tolist()
    assert all(e.find(f"{NS}title") is not None for e in racks)
    assert f"hall {hall.name} (building {hall.building})" in texts(root)


def test_tenant_names_stay_text(plan: CampusPlan, tenants: Colouring, tmp_path: Path) -> None:
    path = write_svg(plan, tenants, tmp_path / "tenants.svg")
    raw = path.read_text(encoding="utf-8")
    assert "<img" not in raw and "&lt;img src=x onerror=alert(1)&gt;" in raw and "\x07" not in raw
    root = ET.fromstring(raw)  # well-formed despite the control character and quotes
    assert not [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "img"]
    tips = [e.find(f"{NS}title").text for e in svg_racks(root)]
    assert f"tenant {HOSTILE} · lease L0" in tips[0]
    assert any('tenant Bell & "Sons" <Co> · lease L1' in tip for tip in tips)
    assert HOSTILE in texts(root) and 'Bell & "Sons" <Co>' in texts(root)
    # The PDF draws names as plain strings: it is written, and it says nothing of markup.
    assert pdf_pages(write_pdf(plan, tenants, tmp_path / "tenants.pdf", hall=plan.halls[0].name)) == 2


@pytest.mark.parametrize(
    ("by", "when"),
    [
        ("tenant", "tenants on day 12.5, the run's end"),
        ("utilisation", "mean over the run, days 0-12.5; tenants on day 12.5"),
    ],
)
def test_title_blocks_name_the_run_and_day(plan: CampusPlan, by: str, when: str, tmp_path: Path) -> None:
    colouring = dataclasses.replace(colour_racks(plan, by), source=RunSource("whatif <2>", 3, 12.5))
    words = texts(ET.parse(write_svg(plan, colouring, tmp_path / "p.svg")).getroot())
    assert "scenario whatif <2> · seed 3" in words and when in words  # escaped, and in the title block
    pages = pdf_page_texts(write_pdf(plan, colouring, tmp_path / "p.pdf"))
    assert len(pages) == 1 + len(plan.halls)
    assert all("scenario whatif <2> · seed 3" in page and when in page for page in pages)
    bare = texts(ET.parse(write_svg(plan, colour_racks(plan, by), tmp_path / "bare.svg")).getroot())
    assert "no run of the twin" in bare and not any("scenario" in w for w in bare)


def test_a_long_scenario_name_is_printed_whole(plan: CampusPlan, tmp_path: Path) -> None:
    # Names run to 128 characters; the title block once cut them at ~60, so two runs of one study
    # (names alike but for their ends) printed the same.
    spaced = "lease study " + " ".join(f"variant-{k:02d}" for k in range(10)) + " 100k GB200 3 years"
    for name in (spaced + "x" * (128 - len(spaced)), "lease_study_" + "W" * 113 + "v01"):  # no space too
        colouring = dataclasses.replace(colour_racks(plan, "tenant"), source=RunSource(name, 3, 12.5))
        for page in pdf_page_strings(write_pdf(plan, colouring, tmp_path / "p.pdf")):
            texts = [text for _, text in page]
            start = next(k for k, text in enumerate(texts) if text.startswith("scenario lease"))
            lines = texts[start : start + 4]
            # Each line break took at most a space: the lines joined back give the whole name.
            assert f"scenario {name} · seed 3".replace(" ", "") in "".join(lines).replace(" ", ""), lines
            assert not any("…" in line for line in lines), lines


def test_pdf_has_a_campus_page_and_one_per_hall(plan: CampusPlan, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    path = write_pdf(
        plan, colour_racks(plan, "kw"), tmp_path / "plan.pdf", progress=lambda d, t: calls.append((d, t))
    )
    pages = 1 + len(plan.halls)
    assert path.read_bytes().startswith(b"%PDF-") and pdf_pages(path) == pages
    assert calls == [(k, pages) for k in range(1, pages + 1)]
    one = write_pdf(plan, colour_racks(plan, "kw"), tmp_path / "hall.pdf", hall=plan.halls[-1].name)
    assert pdf_pages(one) == 2


def test_hall_pages_name_every_rack(plan: CampusPlan, tmp_path: Path) -> None:
    """A planner working from the print must tell which box is which rack: each hall page names its
    racks (R001...) inside their boxes, in readable type; the overview, at 1:250, does not try."""
    pages = pdf_page_strings(write_pdf(plan, colour_racks(plan, "tenant"), tmp_path / "plan.pdf"))
    for hall, page in zip(plan.halls, pages[1:], strict=True):
        racks = plan.racks.iloc[hall.first_rack : hall.first_rack + hall.racks]
        names = sorted(str(n).rsplit("/", 1)[-1] for n in racks["name"])
        shown = sorted(text for size, text in page if re.fullmatch(r"R\d{3}", text) and size >= 4.5)
        assert shown == names, hall.name
    assert not [text for _, text in pages[0] if re.fullmatch(r"R\d{3}", text)]


@pytest.mark.parametrize("site", ["demo.yaml", "louisiana.yaml", "ohio.yaml"])
def test_overview_tells_every_halls_page_in_readable_type(site: str, tmp_path: Path) -> None:
    # Ohio's halls are 6 mm wide at 1:2000: their names once went unprinted, page 1 named only buildings.
    plan = plan_campus(build_campus(load_site(SITES / site)))
    pages = pdf_page_strings(write_pdf(plan, colour_racks(plan, "kw"), tmp_path / "plan.pdf"))
    overview = [(size, text) for size, text in pages[0] if size >= 6]
    texts = [text for _, text in overview]
    pairs = set(zip(texts, texts[1:], strict=False))
    for k, hall in enumerate(plan.halls, start=2):
        said = f"{hall.name} · p. {k}" in texts or {(hall.name, f"p. {k}"), (f"p. {k}", hall.name)} & pairs
        assert said, f"{hall.name}: page {k} not given on the overview at 6 pt or more"
        assert f"hall {hall.name} (building {hall.building})" in [t for _, t in pages[k - 1]]


def test_same_input_gives_the_same_bytes(plan: CampusPlan, tenants: Colouring, tmp_path: Path) -> None:
    for write in (write_svg, write_pdf):
        suffix = ".svg" if write is write_svg else ".pdf"
        first = write(plan, tenants, tmp_path / f"a{suffix}").read_bytes()
        again = write(plan_campus(build_campus(demo_site())), tenants, tmp_path / f"b{suffix}").read_bytes()
        assert first == again
        assert (
            write(plan, tenants, tmp_path / f"h{suffix}", hall="A/H2").read_bytes()
            == write(plan, tenants, tmp_path / f"i{suffix}", hall="A/H2").read_bytes()
        )


def test_plant_rooms_are_drawn_and_named(tmp_path: Path) -> None:
    text = (SITES / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("catalog: catalog.yaml", f"catalog: {SITES / 'catalog.yaml'}")
    text += "\nfloor:\n  rooms:\n    - {kind: power, depth_mm: 5000, name: UPS hall}\n    - {kind: cooling}\n"
    (tmp_path / "rooms.yaml").write_text(text, encoding="utf-8")
    plan = plan_campus(build_campus(load_site(tmp_path / "rooms.yaml")))
    root = ET.parse(write_svg(plan, colour_racks(plan, "kw"), tmp_path / "rooms.svg", hall="A/H1")).getroot()
    assert {"UPS hall (power)", "cooling room"} <= set(texts(root))
    assert len([e for e in root.iter(f"{NS}rect") if e.get("fill") == "url(#ct-hatch)"]) == 2
    assert pdf_pages(write_pdf(plan, colour_racks(plan, "kw"), tmp_path / "rooms.pdf")) == 1 + len(plan.halls)


def test_a_hall_page_lists_only_the_tenants_it_holds(plan: CampusPlan, tmp_path: Path) -> None:
    from layouts.svg import legend_rows, scene

    n = len(plan.racks)
    first = plan.halls[0]
    tenant = ["Acme AI" if i < first.first_rack + first.racks else "internal" for i in range(n)]
    hexes = ["#1f77b4" if t == "Acme AI" else "#b4b4b4" for t in tenant]
    coloured = dataclasses.replace(
        colour_racks(plan, "tenant"), tenant=tenant, value=tenant, hex=hexes,
        legend=[("Acme AI", "#1f77b4"), ("internal", "#b4b4b4")],
    )  # fmt: skip
    assert [row[0] for row in legend_rows(scene(plan), coloured)] == ["Acme AI", "internal"]
    assert [row[0] for row in legend_rows(scene(plan, plan.halls[-1].name), coloured)] == ["internal"]
    kw = colour_racks(plan, "kw")  # a scale keeps every band, used or not
    assert len(legend_rows(scene(plan, plan.halls[-1].name), kw)) == len(kw.legend)


def test_tenant_names_in_any_script_are_printed_as_text(plan: CampusPlan, tmp_path: Path) -> None:
    """A tenant named in Japanese printed as two black boxes (Helvetica has WinAnsi only): the
    characters Helvetica lacks are set in a CJK font, the rest stays in Helvetica."""
    from plan_helpers import pdf_page_runs

    name = "日本AI · Ωmega"
    n = len(plan.racks)
    tenant = [name if i < 40 else "internal" for i in range(n)]
    coloured = dataclasses.replace(
        colour_racks(plan, "tenant"), tenant=tenant, value=tenant,
        hex=["#1f77b4" if i < 40 else "#b4b4b4" for i in range(n)],
        legend=[(name, "#1f77b4"), ("internal", "#b4b4b4")],
    )  # fmt: skip
    path = write_pdf(plan, coloured, tmp_path / "plan.pdf")
    assert b"/BaseFont /HeiseiKakuGo-W5" in path.read_bytes()
    fonts = {raw: font for font, raw in pdf_page_runs(path)[0]}  # the overview's legend
    cjk = fonts["日本".encode("utf-16-be")]
    assert fonts["Ω".encode("utf-16-be")] == cjk  # which WinAnsi lacks too
    assert fonts["AI · ".encode("cp1252")] != cjk  # the Latin run stays in Helvetica
