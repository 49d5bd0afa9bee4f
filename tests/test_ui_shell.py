"""The console page in a real browser: it renders the site inventories, offline and without errors."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from ui_util import PageWatch, is_external_url, open_console


def test_site_page_lists_the_campuses(
    page: Page, page_watch: PageWatch, console_url: str, tmp_path: Path
) -> None:
    open_console(page, console_url + "site", "Campuses in the sites folder", watch=page_watch)

    demo = page.get_by_role("row").filter(has=page.get_by_role("gridcell", name="Demo", exact=True))
    expect(demo).to_have_count(1)
    expect(demo.locator('[tabulator-field="campus"]')).to_have_text("Demo")
    expect(demo.locator('[tabulator-field="GPUs"]')).to_have_text(re.compile(r"^\s*3,?200\s*$"))
    expect(page.get_by_role("grid").get_by_role("columnheader", name="GPUs").first).to_be_visible()

    shot = tmp_path / "console.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 5_000, "the screenshot is (nearly) empty"

    page_watch.assert_no_errors()
    page_watch.assert_offline()


def test_back_shows_what_the_url_says(page: Page, page_watch: PageWatch, console_url: str) -> None:
    """The page pushes its state into the URL; Back must bring the page back too, not the URL alone."""
    open_console(
        page, console_url + "site?campus=Demo&hall=A%2FH1", "Campuses in the sites folder", watch=page_watch
    )
    hall = page.locator("select").filter(has=page.locator('option[value="A/H2"]'))
    expect(hall).to_have_value("A/H1")
    hall.select_option("A/H2")
    expect(page).to_have_url(re.compile(r"hall=A%2FH2"))
    expect(page.get_by_text("A/H2/P1").first).to_be_visible()
    page.go_back()
    expect(page).to_have_url(re.compile(r"hall=A%2FH1"))
    expect(hall).to_have_value("A/H1")  # the page reloaded from the URL it went back to
    expect(page.get_by_text("A/H1/P1").first).to_be_visible()
    page_watch.assert_no_errors()


def test_watch_blocks_and_reports_external_requests(page: Page, page_watch: PageWatch) -> None:
    """The harness itself: a request to the internet is aborted at once and reported, not awaited."""
    page_watch.check_on_teardown = False  # this page misbehaves on purpose
    start = time.monotonic()
    page.set_content(
        '<img src="https://example.com/pixel.png"><script>fetch("http://93.184.215.14/")</script>'
    )
    page.wait_for_load_state("load")
    deadline = time.monotonic() + 10
    while len(page_watch.external_requests) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert time.monotonic() - start < 10
    assert sorted(page_watch.external_requests) == [
        "GET http://93.184.215.14/",
        "GET https://example.com/pixel.png",
    ]
    with pytest.raises(AssertionError, match="beyond this machine"):
        page_watch.assert_offline()


@pytest.mark.parametrize(
    ("url", "external"),
    [
        ("http://127.0.0.1:5006/static/js/bokeh.min.js", False),
        ("ws://localhost:5006/ws", False),
        ("http://[::1]:8080/", False),
        ("blob:http://127.0.0.1:5006/0f1e", False),
        ("data:image/png;base64,AAAA", False),
        ("about:blank", False),
        ("https://cdn.jsdelivr.net/npm/x.js", True),
        ("https://fonts.googleapis.com/css", True),
        ("wss://example.com/ws", True),
        ("http://10.0.0.1/", True),
    ],
)
def test_is_external_url(url: str, external: bool) -> None:
    assert is_external_url(url) is external


def test_sigterm_stops_the_console_cleanly(tmp_path: Path) -> None:
    """A service manager's stop: exit 0, the run workers shut down, nothing leaked or traced."""
    from ui_server import ConsoleServer

    server = ConsoleServer(["--no-cache", "--data", str(tmp_path / "data")], log_dir=tmp_path).start()
    proc = server.proc
    server.stop()  # SIGTERM
    assert proc.returncode == 0, server.log_tail()
    log = server.log_tail()
    assert "leaked" not in log and "Traceback" not in log, log
