"""Footprint geometry for a Web Mercator map: rings across the antimeridian, one world copy for a
set of rings, the box Leaflet draws a radius circle in, and the bounds a view is fitted to.

A ring is a footprint's corners as (lon, lat) degrees. Leaflet draws what it is given literally,
so a ring crossing 180 degrees must be unwrapped (179.9 -> 180.1, not -179.9) and rings on both
sides of the antimeridian shifted onto the same world copy; that is all done here, as numbers,
for `closp_demo.views.map` to draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Ring = list[tuple[float, float]]  # (lon, lat) corners in degrees
Bounds = tuple[tuple[float, float], tuple[float, float]]  # ((south, west), (north, east))
Box = tuple[float, float, float, float]  # (south, west, north, east)

WORLD_BOUNDS: Bounds = ((-58.0, -170.0), (78.0, 170.0))  # the view for nothing to show
EARTH_RADIUS_M = 6_371_000.0  # Leaflet's L.CRS.Earth.R, which L.circle measures radii with
MERCATOR_MAX_LAT = 85.0511287798  # Leaflet's L.Projection.SphericalMercator.MAX_LATITUDE


def check_ring(ring: Sequence[Sequence[float]]) -> Ring:
    """A footprint as a list of (lon, lat) floats without the closing corner; ValueError unless
    it has at least 3 distinct corners of finite degrees (|lat| <= 90, |lon| <= 360)."""
    points: Ring = []
    for point in ring:
        try:
            lon, lat = (float(v) for v in point)
        except (TypeError, ValueError):
            raise ValueError(f"footprint points must be (lon, lat) pairs, got {point!r}") from None
        if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 360:
            raise ValueError(
                f"footprint point ({lon}, {lat}) is not a valid (longitude, latitude) in degrees"
            )
        points.append((lon, lat))
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1]
    if len(set(points)) < 3:
        raise ValueError("a footprint needs at least 3 distinct corners")
    return points


def unwrap_ring(ring: Sequence[tuple[float, float]]) -> Ring:
    """Shift longitudes by 360 so consecutive corners never jump more than 180 degrees.

    A footprint across the antimeridian (179.9 -> -179.9) then becomes (179.9 -> 180.1), a
    small polygon instead of one spanning the globe.
    """
    out: Ring = []
    for lon, lat in ring:
        if not -180.0 <= lon <= 180.0:
            lon = (lon + 180.0) % 360.0 - 180.0
        if out:
            prev = out[-1][0]
            lon += 360.0 * round((prev - lon) / 360.0)
        out.append((lon, lat))
    return out


def shift_together(rings: Sequence[Ring]) -> list[Ring]:
    """Shift (already unwrapped) rings by multiples of 360 degrees as a set, so they cluster
    around the shortest longitude interval that holds all their centres (rings on both sides of
    the antimeridian end up next to each other)."""
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


def _mercator_y(lat: float) -> float:
    lat = max(-MERCATOR_MAX_LAT, min(MERCATOR_MAX_LAT, lat))
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def circle_box(lat: float, lon: float, radius_km: float | None) -> Box:
    """(south, west, north, east) of what the map draws for a place: the point, or the bounds of
    its radius circle as Leaflet's L.Circle computes them (an ellipse in Mercator about the
    midpoint of its top and bottom); west/east may leave [-180, 180] and span at most 360."""
    if radius_km is None:
        return lat, lon, lat, lon
    lat_r = math.degrees(radius_km * 1000.0 / EARTH_RADIUS_M)
    top, bottom = lat + lat_r, lat - lat_r
    mid_y = (_mercator_y(top) + _mercator_y(bottom)) / 2
    lat2 = math.degrees(2 * math.atan(math.exp(mid_y)) - math.pi / 2)
    cos_arc = (
        math.cos(math.radians(lat_r)) - math.sin(math.radians(lat)) * math.sin(math.radians(lat2))
    ) / (math.cos(math.radians(lat)) * math.cos(math.radians(lat2)) or 1e-12)
    lng_r = math.degrees(math.acos(cos_arc)) if -1.0 <= cos_arc <= 1.0 else math.nan
    if math.isnan(lng_r) or lng_r == 0:  # Leaflet's own fallback, e.g. a circle over a pole
        lng_r = lat_r / max(math.cos(math.radians(lat)), 1e-12)
    lng_r = min(lng_r, 180.0)
    south = max(bottom, -MERCATOR_MAX_LAT)
    north = min(top, MERCATOR_MAX_LAT)
    return south, lon - lng_r, north, lon + lng_r


def layout(rings: Sequence[Ring], box: Box | None = None) -> tuple[list[Ring], Ring | None]:
    """Footprint rings and a place's box (`circle_box`), unwrapped and shifted together onto one
    world copy: (rings, the box as a ring of its 4 corners, or None)."""
    unwrapped = [unwrap_ring(ring) for ring in rings]
    if box is not None:
        south, west, north, east = box  # centred on the place, so no unwrapping
        unwrapped.append([(west, south), (east, south), (east, north), (west, north)])
    shifted = shift_together(unwrapped)
    if box is None:
        return shifted, None
    return shifted[:-1], shifted[-1]


def bounds_of(rings: Sequence[Sequence[tuple[float, float]]]) -> Bounds:
    """((south, west), (north, east)) of laid-out rings; the world view for none."""
    if not rings:
        return WORLD_BOUNDS
    lons = [lon for ring in rings for lon, _ in ring]
    lats = [lat for ring in rings for _, lat in ring]
    return (min(lats), min(lons)), (max(lats), max(lons))
