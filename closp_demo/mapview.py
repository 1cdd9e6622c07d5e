"""Result map: footprints and markers on a Leaflet map that works offline, as HTML for `gr.HTML`.

Folium builds the map skeleton (map, tile layers, layer groups, layer control, fitted view), but
its default CDN scripts (Leaflet, jQuery, Bootstrap, awesome-markers) are replaced by the Leaflet
vendored in assets/vendor/leaflet (tools/vendor_assets.sh), and nothing else is needed: markers
are Leaflet DivIcons, popups are DOM nodes built with textContent from JSON data, so no string
from the data is ever parsed as HTML. The document goes into an `<iframe srcdoc>`, escaped.

Background, bottom to top: the container's water colour, Natural Earth country outlines
(assets/basemap, always drawn, in a pane beneath the tile pane), then OpenStreetMap or Esri
satellite tiles. A tile layer that cannot load a single tile (or a browser that reports being
offline) is swapped for the "offline outlines" base, and a note says so.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import folium
from branca.element import Element, MacroElement
from folium.template import Template

from closp_demo.html_safety import check_image_url, escape_text, json_for_script, srcdoc_iframe
from closp_demo.thumbnails import file_data_uri

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"
BASEMAP_GEOJSON = "basemap/countries.geo.json"

MAP_HEIGHT = 460  # px, the iframe's fixed height
FIT_PADDING_PX = 24
LEGEND_CLEARANCE_PX = (150, 80)
FIT_MAX_ZOOM = 12  # a single 1.2 km patch still shows its surroundings
WORLD_BOUNDS = ((-58.0, -170.0), (78.0, 170.0))  # (south, west), (north, east) for no items

MapSensor = Literal["S1", "S2", "query"]
# Colour-blind-safe trio (orange / blue / magenta), each readable on OSM, imagery and outlines.
SENSOR_STYLES: dict[str, tuple[str, str]] = {
    "S1": ("#e8590c", "Sentinel-1 SAR"),
    "S2": ("#1c7ed6", "Sentinel-2 MSI"),
    "query": ("#c2255c", "Your query"),
}

BaseLayer = Literal["osm", "satellite", "offline"]
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
ESRI_URL = (
    "https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}"
)
ESRI_ATTRIBUTION = (
    "Tiles &copy; Esri &mdash; Source: Esri, Maxar, Earthstar Geographics, "
    "and the GIS User Community"
)
BASEMAP_ATTRIBUTION = "Outlines: Natural Earth"
BASE_LAYER_NAMES = {
    "osm": "OpenStreetMap",
    "satellite": "Satellite (Esri World Imagery)",
    "offline": "Offline outlines only",
}


@dataclass
class MapItem:
    """One thing to draw: a result image, or the footprint of the user's query image."""

    item_id: str
    sensor: MapSensor
    footprint: list[tuple[float, float]]  # ring of (lon, lat), closed or not
    title: str
    details: dict[str, str] = field(default_factory=dict)  # shown in the popup, in order
    thumbnail_url: str | None = None  # http(s) URL, path on the app's origin, or image data URI
    rank: int | None = None  # 1-based position in the result list

    def __post_init__(self) -> None:
        if self.sensor not in SENSOR_STYLES:
            raise ValueError(
                f"map item {self.item_id!r}: sensor {self.sensor!r} is not one of "
                f"{', '.join(SENSOR_STYLES)}"
            )
        self.footprint = _check_ring(self.item_id, self.footprint)
        if self.thumbnail_url is not None:
            try:
                self.thumbnail_url = check_image_url(self.thumbnail_url)
            except ValueError as err:
                raise ValueError(f"map item {self.item_id!r}: {err}") from None
        if self.rank is not None and (
            isinstance(self.rank, bool) or not isinstance(self.rank, int)
        ):
            raise ValueError(f"map item {self.item_id!r}: rank must be an integer or None")
        self.details = {str(k): str(v) for k, v in dict(self.details).items()}


