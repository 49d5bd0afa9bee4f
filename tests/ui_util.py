"""Helpers for the browser tests: Debian's Chromium, an offline watch over a page, waiting for Bokeh.

Everything here runs offline. The browser is ``/usr/bin/chromium`` (``make browser``), never a
downloaded build; the console it opens is the real ``campustwin serve`` (``ui_server.ConsoleServer``).

    watch = PageWatch.on_context(page.context)                 # before page.goto: records and blocks
    wait_for_idle(page, "Demo", watch=watch)                   # Bokeh documents idle, text visible
    watch.assert_clean()                                       # no console errors, nothing external

The fixtures of ``conftest.py`` wrap these (``console_url``, ``start_console``, ``page_watch``,
``console_page``); import from here what a test needs beyond them.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response, WebSocket

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Debian's Chromium (``make browser``). ``CAMPUSTWIN_CHROMIUM`` may name another build of Chromium.
CHROMIUM = os.environ.get("CAMPUSTWIN_CHROMIUM", "/usr/bin/chromium")

#: Set to 1 to skip the browser tests on purpose (otherwise a missing Chromium fails them).
SKIP_UI_ENV = "CAMPUSTWIN_SKIP_UI"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    # Belt and braces beside PageWatch's routing, which cannot see web sockets or the browser's own
    # traffic: no host name or address but loopback resolves, so nothing can reach the internet.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]",
]

IDLE_TIMEOUT_MS = 30_000
#: The first response builds the page (every site's inventory): seconds on a busy machine.
PAGE_LOAD_TIMEOUT_MS = 90_000


def missing_chromium_message() -> str:
    return (
        f"Chromium not found at {CHROMIUM}: the browser tests need Debian's chromium. "
        "Run `make browser` (apt-get install chromium chromium-driver); never `playwright install`. "
        f"To skip the browser tests on purpose, set {SKIP_UI_ENV}=1."
    )


def chromium_available() -> bool:
    return os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)


def skip_ui_requested() -> bool:
    return os.environ.get(SKIP_UI_ENV, "").strip() == "1"


# ------------------------------------------------------------------------------------ page watching

LOCAL_SCHEMES = {"data", "blob", "about", "javascript", "file", "chrome", "chrome-extension", "devtools"}


def is_external_url(url: str) -> bool:
    """True for a URL that would leave this machine: any host that is not loopback."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme.lower() in LOCAL_SCHEMES:
        return False
    host = urlsplit(url).hostname
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a host name other than localhost


@dataclass(eq=False)
class PageWatch:
    """Records what a page does wrong, and keeps it off the internet.

    ``on_context(context)`` watches every page of the context (current and future) and aborts every
    request to a non-loopback host, so a test never waits on the network; attach it before
    ``page.goto``. Then read ``console_errors``, ``page_errors``, ``failed_requests`` and
    ``external_requests`` (external web sockets included), or call ``assert_clean()``.
    ``ignore(regex)`` tolerates matching console errors; ``clear()`` forgets what was recorded.
    """

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    ignored: list[re.Pattern[str]] = field(default_factory=list)
    #: used by the ``page_watch`` fixture: assert_clean() at teardown unless set to False
    check_on_teardown: bool = True

    @classmethod
    def on_context(cls, context: BrowserContext) -> PageWatch:
        watch = cls()
        context.route(is_external_url, lambda route: route.abort("blockedbyclient"))
        context.on("page", watch.attach)
        for page in context.pages:
            watch.attach(page)
        return watch

    def attach(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.page_errors.append(_describe_exception(exc)))
        page.on("request", self._on_request)
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)
        page.on("websocket", self._on_websocket)

    def ignore(self, pattern: str | re.Pattern[str]) -> None:
        self.ignored.append(re.compile(pattern))

    def clear(self) -> None:
        for found in (self.console_errors, self.page_errors, self.failed_requests, self.external_requests):
            found.clear()

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        text = msg.text
        if any(p.search(text) for p in self.ignored):
            return
        loc = msg.location or {}
        where = f" ({loc.get('url')}:{loc.get('lineNumber')})" if loc.get("url") else ""
        self.console_errors.append(f"{text}{where}")

    def _on_request(self, request: Request) -> None:
        if is_external_url(request.url):
            self.external_requests.append(f"{request.method} {request.url}")

    def _on_request_failed(self, request: Request) -> None:
        if not is_external_url(request.url):  # external ones fail on purpose and are listed already
            self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400 and not is_external_url(response.url):
            self.failed_requests.append(f"{response.request.method} {response.url}: HTTP {response.status}")

    def _on_websocket(self, ws: WebSocket) -> None:
        if is_external_url(ws.url):
            self.external_requests.append(f"WEBSOCKET {ws.url}")

    @property
    def problems(self) -> list[str]:
        return [
            *(f"console error: {e}" for e in self.console_errors),
            *(f"page error: {e}" for e in self.page_errors),
            *(f"failed request: {e}" for e in self.failed_requests),
            *(f"external request (blocked): {e}" for e in self.external_requests),
        ]

    def assert_no_errors(self) -> None:
        found = [p for p in self.problems if not p.startswith("external request")]
        assert not found, "the page reported errors:\n  " + "\n  ".join(found)

    def assert_offline(self) -> None:
        assert not self.external_requests, "the page tried to reach beyond this machine:\n  " + "\n  ".join(
            self.external_requests
        )

    def assert_clean(self) -> None:
        assert not self.problems, "the page was not clean:\n  " + "\n  ".join(self.problems)


