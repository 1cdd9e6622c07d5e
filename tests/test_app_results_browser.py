"""What happens to the results shown, in headless Chromium against the real app (python app.py on
the BigEarthNet `small_corpus`), nothing off localhost: a refused action keeps them; a table row
click fills "More like this" as a thumbnail click does; new results clear the previous export;
the share link says presentation mode; the example buttons search."""

from __future__ import annotations

import pytest

from tests.helpers.browser import (
    CAPTION,
    LINK_FIELD,
    browser_module,
    markdown_with,
    new_page,
    panel,
    search,
    wait_for_gallery,
)

pytestmark = browser_module()

TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1400, "height": 1600}
LIKE_FIELD = "#like-id input, #like-id textarea"
EXPORT_LINK = "#export-results-file a[download]"


@pytest.fixture
def page(browser, app_url):
    page = new_page(browser, VIEWPORT, TIMEOUT_MS, app_url)
    yield page
    page.context.close()


def shown(page) -> dict:
    """What the results views show now: captions, table ids, map, share link."""
    return {
        "captions": panel(page).locator(CAPTION).all_inner_texts(),
        "ids": page.locator("#results-table [role=gridcell]").all_inner_texts(),
        "map": page.locator("#result-map iframe").get_attribute("srcdoc"),
        "link": page.input_value(LINK_FIELD),
    }


def warned(page, text: str) -> str:
    return markdown_with(page, "⚠️").filter(has_text=text).inner_text()


def test_a_table_row_fills_more_like_this_and_refusals_keep_the_results(page):
    search(page, "river")
    wait_for_gallery(page, 5)
    markdown_with(page, "results for “river”")
    before = shown(page)
    assert before["link"].startswith("?q=river")
    # More like this with no id: a warning, and every view keeps what it showed
    page.locator("#like-btn").click()
    assert "Click a result" in warned(page, "Click a result")
    assert shown(page) == before
    # an inverted date range: refused, results kept
    page.locator("#filter-box").get_by_text("Filters (optional)").click()
    page.locator("#f-from input, #f-from textarea").first.fill("2018-01-01")
    page.locator("#f-to input, #f-to textarea").first.fill("2017-01-01")
    search(page, "forest")
    assert "is after the end date" in warned(page, "after the end date")
    assert shown(page) == before
    page.locator("#f-from input, #f-from textarea").first.fill("")
    page.locator("#f-to input, #f-to textarea").first.fill("")
    # a click on a table row (not its thumbnail) fills the More-like-this id
    cell = page.locator("#results-table [role=gridcell]").first
    cell.click()
    page.wait_for_function("sel => document.querySelector(sel)?.value", arg=LIKE_FIELD)
    seed = page.input_value(LIKE_FIELD)
    assert seed and seed in "\n".join(before["ids"])
    page.locator("#like-btn").click()
    markdown_with(page, f"like {seed}")
    assert shown(page)["captions"] != before["captions"]


def test_new_results_clear_the_previous_export(page):
    search(page, "river")
    wait_for_gallery(page, 5)
    for action in ("search", "more like this"):
        page.locator("#export-results-csv").click()
        page.locator(EXPORT_LINK).wait_for()
        markdown_with(page, "exported as CSV")
        if action == "search":
            search(page, "forest")
        else:
            page.locator("#results-table [role=gridcell]").first.click()
            page.wait_for_function("sel => document.querySelector(sel)?.value", arg=LIKE_FIELD)
            page.locator("#like-btn").click()
        page.locator(EXPORT_LINK).wait_for(state="detached")
        assert panel(page).locator("[data-testid=markdown]", has_text="exported as").count() == 0


def test_the_share_link_says_presentation_mode(page, browser, app_url):
    search(page, "the sea")
    wait_for_gallery(page, 3)
    page.wait_for_function("sel => document.querySelector(sel)?.value", arg=LINK_FIELD)
    assert "present" not in page.input_value(LINK_FIELD)
    page.locator("#present input").check()
    page.wait_for_function(
        "sel => document.querySelector(sel).value.includes('present=1')", arg=LINK_FIELD
    )
    link = page.input_value(LINK_FIELD)
    assert link.startswith("?q=the+sea")
    again = new_page(browser, VIEWPORT, TIMEOUT_MS, app_url + link)  # opening it: switched on
    again.wait_for_function("() => document.querySelector('#present input')?.checked")
    wait_for_gallery(again, 3)
    again.context.close()
    page.locator("#present input").uncheck()
    page.wait_for_function(
        "sel => !document.querySelector(sel).value.includes('present')", arg=LINK_FIELD
    )


def test_an_example_button_runs_its_search(page):
    page.get_by_role("button", name="river", exact=True).click()
    wait_for_gallery(page, 5)
    assert "results for “river”" in markdown_with(page, "results for").inner_text()