def _check_ring(item_id: str, ring: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for point in ring:
        try:
            lon, lat = (float(v) for v in point)
        except (TypeError, ValueError):
            raise ValueError(
                f"map item {item_id!r}: footprint points must be (lon, lat) pairs, got {point!r}"
            ) from None
        if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 360:
            raise ValueError(
                f"map item {item_id!r}: footprint point ({lon}, {lat}) is not a valid "
                "(longitude, latitude) in degrees"
            )
        points.append((lon, lat))
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1]
    if len(set(points)) < 3:
        raise ValueError(f"map item {item_id!r}: a footprint needs at least 3 distinct corners")
    return points


# --- where the assets come from ---------------------------------------------------------------


@dataclass(frozen=True)
class AssetMode:
    """How the map document gets Leaflet, the basemap and file thumbnails.

    INLINE (`to_url is None`): everything is embedded in the document, which is then
    self-contained (tests, downloads), about 1.1 MB; file thumbnails become data URIs.
    URL mode: `to_url(absolute_file_path)` gives the URL under which the app serves that file
    (assets/ and, for thumbnails, the corpus); the browser fetches and caches Leaflet and the
    basemap once, and each map stays small (about 15 kB plus thumbnails). A srcdoc iframe
    inherits the parent page's origin and base URL, so same-origin and root-relative URLs work.
    """

    to_url: Callable[[Path], str] | None = None
    root: Path = ASSETS_DIR  # where LEAFLET_JS etc. live (the relative paths start here)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())

    @property
    def inline(self) -> bool:
        return self.to_url is None

    def url_for(self, relative: str) -> str:
        """URL of an asset given by its path relative to `root` (URL mode only)."""
        if self.to_url is None:
            raise ValueError("INLINE asset mode embeds assets; it has no asset URLs")
        return self.to_url(self.root / relative)

    def url_for_file(self, path: str | Path) -> str:
        """URL of any file the app serves (e.g. a corpus thumbnail); a data URI when INLINE."""
        path = Path(path).resolve()
        if self.to_url is None:
            return file_data_uri(path)
        return self.to_url(path)

    @classmethod
    def url(cls, to_url: Callable[[Path], str] | str, root: str | Path = ASSETS_DIR) -> AssetMode:
        """URL mode from a callable (absolute file path -> URL) or a template with "{path}",
        filled with the absolute POSIX path, percent-encoded (e.g. "/gradio_api/file={path}")."""
        if isinstance(to_url, str):
            if "{path}" not in to_url:
                raise ValueError(f"asset URL template {to_url!r} needs a {{path}} placeholder")
            template = to_url
            return cls(lambda p: template.replace("{path}", quote(p.as_posix(), safe="/:")), root)
        return cls(to_url, Path(root))

    @classmethod
    def from_prefix(cls, prefix: str, root: str | Path = ASSETS_DIR) -> AssetMode:
        """URL mode for a server that maps `prefix` to `root`: URL = prefix + relative path."""
        resolved = Path(root).resolve()

        def to_url(path: Path) -> str:
            if not path.is_relative_to(resolved):
                raise ValueError(f"{path} is not under {resolved}, so it has no URL under {prefix}")
            return prefix + quote(path.relative_to(resolved).as_posix())

        return cls(to_url, resolved)

    @classmethod
    def gradio(cls, route: str = "/gradio_api/file=", root: str | Path = ASSETS_DIR) -> AssetMode:
        """URL mode through Gradio's file route. The app must allow the directories, e.g.
        `gr.set_static_paths([ASSETS_DIR, corpus_dir])` or `launch(allowed_paths=[...])`: only
        allowed paths are served with their real content type (scripts and styles need it)."""
        return cls.url(route + "{path}", root)


INLINE = AssetMode()


@lru_cache(maxsize=8)
def _read_asset(relative: str, binary: bool = False) -> str | bytes:
    path = ASSETS_DIR / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"map asset {path} is missing: run tools/vendor_assets.sh to fetch Leaflet and "
            "the basemap"
        )
    return path.read_bytes() if binary else path.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _inline_css() -> str:
    """leaflet.css with its images/ references turned into data URIs."""

    def to_data_uri(match: re.Match[str]) -> str:
        rel = f"vendor/leaflet/images/{match.group(1)}"
        data = base64.b64encode(_read_asset(rel, binary=True)).decode("ascii")  # type: ignore[arg-type]
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\(images/([\w\-]+\.png)\)", to_data_uri, str(_read_asset(LEAFLET_CSS)))
    return _raw_text_safe(css, "style")


