"""Sign-in and roles in Chromium: refused passwords, and roles enforced on the server.

A viewer's Run and export buttons are disabled; the tests then enable them the way a hostile
viewer would, by changing the Bokeh models from the page's JavaScript, and click: the server must
refuse all the same. An operator can run, a planner can export. A hostile tenant name is text in
the table, in the hover tooltip and in the exported SVG.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from test_ui_console import add_lease_with, lease_table, run_and_wait
from ui_util import REPO_ROOT, PageWatch, open_console, wait_for_idle

USERS = {
    "vic": ("viewer", "viewer-pass-1"),
    "olga": ("operator", "operator-pass-1"),
    "pat": ("planner", "planner-pass-1"),
}
HOSTILE = "<img src=x onerror=alert(1)>"

# The crafted request: flip a disabled Bokeh widget back on from the page, as a script can.
ENABLE_JS = """label => {
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models)
      if (m.label === label && "disabled" in m) { m.disabled = false; return true; }
  return false;
}"""


@pytest.fixture(scope="module")
def signed_in_url(start_console, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("users")
    users = folder / "users.yaml"
    for name, (role, password) in USERS.items():
        subprocess.run(
            [sys.executable, "-m", "app.cli", "users", "add", str(users), name, "--role", role, "--password-stdin"],
            input=password + "\n", text=True, check=True, cwd=REPO_ROOT, capture_output=True,
        )  # fmt: skip
    assert "$argon2id$" in users.read_text() and not any(p in users.read_text() for _, p in USERS.values())
    return start_console("--users", users, "--no-cache", "--data", folder / "data").url


def sign_in(
    page: Page, url: str, user: str, password: str | None = None, watch: PageWatch | None = None
) -> None:
    page.goto(url + "whatif")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.get_by_label("User").fill(user)
    page.get_by_label("Password").fill(password or USERS[user][1])
    page.get_by_role("button", name="Sign in").click()


def test_a_wrong_password_is_refused(page: Page, page_watch: PageWatch, signed_in_url: str) -> None:
    sign_in(page, signed_in_url, "olga", "not-her-password")
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password!")
    page.goto(signed_in_url + "runs")  # still not signed in: every page asks again
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(page, signed_in_url, "nobody", "whatever-1")
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password!")
    page_watch.assert_offline()


def test_a_viewer_cannot_run_or_export_even_with_a_crafted_request(
    page: Page, page_watch: PageWatch, signed_in_url: str
) -> None:
    sign_in(page, signed_in_url, "vic")
    wait_for_idle(page, "Base scenario", watch=page_watch)
    expect(page.get_by_text("vic (viewer)")).to_be_visible()
    run = page.get_by_role("button", name="Run", exact=True)
    expect(run).to_be_disabled()
    expect(
        page.get_by_text("You are signed in as a viewer: you can look at scenarios and saved runs")
    ).to_be_visible()
    assert page.evaluate(ENABLE_JS, "Run")
    expect(run).to_be_enabled()
    run.click()
    expect(page.get_by_text("Your role (viewer) may not run what-ifs")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Ran "))).to_have_count(0)

    page.goto(signed_in_url + "site")
    wait_for_idle(page, "Campuses in the sites folder", watch=page_watch)
    svg = page.get_by_role("button", name="SVG plan")
    expect(svg).to_be_disabled()
    assert page.evaluate(ENABLE_JS, "SVG plan")
    with pytest.raises(PlaywrightError), page.expect_download(timeout=5_000):
        svg.click()
    expect(page.get_by_text("Your role (viewer) may not export site plans")).to_be_visible()
    page_watch.check_on_teardown = False  # the refused export logs its refusal on the server, as it should


def test_an_operator_runs_and_a_planner_exports(
    browser, page: Page, page_watch: PageWatch, signed_in_url: str
) -> None:
    sign_in(page, signed_in_url, "olga")
    wait_for_idle(page, "Base scenario", watch=page_watch)
    run_and_wait(page, page_watch)
    expect(page.get_by_role("button", name="Save to library")).to_be_enabled()

    planner = browser.new_context()
    try:
        other = planner.new_page()
        sign_in(other, signed_in_url, "pat")
        wait_for_idle(other, "Base scenario")
        expect(other.get_by_role("button", name="Run", exact=True)).to_be_disabled()
        other.goto(signed_in_url + "site")
        wait_for_idle(other, "Campuses in the sites folder")
        with other.expect_download() as download:
            other.get_by_role("button", name="SVG plan").click()
        assert download.value.suggested_filename.endswith(".svg")
    finally:
        planner.close()


def test_a_hostile_tenant_is_text_in_the_table_the_tooltip_and_the_svg(
    page: Page, page_watch: PageWatch, console_url: str, tmp_path: Path
) -> None:
    open_console(page, console_url + "whatif", "Base scenario", watch=page_watch)
    add_lease_with(page, "tenant", HOSTILE)
    run_and_wait(page, page_watch)
    expect(page.get_by_role("gridcell", name=HOSTILE, exact=True).first).to_be_visible()  # the SLA table

    page.get_by_role("link", name="racks", exact=True).click()  # hall A/H1, whose pod P1 the lease holds
    wait_for_idle(page, "Tenants and utilisation from the what-if run of", watch=page_watch)
    plot = page.locator(".bk-Canvas").first
    box = plot.bounding_box()
    tooltip = page.locator(".bk-Tooltip").filter(has_text=HOSTILE)
    steps = [k / 20 for k in range(1, 20)]  # the racks stand in rows with aisles between: a fine sweep
    for fx in steps[::2]:  # sweep the hall until a leased rack is hovered
        for fy in steps:
            page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
            if tooltip.count():
                break
        if tooltip.count():
            break
    expect(tooltip.first).to_be_visible()
    assert page.locator("img[src=x]").count() == 0

    with page.expect_download() as download:
        page.get_by_role("button", name="SVG plan").click()
    path = tmp_path / "plan.svg"
    download.value.save_as(path)
    text = path.read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    tree = ET.parse(path)  # well-formed, and the name never became an element
    assert not [e for e in tree.iter() if e.tag.rsplit("}", 1)[-1] == "img"]


def test_an_uploaded_scenario_is_checked_then_run_in_this_session_only(
    browser, page: Page, page_watch: PageWatch, console_url: str, tmp_path: Path
) -> None:
    demo = (REPO_ROOT / "sample_sites" / "scenarios" / "demo_whatif.yaml").read_text()
    hostile = tmp_path / "peek.yaml"
    hostile.write_text(demo.replace("sites: [../demo.yaml]", "sites: [../../../../etc/passwd]"))
    mine = tmp_path / "acme 5 days.yaml"
    mine.write_text(demo.replace("days: 30", "days: 5"))

    open_console(page, console_url + "whatif", "Base scenario", watch=page_watch)
    upload = page.locator('input[type="file"]')
    empty = tmp_path / "empty.yaml"
    empty.write_text("")  # its content arrives as nothing at all: it once gave no word
    upload.set_input_files(empty)
    expect(page.get_by_text("empty.yaml:1: file is empty")).to_be_visible()
    upload.set_input_files(hostile)
    expect(page.get_by_text("outside the console's sites folder")).to_be_visible()
    expect(page.get_by_text("The uploaded scenario was refused")).to_be_visible()

    upload.set_input_files(mine)
    expect(page.get_by_text("Opened acme 5 days.yaml")).to_be_visible()
    expect(lease_table(page).locator(".tabulator-row")).to_have_count(1)  # the file's lease
    run_and_wait(page, page_watch)
    expect(page.get_by_text(re.compile(r"^Ran upload: acme 5 days\.yaml for 5 days"))).to_be_visible()

    other = browser.new_context()  # another session does not see the upload
    try:
        second = other.new_page()
        open_console(second, console_url + "whatif", "Base scenario")
        options = second.locator("select").first.locator("option").all_inner_texts()
        assert options and not any("upload" in o for o in options)
    finally:
        other.close()
