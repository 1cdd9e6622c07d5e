"""The real app (python app.py) driven end to end in headless Chromium, nothing off localhost.

A person's path through the UI: a text search fills the gallery, the status line and the map
iframe (Leaflet, footprints, offline basemap); the sensor radio filters; a real BigEarthNet
patch uploaded as a GeoTIFF finds its neighbours and shows up on the map; a hostile filename
stays text and the app keeps serving. Runs on the `small_corpus` fixture (BigEarthNet only).
"""

from __future__ import annotations

import re

import pytest
from rasterio.transform import from_bounds

from closp_demo.corpus.sources import bigearthnet
from closp_demo.geo.place import Place
from closp_demo.views.results import PLACE_COLUMN
from tests.helpers.browser import (
    IMG_LOADED_JS,
    THUMB,
    block_labelled,
    browser_module,
    count,
    map_frame,
    markdown_with,
    new_page,
    open_tab,
    panel,
    search,
    upload,
    wait_for_gallery,
)
from tests.helpers.hostile_inputs import write_tif

pytestmark = browser_module()

QUERY = "a lake surrounded by forest"
HOSTILE_NAME = "<img src=x onerror=window.__pwned=1>.tif"
TIMEOUT_MS = 60_000  # first query loads the text model in the server
MIN_THUMBS = 5
# Tall enough that the lazily loaded gallery thumbnails are all near the viewport.
VIEWPORT = {"width": 1400, "height": 1600}


@pytest.fixture
def page(browser, app_url):
    page = new_page(browser, VIEWPORT, TIMEOUT_MS, app_url)
    yield page
    page.context.close()


def table_column(page, name: str) -> list[str]:
    """Cell texts of one column of the visible tab's results table."""
    grid = panel(page).locator("[role=grid]")
    headers = [h.strip() for h in grid.locator("[role=columnheader]").all_inner_texts()]
    col = next(i for i, h in enumerate(headers) if re.sub(r"\s", "", h) == re.sub(r"\s", "", name))
    return [c.strip() for c in grid.locator(f"[role=gridcell][data-col='{col}']").all_inner_texts()]


def check_map(frame, n_results: int, n_query: int = 0) -> None:
    assert frame.evaluate("typeof window.L") == "object"
    assert count(frame, "path.closp-footprint") == n_results + n_query
    assert count(frame, ".leaflet-marker-icon.closp-marker") == n_results + n_query
    assert count(frame, "path.closp-footprint-query") == n_query
    assert count(frame, ".closp-marker-query") == n_query
    # Tiles are blocked: the offline outlines must be what the visitor sees.
    frame.wait_for_selector(".closp-offline-note")
    assert count(frame, ".leaflet-tile-pane img") == 0


def not_pwned(page) -> None:
    for frame in page.frames:
        assert frame.evaluate("typeof window.__pwned") == "undefined", frame.url
        assert count(frame, "img[src='x']") == 0, frame.url
    assert page.recorder.dialogs == []


# --- tests ----------------------------------------------------------------------------------
def test_text_search_fills_gallery_status_and_map(page):
    search(page, QUERY)
    captions = wait_for_gallery(page, MIN_THUMBS)
    n = len(captions)
    status = markdown_with(page, "results for").inner_text()
    assert f"{n} results for" in status and QUERY in status
    assert [int(re.match(r"#(\d+) ", c).group(1)) for c in captions] == list(range(1, n + 1))
    assert table_column(page, "rank") == [str(i) for i in range(1, n + 1)]
    frame = map_frame(page, n)
    check_map(frame, n)
    assert any("tile.openstreetmap.org" in url for url in page.recorder.blocked)
    not_pwned(page)


def test_sensor_radio_limits_results_to_sentinel1(page):
    search(page, QUERY)
    wait_for_gallery(page, MIN_THUMBS)
    panel(page).get_by_label("Sentinel-1 SAR").check()
    search(page, QUERY)
    markdown_with(page, "(S1)")
    captions = wait_for_gallery(page, MIN_THUMBS)
    assert all(re.match(r"#\d+ S1 · ", c) for c in captions), captions
    sensors = table_column(page, "sensor")
    assert len(sensors) == len(captions) and set(sensors) == {"S1"}
    frame = map_frame(page, len(captions))
    assert count(frame, "path.closp-footprint-S1") == len(captions)
    assert count(frame, "path.closp-footprint-S2") == 0


