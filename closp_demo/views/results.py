"""Search results -> what the UI shows: gallery entries, a results table, map items.

Corpus images and uploads take the same route: an uploaded scene becomes a `Result` once
(`upload_result`), which is both the query drawn on the map of its own search and, in the session's
overlay, an image later searches rank like any other. Strings from data (labels, places,
filenames) go into plain-text widgets here; the map layer escapes everything it puts into HTML
(closp_demo.views.map).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from closp_demo.search.engine import Result
from closp_demo.sensors import SENSOR_NAMES
from closp_demo.upload.scene import UploadedScene
from closp_demo.views.map import MapItem

TABLE_COLUMNS = ["rank", "score", "sensor", "labels", "place", "date", "source", "evidence", "id"]
PLACE_COLUMN = "km from place"
SCENE_COLUMN = "more from this scene"
UPLOAD_ORIGIN = "your upload"  # `Result.origin` and source of a session's upload
# Sentinel-1 evidence never carries the cloud/haze class (closp_demo.encoders.physics): said so
RADAR_CLOUDS = "unaffected: radar sees through cloud and haze"


def upload_result(scene: UploadedScene, thumbnail: str) -> Result:
    """An uploaded scene as a result (rank and score are set by each search that ranks it);
    `thumbnail`: its rendered preview, a file path."""
    return Result(
        rank=0, score=0.0, image_id=f"upload:{scene.filename}", sensor=scene.sensor,
        source=UPLOAD_ORIGIN, labels=(), place=scene.filename, timestamp=scene.timestamp or "",
        footprint=list(scene.footprint), thumbnail=thumbnail, origin=UPLOAD_ORIGIN,
        facts={
            "sensor": f"{scene.sensor} {scene.level}",
            "size": f"{scene.width}×{scene.height} px",
            "CRS": scene.crs or "none: not placed on the map",
        },
    )  # fmt: skip


def _date(ts: str) -> str:
    return ts[:10] if ts else "unknown date"


def _labels(result: Result) -> str:
    return ", ".join(result.labels) if result.labels else "unlabelled"


def evidence_summary(result: Result, top: int = 3) -> str:
    weights = result.evidence.get("class_weights", {})
    ranked = sorted(weights.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{name} {w:.0%}" for name, w in ranked if w >= 0.005)


def caption(result: Result) -> str:
    # Gradio shows one line of caption: lead with what differs between results (full row in the
    # table and the map popup).
    what = UPLOAD_ORIGIN if result.origin != "corpus" else _labels(result)
    more = f" · +{result.more_in_scene} more from this scene" if result.more_in_scene else ""
    if result.tile_of:
        more = f" · same scene as {result.tile_of}"
    return (
        f"#{result.rank} {result.sensor} · {result.score:.3f} · {what} · {result.place} · "
        f"{_date(result.timestamp)}{more}"
    )


def gallery_items(results: Sequence[Result]) -> list[tuple[str, str]]:
    return [(r.thumbnail, caption(r)) for r in results]


def empty_table() -> pd.DataFrame:
    """The results table before any search: no rows, the real column names (an empty
    gr.Dataframe otherwise shows "1 2 3")."""
    return pd.DataFrame(columns=TABLE_COLUMNS)


def results_table(results: Sequence[Result]) -> pd.DataFrame:
    rows = [
        [r.rank, round(r.score, 4), r.sensor, _labels(r), r.place, _date(r.timestamp), r.source,
         evidence_summary(r), r.image_id]
        for r in results
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    if any(r.distance_km is not None for r in results):  # a place query: how far each one is
        km = [None if r.distance_km is None else round(r.distance_km, 1) for r in results]
        table.insert(2, PLACE_COLUMN, km)
    if any(r.more_in_scene for r in results):  # a grouped list: how many tiles each one stands for
        table.insert(len(table.columns) - 1, SCENE_COLUMN, [r.more_in_scene for r in results])
    return table


def map_items(
    results: Sequence[Result],
    thumbnail_url: Callable[[str], str | None],
    query: Result | None = None,
) -> list[MapItem]:
    """The results on the map, after the query image (an upload) when there is one. An upload
    without georeferencing (no footprint) is left off the map: nothing is invented for it."""
    items = [] if query is None or not query.footprint else [query_map_item(query, thumbnail_url)]
    return items + [map_item(r, thumbnail_url) for r in results if r.footprint]


def map_item(result: Result, thumbnail_url: Callable[[str], str | None]) -> MapItem:
    r = result
    details = {
        "score": f"{r.score:.3f}",
        **({} if r.distance_km is None else {"from place": f"{r.distance_km:,.0f} km"}),
        "sensor": SENSOR_NAMES.get(r.sensor, r.sensor),
        "labels": _labels(r),
        "place": r.place,
        "date": _date(r.timestamp),
        "source": r.source,
    }
    if evidence_summary(r):
        details["evidence"] = evidence_summary(r)
    if r.sensor == "S1":
        details["clouds"] = RADAR_CLOUDS
    return MapItem(
        item_id=r.image_id, sensor=r.sensor, footprint=list(r.footprint),
        title=f"#{r.rank} {r.image_id}", details=details,
        thumbnail_url=thumbnail_url(r.thumbnail), rank=r.rank,
    )  # fmt: skip


def query_map_item(result: Result, thumbnail_url: Callable[[str], str | None]) -> MapItem:
    """The image searched with, drawn in the query style: unranked, with its facts."""
    return MapItem(
        item_id="upload", sensor="query", footprint=list(result.footprint),
        title=f"Your upload: {result.place}", details=result.facts,
        thumbnail_url=thumbnail_url(result.thumbnail), rank=None,
    )  # fmt: skip


def static_url(path: str | Path) -> str:
    """URL under which Gradio serves a file inside a registered static path. Resolved once per
    path (and working directory, for a relative one): `Path.resolve` stats every component, and
    did so for every map item of every search (a fifth of the server's query time)."""
    return _static_url(os.getcwd(), str(path))


@functools.lru_cache(maxsize=8192)  # ~0.3 kB each; the popular thumbnails recur across queries
def _static_url(cwd: str, path: str) -> str:
    return f"/gradio_api/file={Path(cwd, path).resolve()}"
