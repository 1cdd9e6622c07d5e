"""The map in a real headless Chromium, with every request off this machine blocked.

Needs Debian's chromium (`apt-get install -y chromium`); skipped, with the reason, without it.
Checks that Leaflet runs inside the srcdoc iframe in both asset modes, draws the items and the
offline basemap, falls back to the offline background when tiles fail, and that hostile labels
stay text. Saves screenshots to /tmp/map_offline.png and /tmp/map_offline_popup.png.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from closp_demo import mapview, thumbnails
from closp_demo.mapview import INLINE, AssetMode, MapItem, render_map
from tests.browser import CHROMIUM, CHROMIUM_MISSING, Recorder, launch

pytestmark = pytest.mark.browser

if CHROMIUM is None:
    pytest.skip(CHROMIUM_MISSING, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

SCREENSHOT = Path("/tmp/map_offline.png")
SCREENSHOT_POPUP = Path("/tmp/map_offline_popup.png")
PWN = "window.__pwned=1;try{parent.__pwned=1}catch(e){}"
HOSTILE_TITLE = f'<img src=x onerror="{PWN}">'
HOSTILE_DETAIL = f"</iframe><script>{PWN}alert(1)</script>"
TIMEOUT_MS = 15_000


def s1_thumb() -> str:
    rng = np.random.default_rng(0)
    vv = rng.normal(-12, 3, (120, 120))
    image = np.stack([vv, vv - 7]).astype(np.float32)
    return thumbnails.data_uri(thumbnails.render(image, "S1"))


def square(lon: float, lat: float, size: float = 0.3) -> list[tuple[float, float]]:
    return [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size)]


ITEMS = [
    MapItem("s1-austria", "S1", square(13.0, 47.4), HOSTILE_TITLE, {"x": HOSTILE_DETAIL},
            s1_thumb(), 1),
    MapItem("s2-portugal", "S2", square(-8.4, 40.2), "Portugal fields", {"labels": "Crops"},
            None, 2),
    MapItem("s2-finland", "S2", square(25.0, 61.0), "Finland forest", {"labels": "Trees"},
            None, 3),
    MapItem("query", "query", square(6.0, 46.5), "my_upload.tif", {}, None, None),
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 900, "height": 560})
    page = context.new_page()
    recorder = Recorder()
    recorder.attach(page)
    page.recorder = recorder
    yield page
    context.close()


def map_frame(page):
    """The iframe's frame once Leaflet drew the items and the basemap."""
    page.wait_for_selector("iframe", timeout=TIMEOUT_MS)
    frame = page.frames[1]
    frame.wait_for_function(
        "() => window.L && document.querySelectorAll('path.closp-basemap').length > 50"
        " && document.querySelectorAll('.closp-marker').length > 0",
        timeout=TIMEOUT_MS,
    )
    return frame


def count(frame, selector: str) -> int:
    return frame.evaluate(f"document.querySelectorAll({selector!r}).length")


def check_map(page, frame) -> None:
    assert frame.evaluate("typeof window.L") == "object"
    assert frame.evaluate("L.version") == "1.9.4"
    assert count(frame, "path.closp-footprint") == len(ITEMS)
    assert count(frame, "path.closp-footprint-S2") == 2
    assert count(frame, ".leaflet-marker-icon.closp-marker") == len(ITEMS)
    assert count(frame, ".closp-marker-query") == 1
    assert count(frame, "path.closp-basemap") > 100
    # Every footprint lies inside the fitted view.
    inside = frame.evaluate(
        """() => { const map = window.map_closp;
                   const view = map.getBounds(); let all = true;
                   map.eachLayer(l => { if (l instanceof L.Polygon && l.options.className
                       && l.options.className.includes('closp-footprint'))
                       all = all && view.contains(l.getBounds()); });
                   return all; }"""
    )
    assert inside
    # Tiles were requested, failed (blocked), and the offline background took over.
    frame.wait_for_selector(".closp-offline-note", timeout=TIMEOUT_MS)
    assert any("tile.openstreetmap.org" in url for url in page.recorder.blocked)
    assert count(frame, ".leaflet-tile-pane img") == 0
    legend = frame.inner_text(".closp-legend")
    assert "Sentinel-1 SAR" in legend and "Sentinel-2 MSI" in legend and "Your query" in legend


