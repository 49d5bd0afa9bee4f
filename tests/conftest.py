"""Shared pytest setup. Most of it is the browser-test harness (helpers in ``ui_util.py``).

Marker: tests in ``test_ui_*.py`` files, and any test using a browser or console fixture, get the ``ui``
marker, so ``pytest -m "not ui"`` runs the fast tests only. A missing ``/usr/bin/chromium`` fails the ui
tests (run ``make browser``); ``CAMPUSTWIN_SKIP_UI=1`` skips them instead.

Fixtures:
    console_url      session: URL of one real ``campustwin serve`` on a free loopback port
    console_server   session: that server (``.url``, ``.port``, ``.log_tail()``)
    start_console    session factory: ``start_console("--sites", str(folder)).url``, a server per argument
                     list, stopped at the end of the session (``ui_server.ConsoleServer`` as a context
                     manager for a server that lives within one test)
    page_watch       the ``page`` fixture's context watched by ``ui_util.PageWatch``: external requests
                     blocked and recorded, console and page errors recorded; asserted clean at teardown
                     unless ``page_watch.check_on_teardown = False`` (``page_watch.ignore(regex)`` tolerates
                     a console error)
    console_page     ``page`` opened on ``console_url`` and idle (``ui_util.wait_for_idle``), watched
The pytest-playwright fixtures (``page``, ``context``, ``browser``) launch Debian's Chromium headless.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page
from ui_server import ConsoleServer
from ui_util import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PageWatch,
    chromium_available,
    missing_chromium_message,
    open_console,
    skip_ui_requested,
)

#: Using any of these makes a test a ui test.
UI_FIXTURES = frozenset(
    {
        "page",
        "context",
        "new_context",
        "browser",
        "browser_type",
        "console_url",
        "console_server",
        "start_console",
        "page_watch",
        "console_page",
    }
)


def _is_ui_test(item: pytest.Item) -> bool:
    name = Path(str(item.fspath)).name
    if name.startswith("test_ui_") and name.endswith(".py"):
        return True
    return not UI_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def pytest_configure(config: pytest.Config) -> None:
    # pytest-playwright 0.10's fallback base_url fixture trips a pytest 9 deprecation: not ours to fix.
    config.addinivalue_line(
        "filterwarnings",
        r"ignore:Session-scoped fixtures defined as instance methods are deprecated.\s+"
        r"Instance attributes set in the 'base_url' fixture",
    )


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m deselection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="CAMPUSTWIN_SKIP_UI=1: browser tests skipped on purpose")
    for item in items:
        if not _is_ui_test(item):
            continue
        if item.get_closest_marker("ui") is None:
            item.add_marker(pytest.mark.ui)
        if skip_ui_requested():
            item.add_marker(skip)


def _require_chromium() -> None:
    if skip_ui_requested():
        pytest.skip("CAMPUSTWIN_SKIP_UI=1: browser tests skipped on purpose")
    if not chromium_available():
        pytest.fail(missing_chromium_message(), pytrace=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("ui") is not None:
        _require_chromium()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failed ui test's report shows the output of the consoles still running."""
    report = yield
    if report.failed and item.get_closest_marker("ui") is not None:
        for server in list(ConsoleServer.running):
            report.sections.append((f"campustwin console {server.url} output", server.log_tail(3000)))
    return report


# ------------------------------------------------------------------------ pytest-playwright settings


def _patient_expectations() -> None:
    """Assertions wait up to 20 s (Playwright's default is 5 s).

    The console answers in well under a second on an idle machine; CI machines are shared and a
    busy one can take several seconds to round-trip a click. What is measured lives in benchmarks.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)


_patient_expectations()


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict, browser_name: str | None, request: pytest.FixtureRequest
) -> dict:
    """pytest-playwright's launch options (``--headed``, ``--slowmo``), with Debian's Chromium, offline."""
    if browser_name not in (None, "chromium"):
        return browser_type_launch_args
    _require_chromium()
    options = {"headless": True, **browser_type_launch_args}
    options.pop("channel", None)  # a channel is a downloaded build: the executable below replaces it
    options["executable_path"] = CHROMIUM
    options["args"] = [*CHROMIUM_ARGS, *options.get("args", [])]
    if hasattr(request, "param"):  # indirect parametrization, as pytest-playwright allows
        options.update(request.param)
    return options


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {"viewport": {"width": 1280, "height": 800}, **browser_context_args, "service_workers": "block"}


# ---------------------------------------------------------------------------------- console servers


@pytest.fixture(scope="session")
def start_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ConsoleServer]]:
    """Factory: ``start_console(*cli_args)`` returns a running console, one per distinct argument list."""
    servers: dict[tuple[str, ...], ConsoleServer] = {}

    def start(*cli_args: str | Path) -> ConsoleServer:
        key = tuple(map(str, cli_args))
        server = servers.get(key)
        if server is None or server.proc is None or server.proc.poll() is not None:
            server = ConsoleServer(key, log_dir=tmp_path_factory.mktemp("console")).start()
            servers[key] = server
        return server

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def console_server(
    start_console: Callable[..., ConsoleServer], tmp_path_factory: pytest.TempPathFactory
) -> ConsoleServer:
    """The console serving ``sample_sites/``, its library in a folder of its own."""
    # --no-cache: each test session computes its own runs
    return start_console("--no-cache", "--data", tmp_path_factory.mktemp("library"))


@pytest.fixture(scope="session")
def console_url(console_server: ConsoleServer) -> str:
    """``http://127.0.0.1:PORT/`` of the console serving ``sample_sites/``."""
    return console_server.url


# ------------------------------------------------------------------------------------------- pages


@pytest.fixture
def page_watch(page: Page) -> Iterator[PageWatch]:
    """Watch over the ``page`` fixture's context; fails the test at teardown if the page was not clean."""
    watch = PageWatch.on_context(page.context)
    yield watch
    if watch.check_on_teardown:
        watch.assert_clean()


@pytest.fixture
def console_page(page: Page, page_watch: PageWatch, console_url: str) -> Page:
    """``page`` showing the sample-sites console, rendered and idle."""
    return open_console(page, console_url, watch=page_watch)


# -- validation tests ------------------------------------------------------------------------------
@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """A folder holding a copy of the sample catalog, for site files that refer to it."""
    from validate_helpers import CATALOG, write

    write(tmp_path, "catalog.yaml", CATALOG)
    return tmp_path


# --------------------------------------------------------------- console views without a browser


@pytest.fixture(scope="module")
def ctx() -> Iterator:
    """A console context on the sample sites with a one-worker run pool (shut down after the module)."""
    import holoviews as hv

    from app.context import ConsoleContext
    from app.runs import RunPool

    hv.extension("bokeh", logo=False)
    pool = RunPool(workers=1)
    yield ConsoleContext(Path(__file__).resolve().parent.parent / "sample_sites", pool)
    pool.shutdown()


@pytest.fixture(scope="module")
def demo(ctx):
    """The demo campus, as the console builds it."""
    return ctx.campus("Demo")
