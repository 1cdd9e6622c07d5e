"""An RFC 7946 check for the polygon FeatureCollections the app exports (no GIS library needed).

Checks the parts of the RFC an export can get wrong: object shapes (§3.2, §3.3), positions as
[longitude, latitude] numbers inside [-180, 180] x [-90, 90] (§3.1.1, §4), linear rings closed
with >= 4 positions (§3.1.6), exterior rings counterclockwise (§3.1.6, the right-hand rule) and
no ring crossing the antimeridian (§3.1.9: it must be cut into a MultiPolygon instead).
"""

from __future__ import annotations

import itertools
import math


def ring_area(ring: list[list[float]]) -> float:
    """Shoelace area of a closed ring: > 0 counterclockwise."""
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring)) / 2.0


def check_ring(ring, where: str) -> list[str]:
    problems = []
    if not isinstance(ring, list) or len(ring) < 4:
        return [f"{where}: a linear ring needs >= 4 positions"]
    for p in ring:
        if not (isinstance(p, list) and len(p) in (2, 3)
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in p)):  # fmt: skip
            return [f"{where}: position {p!r} is not [lon, lat]"]
        if not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90):
            problems.append(f"{where}: position {p!r} outside [-180, 180] x [-90, 90]")
    if ring[0] != ring[-1]:
        problems.append(f"{where}: ring not closed")
    if ring_area(ring) <= 0:
        problems.append(f"{where}: exterior ring is not counterclockwise")
    if any(abs(a[0] - b[0]) > 180 for a, b in itertools.pairwise(ring)):
        problems.append(f"{where}: ring crosses the antimeridian (cut it, RFC 7946 §3.1.9)")
    return problems


def check_geometry(geometry, where: str) -> list[str]:
    if not isinstance(geometry, dict):
        return [f"{where}: geometry is not an object"]
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [coords]
    elif kind == "MultiPolygon":
        polygons = coords if isinstance(coords, list) else [None]
    else:
        return [f"{where}: geometry type {kind!r} is not Polygon or MultiPolygon"]
    problems = []
    for i, polygon in enumerate(polygons):
        if not isinstance(polygon, list) or not polygon:
            problems.append(f"{where}: polygon {i} has no rings")
            continue
        problems += check_ring(polygon[0], f"{where} polygon {i}")  # exterior; holes unused
    return problems


def check_feature_collection(doc) -> list[str]:
    """Every RFC 7946 problem found in `doc` (empty when it passes)."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        return ["top level is not a FeatureCollection"]
    if not isinstance(doc.get("features"), list):
        return ["FeatureCollection has no features array"]
    problems = []
    for i, feature in enumerate(doc["features"]):
        where = f"feature {i}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(f"{where}: not a Feature")
            continue
        if not isinstance(feature.get("properties"), dict):
            problems.append(f"{where}: properties is not an object")
        if "id" in feature and not isinstance(feature["id"], (str, int, float)):
            problems.append(f"{where}: id is not a string or number")
        problems += check_geometry(feature.get("geometry"), where)
    return problems
