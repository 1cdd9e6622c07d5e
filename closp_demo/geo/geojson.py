"""Footprints as RFC 7946 GeoJSON geometries (and WKT): right-hand winding, antimeridian split.

RFC 7946 §3.1.6: an exterior ring is counterclockwise, closed (first == last position).
§3.1.9: a geometry crossing the antimeridian is cut in two at 180 degrees, each part with
longitudes inside [-180, 180], so it becomes a MultiPolygon. Positions are rounded to 7
decimals (about 1 cm), well inside a footprint corner's own precision.
"""

from __future__ import annotations

from collections.abc import Sequence

from closp_demo.geo.footprint import Ring, check_ring, unwrap_ring

DECIMALS = 7


def signed_area(ring: Sequence[tuple[float, float]]) -> float:
    """Shoelace area in square degrees: > 0 for a counterclockwise ring (open or closed)."""
    total = 0.0
    n = len(ring)
    for i in range(n):
        x0, y0 = ring[i]
        x1, y1 = ring[(i + 1) % n]
        total += x0 * y1 - x1 * y0
    return total / 2.0


def _clip(ring: Ring, limit: float, keep_below: bool) -> Ring:
    """Sutherland-Hodgman: the part of `ring` with lon <= limit (or >= limit)."""

    def inside(p: tuple[float, float]) -> bool:
        return p[0] <= limit if keep_below else p[0] >= limit

    out: Ring = []
    for i, cur in enumerate(ring):
        prev = ring[i - 1]
        if inside(cur) != inside(prev):
            t = (limit - prev[0]) / (cur[0] - prev[0])
            out.append((limit, prev[1] + t * (cur[1] - prev[1])))
        if inside(cur):
            out.append(cur)
    return out


def _finish(ring: Ring, shift: float) -> list[list[float]] | None:
    """Shifted into [-180, 180], rounded, de-duplicated, counterclockwise and closed; None for
    a sliver with under 3 distinct corners (a footprint touching the line at one corner)."""
    points: list[tuple[float, float]] = []
    for lon, lat in ring:
        p = (round(min(180.0, max(-180.0, lon + shift)), DECIMALS), round(lat, DECIMALS))
        if not points or points[-1] != p:
            points.append(p)
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(set(points)) < 3 or signed_area(points) == 0:
        return None
    if signed_area(points) < 0:
        points.reverse()
    return [list(p) for p in [*points, points[0]]]


def footprint_geometry(ring: Sequence[Sequence[float]]) -> dict:
    """A footprint's (lon, lat) corners as a GeoJSON Polygon, or a MultiPolygon of its two
    halves when it crosses the antimeridian; ValueError for a ring `check_ring` refuses."""
    unwrapped = unwrap_ring(check_ring(ring))
    # Bring the ring's centre into [-180, 180) so only one of the lines +-180 can cut it.
    centre = sum(lon for lon, _ in unwrapped) / len(unwrapped)
    offset = ((centre + 180.0) % 360.0 - 180.0) - centre
    unwrapped = [(lon + offset, lat) for lon, lat in unwrapped]
    lons = [lon for lon, _ in unwrapped]
    if max(lons) > 180.0:
        parts = [(_clip(unwrapped, 180.0, True), 0.0), (_clip(unwrapped, 180.0, False), -360.0)]
    elif min(lons) < -180.0:
        parts = [(_clip(unwrapped, -180.0, True), 360.0), (_clip(unwrapped, -180.0, False), 0.0)]
    else:
        parts = [(unwrapped, 0.0)]
    rings = [r for r in (_finish(part, shift) for part, shift in parts) if r is not None]
    if len(rings) == 1:
        return {"type": "Polygon", "coordinates": [rings[0]]}
    return {"type": "MultiPolygon", "coordinates": [[r] for r in rings]}


def geometry_wkt(geometry: dict) -> str:
    """The same geometry as WKT (for a CSV column GIS tools read)."""

    def ring_text(ring: list[list[float]]) -> str:
        return "(" + ", ".join(f"{lon!r} {lat!r}" for lon, lat in ring) + ")"

    if geometry["type"] == "Polygon":
        return "POLYGON (" + ", ".join(ring_text(r) for r in geometry["coordinates"]) + ")"
    polygons = (
        "(" + ", ".join(ring_text(r) for r in polygon) + ")" for polygon in geometry["coordinates"]
    )
    return "MULTIPOLYGON (" + ", ".join(polygons) + ")"
