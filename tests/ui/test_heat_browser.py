"""Where in my scene, in headless Chromium with every request off the machine blocked: upload the
real Sen1Floods11 scene (512 x 512 px), ask for a heat map, and see the preview and the map
change to the tinted windows."""

from __future__ import annotations

from closp_demo.views.heat import legend_layout
from tests.helpers.browser import (
    browser_module,
    markdown_with,
    new_page,
    open_tab,
    panel,
    upload,
)

pytestmark = browser_module()

TIMEOUT_MS = 60_000
PREVIEW_SRC = "sel => { const i = document.querySelector(sel); return i && i.complete && " \
              "i.naturalWidth > 0 ? i.src : null; }"  # fmt: skip


def test_heat_map_tints_the_preview_and_the_map(browser, app_url, samples_dir):
    page = new_page(browser, {"width": 1400, "height": 1600}, TIMEOUT_MS, app_url)
    open_tab(page, "Upload a GeoTIFF")
    upload(page, samples_dir / "sen1floods11" / "Spain_7370579_S1Hand.tif")
    markdown_with(page, "nearest images")
    preview = "#up-preview img"
    before = page.wait_for_function(PREVIEW_SRC, arg=preview).json_value()
    map_before = panel(page).locator("iframe").first.get_attribute("srcdoc")
    page.locator("#heat-query input, #heat-query textarea").first.fill("flooded area")
    page.locator("#heat-btn").click()
    page.locator("#heat-status", has_text="16 windows").wait_for()
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel); return i && i.src !== old; }",
        arg=[preview, before],
    )
    assert panel(page).locator("iframe").first.get_attribute("srcdoc") != map_before
    # the legend beside the tinted preview reads at >= 12 px as the page shows it
    page.wait_for_function(PREVIEW_SRC, arg=preview)
    natural, scale = page.evaluate(
        "sel => { const i = document.querySelector(sel);"
        " return [i.naturalWidth, i.getBoundingClientRect().height / i.naturalHeight]; }", preview
    )  # fmt: skip
    size, _, panel_px = legend_layout(512, 512, "flooded area")
    assert natural == 512 + panel_px
    assert size * scale >= 12
    frame = panel(page).locator("iframe").first.element_handle().content_frame()
    heat_cells = "n => document.querySelectorAll('path.closp-heat').length === n"
    frame.wait_for_function(heat_cells, arg=16)
    assert page.recorder.dialogs == []
    page.context.close()


def test_the_upload_first_warning_goes_when_a_file_is_uploaded(browser, app_url, samples_dir):
    page = new_page(browser, {"width": 1400, "height": 1600}, TIMEOUT_MS, app_url)
    open_tab(page, "Upload a GeoTIFF")
    page.locator("#heat-query input, #heat-query textarea").first.fill("flooded area")
    page.locator("#heat-btn").click()
    page.locator("#heat-status", has_text="first").wait_for()
    upload(page, samples_dir / "sen1floods11" / "Spain_7370579_S1Hand.tif")
    markdown_with(page, "nearest images")
    page.wait_for_function("() => !document.querySelector('#heat-status').innerText.trim()")
    page.context.close()
