"""The scenario library, Monte Carlo bands and the lease optimiser in the console, in Chromium.

A what-if run on several seeds shows each KPI's range; saving it puts one run per seed in the
library; the Runs page lists them, compares two, and opens one in the Capacity page. The
optimiser runs in the background from the What-if page and shows its offer table.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from test_ui_console import RUN_TIMEOUT_MS, card
from ui_util import PageWatch, open_console, wait_for_idle

HOSTILE = "<img src=x onerror=alert(1)> trial"


def test_replications_save_compare_and_open_a_saved_run(
    page: Page, page_watch: PageWatch, console_url: str
) -> None:
    page.goto(console_url + "whatif?base=demo_whatif&reps=3")  # a link with a base runs at once
    expect(page.get_by_text(re.compile(r"^Ran .*seeds 7–9"))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    wait_for_idle(page, watch=page_watch)
    band = card(page, "revenue").locator(".band")
    expect(band).to_contain_text(re.compile(r"range of the 3 seeds: \$[\d.,]+[kM]? – \$[\d.,]+[kM]?"))
    expect(card(page, "revenue").locator(".label")).to_have_text("Sales revenue, seed 7")  # what the value is

    name = page.locator(".bk-input-group").filter(has_text="Save as").locator("input")
    expect(name).to_have_attribute("placeholder", "demo_whatif what-if", timeout=30_000)  # the default name
    name.fill(HOSTILE)
    page.get_by_role("button", name="Save to library").click()
    expect(page.get_by_text("with 3 runs")).to_be_visible(timeout=60_000)
    page.get_by_role("link", name="Open it in Runs").click()

    wait_for_idle(page, "3 runs of 1 scenarios", watch=page_watch)
    runs = page.locator(".tabulator").filter(has=page.locator('.tabulator-col[tabulator-field="seed"]'))
    expect(runs.locator(".tabulator-row")).to_have_count(3)
    expect(runs.locator(".tabulator-row").first).to_contain_text(HOSTILE)  # a name is text, never markup
    assert page.locator("img[src=x]").count() == 0

    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_text("Run B against run A.")).to_be_visible(timeout=60_000)
    delta = card(page, "revenue").locator(".delta")
    expect(delta).to_contain_text("vs run A")
    expect(page.get_by_role("gridcell", name="acme-gb200-pod", exact=True)).to_be_visible()
    assert re.search(r"\?a=lib-[0-9a-f]{32}&b=lib-[0-9a-f]{32}$", page.url)
    page.reload()  # the page's URL is the comparison: opened again (or shared), it shows it
    expect(page.get_by_text("Run B against run A.")).to_be_visible(timeout=60_000)
    expect(card(page, "revenue").locator(".delta")).to_contain_text("vs run A")
    wait_for_idle(page, watch=page_watch)

    page.get_by_role("link", name="capacity", exact=True).click()
    wait_for_idle(page, "Showing the run saved in the library as", watch=page_watch)
    # By the name it was saved under (the scenario inside is still named after the what-if's base).
    expect(page.get_by_text(f"the run saved in the library as {HOSTILE}, seed")).to_be_visible()
    expect(card(page, "GPUs").locator(".value")).to_have_text("3,200")
    page_watch.assert_clean()


def test_find_the_largest_lease_in_the_background(
    page: Page, page_watch: PageWatch, console_url: str
) -> None:
    open_console(page, console_url + "whatif?base=demo_whatif", watch=page_watch)
    expect(page.get_by_text(re.compile(r"^Ran "))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    page.get_by_role("button", name="Lease optimiser").click()  # open the card
    seeds = page.locator(".bk-input-group").filter(has_text="Seeds per size").locator("input")
    seeds.fill("1")
    seeds.press("Enter")
    page.get_by_role("button", name="Find the largest lease").click()
    said = page.get_by_text(re.compile(r"^(Largest acme-gb200-pod meeting|No size of acme-gb200-pod meets)"))
    expect(said).to_be_visible(timeout=RUN_TIMEOUT_MS)
    offers = page.locator(".tabulator").filter(has=page.locator('.tabulator-col[tabulator-field="binds"]'))
    row = offers.locator(".tabulator-row")
    expect(row).to_have_count(1)
    expect(row.locator('[tabulator-field="site"]')).to_have_text("Demo")
    # Whole pods of 576 GB200 GPUs; what binds is one of the optimiser's reasons.
    gpus = int(row.locator('[tabulator-field="max GPUs"]').inner_text().replace(",", ""))
    assert gpus % 576 == 0
    # No size at all is said as such, not as "Largest ...: 0" (here internal impact binds first).
    assert said.inner_text().startswith("No size" if gpus == 0 else "Largest")
    expect(row.locator('[tabulator-field="binds"]')).to_have_text(
        re.compile(r"^(SLA|internal impact|power|cooling|capacity)$")
    )
    page_watch.assert_clean()
