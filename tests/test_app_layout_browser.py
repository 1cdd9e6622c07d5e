"""The page's layout in headless Chromium against the real app (python app.py on the BigEarthNet
`small_corpus`), nothing off localhost: a phone's gallery shows every result in its width, the
results table keeps its column names whole with the id column in view, and before any search
the table names its columns."""

from __future__ import annotations

import pytest

from closp_demo.views.results import TABLE_COLUMNS
from tests.helpers.browser import browser_module, new_page, wait_for_gallery

pytestmark = browser_module()

TIMEOUT_MS = 60_000
ITEMS = "#results-gallery .gallery-item"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1400, "height": 900}

GALLERY_JS = """sel => {
  const g = document.querySelector(sel), wrap = g.querySelector('.grid-wrap');
  const box = wrap.getBoundingClientRect();
  const label = g.querySelector('[data-testid=block-label]').getBoundingClientRect();
  const items = [...g.querySelectorAll('.gallery-item')].map(i => {
    const r = i.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; });
  return {left: box.left, right: box.left + wrap.clientWidth, scroll: wrap.scrollWidth,
          client: wrap.clientWidth, labelBottom: label.bottom, items: items,
          columns: getComputedStyle(g.querySelector('.grid-container'))
            .gridTemplateColumns.split(' ').length};
}"""
# Each column name: its words, and the lines it is drawn on (one rect per line of its text).
HEADERS_JS = """sel => [...document.querySelectorAll(sel + ' thead th.header-cell')].map(th => {
  const span = th.querySelector('.header'), range = document.createRange();
  range.selectNodeContents(span);
  const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  const b = th.getBoundingClientRect();
  return {name: span.textContent.trim(), lines: tops.size, height: b.height, right: b.right,
          lineHeight: parseFloat(getComputedStyle(span).lineHeight) || 20};
})"""
VIEWPORT_JS = """sel => { const v = document.querySelector(sel + ' .virtual-table-viewport');
  const r = v.getBoundingClientRect();
  return {right: r.left + v.clientWidth, scroll: v.scrollWidth, client: v.clientWidth}; }"""


@pytest.fixture
def open_page(browser, app_url):
    pages = []

    def open_(viewport: dict, query: str = ""):
        page = new_page(browser, viewport, TIMEOUT_MS, f"{app_url}{query}")
        pages.append(page)
        return page

    yield open_
    for page in pages:
        page.context.close()


def test_on_a_phone_the_gallery_shows_every_result_within_its_width(open_page):
    page = open_page(PHONE, "?q=forest&k=12")
    page.wait_for_function(f"document.querySelectorAll('{ITEMS}').length >= 12")
    page.locator("#results-gallery").scroll_into_view_if_needed()
    wait_for_gallery(page, 4)  # those in view: the rest load lazily as the gallery scrolls
    seen = page.evaluate(GALLERY_JS, "#results-gallery")
    assert len(seen["items"]) == 12
    assert seen["columns"] == 2, seen
    assert seen["scroll"] <= seen["client"], seen  # nothing to scroll to sideways
    for left, _, right, _ in seen["items"]:
        assert seen["left"] <= left and right <= seen["right"], seen
    # the first row starts below the gallery's label, not under it
    assert min(top for _, top, _, _ in seen["items"]) >= seen["labelBottom"], seen


def test_on_a_wide_screen_the_gallery_keeps_four_columns(open_page):
    page = open_page(LAPTOP, "?q=forest&k=12")
    wait_for_gallery(page, 12)
    seen = page.evaluate(GALLERY_JS, "#results-gallery")
    assert seen["columns"] == 4
    assert min(top for _, top, _, _ in seen["items"]) >= seen["labelBottom"], seen


def test_table_names_stay_whole_and_the_id_column_is_in_view(open_page):
    page = open_page(LAPTOP, "?q=forest&k=12")
    wait_for_gallery(page, 12)
    page.locator("#results-table .body-cell").first.wait_for()
    headers = page.evaluate(HEADERS_JS, "#results-table")
    names = [h["name"] for h in headers]
    assert names[0] == "rank" and names[-1] == "id", names
    for h in headers:
        # a name breaks between its words only ("more from / this scene"), never inside one
        assert h["lines"] <= min(len(h["name"].split()), 2), h
    line = max(h["lineHeight"] for h in headers)
    assert max(h["height"] for h in headers) <= 2 * line + 24, headers  # no tall, empty row
    view = page.evaluate(VIEWPORT_JS, "#results-table")
    id_header = next(h for h in headers if h["name"] == "id")
    assert id_header["right"] <= view["right"] + 1, (id_header, view)  # in sight, no scrolling
    assert view["scroll"] <= view["client"] + 1, view


def test_before_any_search_the_tables_name_their_columns(open_page):
    page = open_page(LAPTOP)
    page.locator("#results-table thead th").first.wait_for()
    names = [h["name"] for h in page.evaluate(HEADERS_JS, "#results-table")]
    assert names == TABLE_COLUMNS
    assert page.locator("#results-table .body-cell").count() == 0
