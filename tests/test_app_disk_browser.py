"""A closed tab's upload previews leave the disk with its session; an open tab's stay."""

from __future__ import annotations

import time

from tests.helpers.app_server import running_app
from tests.helpers.browser import browser_module, markdown_with, new_page, open_tab, upload

pytestmark = browser_module()

TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1400, "height": 1000}


def upload_in_new_tab(browser, url: str, scene):
    page = new_page(browser, VIEWPORT, TIMEOUT_MS, url)
    open_tab(page, "Upload a GeoTIFF")
    upload(page, scene)
    assert markdown_with(page, "nearest images").inner_text().startswith("✅")
    return page


def test_a_closed_tabs_upload_preview_goes_with_its_session(
    browser, small_corpus, samples_dir, tmp_path
):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    scene = samples_dir / "sen1floods11" / "Spain_7370579_S1Hand.tif"
    # Gradio drops a closed tab's state after 1 s in its end-to-end test mode (else an hour).
    with running_app(small_corpus, env={"TMPDIR": str(tmp), "GRADIO_IS_E2E_TEST": "1"}) as url:
        (uploads,) = tmp.glob("closp-explorer-*/uploads")
        closing = upload_in_new_tab(browser, url, scene)
        (closing_preview,) = uploads.glob("*.webp")
        staying = upload_in_new_tab(browser, url, scene)
        (staying_preview,) = set(uploads.glob("*.webp")) - {closing_preview}
        closing.context.close()
        deadline = time.monotonic() + 60
        while closing_preview.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not closing_preview.exists()
        assert staying_preview.exists()
        staying.context.close()
