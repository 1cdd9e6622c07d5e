"""The map in a real headless Chromium, with every request off this machine blocked.

Needs Debian's chromium (`apt-get install -y chromium`); skipped, with the reason, without it.
Checks that Leaflet runs inside the srcdoc iframe in both asset modes, draws the items and the
offline basemap, falls back to the offline background when tiles fail, that hostile labels
stay text, that a search place is drawn inside the view, and that a click on the map background
posts the clicked point to the parent page. Saves screenshots to /tmp/map_offline.png and
/tmp/map_offline_popup.png.
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

from closp_demo.corpus import thumbnails
from closp_demo.views.assets import ASSETS_DIR
from closp_demo.views.map import INLINE, AssetMode, MapItem, render_map
from tests.helpers.browser import browser_module, new_page

pytestmark = browser_module(slow=False)

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


@pytest.fixture
def page(browser):
    page = new_page(browser, {"width": 900, "height": 560})
    yield page
    page.context.close()


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
    (tmp_path / "assets").symlink_to(ASSETS_DIR, target_is_directory=True)
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
    assert {"/assets/js/result-map.js", "/assets/css/result-map.css"} <= fetched
    assert "/assets/basemap/countries.geo.json" in fetched
    # leaflet.css applied (its relative images/ URLs resolve against the stylesheet).
    overflow = frame.evaluate(
        "getComputedStyle(document.querySelector('.leaflet-container')).overflow"
    )
    assert overflow == "hidden"
    # the map's own stylesheet came after leaflet.css: its water colour wins
    water = frame.evaluate(
        "getComputedStyle(document.querySelector('.leaflet-container')).backgroundColor"
    )
    assert water == "rgb(169, 211, 233)"  # #a9d3e9, assets/css/result-map.css
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


# --- the search place and click-to-place -------------------------------------------------------

# The parent page records every message its iframes post.
RECORD_MESSAGES = (
    "<script>window.__msgs = []; addEventListener('message', e => __msgs.push(e.data));</script>"
)
# The first point of a grid over the map where a click reaches the map background (not a
# footprint, marker or control): (x, y) in container pixels and the wrapped lat/lon there.
FREE_POINT_JS = """() => {
  const map = window.map_closp, box = map.getContainer().getBoundingClientRect();
  for (let y = 60; y < box.height - 60; y += 37) {
    for (let x = 60; x < box.width - 160; x += 41) {
      const hit = document.elementFromPoint(box.left + x, box.top + y);
      if (hit && !hit.closest('.leaflet-interactive, .leaflet-marker-icon, .leaflet-control')) {
        const at = map.containerPointToLatLng([x, y]);
        return {x: x, y: y, lat: at.lat, lng: at.lng, wrapped: at.wrap().lng};
      }
    }
  }
  return null;
}"""


# Leaflet ignores setView while a zoom animation (the fitted view's) runs; it marks one with
# this class, so tests wait for it to end before reading or changing the view.
NO_ZOOM_ANIMATION_JS = "() => !document.querySelector('.leaflet-zoom-anim')"


def show_map(page, markup: str):
    page.set_content(f"<!DOCTYPE html><html><body>{RECORD_MESSAGES}{markup}</body></html>")
    frame = map_frame(page)
    frame.wait_for_function(NO_ZOOM_ANIMATION_JS, timeout=TIMEOUT_MS)
    return frame


def set_view(frame, lat: float, lon: float, zoom: int) -> None:
    frame.evaluate(f"map_closp.setView([{lat}, {lon}], {zoom}, {{animate: false}})")
    frame.wait_for_function(
        f"() => map_closp.getZoom() === {zoom} && map_closp.getCenter().distanceTo("
        f"[{lat}, {lon}]) < 1000",
        timeout=TIMEOUT_MS,
    )


def click_and_read_message(page, frame, point: dict, seen: int) -> dict:
    frame.locator("#map_closp").click(position={"x": point["x"], "y": point["y"]})
    page.wait_for_function(f"window.__msgs.length > {seen}", timeout=TIMEOUT_MS)
    return page.evaluate("window.__msgs")[-1]


def pick_marker(frame) -> list[float]:
    return frame.evaluate(
        """() => { let at = null;
                   map_closp.eachLayer(l => { if (l instanceof L.Marker && l.options.icon
                       && l.options.icon.options.className.includes('closp-place-pick'))
                       at = [l.getLatLng().lat, l.getLatLng().lng]; });
                   return at; }"""
    )


def test_click_on_the_map_posts_the_place_and_moves_a_marker(page):
    frame = show_map(page, render_map(ITEMS, INLINE))
    assert count(frame, ".closp-place-pick") == 0
    point = frame.evaluate(FREE_POINT_JS)
    assert point is not None, "no free spot on the map to click"
    message = click_and_read_message(page, frame, point, 0)
    assert message["type"] == "closp-place"
    assert message["lat"] == pytest.approx(point["lat"], abs=1e-4)
    assert message["lon"] == pytest.approx(point["wrapped"], abs=1e-4)
    assert message["lat"] == round(message["lat"], 4) and message["lon"] == round(message["lon"], 4)
    assert count(frame, ".closp-place-pick") == 1
    assert pick_marker(frame) == pytest.approx([point["lat"], point["lng"]], abs=1e-9)

    # On a world copy east of the antimeridian the message still carries lon in [-180, 180].
    set_view(frame, 20, 330, 4)
    point = frame.evaluate(FREE_POINT_JS)
    assert point["lng"] > 180, "the view should show the world copy beyond 180 degrees"
    message = click_and_read_message(page, frame, point, 1)
    assert -180 <= message["lon"] <= 180
    assert message["lon"] == pytest.approx(point["lng"] - 360, abs=1e-4)
    assert message["lat"] == pytest.approx(point["lat"], abs=1e-4)
    assert count(frame, ".closp-place-pick") == 1  # the same marker, moved
    assert pick_marker(frame) == pytest.approx([point["lat"], point["lng"]], abs=1e-9)


def test_click_on_a_footprint_opens_its_popup_and_posts_nothing(page):
    frame = show_map(page, render_map(ITEMS, INLINE))
    # Zoom onto the Portugal footprint so that it is large and its marker small beside it.
    set_view(frame, 40.35, -8.25, 10)
    box = frame.evaluate(
        """() => { const r = document.querySelector('path.closp-footprint-S2')
                       .getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }"""
    )
    left, top, width, height = box
    assert width > 200 and height > 200
    spot = (left + width * 0.2, top + height * 0.2)  # inside, away from the central marker
    hit = frame.evaluate("([x, y]) => document.elementFromPoint(x, y).tagName", list(spot))
    assert hit == "path"
    frame.locator("body").click(position={"x": spot[0], "y": spot[1]})
    frame.wait_for_selector(".closp-popup", timeout=TIMEOUT_MS)
    assert frame.inner_text(".closp-popup .closp-title") == "Portugal fields"
    page.wait_for_timeout(200)  # give a wrongly bubbled click time to post
    assert page.evaluate("window.__msgs") == []
    assert count(frame, ".closp-place-pick") == 0


def test_search_place_is_drawn_inside_the_view_and_lets_clicks_through(page):
    frame = show_map(page, render_map(ITEMS, INLINE, place=(52.5, 13.4, 300)))
    assert count(frame, ".leaflet-marker-icon.closp-place") == 1
    assert count(frame, "path.closp-place-radius") == 1
    assert count(frame, "path.closp-footprint") == len(ITEMS)  # the place is no footprint
    circle = frame.evaluate(
        """() => { const map = map_closp; let out = null;
                   map.eachLayer(l => { if (l instanceof L.Circle) out = {
                       radius: l.getRadius(), centre: [l.getLatLng().lat, l.getLatLng().lng],
                       inView: map.getBounds().contains(l.getBounds()) }; });
                   return out; }"""
    )
    assert circle == {"radius": 300_000, "centre": [52.5, 13.4], "inView": True}
    # A click inside the circle, 200 km north of its centre (clear of the marker), reaches the
    # map: the circle is drawn under the pointer, and it is the path found there.
    spot = frame.evaluate(
        """() => { const map = map_closp, p = map.latLngToContainerPoint([54.3, 13.4]);
                   const box = map.getContainer().getBoundingClientRect();
                   const pin = document.querySelector('.closp-place').getBoundingClientRect();
                   return {x: Math.round(p.x), y: Math.round(p.y),
                           clear: box.top + p.y < pin.top - 4,
                           km: map.distance([54.3, 13.4], [52.5, 13.4]) / 1000}; }"""
    )
    assert spot["clear"] and spot["km"] < 300
    message = click_and_read_message(page, frame, spot, 0)
    assert message["lat"] == pytest.approx(54.3, abs=0.05)
    assert message["lon"] == pytest.approx(13.4, abs=0.05)
