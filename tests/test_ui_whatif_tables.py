"""The What-if page's editable tables in Chromium: what is typed is what runs, and it reads whole.

Empty, fractional and optional cells; a long name in the lease and SLA tables; every column in
reach on a laptop screen.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect
from ui_util import (
    RUN_TIMEOUT_MS,
    PageWatch,
    add_lease_with,
    card,
    lease_table,
    open_console,
    run_and_wait,
    type_into,
    wait_for_idle,
)


def test_an_events_empty_number_cells_read_blank(page: Page, page_watch: PageWatch, console_url: str) -> None:
    # An outage has no mw or factor: those cells read "NaN" (or "-" where no row had one).
    open_console(page, console_url + "whatif?base=demo_events", "Base scenario", watch=page_watch)
    events = page.locator(".tabulator").filter(has=page.locator('.tabulator-col[tabulator-field="factor"]'))
    outage = events.locator(".tabulator-row").filter(has_text="outage")
    expect(outage).to_have_count(1)
    for field in ("mw", "factor", "degrees_c"):
        expect(outage.locator(f'[tabulator-field="{field}"]')).to_have_text(re.compile(r"^\s*$"))
    expect(
        events.locator(".tabulator-row").filter(has_text="curtailment").locator('[tabulator-field="mw"]')
    ).to_have_text("2.5")


def test_a_gpus_cell_emptied_or_fractional_is_refused_never_run_with_its_old_value(
    page: Page, page_watch: PageWatch, console_url: str
) -> None:
    open_console(page, console_url + "whatif", "Base scenario", watch=page_watch)
    gpus = add_lease_with(page, "gpus", "1024")
    run_and_wait(page, page_watch)
    # 1,024 of 3,200 GPUs, less the hours its failed servers were out (whole pods: no outside spare).
    expect(card(page, "leased_share").locator(".value")).to_have_text("31.9 %")
    # The editor fills the first screen: the page brings the results into sight, and the problems
    # below (they were found ~900 px down, as if Run had done nothing).
    expect(card(page, "leased_share")).to_be_in_viewport()
    problems = page.get_by_text(re.compile(r"Leases table, row 1, gpus"))
    for text, shown in (("", "-"), ("3.5", "3.5")):
        type_into(gpus, text)
        expect(gpus).to_have_text(shown)  # what the run will be given (it showed 0 and ran 1,024)
        page.get_by_role("button", name="Run", exact=True).click()
        expect(problems).to_be_visible(timeout=RUN_TIMEOUT_MS)
        expect(problems).to_be_in_viewport()
    type_into(gpus, "512")
    run_and_wait(page, page_watch)
    expect(problems).to_be_hidden()
    expect(card(page, "leased_share").locator(".value")).to_have_text("16.0 %")
    page_watch.assert_clean()  # no refused edit on the server (it logged an error reply before)


LONG_NAME = "frontier-lab-hyperion-2030-reserved-block-east"


def _cells_fit(page: Page, field: str, text: str) -> None:
    """Wait until every cell of ``field`` holding ``text`` shows it whole: wrapped, not cut."""
    cells = page.locator(f'.tabulator-cell[tabulator-field="{field}"]').filter(
        has_text=re.compile(f"^{re.escape(text)}$")
    )
    sizes: list = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sizes = cells.evaluate_all(
            "cs => cs.map((c) => [c.scrollWidth, c.clientWidth, c.scrollHeight, c.clientHeight])"
        )
        if sizes and all(sw <= cw + 1 and sh <= ch + 1 for sw, cw, sh, ch in sizes):
            return
        time.sleep(0.25)
    raise AssertionError(f"{field} cells holding {text!r} are cut (scroll/client width, height): {sizes}")


def test_a_long_lease_name_is_read_whole_in_the_tables(
    page: Page, page_watch: PageWatch, console_url: str
) -> None:
    """A name longer than its column wraps in its row, in the lease table and the SLA table."""
    open_console(page, console_url + "whatif", "Base scenario", watch=page_watch)
    name = add_lease_with(page, "name", LONG_NAME)
    expect(name).to_have_text(LONG_NAME)
    _cells_fit(page, "name", LONG_NAME)  # it was cut at the column's edge, or under the row's
    run_and_wait(page, page_watch)
    sla = page.locator(".tabulator").filter(has=page.locator('.tabulator-col[tabulator-field="attainment"]'))
    expect(sla.get_by_role("gridcell", name=LONG_NAME, exact=True)).to_have_count(1)  # the run got it
    _cells_fit(page, "product", LONG_NAME)


def test_every_lease_column_is_reachable_on_a_laptop_screen(
    page: Page, page_watch: PageWatch, console_url: str
) -> None:
    """At 1,024 px the lease table scrolls sideways within the page, its last column in reach."""
    page.set_viewport_size({"width": 1024, "height": 800})
    open_console(page, console_url + "whatif", "Base scenario", watch=page_watch)
    page.get_by_role("button", name="Add lease").click()
    leases = lease_table(page)
    expect(leases.locator(".tabulator-row")).to_have_count(1)
    wait_for_idle(page, watch=page_watch)
    box = leases.evaluate(
        """(table) => {
            const holder = table.querySelector(".tabulator-tableholder");
            holder.scrollLeft = holder.scrollWidth;  // as far right as it goes
            const cell = table.querySelector('.tabulator-cell[tabulator-field="termination_notice_days"]');
            const [t, h, c] = [table, holder, cell].map((e) => e.getBoundingClientRect());
            return {page: window.innerWidth, table: t.right, left: h.left, right: h.right,
                    cell_left: c.left, cell_right: c.right};
        }"""
    )
    assert box["table"] <= box["page"], f"the lease table runs off the page: {box}"
    assert box["left"] <= box["cell_left"] and box["cell_right"] <= box["right"] + 1, (
        f"the lease table's last column cannot be scrolled into view: {box}"
    )
