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

Per query only data changes, so folium renders each skeleton (base layer x set of sensors
present) once, with placeholder tokens for the head assets, the basemap block, the map centre,
the fitted bounds and the data JSON; `map_document` splits the cached skeleton at the tokens and
joins in this query's values in one pass (a token inside the data is never substituted). That
takes folium's ~15 ms figure build and template rendering off every query (BENCHMARKS.md).

A search place (`MapPlace`: a point and an optional radius) is drawn as a marker and a circle,
inside the fitted view. A click on the map background moves a provisional marker there and posts
`{type: "closp-place", lat, lon}` (4 decimals, lon wrapped to [-180, 180]) to the parent page,
which can fill its place inputs; clicks on footprints and markers open their popups instead.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import folium
import xyzservices
from branca.element import Element, MacroElement
from folium.template import Template

from closp_demo.corpus.thumbnails import file_data_uri
from closp_demo.geo.place import MAX_RADIUS_KM
from closp_demo.views.escape import check_image_url, escape_text, json_for_script, srcdoc_iframe

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
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
# Providers as objects: given a URL string, folium searches the whole xyzservices catalogue
# (`query_name`, ~3.4 ms per layer) before treating it as a custom URL.
OSM_TILES = xyzservices.TileProvider(
    name="OpenStreetMap", url=OSM_URL, attribution=OSM_ATTRIBUTION, max_zoom=19
)
ESRI_TILES = xyzservices.TileProvider(
    name="Esri World Imagery", url=ESRI_URL, attribution=ESRI_ATTRIBUTION, max_zoom=19
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


PLACE_COLOUR = "#212529"  # near-black: apart from the three sensor colours on every background


@dataclass(frozen=True)
class MapPlace:
    """A search place: a point in degrees and an optional radius in km (None: a point only)."""

    lat: float
    lon: float
    radius_km: float | None = None

    def __post_init__(self) -> None:
        try:
            lat, lon = float(self.lat), float(self.lon)
            radius = None if self.radius_km is None else float(self.radius_km)
        except (TypeError, ValueError):
            raise ValueError(
                f"place ({self.lat!r}, {self.lon!r}, {self.radius_km!r}) needs numbers"
            ) from None
        if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 360:
            raise ValueError(f"place ({lat}, {lon}) is not a valid (latitude, longitude)")
        if radius is not None and not (0 < radius <= MAX_RADIUS_KM):
            raise ValueError(
                f"place radius {radius} km must be above 0 and at most {MAX_RADIUS_KM:g} km"
            )
        if not -180.0 <= lon <= 180.0:
            lon = (lon + 180.0) % 360.0 - 180.0
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "radius_km", radius)

    @classmethod
    def coerce(cls, value: MapPlaceLike | None) -> MapPlace | None:
        """A `MapPlace`; a (lat, lon) or (lat, lon, radius_km | None) tuple; any object with
        `lat`, `lon` and `radius_km` attributes (e.g. the search's `closp_demo.geo.place.Place`); or
        None."""
        if value is None or isinstance(value, MapPlace):
            return value
        if all(hasattr(value, a) for a in ("lat", "lon", "radius_km")):
            return cls(value.lat, value.lon, value.radius_km)  # type: ignore[union-attr]
        if isinstance(value, str) or not isinstance(value, Sequence) or len(value) not in (2, 3):
            raise ValueError(f"a place is (lat, lon) or (lat, lon, radius_km), got {value!r}")
        return cls(*value)

    def label(self) -> str:
        where = f"Search place {self.lat:.4f}, {self.lon:.4f}"
        return where if self.radius_km is None else f"{where} · within {self.radius_km:g} km"


MapPlaceLike = MapPlace | tuple[float, float] | tuple[float, float, float | None]


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


@lru_cache(maxsize=1)
def _inline_head() -> str:
    return (
        f"<style>{_inline_css()}</style>\n"
        f"<script>{_raw_text_safe(str(_read_asset(LEAFLET_JS)), 'script')}</script>\n"
        f"<style>{_MAP_CSS}</style>"
    )


def _head_html(assets: AssetMode) -> str:
    if assets.inline:
        return _inline_head()
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


