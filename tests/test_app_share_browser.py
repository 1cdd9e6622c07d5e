"""Share links, export buttons and the phone / presentation layouts in headless Chromium against
the real app (python app.py on the BigEarthNet `small_corpus`), nothing off localhost."""

from __future__ import annotations

import csv
import io
import zipfile
from urllib.parse import urlencode

import pytest

from tests.helpers.browser import (
    LINK_FIELD,
    browser_module,
    markdown_with,
    new_page,
    wait_for_gallery,
)

pytestmark = browser_module()

TIMEOUT_MS = 60_000
DESKTOP = {"width": 1400, "height": 1600}
PHONE = {"width": 390, "height": 844}
PWNED = "<img src=x onerror=window.__pwned=1>"


def open_page(browser, url: str, viewport: dict = DESKTOP):
    return new_page(browser, viewport, TIMEOUT_MS, url)


def not_pwned(page) -> None:
    for frame in page.frames:
        assert frame.evaluate("typeof window.__pwned") == "undefined", frame.url
        assert frame.evaluate("document.querySelectorAll(\"img[src='x']\").length") == 0
    assert page.recorder.dialogs == []


def test_a_link_runs_its_search_and_copy_link_reproduces_it(browser, app_url):
    params = {"q": "a lake surrounded by forest", "sensor": "S2", "k": "6", "group": "0"}
    page = open_page(browser, f"{app_url}?{urlencode(params)}")
    captions = wait_for_gallery(page, 6)
    assert len(captions) == 6 and all(" S2 · " in c for c in captions), captions
    assert "6 results for “a lake surrounded by forest” (S2)" in markdown_with(
        page, "results for").inner_text()  # fmt: skip
    page.locator("#copy-link").click()
    page.wait_for_function(
        "sel => (document.querySelector(sel)?.value || '').startsWith('http')", arg=LINK_FIELD
    )
    link = page.input_value(LINK_FIELD)
    assert link.startswith(app_url) and "k=6" in link and "group=0" in link
    again = open_page(browser, link)
    assert wait_for_gallery(again, 6) == captions
    for p in (page, again):
        p.context.close()


def test_hostile_link_values_become_notes_and_nothing_runs_as_markup(browser, app_url):
    params = {"q": PWNED, "sensor": "<script>window.__pwned=1</script>", "k": "1e400",
              "lat": "NaN", "lon": "10", "box": PWNED, PWNED: "1"}  # fmt: skip
    page = open_page(browser, f"{app_url}?{urlencode(params)}")
    page.locator("#link-note", has_text="Ignored sensor").wait_for()
    note = page.locator("#link-note").inner_text()
    for part in ("Ignored sensor", "Ignored k", "Ignored lat", "Ignored box", "unknown link"):
        assert part in note, note
    assert "<script>window.__pwned=1</script>" in note  # shown as text
    status = markdown_with(page, "results for").inner_text()
    assert "onerror=window.__pwned=1" in status  # the query runs, as text
    page.wait_for_timeout(300)
    not_pwned(page)
    page.context.close()


def test_export_buttons_offer_the_files(browser, app_url):
    page = open_page(browser, f"{app_url}?q=river&k=5")
    ids = [row.split(" · ")[0] for row in wait_for_gallery(page, 5)]
    for fmt in ("csv", "zip"):
        page.locator(f"#export-results-{fmt}").click()
        link = page.locator(f"#export-results-file a[download='closp-results.{fmt}']")
        link.wait_for()
        markdown_with(page, f"5 results exported as {fmt.upper()}")
        body = page.request.get(link.get_attribute("href")).body()
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
            assert [f"#{r['rank']} {r['sensor']}" for r in rows] == ids
        else:
            assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    page.context.close()