def _describe_exception(exc: object) -> str:
    stack = getattr(exc, "stack", None)
    return f"{exc}\n{stack}" if stack else str(exc)


# -------------------------------------------------------------------------------------------- idling

_BOKEH_IDLE_JS = """() => {
    const B = window.Bokeh;
    return document.readyState === "complete" && B != null && B.documents != null
        && B.documents.length > 0 && B.documents.every((doc) => doc.is_idle);
}"""

_BOKEH_STATE_JS = """() => ({
    readyState: document.readyState,
    bokeh: window.Bokeh != null ? window.Bokeh.version : null,
    documents: window.Bokeh && window.Bokeh.documents ? window.Bokeh.documents.length : 0,
    idle: window.Bokeh && window.Bokeh.documents ? window.Bokeh.documents.map((d) => d.is_idle) : [],
})"""


def wait_for_idle(
    page: Page,
    text: str | re.Pattern[str] | None = None,
    *,
    exact: bool = False,
    timeout: float = IDLE_TIMEOUT_MS,
    watch: PageWatch | None = None,
) -> None:
    """Wait, at most ``timeout`` ms per step, until Panel has rendered the page.

    Steps: every Bokeh document of the page is idle (all its root views finished rendering), no
    network request is in flight (stylesheets Panel adds after connecting), no Panel loading spinner
    is shown, and, if given, ``text`` is visible (``page.get_by_text(text, exact=exact)``). A timeout
    raises an AssertionError that says which step and shows the page's Bokeh state and, with
    ``watch``, what the page reported.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    def fail(step: str, exc: Exception) -> AssertionError:
        try:
            state = page.evaluate(_BOKEH_STATE_JS)
        except PlaywrightError as e:
            state = f"unavailable ({e})"
        lines = [f"page {page.url} not idle after {timeout:.0f} ms: {step}", f"state: {state}"]
        if watch is not None and watch.problems:
            lines += ["the page reported:", *(f"  {p}" for p in watch.problems)]
        lines.append(f"cause: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        return AssertionError("\n".join(lines))

    steps = [
        (
            "Bokeh documents idle",
            lambda: page.wait_for_function(_BOKEH_IDLE_JS, timeout=timeout, polling=100),
        ),
        ("network idle", lambda: page.wait_for_load_state("networkidle", timeout=timeout)),
        (
            "loading spinners gone",
            lambda: expect(page.locator(".pn-loading")).to_have_count(0, timeout=timeout),
        ),
    ]
    if text is not None:
        steps.append(
            (
                f"text {text!r} visible",
                lambda: expect(page.get_by_text(text, exact=exact).first).to_be_visible(timeout=timeout),
            )
        )
    for step, run in steps:
        try:
            run()
        except (PlaywrightError, AssertionError) as exc:
            raise fail(step, exc) from exc


def open_console(
    page: Page,
    url: str,
    text: str | re.Pattern[str] | None = None,
    *,
    watch: PageWatch | None = None,
    timeout: float = PAGE_LOAD_TIMEOUT_MS,
) -> Page:
    """``page.goto(url)`` with room for a slow first response, then ``wait_for_idle(page, text)``."""
    page.goto(url, timeout=timeout)
    wait_for_idle(page, text, watch=watch)
    return page


# ------------------------------------------------------------------ what-if page helpers

RUN_TIMEOUT_MS = 120_000


def card(page: Page, key: str):
    return page.locator(f'[data-kpi="{key}"]')


def run_and_wait(page: Page, watch: PageWatch | None = None) -> None:
    """Click the What-if page's Run and wait for its results."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Ran "))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    wait_for_idle(page, watch=watch)


def type_into(cell, text: str) -> None:
    """Edit a Tabulator cell as a user does: click it, replace what its editor holds, press Enter.

    A table scrolled back into sight (the page brings a run's results into view) lays itself out
    again as it appears, and a click in that moment can lose its editor: a person scrolls slower
    than that, so the click is tried again.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    editor = cell.locator("input")
    for _ in range(5):
        cell.scroll_into_view_if_needed()
        cell.click()
        try:
            editor.wait_for(state="visible", timeout=2_000)
            editor.fill(text, timeout=2_000)
            break
        except PlaywrightTimeout:
            cell.page.keyboard.press("Escape")
    else:
        raise AssertionError(f"no editor opened in the cell for {text!r}")
    editor.press("Enter")


def lease_table(page: Page):
    return page.locator(".tabulator").filter(has=page.locator('.tabulator-col[tabulator-field="isolation"]'))


def add_lease_with(page: Page, field: str, text: str):
    """Click *Add lease*, type ``text`` into the new row's ``field`` cell; return that cell."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Add lease").click()
    leases = lease_table(page)
    expect(leases.locator(".tabulator-row")).to_have_count(1)
    cell = leases.locator(f'.tabulator-row .tabulator-cell[tabulator-field="{field}"]').first
    type_into(cell, text)
    return cell
