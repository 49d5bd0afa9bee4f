"""Helpers for the validation tests: write a mutated demo site, run `campustwin validate`, read problems."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "sample_sites"
DEMO = (SAMPLES / "demo.yaml").read_text(encoding="utf-8")
CATALOG = (SAMPLES / "catalog.yaml").read_text(encoding="utf-8")

PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+): ")


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
