"""The Teach tab in headless Chromium on the shipped corpus, every request off the machine
blocked: one click opens a lesson (both images, the text with its measured figures), and a
lesson's image opens in the detail view."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.helpers.app_server import running_app
from tests.helpers.browser import browser_module, new_page, open_tab

pytestmark = browser_module()

TIMEOUT_MS = 60_000
IMG_SHOWN = "sel => { const i = document.querySelector(sel); return i && i.complete && " \
            "i.naturalWidth > 0 ? i.src : null; }"  # fmt: skip


@pytest.fixture(scope="module")
def app_url(repo_root, tmp_path_factory) -> Iterator[str]:
    corpus = tmp_path_factory.mktemp("shipped") / "precomputed"  # the app log goes beside it
    shutil.copytree(repo_root / "precomputed", corpus)
    with running_app(corpus) as url:
        yield url


def test_one_click_opens_a_lesson_and_its_image_opens_in_the_detail_view(browser, app_url):
    page = new_page(browser, {"width": 1400, "height": 1600}, TIMEOUT_MS, app_url)
    open_tab(page, "Teach")
    page.locator("#teach-pick").get_by_label("Towns are bright in radar (double bounce)").check()
    text = page.locator("#teach-text", has_text="double bounce")
    text.wait_for()
    assert "brighter than −3 dB in VV" in text.inner_text()
    for side in ("left", "right"):
        page.wait_for_function(IMG_SHOWN, arg=f"#teach-{side} img")
    assert "S1 · Austria" in page.locator("#teach-left-caption").inner_text()
    page.get_by_role("button", name="Open the right image in the detail view").click()
    page.locator("#detail-status", has_text="Opened").wait_for()
    assert "T33UUP_38_87" in page.locator("#detail-main-facts").inner_text()
    assert page.recorder.dialogs == []
    page.context.close()