def box(page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found is not None, selector
    return found


def test_on_a_phone_the_map_stacks_under_the_gallery_and_the_table_scrolls(browser, app_url):
    page = open_page(browser, f"{app_url}?q=forest&k=12", PHONE)
    page.locator("#results-gallery").scroll_into_view_if_needed()  # thumbnails load lazily
    wait_for_gallery(page, 1)
    gallery, map_box = box(page, "#results-gallery"), box(page, "#result-map")
    assert map_box["y"] >= gallery["y"] + gallery["height"] - 1  # under, not beside
    assert abs(map_box["x"] - gallery["x"]) <= 1
    assert gallery["width"] >= PHONE["width"] * 0.75 and map_box["width"] >= PHONE["width"] * 0.75
    table = page.evaluate("""() => {
      const v = document.querySelector('#results-table .virtual-table-viewport');
      return {scroll: v.scrollWidth, client: v.clientWidth, overflow: getComputedStyle(v).overflowX,
              page: document.scrollingElement.scrollWidth};
    }""")
    assert table["scroll"] > table["client"] and table["overflow"] in ("auto", "scroll"), table
    assert table["page"] <= PHONE["width"], table  # the page itself never scrolls sideways
    page.context.close()


def test_on_a_wide_screen_gallery_and_map_sit_side_by_side(browser, app_url):
    page = open_page(browser, f"{app_url}?q=forest&k=4")
    wait_for_gallery(page, 1)
    gallery, map_box = box(page, "#results-gallery"), box(page, "#result-map")
    assert map_box["x"] >= gallery["x"] + gallery["width"] - 1
    page.context.close()


def test_presentation_mode_from_the_link_and_the_switch(browser, app_url):
    sizes = """() => ({
      text: parseFloat(getComputedStyle(document.querySelector('#link-note')).fontSize),
      thumb: document.querySelector('#results-gallery .gallery-item').getBoundingClientRect().width,
      columns: getComputedStyle(document.querySelector('#results-gallery .grid-container'))
        .gridTemplateColumns.split(' ').length,
    })"""
    plain = open_page(browser, f"{app_url}?q=forest&k=4")
    wait_for_gallery(plain, 4)
    normal = plain.evaluate(sizes)
    assert not plain.evaluate("document.body.classList.contains('closp-present')")
    plain.locator("#present input").check()
    plain.wait_for_function("document.body.classList.contains('closp-present')")
    switched = plain.evaluate(sizes)
    plain.context.close()
    page = open_page(browser, f"{app_url}?q=forest&k=4&present=1")
    wait_for_gallery(page, 4)
    page.wait_for_function("document.body.classList.contains('closp-present')")
    linked = page.evaluate(sizes)
    page.context.close()
    for present in (switched, linked):
        assert present["text"] >= 1.3 * normal["text"], (normal, present)
        assert present["thumb"] >= 1.5 * normal["thumb"], (normal, present)
        assert present["columns"] == 2


def test_more_from_this_scene_opens_in_place(browser, app_url):
    for query in ("forest", "a lake", "river", "farmland with crop fields", "the sea"):
        page = open_page(browser, f"{app_url}?{urlencode({'q': query, 'k': 12})}")
        captions = wait_for_gallery(page, 12)
        at = next((i for i, c in enumerate(captions) if "more from this scene" in c), None)
        if at is not None:
            break
        page.context.close()
    else:
        pytest.fail("no query groups tiles of one scene in this corpus")
    more = int(captions[at].split("· +")[1].split(" ")[0])
    page.locator(".gallery-container .gallery-item").nth(at).click()
    page.wait_for_function("() => document.querySelector('#like-id textarea, #like-id input')"
                           ".value.length > 0")  # fmt: skip
    page.locator("#expand-btn").click()
    opened = wait_for_gallery(page, len(captions) + more)
    assert len(opened) == len(captions) + more
    tiles = opened[at + 1 : at + 1 + more]
    assert all("same scene as" in c for c in tiles), tiles
    assert all(c.startswith(f"#{i} ") for i, c in enumerate(opened, start=1))
    page.context.close()
