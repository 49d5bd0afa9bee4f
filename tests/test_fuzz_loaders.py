"""Fuzzing the site and scenario loaders (hypothesis): any input is a valid model or a ProblemList.

Two kinds of input: arbitrary text, and the sample files mutated line by line (a line dropped,
repeated, cut short, or a value replaced by something odd), which reaches much deeper into the
schema and the cross-checks than random text does. Each input must end, within the deadline, in
either a loaded model or :class:`twin.errors.ProblemList`; any other exception is a bug. The
examples are derandomised, so CI runs the same inputs every time.

"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.campus import build_campus
from twin.errors import ProblemList
from twin.load import load_site
from twin.scenario import load_scenario_text

SAMPLES = Path(__file__).resolve().parent.parent / "sample_sites"
SITE_LINES = (SAMPLES / "demo.yaml").read_text().splitlines()
SCENARIO_LINES = (SAMPLES / "scenarios" / "demo_whatif.yaml").read_text().splitlines()
ODD = st.sampled_from(
    ["-1", "0", "1e308", ".nan", "-.inf", "''", "null", "[]", "{}", "yes", "2026-02-30", "&a x", "*a", "!!binary AA==",
     "'../../etc/passwd'", "\"\\u0000\"", "999999999999999999999", "[1, [2, [3]]]", "{gpus: -5}", "H100-SXM"]
)  # fmt: skip
# CAMPUSTWIN_FUZZ_EXAMPLES=5000 runs a longer, randomised hunt by hand.
HUNT = int(os.environ.get("CAMPUSTWIN_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=HUNT or 200,
    deadline=5_000,  # ms per input: a slow path is a finding too
    derandomize=not HUNT,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def mutated(draw, lines: list[str]) -> str:
    out = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(out) - 1))
        kind = draw(st.sampled_from(["drop", "repeat", "cut", "value", "indent", "junk"]))
        line = out[i]
        if kind == "drop":
            del out[i]
        elif kind == "repeat":
            out.insert(i, line)
        elif kind == "cut":
            out[i] = line[: draw(st.integers(0, max(0, len(line) - 1)))]
        elif kind == "value" and ":" in line:
            out[i] = line.split(":", 1)[0] + ": " + draw(ODD)
        elif kind == "indent":
            out[i] = " " * draw(st.integers(1, 3)) + line
        else:
            out[i] = line + draw(st.text(alphabet=st.characters(codec="utf-8"), max_size=8))
        if not out:
            out = [""]
    return "\n".join(out) + "\n"


def load_site_text(text: str, folder: Path) -> None:
    path = folder / "site.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        site = load_site(path)
    except ProblemList:
        return
    build_campus(site)  # a site that loads must also build


def load_scenario(text: str) -> None:
    try:
        load_scenario_text(text, SAMPLES / "scenarios")
    except ProblemList:
        return


def site_folder(tmp_path: Path) -> Path:
    shutil.copy(SAMPLES / "catalog.yaml", tmp_path / "catalog.yaml")
    return tmp_path


@FUZZ
@given(text=st.text(max_size=400))
def test_any_text_as_a_site(tmp_path: Path, text: str) -> None:
    load_site_text(text, site_folder(tmp_path))


@FUZZ
@given(text=mutated(SITE_LINES))
def test_mutated_demo_site(tmp_path: Path, text: str) -> None:
    load_site_text(text, site_folder(tmp_path))


@FUZZ
@given(text=st.text(max_size=400))
def test_any_text_as_a_scenario(text: str) -> None:
    load_scenario(text)


@FUZZ
@given(text=mutated(SCENARIO_LINES))
def test_mutated_demo_scenario(text: str) -> None:
    load_scenario(text)


def test_a_reserved_lease_of_an_unknown_gpu_type_is_a_problem() -> None:
    """Found by the mutation fuzzer: the overbooking check looked the type up and raised KeyError."""
    text = (SAMPLES / "scenarios" / "demo_whatif.yaml").read_text().replace("gpu_type: GB200", "gpu_type: G")
    try:
        load_scenario_text(text, SAMPLES / "scenarios")
    except ProblemList as exc:
        assert "unknown GPU type 'G'" in str(exc)
    else:
        raise AssertionError("a lease of GPU type 'G' loaded")
