"""Many people at once: N browser sessions each run a demo what-if on one console (not asserted).

    .venv/bin/python benchmarks/bench_load.py [--sessions 20] [--days 10] [--workers 1]

Starts ``campustwin serve`` on a free loopback port, opens N Chromium contexts (separate cookies,
separate sessions) that each open a what-if link with its own seed, so every session runs its own
what-if and baseline (2N runs), and waits for all of them. Meanwhile a probe fetches ``/runs``
(the server builds a page for it) every 2 s: its latency says whether the server stays
responsive. Prints:

- completion: sessions whose KPI cards showed their own run, and per-session time from opening
  the link to its results (median, max);
- the probe's latency (median, max) under that load, beside its idle latency;
- the server process's RSS: idle, peak, and 15 s after every session closed (sessions freed);
- errors in the server's log (there must be none).

``tests/test_ui_load.py`` runs :func:`run_load` with a few sessions in CI and asserts completion
and a clean log; the figures for the closing note come from this script with more.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from ui_server import ConsoleServer  # noqa: E402
from ui_util import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

LOG_ERRORS = re.compile(r"Traceback|ERROR|Exception|error:", re.IGNORECASE)


@dataclass
class LoadReport:
    sessions: int
    completed: int = 0
    session_s: list[float] = field(default_factory=list)
    probe_idle_s: list[float] = field(default_factory=list)
    probe_busy_s: list[float] = field(default_factory=list)
    rss_idle_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_after_mb: float = 0.0
    settle_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds used during the wave, by whom
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        def med(xs: list[float]) -> str:
            return f"median {statistics.median(xs):.2f} s, max {max(xs):.2f} s" if xs else "-"

        return [
            f"sessions completed: {self.completed}/{self.sessions}",
            f"open link -> results, per session: {med(self.session_s)}",
            f"probe GET /runs: idle {med(self.probe_idle_s)}; under load {med(self.probe_busy_s)}",
            f"server RSS: idle {self.rss_idle_mb:.0f} MB, peak {self.rss_peak_mb:.0f} MB, "
            f"{self.settle_s:g} s after the sessions closed {self.rss_after_mb:.0f} MB",
            "CPU during the wave: " + ", ".join(f"{k} {v:.0f} s" for k, v in self.cpu_s.items()),
            f"errors in the server log: {len(self.errors)}",
        ]


def _cpu(procs) -> float:
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def cpu_by_role(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the server, its run workers, and the browsers (this process's Chromium)."""
    server = psutil.Process(server_pid)
    browsers = [p for p in psutil.Process().children(recursive=True) if "chrom" in p.name()]
    return {
        "server": _cpu([server]),
        "workers": _cpu(server.children(recursive=True)),
        "browsers": _cpu(browsers),
    }


def _probe(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
    return time.perf_counter() - start


def run_load(
    server: ConsoleServer, browser, sessions: int, days: float = 10, settle_s: float = 15, warm: bool = True
) -> LoadReport:
    """Open ``sessions`` what-if links at once on ``server`` with ``browser``; see the module docstring.

    ``warm`` first runs one session alone (the server's first page and run pay for imports).
    """
    from playwright.sync_api import expect

    report = LoadReport(sessions, settle_s=settle_s)
    proc = psutil.Process(server.proc.pid)
    log_start = len(server.log_path.read_text(errors="replace")) if server.log_path else 0
    if warm:
        first = browser.new_context()
        try:
            page = first.new_page()
            page.goto(f"{server.url}whatif?base=demo_whatif&days=1", wait_until="commit")
            expect(page.get_by_text(re.compile(r"^Ran demo_whatif"))).to_be_visible(timeout=600_000)
        finally:
            first.close()
    report.probe_idle_s = [_probe(server.url + "runs") for _ in range(3)]
    report.rss_idle_mb = proc.memory_info().rss / 2**20
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            report.rss_peak_mb = max(report.rss_peak_mb, proc.memory_info().rss / 2**20)
            try:
                report.probe_busy_s.append(_probe(server.url + "runs"))
            except OSError as exc:
                report.errors.append(f"probe: {exc}")
            stop.wait(2.0)

    cpu_before = cpu_by_role(server.proc.pid)
    sampler = threading.Thread(target=sample, daemon=True)
    contexts, pages, started = [], [], []
    sampler.start()
    try:
        for i in range(sessions):
            context = browser.new_context()
            page = context.new_page()
            contexts.append(context)
            pages.append(page)
            started.append(time.perf_counter())
            page.goto(
                f"{server.url}whatif?base=demo_whatif&days={days:g}&seed={1000 + i}", wait_until="commit"
            )
        for page, t0 in zip(pages, started, strict=True):
            try:
                expect(page.get_by_text(re.compile(r"^Ran demo_whatif"))).to_be_visible(timeout=600_000)
                expect(page.locator(".cards[data-run]")).to_have_count(1)
            except AssertionError as exc:
                report.errors.append(f"session: {str(exc)[:200]}")
                continue
            report.completed += 1
            report.session_s.append(time.perf_counter() - t0)
    finally:
        stop.set()
        sampler.join()
        cpu_after = cpu_by_role(server.proc.pid)
        report.cpu_s = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
        for context in contexts:
            context.close()
    time.sleep(settle_s)  # the server drops closed sessions after its unused-session check (~10 s)
    report.rss_after_mb = proc.memory_info().rss / 2**20
    log = server.log_path.read_text(errors="replace")[log_start:] if server.log_path else ""
    report.errors += [line for line in log.splitlines() if LOG_ERRORS.search(line)]
    return report


def behind_the_server() -> None:
    """Lower Chromium's priority (its tabs inherit it): users' browsers run on their own machines.

    On this 2-core machine, N tabs laying out result pages would otherwise compete with the server
    they are measuring.
    """
    for proc in psutil.Process().children(recursive=True):
        try:
            if "chrom" in proc.name():
                proc.nice(10)
        except psutil.Error:
            continue


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--days", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--waves", type=int, default=2, help="rounds of N sessions (memory must not grow)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    data = tempfile.mkdtemp(prefix="campustwin-load-")
    logs = Path(tempfile.mkdtemp(prefix="campustwin-load-log-"))
    server_args = ["--data", data, "--no-cache", "--workers", str(args.workers)]
    with ConsoleServer(server_args, log_dir=logs) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        behind_the_server()
        reports = [
            run_load(server, browser, args.sessions, args.days, warm=w == 0) for w in range(args.waves)
        ]
        browser.close()
    print(f"{args.sessions} sessions, demo what-if of {args.days:g} days each, {args.workers} worker(s):")
    for wave, report in enumerate(reports, 1):
        print(f" wave {wave}:")
        for line in report.lines():
            print("  " + line)
        for line in report.errors[:10]:
            print("  ! " + line)
    ok = all(r.completed == args.sessions and not r.errors for r in reports)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
