"""Search results -> files to take away: CSV, GeoJSON (RFC 7946) and a ZIP of the thumbnails.

Every format carries the same properties per result: rank, score, sensor, labels, date, place,
source, id, licence (plus km from place and more from this scene when the search had them).
Text comes from data and from visitors (an upload's filename is its place), so the CSV
neutralises cells a spreadsheet would run as a formula (OWASP "CSV injection"): a text cell
starting with = + - @ tab or CR gets a leading apostrophe. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from closp_demo.corpus.sources import licence
from closp_demo.geo.geojson import footprint_geometry, geometry_wkt
from closp_demo.search.engine import Result

FORMATS = ("csv", "geojson", "zip")
BASENAME = "closp-results"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
UPLOAD_LICENCE = "your own upload"
THUMB_DIR = "thumbnails"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class ExportError(ValueError):
    """An export that cannot be made (unknown format, nothing to export)."""


def neutralise(cell: object) -> object:
    """A text cell a spreadsheet would evaluate gets a leading apostrophe; others unchanged."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


def _licence(result: Result) -> str:
    return licence(result.source) if result.origin == "corpus" else UPLOAD_LICENCE


def thumbnail_name(result: Result) -> str:
    """The thumbnail's file name inside the ZIP: rank and a filesystem-safe id."""
    safe = _UNSAFE_NAME.sub("_", result.image_id).strip("._")[:80] or "image"
    return f"{THUMB_DIR}/{result.rank:03d}_{safe}{Path(result.thumbnail).suffix or '.img'}"


def properties(result: Result) -> dict:
    """The exported properties of one result (labels as a list)."""
    props = {
        "rank": result.rank,
        "score": round(float(result.score), 6),
        "sensor": result.sensor,
        "labels": list(result.labels),
        "date": result.timestamp[:10] if result.timestamp else None,
        "place": result.place,
        "source": result.source,
        "id": result.image_id,
        "licence": _licence(result),
    }
    if result.distance_km is not None:
        props["km_from_place"] = round(float(result.distance_km), 3)
    if result.more_in_scene:
        props["more_from_scene"] = int(result.more_in_scene)
    return props


def _columns(results: Sequence[Result]) -> list[str]:
    columns = ["rank", "score", "sensor", "labels", "date", "place", "source", "id", "licence"]
    if any(r.distance_km is not None for r in results):
        columns.append("km_from_place")
    if any(r.more_in_scene for r in results):
        columns.append("more_from_scene")
    return [*columns, "lon", "lat", "footprint_wkt"]


def to_geojson(results: Sequence[Result], thumbnails: bool = False) -> dict:
    """A FeatureCollection, one Feature per result with its footprint; `thumbnails`: each
    feature names its thumbnail file in the ZIP."""
    features = []
    for r in results:
        props = properties(r)
        if thumbnails:
            props["thumbnail"] = thumbnail_name(r)
        geometry = footprint_geometry(r.footprint)
        features.append(
            {"type": "Feature", "id": r.image_id, "geometry": geometry, "properties": props}
        )
    return {"type": "FeatureCollection", "features": features}


def _centre(geometry: dict) -> tuple[float, float]:
    ring = geometry["coordinates"][0]
    if geometry["type"] == "MultiPolygon":  # the centre of a split footprint lies on 180
        lats = [lat for polygon in geometry["coordinates"] for lat in (p[1] for p in polygon[0])]
        return 180.0, round((min(lats) + max(lats)) / 2, 7)
    lons, lats = [p[0] for p in ring[:-1]], [p[1] for p in ring[:-1]]
    return round(sum(lons) / len(lons), 7), round(sum(lats) / len(lats), 7)


def to_csv(results: Sequence[Result]) -> str:
    """The results as CSV text (labels joined with "|"), formula cells neutralised."""
    columns = _columns(results)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for r in results:
        props = properties(r)
        geometry = footprint_geometry(r.footprint)
        props["labels"] = "|".join(r.labels)
        props["lon"], props["lat"] = _centre(geometry)
        props["footprint_wkt"] = geometry_wkt(geometry)
        writer.writerow([neutralise(props.get(c, "")) for c in columns])
    return out.getvalue()


def _dump(collection: dict) -> str:
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":"))


def write_export(
    results: Sequence[Result], fmt: str, folder: Path, attribution: str | None = None
) -> Path:
    """Write the results as `fmt` ("csv", "geojson" or "zip") into `folder`; the ZIP holds the
    thumbnails, the GeoJSON naming them, the CSV and the corpus's `attribution` text."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    if not results:
        raise ExportError("Nothing to export yet: run a search first.")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{BASENAME}.{fmt}"
    if fmt == "csv":
        path.write_text(to_csv(results), encoding="utf-8", newline="")
    elif fmt == "geojson":
        path.write_text(_dump(to_geojson(results)), encoding="utf-8")
    else:
        # Thumbnails are WebP already: stored, not deflated again.
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(f"{BASENAME}.geojson", _dump(to_geojson(results, thumbnails=True)),
                        compress_type=zipfile.ZIP_DEFLATED)  # fmt: skip
            zf.writestr(f"{BASENAME}.csv", to_csv(results), compress_type=zipfile.ZIP_DEFLATED)
            if attribution:
                zf.writestr("ATTRIBUTION.md", attribution, compress_type=zipfile.ZIP_DEFLATED)
            for r in results:
                if Path(r.thumbnail).is_file():
                    zf.write(r.thumbnail, thumbnail_name(r))
    return path
