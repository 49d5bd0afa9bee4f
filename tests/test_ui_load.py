"""A bounded load test: several browser sessions run what-ifs on one console at once.

Loopback only, and it stops by itself (every wait has a timeout). Two waves of sessions, each
running its own demo what-if (its own seed, so nothing is shared); every session must show its
results, the server must log no error, and the second wave must not leave the server holding
more memory than the first did (closed sessions are freed). Timings are printed, not asserted:
``benchmarks/bench_load.py`` measures them with more sessions.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from bench_load import behind_the_server, run_load  # noqa: E402

SESSIONS = 4


def test_concurrent_sessions_all_complete_with_a_clean_log_and_bounded_memory(
    start_console, browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = start_console("--no-cache", "--data", tmp_path_factory.mktemp("load"))
    behind_the_server()
    first = run_load(server, browser, SESSIONS, days=3, settle_s=12)
    second = run_load(server, browser, SESSIONS, days=3, settle_s=12, warm=False)
    for report in (first, second):
        print("\n".join(report.lines()))
        assert report.completed == SESSIONS and not report.errors, report.errors[:5]
    assert second.rss_after_mb - first.rss_after_mb < 60, (first.rss_after_mb, second.rss_after_mb)
