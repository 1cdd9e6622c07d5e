"""Map HTML: no CDN assets, data escaped, fitted bounds, antimeridian, asset modes (no browser)."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pytest

from closp_demo.corpus import thumbnails
from closp_demo.geo.footprint import circle_box
from closp_demo.geo.place import PlaceError, parse_place
from closp_demo.views import map as mapview
from closp_demo.views.assets import (
    ASSETS_DIR,
    BASEMAP_GEOJSON,
    LEAFLET_JS,
    MAP_CSS,
    MAP_JS,
    read_text_asset,
)
from closp_demo.views.map import INLINE, AssetMode, MapItem, fit_bounds, map_document, render_map

XSS_TITLE = "<img src=x onerror=alert(1)>"
XSS_DETAIL = "</iframe><script>window.top.__pwned=1</script>"
XSS_KEY = "<b onmouseover=alert(2)>key</b>"
ALLOWED_URL_HOSTS = {
    "tile.openstreetmap.org",  # tile template
    "server.arcgisonline.com",  # tile template
    "www.openstreetmap.org",  # attribution link
    "leafletjs.com",  # Leaflet's attribution prefix (inside leaflet.js)
    "www.w3.org",  # SVG namespace (inside leaflet.js)
    "bugs.chromium.org",  # comments in leaflet.css
    "bugzilla.mozilla.org",
}


def square(lon: float, lat: float, size: float = 0.011) -> list[tuple[float, float]]:
    return [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size), (lon, lat)]


def sample_items() -> list[MapItem]:
    thumb = thumbnails.data_uri(np.full((8, 8, 3), 90, np.uint8))
    return [
        MapItem("S1A_x", "S1", square(11.2, 47.3), XSS_TITLE, {XSS_KEY: XSS_DETAIL}, thumb, 1),
        MapItem("S2A_y", "S2", square(-8.6, 41.1), "Porto fields", {"labels": "Crops"}, None, 2),
        MapItem("upload", "query", square(24.9, 60.2), "my_scene.tif", {}, thumb, None),
    ]


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = TagCollector()
    collector.feed(markup)
    collector.close()
    return collector.tags


def data_block(document: str) -> dict:
    match = re.search(r"var data = (\{.*?\});\n", document)
    assert match, "map data block not found"
    return json.loads(match.group(1))


@pytest.mark.parametrize("mode", ["inline", "url"])
def test_no_cdn_scripts_or_styles(mode):
    assets = INLINE if mode == "inline" else AssetMode.from_prefix("/static/")
    document = map_document(sample_items(), assets)
    for tag, attrs in parse(document):
        url = attrs.get("src") if tag == "script" else attrs.get("href") if tag == "link" else None
        if url is not None:
            assert not re.match(r"^(https?:)?//", url), f"<{tag}> loads {url} from the network"
    hosts = {m.group(1) for m in re.finditer(r"https?://([^/\"'\s<>)]+)", document)}
    assert hosts <= ALLOWED_URL_HOSTS, f"unexpected hosts: {hosts - ALLOWED_URL_HOSTS}"
    for library in ("jquery", "bootstrap", "awesome-markers", "font-awesome", "fontawesome"):
        assert library not in document.lower()


def test_inline_is_self_contained_and_url_mode_is_small():
    inline = map_document(sample_items(), INLINE)
    tags = parse(inline)
    assert not any(tag == "script" and attrs.get("src") for tag, attrs in tags)
    assert not any(tag == "link" for tag, _ in tags)
    assert "url(images/" not in inline  # Leaflet's control images became data URIs
    assert 'id="closp-basemap-data"' in inline
    # Leaflet, the map's own script and style, and the basemap are embedded verbatim (no
    # template engine touched them).
    for asset in (LEAFLET_JS, MAP_JS, MAP_CSS):
        assert (ASSETS_DIR / asset).read_text(encoding="utf-8") in inline
    block = re.search(
        r'<script type="application/json" id="closp-basemap-data">(.*?)</script>', inline, re.S
    )
    basemap = json.loads((ASSETS_DIR / BASEMAP_GEOJSON).read_text(encoding="utf-8"))
    assert json.loads(block.group(1)) == basemap
    assert len(basemap["features"]) > 200

    url = map_document(sample_items(), AssetMode.from_prefix("/static/"))
    scripts = [a["src"] for t, a in parse(url) if t == "script" and a.get("src")]
    styles = [a["href"] for t, a in parse(url) if t == "link"]
    # the map's own code carries a content hash, so a browser never pairs a cached old script
    # with a new page
    assert scripts[0] == "/static/vendor/leaflet/leaflet.js"
    assert re.fullmatch(r"/static/js/result-map\.js\?v=[0-9a-f]{12}", scripts[1])
    assert styles[0] == "/static/vendor/leaflet/leaflet.css"
    assert re.fullmatch(r"/static/css/result-map\.css\?v=[0-9a-f]{12}", styles[1])
    assert len(scripts) == len(styles) == 2
    assert read_text_asset(MAP_CSS) not in url and "clospResultMap = " not in url  # served
    assert data_block(url)["basemapUrl"] == "/static/basemap/countries.geo.json"
    assert 'id="closp-basemap-data"' not in url
    assert len(url) < 40_000 < 500_000 < len(inline)


def test_gradio_asset_urls_point_at_the_files(tmp_path):
    root = tmp_path / "my assets"
    root.mkdir()
    mode = AssetMode.gradio(root=root)
    url = mode.url_for("vendor/leaflet/leaflet.js")
    assert url == "/gradio_api/file=" + (root / "vendor/leaflet/leaflet.js").as_posix().replace(
        " ", "%20"
    )
    document = map_document([], mode)
    assert f'<script src="{url}">' in document
    assert mode.url_for_file(tmp_path / "t.webp").endswith("/t.webp")


def test_url_mode_from_a_callable_gets_absolute_paths(tmp_path):
    seen = []

    def static_url(path):
        seen.append(path)
        return f"/files{path}"

    mode = AssetMode.url(static_url)
    document = map_document([], mode)
    assert all(p.is_absolute() and p.is_relative_to(ASSETS_DIR) for p in seen)
    assert (ASSETS_DIR / LEAFLET_JS) in seen
    assert f'<script src="/files{ASSETS_DIR}/vendor/leaflet/leaflet.js">' in document
    with pytest.raises(ValueError, match=r"\{path\}"):
        AssetMode.url("/static/")


def test_file_urls_per_mode(tmp_path):
    thumb = thumbnails.save(np.full((4, 4, 3), 50, np.uint8), tmp_path / "thumbs" / "a.png")
    assert INLINE.url_for_file(thumb).startswith("data:image/png;base64,")
    with pytest.raises(ValueError, match="no asset URLs"):
        INLINE.url_for("vendor/leaflet/leaflet.js")
    prefix = AssetMode.from_prefix("/static/", root=tmp_path)
    assert prefix.url_for_file(thumb) == "/static/thumbs/a.png"
    with pytest.raises(ValueError, match="not under"):
        prefix.url_for_file(ASSETS_DIR / LEAFLET_JS)


def test_iframe_srcdoc_round_trips_exactly():
    items = sample_items()
    markup = render_map(items, AssetMode.from_prefix("/static/"), height=333)
    tags = parse(markup)
    assert [t for t, _ in tags] == ["iframe"], "only the iframe may be a tag of the outer markup"
    attrs = tags[0][1]
    assert attrs["srcdoc"] == map_document(items, AssetMode.from_prefix("/static/"))
    assert "height:333px" in attrs["style"]
    assert markup.count("<") == markup.count(">") == 2  # <iframe ...></iframe>, the rest is text
    assert "sandbox" not in attrs  # same origin, so app-served assets load


def test_hostile_strings_are_data_never_markup():
    items = sample_items()
    markup = render_map(items, INLINE)
    for payload in (XSS_TITLE, XSS_DETAIL, XSS_KEY, "onerror=alert(1)>"):
        assert payload not in markup
    document = map_document(items, INLINE)
    for payload in (XSS_TITLE, XSS_DETAIL, XSS_KEY):
        assert payload not in document
    # In the document no element carries an event handler, and nothing but the map is markup.
    tags = parse(document)
    assert not [(t, a) for t, a in tags if any(k.startswith("on") for k in a)]
    assert not [t for t, _ in tags if t in ("img", "iframe", "b")]
    # The strings arrive intact in the data, to be shown with textContent.
    data = data_block(document)
    assert data["items"][0]["title"] == XSS_TITLE
    assert data["items"][0]["details"] == [[XSS_KEY, XSS_DETAIL]]
    # The map's code (the file, and the call that hands it the data) never parses strings as HTML.
    for code in (read_text_asset(MAP_JS), document.split("var data = ")[1]):
        assert not re.search(r"\.(innerHTML|outerHTML|insertAdjacentHTML)\b", code)


def test_one_footprint_and_marker_per_item_coloured_by_sensor():
    items = sample_items()
    data = data_block(map_document(items, INLINE))
    assert [d["id"] for d in data["items"]] == [i.item_id for i in items]
    assert [d["sensor"] for d in data["items"]] == ["S1", "S2", "query"]
    colours = {k: v["colour"] for k, v in data["styles"].items()}
    assert len(set(colours.values())) == 3
    for item, drawn in zip(items, data["items"], strict=True):
        assert len(drawn["ring"]) == 4  # closing corner dropped, Leaflet closes polygons
        assert drawn["ring"][0] == [item.footprint[0][1], item.footprint[0][0]]  # lat, lon
        lat, lon = drawn["centre"]
        lons, lats = zip(*item.footprint, strict=True)
        assert min(lats) < lat < max(lats) and min(lons) < lon < max(lons)
    assert data["items"][0]["thumb"].startswith("data:image/webp;base64,")


def bounds_in_document(document: str) -> list[list[float]]:
    match = re.search(r"map_closp\.fitBounds\(\s*(\[\[.*?\]\])", document, re.S)
    assert match, "no fitBounds call"
    return json.loads(match.group(1))


def test_fit_bounds_cover_all_footprints():
    rng = np.random.default_rng(3)
    items = [
        MapItem(f"i{k}", "S2", square(lon, lat, 0.05), f"item {k}")
        for k, (lon, lat) in enumerate(
            zip(rng.uniform(-20, 40, 12), rng.uniform(35, 65, 12), strict=True)
        )
    ]
    (south, west), (north, east) = fit_bounds(items)
    for item in items:
        for lon, lat in item.footprint:
            assert south <= lat <= north and west <= lon <= east
    lons = [lon for item in items for lon, _ in item.footprint]
    assert west == min(lons) and east == max(lons)  # tight, not padded by hand
    assert bounds_in_document(map_document(items, INLINE)) == [[south, west], [north, east]]


def test_antimeridian_footprint_is_unwrapped():
    crossing = MapItem(
        "fiji",
        "S2",
        [(179.995, -16.0), (-179.994, -16.0), (-179.994, -16.01), (179.995, -16.01)],
        "t",
    )
    (_, west), (_, east) = fit_bounds([crossing])
    assert 0 < east - west < 0.05, "footprint across 180 must stay small, not span the globe"
    ring = data_block(map_document([crossing], INLINE))["items"][0]["ring"]
    lons = [lon for _, lon in ring]
    assert max(lons) - min(lons) < 0.05

    # Items on both sides of the antimeridian are drawn next to each other (geometry in
    # tests/geo/test_footprint.py).
    east_side = MapItem("a", "S1", square(179.5, -17.0), "a")
    west_side = MapItem("b", "S1", square(-179.5, -17.5), "b")
    (_, w), (_, e) = bounds_in_document(map_document([east_side, west_side, crossing], INLINE))
    assert e - w < 2.0


def test_empty_items_give_a_world_view():
    document = map_document([], INLINE)
    (south, west), (north, east) = bounds_in_document(document)
    assert east - west > 300 and north - south > 120
    data = data_block(document)
    assert data["items"] == []
    assert "feature_group_s1" not in document  # no empty sensor groups in the layer control
    assert render_map([], INLINE).startswith("<iframe")


def test_base_layer_choice_and_offline_option():
    document = map_document(sample_items(), INLINE, base="satellite")
    assert "tile_layer_satellite.addTo(map_closp)" in document
    assert "tile_layer_osm.addTo(map_closp)" not in document
    assert '"Offline outlines only" : feature_group_offline' in document
    offline = map_document(sample_items(), INLINE, base="offline")
    assert "feature_group_offline.addTo(map_closp)" in offline
    with pytest.raises(ValueError, match="unknown base layer"):
        map_document([], INLINE, base="terrain")  # type: ignore[arg-type]


def test_rendering_is_deterministic():
    assert render_map(sample_items(), INLINE) == render_map(sample_items(), INLINE)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sensor": "S3"}, "sensor 'S3'"),
        ({"footprint": [(0, 0), (1, 1)]}, "at least 3 distinct"),
        ({"footprint": [(0, 0), (1, float("nan")), (1, 1)]}, "not a valid"),
        ({"footprint": [(0, 0), (1, 95), (1, 1)]}, "not a valid"),
        ({"footprint": [(0, 0), "ab", (1, 1)]}, "pairs"),
        ({"thumbnail_url": "javascript:alert(1)"}, "not allowed"),
        ({"thumbnail_url": "data:text/html;base64,PHNjcmlwdD4="}, "not allowed"),
        ({"rank": "1"}, "rank must be an integer"),
    ],
)
def test_bad_items_raise_clear_errors(kwargs, message):
    args = {
        "item_id": "bad",
        "sensor": "S2",
        "footprint": square(0, 0),
        "title": "t",
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        MapItem(**args)


def test_details_values_become_strings_and_keep_order():
    item = MapItem("x", "S2", square(0, 0), "t", {"b": 2, "a": 1.5})  # type: ignore[dict-item]
    assert list(item.details.items()) == [("b", "2"), ("a", "1.5")]


def test_srcdoc_escapes_quotes_and_ampersands():
    item = MapItem("q", "S1", square(0, 0), "say \"hi\" & 'bye' &amp;")
    markup = render_map([item], AssetMode.from_prefix("/s/"))
    srcdoc = markup.split('srcdoc="', 1)[1].rsplit('" style=', 1)[0]
    assert '"' not in srcdoc and "'" not in srcdoc
    assert html.unescape(srcdoc) == map_document([item], AssetMode.from_prefix("/s/"))


# --- the cached skeleton -------------------------------------------------------------------------


def europe_items() -> list[MapItem]:
    return [
        MapItem("porto-1", "S2", square(-8.6, 41.1), "Porto one", {"labels": "Crops"}, None, 1),
        MapItem("porto-2", "S1", square(-8.4, 41.3), "Porto two", {"labels": "Water"}, None, 2),
    ]


def asia_items() -> list[MapItem]:
    return [
        MapItem("dhaka-1", "S1", square(90.4, 23.8), "Dhaka one", {"labels": "Built"}, None, 1),
        MapItem("dhaka-2", "S2", square(90.2, 23.6), "Dhaka two", {"labels": "Trees"}, None, 2),
    ]


def test_cached_skeleton_never_carries_one_querys_items_into_another():
    assets = AssetMode.from_prefix("/static/")
    first = map_document(europe_items(), assets)
    misses = mapview._skeleton.cache_info().misses
    second = map_document(asia_items(), assets)  # same sensors and base: the same skeleton
    assert mapview._skeleton.cache_info().misses == misses, "second query rebuilt the skeleton"
    for leaked in ("porto", "Porto", "Crops", "-8.6", "41.1"):
        assert leaked not in second
    assert [d["id"] for d in data_block(second)["items"]] == ["dhaka-1", "dhaka-2"]
    assert bounds_in_document(second) == [list(c) for c in fit_bounds(asia_items())]
    assert map_document(europe_items(), assets) == first  # nothing of the second stuck either
    mapview._skeleton.cache_clear()
    assert map_document(asia_items(), assets) == second  # warm and cold renders agree


def test_placeholder_tokens_in_data_are_never_substituted():
    tokens = " ".join(t.strip('"') for t in mapview._SLOTS.values())
    item = MapItem("tok", "S2", square(5.0, 45.0), tokens, {tokens: tokens}, None, 1)
    document = map_document([item], AssetMode.from_prefix("/static/"))
    data = data_block(document)
    assert data["items"][0]["title"] == tokens
    assert data["items"][0]["details"] == [[tokens, tokens]]
    plain = map_document(
        [MapItem("tok", "S2", square(5.0, 45.0), "t")], AssetMode.from_prefix("/s/")
    )
    assert document.count("<script") == plain.count("<script")  # no asset block duplicated
    assert bounds_in_document(document) == [list(c) for c in fit_bounds([item])]


def test_tile_layers_skip_the_provider_catalogue(monkeypatch):
    def no_lookup(name: str) -> None:
        raise AssertionError(f"folium looked up {name!r} in the xyzservices catalogue")

    monkeypatch.setattr(mapview.xyzservices.providers, "query_name", no_lookup)
    mapview._skeleton.cache_clear()
    document = map_document(sample_items(), INLINE, base="satellite")
    assert f'"{mapview.OSM_URL}"' in document and f'"{mapview.ESRI_URL}"' in document
    assert '"maxNativeZoom": 18' in document


# --- the search place ----------------------------------------------------------------------------


def test_place_marker_and_radius_are_in_the_data_and_the_fitted_view():
    items = europe_items()
    document = map_document(items, INLINE, place=(48.2, 16.37, 50))
    place = data_block(document)["place"]
    assert (place["lat"], place["lon"], place["radiusM"]) == (48.2, 16.37, 50_000.0)
    assert place["label"] == "Search place 48.2000, 16.3700 · within 50 km"
    (south, west), (north, east) = bounds_in_document(document)
    # the items, and the 50 km circle (0.45 degrees of latitude) around Vienna
    assert south == pytest.approx(41.1) and west == pytest.approx(-8.6)
    assert north == pytest.approx(48.2 + 50 / 6371 * 180 / np.pi)
    assert 16.37 + 0.6 < east < 16.37 + 0.75  # 50 km of longitude at 48 N is ~0.67 degrees
    assert data_block(map_document(items, INLINE))["place"] is None


def test_a_place_alone_fits_the_view_and_a_point_has_no_radius():
    assert fit_bounds([], mapview.MapPlace(-33.9, 18.4)) == ((-33.9, 18.4), (-33.9, 18.4))
    place = data_block(map_document([], INLINE, place=mapview.MapPlace(-33.9, 18.4)))["place"]
    assert place["radiusM"] is None and place["label"] == "Search place -33.9000, 18.4000"
    (south, west), (north, east) = fit_bounds([], (0.0, 0.0, 111.19))  # about a degree
    assert (south, west, north, east) == circle_box(0.0, 0.0, 111.19)


def test_place_across_the_antimeridian_sits_next_to_the_items():
    items = [MapItem("fiji", "S2", square(179.5, -17.0), "fiji")]
    document = map_document(items, INLINE, place=(-17.2, -179.8, 20))
    place = data_block(document)["place"]
    assert place["lon"] == pytest.approx(180.2)  # drawn on the items' world copy
    (_, west), (_, east) = bounds_in_document(document)
    assert 0 < east - west < 1.5


@pytest.mark.parametrize(
    ("place", "message"),
    [
        ((95.0, 0.0), "Latitude must be between -90 and 90"),
        ((0.0, 190.0), "Longitude must be between -180 and 180"),
        ((0.0, float("inf")), "Longitude must be a finite number"),
        ((0.0, 0.0, 0), "above 0"),
        ((0.0, 0.0, -5), "above 0"),
        ((0.0, 0.0, 30_000), "at most"),
        ((0.0, "east"), "Longitude must be a number"),
        ((None, 1.0), "Give a place"),
        ((1.0,), r"\(lat, lon\)"),
        ("48.2,16.4", r"\(lat, lon\)"),
    ],
)
def test_bad_places_raise_clear_errors(place, message):
    with pytest.raises(ValueError, match=message):
        map_document([], INLINE, place=place)


def test_bad_places_are_refused_by_the_searchs_own_rule():
    """One rule for a place (geo.place.check_place): what the search refuses, the map refuses,
    with the same message, so no direct caller gets a value into the script that a visitor
    could not."""
    for args in ((91.0, 0.0), (0.0, -180.5), (0.0, 0.0, 20_001), (float("nan"), 0.0)):
        with pytest.raises(PlaceError) as from_map:
            mapview.MapPlace(*args)
        with pytest.raises(PlaceError) as from_search:
            parse_place(*args, mode="within")
        assert str(from_map.value) == str(from_search.value)


def test_places_coerce_from_tuples_and_search_places():
    assert mapview.MapPlace.coerce((10.0, -170.0, None)) == mapview.MapPlace(10.0, -170.0)
    assert mapview.MapPlace("10", -170).lat == 10.0  # numbers as the search reads them
    assert mapview.MapPlace.coerce(None) is None
    same = mapview.MapPlace(1.0, 2.0, 3.0)
    assert mapview.MapPlace.coerce(same) is same
    # the search's place object (geo.place.Place) carries more; the map takes what it draws
    search_place = SimpleNamespace(lat=1.0, lon=2.0, radius_km=3.0, mode="within", weight=0.5)
    assert mapview.MapPlace.coerce(search_place) == same


def test_every_document_runs_the_map_code_that_posts_clicks_to_the_parent():
    code = read_text_asset(MAP_JS)
    assert 'map.on("click"' in code
    assert 'type: "closp-place"' in code and "window.parent.postMessage(" in code
    for assets in (INLINE, AssetMode.from_prefix("/static/")):
        for document in (
            map_document([], assets),
            map_document(sample_items(), assets, place=(1, 2)),
        ):
            head, call = document.split("var data = ")
            assert (code in head) if assets.inline else ('src="/static/js/result-map.js?v=' in head)
            assert "clospResultMap(map_closp, data, {" in call