def check_not_pwned(page, frame) -> None:
    # Open the hostile item's popup: its title and details must show as literal text.
    frame.click(".closp-marker-S1")
    frame.wait_for_selector(".closp-popup", timeout=TIMEOUT_MS)
    popup = frame.query_selector(".closp-popup")
    assert popup.query_selector(".closp-title").inner_text() == HOSTILE_TITLE
    assert HOSTILE_DETAIL in popup.inner_text()
    assert popup.query_selector("img").get_attribute("src").startswith("data:image/webp")
    assert count(frame, ".closp-popup img") == 1  # only the thumbnail, no injected <img>
    assert count(frame, ".closp-popup script") == 0
    frame.hover(".closp-marker-S1")
    page.wait_for_timeout(300)  # let any injected handler run before checking it did not
    assert frame.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.recorder.dialogs == []
    assert len(page.frames) == 2  # the payload's </iframe> opened no frame


def test_inline_map_in_chromium(page):
    page.set_content(f"<!DOCTYPE html><html><body>{render_map(ITEMS, INLINE)}</body></html>")
    frame = map_frame(page)
    check_map(page, frame)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
    check_not_pwned(page, frame)
    page.screenshot(path=str(SCREENSHOT_POPUP))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def local_server(tmp_path) -> Iterator[tuple[str, Path]]:
    """http.server on 127.0.0.1 (free port) serving tmp_path, with assets/ linked in."""
    (tmp_path / "assets").symlink_to(mapview.ASSETS_DIR, target_is_directory=True)
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def test_url_mode_loads_same_origin_assets_into_srcdoc(page, local_server):
    origin, root = local_server
    markup = render_map(ITEMS, AssetMode.from_prefix("/assets/"))
    (root / "index.html").write_text(
        f"<!DOCTYPE html><html><body><h1>app</h1>{markup}</body></html>", encoding="utf-8"
    )
    page.goto(f"{origin}/index.html")
    frame = map_frame(page)
    check_map(page, frame)
    fetched = {urlparse(url).path for url in page.recorder.allowed}
    assert "/assets/vendor/leaflet/leaflet.js" in fetched
    assert "/assets/vendor/leaflet/leaflet.css" in fetched
    assert "/assets/basemap/countries.geo.json" in fetched
    # leaflet.css applied (its relative images/ URLs resolve against the stylesheet).
    overflow = frame.evaluate(
        "getComputedStyle(document.querySelector('.leaflet-container')).overflow"
    )
    assert overflow == "hidden"
    assert frame.evaluate("document.baseURI").startswith(origin)
    check_not_pwned(page, frame)


def test_browser_reporting_offline_starts_on_the_outline_background(page):
    page.context.set_offline(True)  # navigator.onLine === false inside the iframe too
    markup = render_map(ITEMS, INLINE, base="satellite")
    page.set_content(f"<!DOCTYPE html><html><body>{markup}</body></html>")
    frame = map_frame(page)
    assert frame.evaluate("navigator.onLine") is False
    frame.wait_for_selector(".closp-offline-note", timeout=TIMEOUT_MS)
    assert frame.evaluate("map_closp.hasLayer(tile_layer_satellite)") is False
    assert frame.evaluate("map_closp.hasLayer(feature_group_offline)") is True
    # The layer control follows: its "Offline outlines only" radio is the checked one.
    checked = frame.evaluate(
        """() => [...document.querySelectorAll('.leaflet-control-layers-base label')]
                 .filter(l => l.querySelector('input').checked).map(l => l.textContent.trim())"""
    )
    assert checked == ["Offline outlines only"]
    assert count(frame, "path.closp-basemap") > 100