def _shift_together(rings: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
    """Shift (already unwrapped) rings by multiples of 360 degrees as a set, so they cluster
    around the shortest longitude interval that holds all their centres."""
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


def unwrapped_footprints(items: Sequence[MapItem]) -> list[list[tuple[float, float]]]:
    """Footprints with longitudes unwrapped per ring and shifted by 360 degrees as a set, so the
    items cluster around the shortest longitude interval that holds all their centres (items on
    both sides of the antimeridian end up next to each other)."""
    return _shift_together([_unwrap_ring(item.footprint) for item in items])


EARTH_RADIUS_M = 6_371_000.0  # Leaflet's L.CRS.Earth.R, which L.circle measures radii with
MERCATOR_MAX_LAT = 85.0511287798  # Leaflet's L.Projection.SphericalMercator.MAX_LATITUDE


def _mercator_y(lat: float) -> float:
    lat = max(-MERCATOR_MAX_LAT, min(MERCATOR_MAX_LAT, lat))
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def place_box(place: MapPlace) -> tuple[float, float, float, float]:
    """(south, west, north, east) of what the map draws for `place`: the point, or the bounds of
    its radius circle as Leaflet's L.Circle computes them (an ellipse in Mercator about the
    midpoint of its top and bottom); west/east may leave [-180, 180] and span at most 360."""
    if place.radius_km is None:
        return place.lat, place.lon, place.lat, place.lon
    lat_r = math.degrees(place.radius_km * 1000.0 / EARTH_RADIUS_M)
    top, bottom = place.lat + lat_r, place.lat - lat_r
    mid_y = (_mercator_y(top) + _mercator_y(bottom)) / 2
    lat2 = math.degrees(2 * math.atan(math.exp(mid_y)) - math.pi / 2)
    cos_arc = (
        math.cos(math.radians(lat_r))
        - math.sin(math.radians(place.lat)) * math.sin(math.radians(lat2))
    ) / (math.cos(math.radians(place.lat)) * math.cos(math.radians(lat2)) or 1e-12)
    lng_r = math.degrees(math.acos(cos_arc)) if -1.0 <= cos_arc <= 1.0 else math.nan
    if math.isnan(lng_r) or lng_r == 0:  # Leaflet's own fallback, e.g. a circle over a pole
        lng_r = lat_r / max(math.cos(math.radians(place.lat)), 1e-12)
    lng_r = min(lng_r, 180.0)
    south = max(bottom, -MERCATOR_MAX_LAT)
    north = min(top, MERCATOR_MAX_LAT)
    return south, place.lon - lng_r, north, place.lon + lng_r


def _place_ring(place: MapPlace) -> list[tuple[float, float]]:
    south, west, north, east = place_box(place)
    return [(west, south), (east, south), (east, north), (west, north)]


def _layout(
    items: Sequence[MapItem], place: MapPlace | None
) -> tuple[list[list[tuple[float, float]]], list[tuple[float, float]] | None]:
    """Item rings and the place's box, unwrapped and shifted together (one world copy)."""
    rings = [_unwrap_ring(item.footprint) for item in items]
    if place is not None:
        rings.append(_place_ring(place))  # centred on place.lon, so no per-ring unwrapping
    shifted = _shift_together(rings)
    if place is None:
        return shifted, None
    return shifted[:-1], shifted[-1]


def _bounds_of(
    rings: Sequence[Sequence[tuple[float, float]]],
) -> tuple[tuple[float, float], tuple[float, float]]:
    if not rings:
        return WORLD_BOUNDS
    lons = [lon for ring in rings for lon, _ in ring]
    lats = [lat for ring in rings for _, lat in ring]
    return (min(lats), min(lons)), (max(lats), max(lons))


def fit_bounds(
    items: Sequence[MapItem], place: MapPlaceLike | None = None
) -> tuple[tuple[float, float], tuple[float, float]]:
    """((south, west), (north, east)) covering every footprint (unwrapped) and the place with its
    radius circle; the world if there is neither."""
    rings, box = _layout(items, MapPlace.coerce(place))
    return _bounds_of(rings if box is None else [*rings, box])


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
.closp-place-pick span { background: rgba(255,255,255,.75); border: 2px dashed #212529; }
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

  // The search place: a marker, and its radius as a circle that lets clicks through.
  function dot(className, colour) {
    var node = el("span");
    if (colour) { node.style.background = colour; }
    return L.divIcon({
      className: "closp-marker " + className, html: node, iconSize: [22, 22], iconAnchor: [11, 11]
    });
  }
  if (data.place) {
    var at = [data.place.lat, data.place.lon];
    if (data.place.radiusM !== null) {
      L.circle(at, {
        radius: data.place.radiusM, color: data.place.colour, weight: 2, dashArray: "6 4",
        fillOpacity: 0.04, interactive: false, className: "closp-place-radius"
      }).addTo(map);
    }
    L.marker(at, { icon: dot("closp-place", data.place.colour), zIndexOffset: 300000 })
      .bindTooltip(function () { return el("span", "", data.place.label); }, { direction: "top" })
      .addTo(map);
  }

  // A click on the background proposes a search place: a provisional marker moves there and
  // the parent page (the app) gets the point to fill its inputs. Footprints and markers open
  // their popups instead (Leaflet stops the click of a layer with a popup at that layer).
  var pick = null;
  function round4(x) { return Math.round(x * 1e4) / 1e4; }
  map.on("click", function (e) {
    var wrapped = e.latlng.wrap();  // the world copy clicked may lie beyond +-180
    if (pick) {
      pick.setLatLng(e.latlng);
    } else {
      pick = L.marker(e.latlng, {
        icon: dot("closp-place-pick"), interactive: false, keyboard: false, zIndexOffset: 300100
      }).addTo(map);
    }
    window.parent.postMessage(
      { type: "closp-place", lat: round4(wrapped.lat), lon: round4(wrapped.lng) }, "*"
    );
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


def _items_data(
    items: Sequence[MapItem], rings: Sequence[Sequence[tuple[float, float]]]
) -> list[dict]:
    out = []
    for item, ring in zip(items, rings, strict=True):
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


def _place_data(place: MapPlace | None, box: Sequence[tuple[float, float]] | None) -> dict | None:
    if place is None or box is None:
        return None
    # the world copy the items are drawn on: the box was shifted by a multiple of 360 degrees
    shift = 360.0 * round(((box[0][0] + box[1][0]) / 2 - place.lon) / 360.0)
    return {
        "lat": place.lat,
        "lon": place.lon + shift,
        "radiusM": None if place.radius_km is None else place.radius_km * 1000.0,
        "colour": PLACE_COLOUR,
        "label": place.label(),
    }


# Per-query values of a skeleton: raw markup/JS, or JSON that folium renders with `tojson` (so
# its token arrives quoted and the quotes go too).
_SLOTS = {
    "head": "@@closp-head@@",
    "basemap": "@@closp-basemap@@",
    "data": "@@closp-data@@",
    "centre": '"@@closp-centre@@"',
    "bounds": '"@@closp-bounds@@"',
}
_SLOT_PATTERN = re.compile("|".join(re.escape(token) for token in _SLOTS.values()))
_SLOT_OF_TOKEN = {token: name for name, token in _SLOTS.items()}


@dataclass(frozen=True)
class _Skeleton:
    """A rendered document cut at its slots: parts[0] slot[0] parts[1] ... slot[-1] parts[-1]."""

    parts: tuple[str, ...]
    slots: tuple[str, ...]

    def fill(self, values: Mapping[str, str]) -> str:
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:], strict=True):
            out += (values[slot], part)
        return "".join(out)


@lru_cache(maxsize=32)  # 3 base layers x 8 sensor sets: every skeleton fits
def _skeleton(base: BaseLayer, sensors: tuple[str, ...]) -> _Skeleton:
    """folium's document for one base layer and set of sensor groups, with placeholder tokens
    where each query's values go; immutable, so cached documents cannot share query data."""
    fmap = _fixed_id(
        _OfflineMap(location=(0.0, 0.0), zoom_start=2, tiles=None, control_scale=True), "closp"
    )
    fmap.location = _SLOTS["centre"].strip('"')  # after folium's check: rendered by tojson
    fmap.get_root().header.add_child(_RawHtml(_SLOTS["head"]), name="closp_head")

    osm = folium.TileLayer(
        OSM_TILES, attr=OSM_ATTRIBUTION, name=BASE_LAYER_NAMES["osm"], max_zoom=19,
        show=base == "osm",
    )  # fmt: skip
    esri = folium.TileLayer(
        ESRI_TILES, attr=ESRI_ATTRIBUTION, name=BASE_LAYER_NAMES["satellite"], max_zoom=19,
        max_native_zoom=18, show=base == "satellite",
    )  # fmt: skip
    offline = folium.FeatureGroup(
        name=BASE_LAYER_NAMES["offline"], overlay=False, show=base == "offline"
    )
    for key, layer in (("osm", osm), ("satellite", esri), ("offline", offline)):
        _fixed_id(layer, key).add_to(fmap)

    groups = {}
    for sensor in sensors:
        label = SENSOR_STYLES[sensor][1]
        group = folium.FeatureGroup(name=f"{label} footprints", overlay=True, show=True)
        groups[sensor] = _fixed_id(group, sensor.lower()).add_to(fmap)
    _fixed_id(folium.LayerControl(collapsed=True), "layers").add_to(fmap)
    fmap.fit_bounds(
        _SLOTS["bounds"].strip('"'),  # type: ignore[arg-type]  (a token, rendered by tojson)
        padding_top_left=(FIT_PADDING_PX, FIT_PADDING_PX),
        # keep footprints clear of the legend in the bottom-right corner
        padding_bottom_right=(LEGEND_CLEARANCE_PX[0], LEGEND_CLEARANCE_PX[1]),
        max_zoom=FIT_MAX_ZOOM,
    )
    layers = _ClospLayers(
        map_name=fmap.get_name(),
        data_json=_SLOTS["data"],
        tile_names=[osm.get_name(), esri.get_name()],
        offline_name=offline.get_name(),
        group_names={s: g.get_name() for s, g in groups.items()},
    )
    _fixed_id(layers, "items").add_to(fmap)
    fmap.get_root().html.add_child(_RawHtml(_SLOTS["basemap"]), name="closp_basemap")
    for child_id, child in enumerate(fmap._children.values()):
        # folium adds helper children (fit bounds) with random names too
        if len(child._id) == 32:
            child._id = f"c{child_id}"
    document = fmap.get_root().render()

    pieces = _SLOT_PATTERN.split(document)
    slots = tuple(_SLOT_OF_TOKEN[m.group(0)] for m in _SLOT_PATTERN.finditer(document))
    if sorted(slots) != sorted(_SLOTS):  # each exactly once, or a folium change moved one
        raise RuntimeError(f"map skeleton has slots {slots}, expected each of {tuple(_SLOTS)}")
    return _Skeleton(tuple(pieces), slots)


def map_document(
    items: Sequence[MapItem],
    assets: AssetMode = INLINE,
    *,
    base: BaseLayer = "osm",
    place: MapPlaceLike | None = None,
) -> str:
    """The complete HTML document of the map (what goes into srcdoc, or a downloadable file).

    `place` (a `MapPlace` or (lat, lon[, radius_km])) adds a marker and, with a radius, a circle."""
    if base not in BASE_LAYER_NAMES:
        raise ValueError(f"unknown base layer {base!r}: use one of {', '.join(BASE_LAYER_NAMES)}")
    for item in items:
        if not isinstance(item, MapItem):
            raise TypeError(f"render_map takes MapItem objects, got {type(item).__name__}")
    place = MapPlace.coerce(place)
    rings, box = _layout(items, place)
    south_west, north_east = _bounds_of(rings if box is None else [*rings, box])
    centre = [(south_west[0] + north_east[0]) / 2, (south_west[1] + north_east[1]) / 2]
    data = {
        "items": _items_data(items, rings),
        "styles": {k: {"colour": c, "label": label} for k, (c, label) in SENSOR_STYLES.items()},
        "basemapUrl": None if assets.inline else assets.url_for(BASEMAP_GEOJSON),
        "basemapAttribution": BASEMAP_ATTRIBUTION,
        "place": _place_data(place, box),
    }
    present = tuple(s for s in SENSOR_STYLES if any(item.sensor == s for item in items))
    return _skeleton(base, present).fill(
        {
            "head": _head_html(assets),
            "basemap": _basemap_html(assets),
            "data": json_for_script(data),
            # as folium's tojson writes them (json.dumps; numbers need no HTML escaping)
            "centre": json.dumps(centre),
            "bounds": json.dumps([list(south_west), list(north_east)]),
        }
    )


def render_map(
    items: Sequence[MapItem],
    assets: AssetMode = INLINE,
    *,
    height: int = MAP_HEIGHT,
    base: BaseLayer = "osm",
    place: MapPlaceLike | None = None,
) -> str:
    """Items (and an optional search place) -> `<iframe srcdoc="...">` of fixed `height` for
    `gr.HTML`, fitted to all of them."""
    return srcdoc_iframe(
        map_document(items, assets, base=base, place=place), height, title="Result map"
    )