def _raw_text_safe(text: str, tag: str) -> str:
    # <script>/<style> contents end at the first "</tag"; vendored files must not contain one.
    if f"</{tag}" in text.lower() or "<!--" in text:
        raise ValueError(f"vendored asset cannot be inlined in <{tag}>: it has '</{tag}' or '<!--'")
    return text


def _head_html(assets: AssetMode) -> str:
    if assets.inline:
        return (
            f"<style>{_inline_css()}</style>\n"
            f"<script>{_raw_text_safe(str(_read_asset(LEAFLET_JS)), 'script')}</script>\n"
            f"<style>{_MAP_CSS}</style>"
        )
    css_url = escape_text(assets.url_for(LEAFLET_CSS))
    js_url = escape_text(assets.url_for(LEAFLET_JS))
    return (
        f'<link rel="stylesheet" href="{css_url}"/>\n'
        f'<script src="{js_url}"></script>\n'
        f"<style>{_MAP_CSS}</style>"
    )


def _basemap_html(assets: AssetMode) -> str:
    """INLINE: the GeoJSON itself, as a JSON data block the script parses."""
    return _inline_basemap() if assets.inline else ""


@lru_cache(maxsize=1)
def _inline_basemap() -> str:
    geojson = str(_read_asset(BASEMAP_GEOJSON)).strip()
    # The file is ASCII JSON of numbers and country names; escape like any other script data.
    safe = geojson.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="closp-basemap-data">{safe}</script>'


# --- geometry ---------------------------------------------------------------------------------


