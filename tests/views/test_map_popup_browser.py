"""A map popup fits inside the map, in headless Chromium with every request off the machine
blocked: at the widths the app's map takes on a phone (390 px page), a 1400 px and a 1920 px
screen, every result's popup, thumbnail, eight facts and long id included, lies inside the map
clear of its corner controls, and its "Open in detail view" button takes a real click.

Needs Debian's chromium (`apt-get install -y chromium`); skipped, with the reason, without it.
"""

from __future__ import annotations

import pytest

from closp_demo.views.map import INLINE, MAP_HEIGHT, MapItem, render_map
from tests.helpers.browser import browser_module, new_page
from tests.views.test_map_browser import NO_ZOOM_ANIMATION_JS, RECORD_MESSAGES, s1_thumb, square

pytestmark = browser_module(slow=False)

TIMEOUT_MS = 15_000
# The map iframe's width in the app (measured: 1920 x 1080, 1400 x 900 and 390 x 844 pages).
MAP_WIDTHS = {"phone": 302, "1400": 575, "1920": 895}
THUMB = s1_thumb()


def long_item(n: int, lon: float, lat: float) -> MapItem:
    """A result as the app draws it (views.results.map_item): a long id, all its facts."""
    sensor = "S1" if n % 2 else "S2"
    image_id = f"ben-s2-S2B_MSIL2A_20170817T101019_N9999_R022_T34WFS_71_{n:02d}"
    details = {
        "score": "0.287", "sensor": "Sentinel-2 MSI", "labels": "Trees, Flooded Vegetation, Crops",
        "place": "Finland", "date": "2017-08-17", "source": "bigearthnet",
        "evidence": "Trees 90%, Shrub and Scrub 6%, Grass 3%",
        "clouds": "unaffected: radar sees through cloud and haze",
    }  # fmt: skip
    return MapItem(image_id, sensor, square(lon, lat, 0.2), f"#{n} {image_id}", details, THUMB, n)


# Spread over Europe so that the fitted view puts markers near each edge and corner.
ITEMS = [
    long_item(i + 1, lon, lat)
    for i, (lon, lat) in enumerate(
        [(-9, 37), (-9, 65), (30, 37), (30, 65), (10, 50), (0, 45), (20, 58), (25, 40)]
    )
]
# From the fitted view each time, the marker of rank n opens its popup (as a click would).
OPEN_POPUP_JS = """n => { map_closp.closePopup();
  map_closp.setView(window.__home.c, window.__home.z, {animate: false}); let m = null;
  map_closp.eachLayer(l => { if (l instanceof L.Marker && l.options.icon.options.className
      .includes('closp-marker-') && l.getLatLng && l._icon && l._icon.textContent === String(n))
      m = l; });
  m.openPopup(); }"""
SETTLED_JS = "() => document.querySelector('.closp-popup') && !(map_closp._panAnim && " \
             "map_closp._panAnim._inProgress)"  # fmt: skip
MEASURE_JS = """() => {
  const box = r => { const b = r.getBoundingClientRect();
                     return [b.left, b.top, b.right, b.bottom]; };
  const button = document.querySelector('.closp-popup .closp-open');
  const [l, t, r, b] = box(button);
  const hit = document.elementFromPoint((l + r) / 2, (t + b) / 2);
  return {popup: box(document.querySelector('.leaflet-popup')), button: [l, t, r, b],
          buttonOnTop: !!(hit && hit.closest('.closp-open')),
          controls: [...document.querySelectorAll('.leaflet-control')].map(box)};
}"""


def inside(rect: list[float], width: float, height: float) -> bool:
    left, top, right, bottom = rect
    return left >= 0 and top >= 0 and right <= width and bottom <= height


def overlaps(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def shown_map(page, width: int, items, head: str = ""):
    """The result map of `items` in a `width` px wide page, drawn and still: its frame."""
    markup = render_map(items, INLINE)
    page.set_content(
        f"<!DOCTYPE html><html><body style='margin:0'>{head}"
        f"<div style='width:{width}px'>{markup}</div></body></html>"
    )
    page.wait_for_selector("iframe", timeout=TIMEOUT_MS)
    frame = page.frames[1]
    frame.wait_for_function(
        "() => window.L && document.querySelectorAll('.closp-marker').length > 0",
        timeout=TIMEOUT_MS,
    )
    frame.wait_for_function(NO_ZOOM_ANIMATION_JS, timeout=TIMEOUT_MS)
    frame.evaluate("window.__home = {c: map_closp.getCenter(), z: map_closp.getZoom()}")
    return frame


@pytest.fixture
def browser_page(browser):
    page = new_page(browser, {"width": 1000, "height": 700})
    yield page
    page.context.close()


@pytest.mark.parametrize("screen", list(MAP_WIDTHS))
def test_every_popup_fits_inside_the_map_and_its_button_takes_a_click(browser_page, screen):
    page, width = browser_page, MAP_WIDTHS[screen]
    frame = shown_map(page, width, ITEMS, RECORD_MESSAGES)
    assert frame.evaluate("[innerWidth, innerHeight]") == [width, MAP_HEIGHT]
    for item in ITEMS:
        frame.evaluate(OPEN_POPUP_JS, item.rank)
        frame.wait_for_function(SETTLED_JS, timeout=TIMEOUT_MS)
        page.wait_for_timeout(50)  # the pan's last frame
        seen = frame.evaluate(MEASURE_JS)
        where = f"{screen}: popup of #{item.rank} at {seen['popup']}"
        assert inside(seen["popup"], width, MAP_HEIGHT), where
        assert inside(seen["button"], width, MAP_HEIGHT), where
        assert not any(overlaps(seen["popup"], c) for c in seen["controls"]), where
        assert seen["buttonOnTop"], where
    # The last popup's button, clicked like a user would (playwright checks nothing covers it),
    # asks the page to open that image.
    frame.locator(".closp-popup .closp-open").click(timeout=3_000)
    page.wait_for_function("window.__msgs.length > 0", timeout=TIMEOUT_MS)
    assert page.evaluate("window.__msgs") == [{"type": "closp-open", "id": ITEMS[-1].item_id}]


def test_a_narrow_map_gets_a_compact_popup_a_wide_one_the_full_thumbnail(browser_page):
    sizes = {}
    for screen in ("phone", "1920"):
        # one item, in the middle of the view
        frame = shown_map(browser_page, MAP_WIDTHS[screen], ITEMS[4:5])
        frame.evaluate(OPEN_POPUP_JS, 5)
        frame.wait_for_function(SETTLED_JS, timeout=TIMEOUT_MS)
        sizes[screen] = frame.evaluate(
            "() => document.querySelector('.closp-popup img').getBoundingClientRect().width"
        )
    assert sizes["phone"] < sizes["1920"]
    assert sizes["1920"] == 160