def test_upload_geotiff_shows_preview_notes_neighbours_and_map(page, samples_dir, tmp_path):
    record = next(r for r in bigearthnet.iter_records(samples_dir)
                  if r.sensor == "S2" and "Water" in r.labels)  # fmt: skip
    transform = from_bounds(*record.bounds, 120, 120)
    tif = write_tif(tmp_path / f"{record.image_id}.tif", record.image, record.crs, transform)
    open_tab(page, "Upload a GeoTIFF")
    upload(page, tif)
    status = markdown_with(page, "nearest images").inner_text()
    assert status.startswith("✅") and "S2" in status
    preview = panel(page).locator(f"{block_labelled('Your image')} img")
    preview.wait_for()
    page.wait_for_function(IMG_LOADED_JS, arg=preview.element_handle())
    notes = panel(page).locator("[data-testid=markdown] li").all_inner_texts()
    assert any("12 bands" in note for note in notes), notes
    captions = wait_for_gallery(page, MIN_THUMBS)
    assert record.image_id in table_column(page, "id")[:3]  # the patch itself is in the corpus
    frame = map_frame(page, len(captions) + 1)
    check_map(frame, len(captions), n_query=1)
    not_pwned(page)


def test_hostile_filename_stays_text_and_app_keeps_serving(page, tmp_path):
    hostile = tmp_path / HOSTILE_NAME
    hostile.write_text("this is plain text, not a GeoTIFF\n")
    open_tab(page, "Upload a GeoTIFF")
    upload(page, hostile)
    warning = markdown_with(page, "⚠️").inner_text()
    assert "GeoTIFF" in warning, warning
    assert "onerror=window.__pwned=1" in warning, warning  # the name is shown as text
    page.wait_for_timeout(300)  # give any injected handler the chance to run before checking
    not_pwned(page)
    open_tab(page, "Text search")
    search(page, "river")
    wait_for_gallery(page, MIN_THUMBS)
    markdown_with(page, "results for")
    not_pwned(page)


def test_map_click_sets_the_place_and_the_search_uses_it(page):
    from tests.views.test_map_browser import FREE_POINT_JS

    search(page, QUERY)
    captions = wait_for_gallery(page, MIN_THUMBS)
    frame = map_frame(page, len(captions))
    point = frame.evaluate(FREE_POINT_JS)
    assert point is not None, "no free spot on the map to click"
    page.evaluate("window.__msgs = []; addEventListener('message', e => __msgs.push(e.data))")
    frame.locator("#map_closp").click(position={"x": point["x"], "y": point["y"]})
    page.wait_for_function("() => window.__msgs.some(m => m && m.type === 'closp-place')")
    message = page.evaluate("window.__msgs.find(m => m && m.type === 'closp-place')")
    # the fields come to hold what the map posted (the map's own test checks click -> lat/lon
    # exactly); the view may still be settling after fitBounds, so the spot is only roughly
    # where we aimed
    page.wait_for_function(
        """([lat, lon]) => Number(document.querySelector('#place-lat input')?.value) === lat
                        && Number(document.querySelector('#place-lon input')?.value) === lon""",
        arg=[message["lat"], message["lon"]],
    )
    lat = float(page.input_value("#place-lat input"))
    lon = float(page.input_value("#place-lon input"))
    assert (lat, lon) == (message["lat"], message["lon"])
    assert lat == pytest.approx(point["lat"], abs=1.0) and lon == pytest.approx(
        point["wrapped"], abs=1.0
    )
    page.wait_for_function(  # "Anywhere" was switched to "Prefer nearby"
        """() => document.querySelector('#place-mode input[value="prefer"]')
                   .getAttribute('aria-checked') === 'true'"""
    )

    page.locator("#place-mode").get_by_label("Only within radius").check()
    # a radius that reaches results from anywhere the click landed (the corpus spans Europe)
    page.locator("#place-radius input").fill("6000")
    search(page, QUERY)
    status = markdown_with(page, "within 6000 km of").inner_text()
    assert Place(lat, lon, 6000, "within").label() in status, status  # "… 48.2100° N, 16.3700° E"
    assert "no image lies there" not in status, status
    km = [float(x.replace(",", "")) for x in table_column(page, PLACE_COLUMN)]
    assert km and max(km) <= 6000
    frame = map_frame(page, len(km))
    assert count(frame, ".closp-place-radius") == 1
    not_pwned(page)


def test_query_reading_bar_and_warning_sit_above_the_results(page):
    search(page, "airport runway")
    wait_for_gallery(page, MIN_THUMBS)
    box = page.locator("#query-reading .qr")
    box.wait_for()
    assert box.get_attribute("data-in-scope") == "no"
    warning = page.locator("#query-reading .qr-warn").inner_text()
    assert "outside what the model can see" in warning and "airport runway" in warning
    assert count(page, "#query-reading .qr-seg") >= 3
    bar_bottom = page.locator("#query-reading .qr-bar").bounding_box()
    first_thumb = panel(page).locator(THUMB).first.bounding_box()
    assert bar_bottom["y"] + bar_bottom["height"] <= first_thumb["y"]
    search(page, "the sea")
    page.locator("#query-reading .qr[data-in-scope='yes']").wait_for()
    assert count(page, "#query-reading .qr-warn") == 0
    not_pwned(page)