def _unwrap_ring(ring: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Shift longitudes by 360 so consecutive corners never jump more than 180 degrees.

    A footprint across the antimeridian (179.9 -> -179.9) then becomes (179.9 -> 180.1), a
    small polygon instead of one spanning the globe.
    """
    out: list[tuple[float, float]] = []
    for lon, lat in ring:
        if not -180.0 <= lon <= 180.0:
            lon = (lon + 180.0) % 360.0 - 180.0
        if out:
            prev = out[-1][0]
            lon += 360.0 * round((prev - lon) / 360.0)
        out.append((lon, lat))
    return out


def unwrapped_footprints(items: Sequence[MapItem]) -> list[list[tuple[float, float]]]:
    """Footprints with longitudes unwrapped per ring and shifted by 360 degrees as a set, so the
    items cluster around the shortest longitude interval that holds all their centres (items on
    both sides of the antimeridian end up next to each other)."""
    rings = [_unwrap_ring(item.footprint) for item in items]
    if not rings:
        return []
    centres = [sum(lon for lon, _ in ring) / len(ring) % 360.0 for ring in rings]
    # The interval starts just after the largest empty gap between sorted centres on the circle.
    ordered = sorted(centres)
    gaps = [(ordered[i + 1] - ordered[i], i) for i in range(len(ordered) - 1)]
    gaps.append((ordered[0] + 360.0 - ordered[-1], len(ordered) - 1))  # the wrap-around gap
    _, gap_index = max(gaps)
    start = ordered[(gap_index + 1) % len(ordered)]
    span = (ordered[gap_index] - start) % 360.0
    # Put the interval's middle inside [-180, 180) so the basemap (drawn there) lies beneath.
    middle = start + span / 2.0
    offset = ((middle + 180.0) % 360.0 - 180.0) - middle
    shifted = []
    for ring, centre in zip(rings, centres, strict=True):
        lon_in_interval = start + (centre - start) % 360.0 + offset
        ring_centre = sum(lon for lon, _ in ring) / len(ring)
        delta = lon_in_interval - ring_centre
        shift = 360.0 * round(delta / 360.0)
        shifted.append([(lon + shift, lat) for lon, lat in ring])
    return shifted


def fit_bounds(items: Sequence[MapItem]) -> tuple[tuple[float, float], tuple[float, float]]:
    """((south, west), (north, east)) covering every footprint (unwrapped); the world if empty."""
    rings = unwrapped_footprints(items)
    if not rings:
        return WORLD_BOUNDS
    lons = [lon for ring in rings for lon, _ in ring]
    lats = [lat for ring in rings for _, lat in ring]
    return (min(lats), min(lons)), (max(lats), max(lons))


# --- the document -----------------------------------------------------------------------------


_MAP_CSS = """
.leaflet-container { background: #a9d3e9; }
.closp-marker { background: none; border: none; }
.closp-marker span {
  display: block; width: 18px; height: 18px; border-radius: 50%; border: 2px solid #fff;
  box-shadow: 0 0 3px rgba(0,0,0,.6); color: #fff; text-align: center;
  font: bold 11px/18px system-ui, sans-serif;
}
.closp-popup { font: 13px/1.35 system-ui, sans-serif; max-width: 260px; }
.closp-popup img { display: block; width: 160px; height: 160px; object-fit: contain;
  image-rendering: pixelated; margin-bottom: 6px; background: #808080; }
.closp-popup .closp-title { font-weight: 600; overflow-wrap: anywhere; }
.closp-popup .closp-sub { color: #555; margin-bottom: 4px; overflow-wrap: anywhere; }
.closp-popup table { border-collapse: collapse; }
.closp-popup th { text-align: left; font-weight: 500; color: #555; padding-right: 6px;
  vertical-align: top; white-space: nowrap; }
.closp-popup td { overflow-wrap: anywhere; }
.closp-box { background: rgba(255,255,255,.88); padding: 3px 7px; border-radius: 4px;
  font: 12px/1.5 system-ui, sans-serif; box-shadow: 0 0 3px rgba(0,0,0,.3); }
.closp-legend i { display: inline-block; width: 10px; height: 10px; border-radius: 50%;
  margin-right: 5px; vertical-align: -1px; }
"""

_SCRIPT = Template(
    """
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this.map_name }};
  var data = {{ this.data_json }};
  var tiles = [{{ this.tile_names | join(", ") }}];
  var offlineBase = {{ this.offline_name }};
  var groups = {
  {%- for key, name in this.group_names.items() %}
    {{ key | tojson }}: {{ name }},
  {%- endfor %}
  };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // Country outlines in their own pane beneath the tile pane (z-index 200): loaded tiles
  // cover them, missing tiles let them show.
  var pane = map.createPane("closp-basemap");
  pane.style.zIndex = 150;
  pane.style.pointerEvents = "none";
  function drawBasemap(geojson) {
    L.geoJSON(geojson, {
      pane: "closp-basemap", interactive: false, className: "closp-basemap",
      style: { color: "#8c8a84", weight: 0.7, fillColor: "#f2efe9", fillOpacity: 1 }
    }).addTo(map);
  }
  var inlineBasemap = document.getElementById("closp-basemap-data");
  if (inlineBasemap) {
    drawBasemap(JSON.parse(inlineBasemap.textContent));
  } else if (data.basemapUrl) {
    fetch(data.basemapUrl)
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(drawBasemap)
      .catch(function (err) { console.warn("offline basemap not loaded:", err); });
  }
  map.attributionControl.addAttribution(data.basemapAttribution);

  // Footprints and markers; every data string goes through textContent, never innerHTML.
  function describe(item) {
    var style = data.styles[item.sensor];
    return style.label + (item.rank !== null ? " \\u00b7 rank " + item.rank : "");
  }
  function popup(item) {
    var root = el("div", "closp-popup");
    if (item.thumb) {
      var img = el("img");
      img.src = item.thumb;
      img.alt = "preview of " + item.title;
      root.appendChild(img);
    }
    root.appendChild(el("div", "closp-title", item.title));
    root.appendChild(el("div", "closp-sub", describe(item)));
    var table = el("table");
    item.details.forEach(function (pair) {
      var row = el("tr");
      row.appendChild(el("th", "", pair[0]));
      row.appendChild(el("td", "", pair[1]));
      table.appendChild(row);
    });
    if (item.details.length) { root.appendChild(table); }
    root.appendChild(el("div", "closp-sub", item.id));
    return root;
  }
  function tooltip(item) {
    return el("span", "", item.title);  // the rank is on the marker badge already
  }
  function badge(item) {
    var text = item.rank !== null ? item.rank : (item.sensor === "query" ? "Q" : "");
    var node = el("span", "", text);
    node.style.background = data.styles[item.sensor].colour;
    return node;
  }
  data.items.forEach(function (item) {
    var colour = data.styles[item.sensor].colour;
    var shape = L.polygon(item.ring, {
      color: colour, weight: 2, fillColor: colour, fillOpacity: 0.15,
      className: "closp-footprint closp-footprint-" + item.sensor
    });
    var marker = L.marker(item.centre, {
      icon: L.divIcon({
        className: "closp-marker closp-marker-" + item.sensor,
        html: badge(item), iconSize: [22, 22], iconAnchor: [11, 11], popupAnchor: [0, -10]
      }),
      riseOnHover: true,
      // Leaflet stacks markers by screen position; keep the query, then rank 1, 2, ... on top.
      zIndexOffset: item.sensor === "query" ? 200000 : 100000 - 100 * (item.rank || 999)
    });
    [shape, marker].forEach(function (layer) {
      layer.bindPopup(function () { return popup(item); }, { maxWidth: 280 });
      layer.bindTooltip(function () { return tooltip(item); }, { direction: "top" });
      groups[item.sensor].addLayer(layer);
    });
  });

  // Legend of the sensors on the map.
  var present = Object.keys(groups);
  if (present.length) {
    var legend = L.control({ position: "bottomright" });
    legend.onAdd = function () {
      var box = el("div", "closp-box closp-legend");
      present.forEach(function (key, i) {
        if (i) { box.appendChild(el("br")); }
        var dot = el("i");
        dot.style.background = data.styles[key].colour;
        box.appendChild(dot);
        box.appendChild(document.createTextNode(data.styles[key].label));
      });
      return box;
    };
    legend.addTo(map);
  }

  // Offline fallback: a tile layer that fails before loading any tile is replaced by the
  // outlines-only base layer, which shows a note while it is active.
  var note = L.control({ position: "bottomleft" });
  note.onAdd = function () {
    return el("div", "closp-box closp-offline-note", "offline background");
  };
  offlineBase.on("add", function () { note.addTo(map); });
  offlineBase.on("remove", function () { note.remove(); });
  if (map.hasLayer(offlineBase)) { note.addTo(map); }
  function goOffline(layer) {
    if (map.hasLayer(layer)) {
      map.removeLayer(layer);
      map.addLayer(offlineBase);
    }
  }
  tiles.forEach(function (layer) {
    var loaded = 0;
    layer.on("add", function () { loaded = 0; });
    layer.on("tileload", function () { loaded += 1; });
    layer.on("tileerror", function () {
      if (loaded === 0) { setTimeout(function () { goOffline(layer); }, 0); }
    });
  });
  function allOffline() { tiles.forEach(goOffline); }
  if (navigator.onLine === false) { allOffline(); }
  window.addEventListener("offline", allOffline);
})();
{% endmacro %}
"""
)


class _ClospLayers(MacroElement):
    """The items, basemap, legend and offline fallback, as one script block."""

    _template = _SCRIPT

    def __init__(
        self,
        map_name: str,
        data_json: str,
        tile_names: list[str],
        offline_name: str,
        group_names: Mapping[str, str],
    ):
        super().__init__()
        self._name = "ClospLayers"
        self.map_name = map_name
        self.data_json = data_json
        self.tile_names = tile_names
        self.offline_name = offline_name
        self.group_names = dict(group_names)


class _OfflineMap(folium.Map):
    """folium.Map without its CDN scripts and styles (Leaflet comes from assets/)."""

    default_js: list[tuple[str, str]] = []  # noqa: RUF012 (folium's own class attribute)
    default_css: list[tuple[str, str]] = []  # noqa: RUF012


class _RawHtml(Element):
    """Markup inserted verbatim: branca's Element would compile it as a Jinja template, which is
    slow for a megabyte of inlined Leaflet and would rewrite any "{{" it contains."""

    def __init__(self, markup: str):
        super().__init__()
        self._markup = markup

    def render(self, **kwargs) -> str:
        return self._markup


def _fixed_id(element: Element, key: str) -> Element:
    # folium names elements with random hex; fixed names make the HTML deterministic.
    element._id = key
    return element


def _items_data(items: Sequence[MapItem]) -> list[dict]:
    out = []
    for item, ring in zip(items, unwrapped_footprints(items), strict=True):
        lons = [lon for lon, _ in ring]
        lats = [lat for _, lat in ring]
        out.append(
            {
                "id": item.item_id,
                "sensor": item.sensor,
                "title": item.title,
                "rank": item.rank,
                "thumb": item.thumbnail_url,
                "details": [[k, v] for k, v in item.details.items()],
                "ring": [[round(lat, 6), round(lon, 6)] for lon, lat in ring],
                "centre": [round(sum(lats) / len(lats), 6), round(sum(lons) / len(lons), 6)],
            }
        )
    return out


def map_document(
    items: Sequence[MapItem], assets: AssetMode = INLINE, *, base: BaseLayer = "osm"
) -> str:
    """The complete HTML document of the map (what goes into srcdoc, or a downloadable file)."""
    if base not in BASE_LAYER_NAMES:
        raise ValueError(f"unknown base layer {base!r}: use one of {', '.join(BASE_LAYER_NAMES)}")
    for item in items:
        if not isinstance(item, MapItem):
            raise TypeError(f"render_map takes MapItem objects, got {type(item).__name__}")
    bounds = fit_bounds(items)
    south_west, north_east = bounds
    centre = ((south_west[0] + north_east[0]) / 2, (south_west[1] + north_east[1]) / 2)
    fmap = _fixed_id(
        _OfflineMap(location=centre, zoom_start=2, tiles=None, control_scale=True), "closp"
    )
    fmap.get_root().header.add_child(_RawHtml(_head_html(assets)), name="closp_head")

    osm = folium.TileLayer(
        OSM_URL, attr=OSM_ATTRIBUTION, name=BASE_LAYER_NAMES["osm"], max_zoom=19,
        show=base == "osm",
    )  # fmt: skip
    esri = folium.TileLayer(
        ESRI_URL, attr=ESRI_ATTRIBUTION, name=BASE_LAYER_NAMES["satellite"], max_zoom=19,
        max_native_zoom=18, show=base == "satellite",
    )  # fmt: skip
    offline = folium.FeatureGroup(
        name=BASE_LAYER_NAMES["offline"], overlay=False, show=base == "offline"
    )
    for key, layer in (("osm", osm), ("satellite", esri), ("offline", offline)):
        _fixed_id(layer, key).add_to(fmap)

    present = [s for s in SENSOR_STYLES if any(item.sensor == s for item in items)]
    groups = {}
    for sensor in present:
        label = SENSOR_STYLES[sensor][1]
        group = folium.FeatureGroup(name=f"{label} footprints", overlay=True, show=True)
        groups[sensor] = _fixed_id(group, sensor.lower()).add_to(fmap)
    _fixed_id(folium.LayerControl(collapsed=True), "layers").add_to(fmap)
    fmap.fit_bounds(
        [list(south_west), list(north_east)],
        padding_top_left=(FIT_PADDING_PX, FIT_PADDING_PX),
        # keep footprints clear of the legend in the bottom-right corner
        padding_bottom_right=(LEGEND_CLEARANCE_PX[0], LEGEND_CLEARANCE_PX[1]),
        max_zoom=FIT_MAX_ZOOM,
    )

    data = {
        "items": _items_data(items),
        "styles": {k: {"colour": c, "label": label} for k, (c, label) in SENSOR_STYLES.items()},
        "basemapUrl": None if assets.inline else assets.url_for(BASEMAP_GEOJSON),
        "basemapAttribution": BASEMAP_ATTRIBUTION,
    }
    layers = _ClospLayers(
        map_name=fmap.get_name(),
        data_json=json_for_script(data),
        tile_names=[osm.get_name(), esri.get_name()],
        offline_name=offline.get_name(),
        group_names={s: g.get_name() for s, g in groups.items()},
    )
    _fixed_id(layers, "items").add_to(fmap)
    fmap.get_root().html.add_child(_RawHtml(_basemap_html(assets)), name="closp_basemap")
    for child_id, child in enumerate(fmap._children.values()):
        # folium adds helper children (fit bounds) with random names too
        if len(child._id) == 32:
            child._id = f"c{child_id}"
    return fmap.get_root().render()


def render_map(
    items: Sequence[MapItem],
    assets: AssetMode = INLINE,
    *,
    height: int = MAP_HEIGHT,
    base: BaseLayer = "osm",
) -> str:
    """Items -> `<iframe srcdoc="...">` of fixed `height` for `gr.HTML`, fitted to all items."""
    return srcdoc_iframe(map_document(items, assets, base=base), height, title="Result map")
