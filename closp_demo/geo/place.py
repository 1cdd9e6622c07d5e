"""A place attached to a query: where, how far, and how it changes the ranking.

Two documented ways to use a place, for every model:

- "within": a hard filter. Only images whose centre lies within `radius_km` (great-circle
  distance) are ranked; their order is the model's similarity, unchanged.
- "prefer": a distance-decay prior. Every image keeps its similarity `s` and gains a prior
  `p = exp(-d / radius_km)` (1 at the place, 0.37 at one radius, 0.05 at three); the ranking score
  is `(1 - weight) * s + weight * p`. `weight` 0 is plain text search, 1 ranks by distance alone.

A model with a learned location encoder (GeoCLOSP: SatCLIP spherical harmonics + SIREN, trained to
meet the image embeddings) uses the place inside the embedding instead of the prior in "prefer"
mode: the query is `normalise((1 - weight) * text + weight * location)`, so "forest" near a place
finds the images the model associates with both (see `closp_demo.search.engine`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
PlaceMode = Literal["prefer", "within"]
PLACE_MODES: tuple[str, ...] = ("off", "prefer", "within")
DEFAULT_RADIUS_KM = 250.0
DEFAULT_WEIGHT = 0.5
MAX_RADIUS_KM = 20_000.0  # half the circumference: beyond it every place on Earth is "within"
PRIOR_REACH = (
    6.0  # radii beyond which exp(-d / r) < 0.0025 counts as zero when gathering candidates
)


class PlaceError(ValueError):
    """A place the app cannot use; the message is shown to the visitor."""


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    radius_km: float = DEFAULT_RADIUS_KM
    mode: PlaceMode = "prefer"
    weight: float = DEFAULT_WEIGHT

    def where(self) -> str:
        """The place in words: "48.2100° N, 16.3700° E"."""
        ns, ew = "N" if self.lat >= 0 else "S", "E" if self.lon >= 0 else "W"
        return f"{abs(self.lat):.4f}° {ns}, {abs(self.lon):.4f}° {ew}"

    def label(self) -> str:
        """ "within 250 km of 48.2100° N, 16.3700° E", or for "prefer" "preferring images near
        48.2100° N, 16.3700° E (250 km scale)"."""
        if self.mode == "within":
            return f"within {self.radius_km:g} km of {self.where()}"
        return f"preferring images near {self.where()} ({self.radius_km:g} km scale)"


def _number(value: object, what: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):  # float(True) is 1.0: an API client's slip, not a coordinate
        raise PlaceError(f"{what} must be a number, got {str(value).lower()}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PlaceError(f"{what} must be a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise PlaceError(f"{what} must be a finite number, got {number}")
    return number


def check_place(
    lat: object, lon: object, radius_km: object = None
) -> tuple[float, float, float | None]:
    """The one rule for a place's numbers, for the search (`parse_place`) and the map
    (`closp_demo.views.map.MapPlace`, whose values go into the page's script): finite decimal
    degrees, latitude within +-90, longitude within +-180, and a radius above 0 and at most
    MAX_RADIUS_KM, or None (blank) for none. Returns (lat, lon, radius_km) as floats."""
    la, lo = _number(lat, "Latitude"), _number(lon, "Longitude")
    if la is None or lo is None:
        raise PlaceError(
            "Give a place for the place filter: click the map, or type a latitude and a "
            "longitude (decimal degrees), or choose 'Anywhere'."
        )
    if not -90.0 <= la <= 90.0:
        raise PlaceError(f"Latitude must be between -90 and 90 degrees, got {la:g}")
    if not -180.0 <= lo <= 180.0:
        raise PlaceError(f"Longitude must be between -180 and 180 degrees, got {lo:g}")
    radius = _number(radius_km, "Radius")
    if radius is not None and not 0.0 < radius <= MAX_RADIUS_KM:
        raise PlaceError(f"Radius must be above 0 and at most {MAX_RADIUS_KM:g} km, got {radius:g}")
    return la, lo, radius


def parse_place(
    lat: object,
    lon: object,
    radius_km: object = DEFAULT_RADIUS_KM,
    mode: str = "prefer",
    weight: object = DEFAULT_WEIGHT,
) -> Place | None:
    """Validate the UI / API fields. None when the place is switched off; a blank radius is the
    default one."""
    if mode not in PLACE_MODES:
        raise PlaceError(f"unknown place mode {mode!r}: choose one of {PLACE_MODES}")
    if mode == "off":
        return None
    la, lo, radius = check_place(lat, lon, radius_km)
    radius = DEFAULT_RADIUS_KM if radius is None else radius
    w = _number(weight, "Place weight")
    w = DEFAULT_WEIGHT if w is None else w
    if not 0.0 <= w <= 1.0:
        raise PlaceError(f"Place weight must be between 0 and 1, got {w:g}")
    return Place(lat=la, lon=lo, radius_km=radius, mode=mode, weight=w)  # type: ignore[arg-type]


def distances_km(place: Place, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Great-circle (haversine) distance from the place to each (lon, lat), in km."""
    return great_circle_km(place.lon, place.lat, lon, lat)


def great_circle_km(lon0: float, lat0: float, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Haversine distance from (lon0, lat0) to each (lon, lat), degrees in, km out."""
    phi1, phi2 = math.radians(lat0), np.radians(np.asarray(lat, dtype=np.float64))
    dphi = phi2 - phi1
    dlmb = np.radians(np.asarray(lon, dtype=np.float64) - lon0)
    h = np.sin(dphi / 2) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def prior(place: Place, distance_km: np.ndarray) -> np.ndarray:
    return np.exp(-np.asarray(distance_km, dtype=np.float64) / place.radius_km)


def blend(place: Place, similarity: np.ndarray, distance_km: np.ndarray) -> np.ndarray:
    """The "prefer" ranking score of images with these similarities and distances."""
    s = np.asarray(similarity, dtype=np.float64)
    return (1.0 - place.weight) * s + place.weight * prior(place, distance_km)


def ring_centre(ring: list[tuple[float, float]] | list[list[float]]) -> tuple[float, float]:
    """(lon, lat) centre of a small footprint ring (an upload's), antimeridian-safe."""
    pts = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        raise PlaceError("an image without a footprint has no place")
    lon0 = pts[0, 0]
    lons = (pts[:, 0] - lon0 + 180.0) % 360.0 - 180.0 + lon0  # unwrap around the first vertex
    lon = (float(lons.mean()) + 180.0) % 360.0 - 180.0
    return lon, float(pts[:, 1].mean())
