"""The detail view in headless Chromium, every request off the machine blocked: a search, a
click on a result thumbnail, both images shown, a composite switched; a map popup's button; an
image without a twin or query shows no empty frames."""

from __future__ import annotations

import pytest

from closp_demo.corpus.store import load_corpus
from closp_demo.search.twins import counterpart
from tests.helpers.browser import (
    QUERY_LABEL,
    THUMB,
    browser_module,
    new_page,
    search,
    wait_for_gallery,
)

pytestmark = browser_module()
expect = pytest.importorskip("playwright.sync_api").expect

TIMEOUT_MS = 60_000
IMG_SHOWN = "sel => { const i = document.querySelector(sel); return i && i.complete && " \
            "i.naturalWidth > 0 ? i.src : null; }"  # fmt: skip


@pytest.fixture
def page(browser, app_url):
    page = new_page(browser, {"width": 1400, "height": 1600}, TIMEOUT_MS, app_url)
    yield page
    page.context.close()


def shown_src(page, elem_id: str) -> str:
    handle = page.wait_for_function(IMG_SHOWN, arg=f"#{elem_id} img")
    return handle.json_value()


def test_click_a_result_shows_both_images_and_switches_a_composite(page):
    search(page, "a lake surrounded by forest")
    wait_for_gallery(page, 5)
    expect(page.locator("#detail-main-image")).not_to_be_visible()  # no empty frames before
    page.locator(THUMB).first.click()
    page.locator("#detail-status", has_text="Opened").wait_for()
    expect(page.locator("#detail-view").first).to_be_in_viewport()  # brought into sight
    main_before = shown_src(page, "detail-main-image")
    shown_src(page, "detail-twin-image")  # the other sensor, side by side
    assert page.locator("#detail-twin-facts", has_text="Other sensor").is_visible()
    facts = page.locator("#detail-main-facts").inner_text()
    s2 = "Sentinel-2" in facts
    page.locator("#detail-main-composite").get_by_label("NDVI" if s2 else "VH (dB)").check()
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel); return i && i.src !== old; }",
        arg=["#detail-main-image img", main_before],
    )
    text = page.locator("#detail-view").first.inner_text()
    assert ("(B08 − B04) / (B08 + B04)" if s2 else "σ⁰ VH") in text
    assert page.recorder.dialogs == []


def test_map_popup_button_opens_the_detail_view(page):
    search(page, "forest")
    wait_for_gallery(page, 5)
    frame = page.locator("[role=tabpanel]:visible iframe").element_handle().content_frame()
    frame.wait_for_selector(".closp-marker")
    frame.locator(".leaflet-marker-icon.closp-marker").first.click(force=True)
    # A real click: the popup fits inside the map, its button clear of the controls.
    frame.locator("button.closp-open").click()
    page.locator("#detail-status", has_text="Opened").wait_for()
    shown_src(page, "detail-main-image")


def test_a_bad_id_says_why_and_hides_the_last_image(page):
    search(page, "river")
    wait_for_gallery(page, 3)
    page.locator(THUMB).first.click()
    shown_src(page, "detail-main-image")
    page.locator("#detail-id input, #detail-id textarea").first.fill("no-such-image")
    page.locator("#detail-open").click()
    page.locator("#detail-status", has_text="no-such-image").wait_for()
    expect(page.locator("#detail-main-image")).not_to_be_visible()  # no stale image under it
    assert page.recorder.dialogs == []


def ids_by_pairing(corpus_dir) -> tuple[str, str]:
    """An image of the test corpus with no other-sensor image of its place, and one with."""
    corpus = load_corpus(corpus_dir)
    rows = corpus.rows
    twins = [counterpart(corpus, r).row for r in range(len(rows.groups()))]
    alone = next(r for r, twin in enumerate(twins) if twin is None)
    paired = next(r for r, twin in enumerate(twins) if twin is not None)
    return rows.value("image_id", alone), rows.value("image_id", paired)


def open_id(page, image_id: str) -> None:
    page.locator("#detail-id input, #detail-id textarea").first.fill(image_id)
    page.locator("#detail-open").click()
    page.locator("#detail-status", has_text=image_id).wait_for()


def test_without_twin_or_query_no_empty_frames_show(page, small_corpus):
    alone, paired = ids_by_pairing(small_corpus)
    open_id(page, alone)
    shown_src(page, "detail-main-image")
    expect(page.locator("#detail-main-plot")).to_be_visible()  # the plots step ran
    expect(page.locator("#detail-twin-facts")).to_contain_text("Other sensor")  # says why
    for hidden in ("detail-twin-composite", "detail-twin-image", "detail-twin-plot",
                   "detail-breakdown", "detail-occlusion"):  # fmt: skip
        expect(page.locator(f"#{hidden}")).not_to_be_visible()
    # a paired image, with a query: the twin's frames and the breakdown come back
    page.get_by_label(QUERY_LABEL).fill("a lake surrounded by forest")
    open_id(page, paired)
    shown_src(page, "detail-twin-image")
    for shown in ("detail-twin-composite", "detail-twin-plot", "detail-breakdown"):
        expect(page.locator(f"#{shown}")).to_be_visible()
    expect(page.locator("#detail-occlusion")).not_to_be_visible()  # until asked for
