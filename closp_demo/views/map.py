"""Result map: footprints and markers on a Leaflet map that works offline, as HTML for `gr.HTML`.

Folium builds the map skeleton (map, tile layers, layer groups, layer control, fitted view), but
its default CDN scripts (Leaflet, jQuery, Bootstrap, awesome-markers) are replaced by the Leaflet
vendored in assets/vendor/leaflet (tools/vendor_assets.sh), and nothing else is needed: the map's
own code is assets/js/result-map.js and assets/css/result-map.css, embedded or served as
`AssetMode` says (closp_demo.views.assets). Markers are Leaflet DivIcons, popups are DOM nodes
built with textContent from JSON data, so no string from the data is ever parsed as HTML. The
document goes into an `<iframe srcdoc>`, escaped.

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
The geometry (antimeridian, world copy, circle bounds, fitted view) is closp_demo.geo.footprint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import folium
import xyzservices
from branca.element import Element, MacroElement
from folium.template import Template

from closp_demo.geo.footprint import Bounds, Ring, bounds_of, check_ring, circle_box, layout
from closp_demo.geo.place import check_place
from closp_demo.views.assets import BASEMAP_GEOJSON, INLINE, AssetMode, basemap_html, head_html
from closp_demo.views.escape import check_image_url, json_for_script, srcdoc_iframe

MAP_HEIGHT = 460  # px, the iframe's fixed height
FIT_PADDING_PX = 24
LEGEND_CLEARANCE_PX = (150, 80)
FIT_MAX_ZOOM = 12  # a single 1.2 km patch still shows its surroundings

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
    footprint: Ring  # (lon, lat) corners, closed or not
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
        try:
            self.footprint = check_ring(self.footprint)
        except ValueError as err:
            raise ValueError(f"map item {self.item_id!r}: {err}") from None
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


PLACE_COLOUR = "#212529"  # near-black: apart from the three sensor colours on every background


@dataclass(frozen=True)
class MapPlace:
    """A search place: a point in degrees and an optional radius in km (None: a point only)."""

    lat: float
    lon: float
    radius_km: float | None = None

    def __post_init__(self) -> None:
        # the search's rule (geo.place), so nothing the search would refuse reaches the script
        lat, lon, radius = check_place(self.lat, self.lon, self.radius_km)
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


# --- the document -----------------------------------------------------------------------------


# folium's last script hands its map, tile layers and groups (names it generated) and this
# query's data to the map's own code, assets/js/result-map.js.
_SCRIPT = Template(
    """
{% macro script(this, kwargs) %}
(function () {
  var data = {{ this.data_json }};
  clospResultMap({{ this.map_name }}, data, {
    tiles: [{{ this.tile_names | join(", ") }}],
    offline: {{ this.offline_name }},
    groups: {
    {%- for key, name in this.group_names.items() %}
      {{ key | tojson }}: {{ name }},
    {%- endfor %}
    }
  });
})();
{% endmacro %}
"""
)


class _ClospLayers(MacroElement):
    """One script block: this query's data and folium's layers, handed to clospResultMap."""

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


def _layout(items: Sequence[MapItem], place: MapPlace | None) -> tuple[list[Ring], Ring | None]:
    """Item rings and the place's box, on one world copy (geo.footprint.layout)."""
    box = None if place is None else circle_box(place.lat, place.lon, place.radius_km)
    return layout([item.footprint for item in items], box)


def fit_bounds(items: Sequence[MapItem], place: MapPlaceLike | None = None) -> Bounds:
    """((south, west), (north, east)) covering every footprint (unwrapped) and the place with its
    radius circle; the world if there is neither."""
    rings, box = _layout(items, MapPlace.coerce(place))
    return bounds_of(rings if box is None else [*rings, box])


def _items_data(items: Sequence[MapItem], rings: Sequence[Ring]) -> list[dict]:
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


def _place_data(place: MapPlace | None, box: Ring | None) -> dict | None:
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
    heat: Sequence[dict] | None = None,
) -> str:
    """The complete HTML document of the map (what goes into srcdoc, or a downloadable file).

    `place` (a `MapPlace` or (lat, lon[, radius_km])) adds a marker and, with a radius, a circle.
    `heat`: tinted windows of a query heat map (`views.heat.map_cells`: ring, colour, score)."""
    if base not in BASE_LAYER_NAMES:
        raise ValueError(f"unknown base layer {base!r}: use one of {', '.join(BASE_LAYER_NAMES)}")
    for item in items:
        if not isinstance(item, MapItem):
            raise TypeError(f"render_map takes MapItem objects, got {type(item).__name__}")
    place = MapPlace.coerce(place)
    rings, box = _layout(items, place)
    south_west, north_east = bounds_of(rings if box is None else [*rings, box])
    centre = [(south_west[0] + north_east[0]) / 2, (south_west[1] + north_east[1]) / 2]
    data = {
        "items": _items_data(items, rings),
        "styles": {k: {"colour": c, "label": label} for k, (c, label) in SENSOR_STYLES.items()},
        "basemapUrl": None if assets.inline else assets.url_for(BASEMAP_GEOJSON),
        "basemapAttribution": BASEMAP_ATTRIBUTION,
        "place": _place_data(place, box),
        "heat": _heat_data(heat),
    }
    present = tuple(s for s in SENSOR_STYLES if any(item.sensor == s for item in items))
    return _skeleton(base, present).fill(
        {
            "head": head_html(assets),
            "basemap": basemap_html(assets),
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
    heat: Sequence[dict] | None = None,
) -> str:
    """Items (and an optional search place, or heat-map windows) -> `<iframe srcdoc="...">` of
    fixed `height` for `gr.HTML`, fitted to all of them."""
    return srcdoc_iframe(
        map_document(items, assets, base=base, place=place, heat=heat), height,
        title="Result map",
    )  # fmt: skip


def _heat_data(heat: Sequence[dict] | None) -> list[dict]:
    return [
        {"ring": [[float(a), float(b)] for a, b in cell["ring"]],
         "colour": _check_colour(str(cell["colour"])), "score": float(cell["score"])}
        for cell in heat or []
    ]  # fmt: skip


def _check_colour(colour: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        raise ValueError(f"heat cell colour {colour[:20]!r} is not #rrggbb")
    return colour
