"""Search: a text query or an uploaded scene -> ranked corpus images (+ the session's uploads).

The shared corpus index is read-only. A visitor's uploads live in their own `Overlay` (held in the
Gradio session state), so one visitor's upload never appears in another's results.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from closp_demo.corpus.labels import ALL_CLASSES
from closp_demo.corpus.store import Corpus
from closp_demo.encoders.base import Encoder, can_locate, l2_normalise
from closp_demo.geo.place import Place, blend, distances_km, ring_centre
from closp_demo.search.candidates import top_k
from closp_demo.search.filters import FilterColumns, FilterError, Filters
from closp_demo.search.grouping import (
    GROUP_FETCH,
    GROUP_FETCH_LIMIT,
    MAX_FETCH,
    group_members,
    scene_keys,
    scene_of,
)
from closp_demo.search.places import rank_near
from closp_demo.search.reading import QueryReader, QueryReading
from closp_demo.sensors import Sensor

MAX_QUERY_CHARS = 300
UPLOAD_SOURCE = "your upload"
MASK_CACHE = 8  # filter masks kept per engine (N bytes each): a visitor refines one filter
# Decoded rows kept per engine (~1 kB each: JSON footprint and evidence, thumbnail path): a
# query decodes the rows it shows (a grouped one also the scene tiles behind "+N more"), and the
# popular rows recur across queries.
ROW_CACHE = 4096
SENSOR_CHOICES = ("both", "S1", "S2")


class QueryError(ValueError):
    """A query the app cannot run; the message is shown to the visitor."""


@dataclass
class Result:
    rank: int
    score: float
    image_id: str
    sensor: str
    source: str
    labels: tuple[str, ...]
    place: str
    timestamp: str
    footprint: list[tuple[float, float]]
    thumbnail: str  # file path: the corpus's thumbnail, or an upload's saved preview
    evidence: dict = field(default_factory=dict)
    origin: str = "corpus"  # "corpus" or "your upload"
    distance_km: float | None = None  # from the query's place, when it has one
    scene: str = ""  # the source scene it was cut from (closp_demo.search.grouping)
    more_in_scene: int = 0  # grouped lists: other tiles of this scene among the candidates
    scene_tiles: list[SceneTile] = field(default_factory=list)  # those tiles, best first
    tile_of: str = ""  # an expanded scene's tile: the id of the tile that stood for the scene
    facts: dict[str, str] = field(default_factory=dict)  # an upload's level, size, CRS


@dataclass(frozen=True)
class SceneTile:
    """A tile behind "+N more", decoded only if its scene is opened (`SearchEngine.tile_result`):
    a grouped list shows one tile per scene, and decoding the others cost more than the search."""

    score: float
    item: int | Result  # a corpus row, or an upload's Result
    distance_km: float | None = None  # from the query's place, when it had one


@dataclass
class OverlayItem:
    vector: np.ndarray
    result: Result  # rank/score filled in per query
    pixels: np.ndarray | None = None  # the upload's preview bands (B, h, w), for its detail view


def _centre(ring: list) -> tuple[float, float]:
    """A footprint's centre; NaN for an upload without georeferencing (matches no box)."""
    return ring_centre(ring) if ring else (math.nan, math.nan)


@dataclass
class Overlay:
    """One session's uploaded images, searchable alongside the corpus, never shared."""

    items: list[OverlayItem] = field(default_factory=list)
    max_items: int = 20
    uploaded_bytes: int = 0  # all files of all this session's uploads (`Limits.max_session_bytes`)

    def add(self, item: OverlayItem) -> list[OverlayItem]:
        """Adds `item`; returns the oldest items it pushed out (bounded memory per session)."""
        self.items.append(item)
        dropped = self.items[: -self.max_items]
        del self.items[: -self.max_items]
        return dropped

    def search(
        self, query: np.ndarray, sensor: str, k: int, place: Place | None = None,
        rank_by_place: bool = True, filters: Filters | None = None,
    ) -> list[tuple[float, Result]]:  # fmt: skip
        """The same rules as the corpus: similarity, metadata filters, then the place's filter
        or prior (or, with `rank_by_place` off, only each upload's distance from the place)."""
        pool = [it for it in self.items if sensor == "both" or it.result.sensor == sensor]
        if pool and filters is not None and filters.active():
            centres = np.array([_centre(it.result.footprint) for it in pool], dtype=float)
            cols = FilterColumns.build(
                [it.result.source for it in pool], [it.result.timestamp for it in pool],
                ["|".join(it.result.labels) for it in pool], centres[:, 0], centres[:, 1],
            )  # fmt: skip
            pool = [it for it, keep in zip(pool, cols.mask(filters), strict=True) if keep]
        scored = []
        for it in pool:
            score = float(it.vector @ query)
            it.result.distance_km = None
            if place is not None and not it.result.footprint:  # an upload with no location
                if rank_by_place and place.mode == "within":
                    continue
            elif place is not None:
                lon, lat = ring_centre(it.result.footprint)
                km = float(distances_km(place, np.array([lon]), np.array([lat]))[0])
                if rank_by_place and place.mode == "within" and km > place.radius_km:
                    continue
                if rank_by_place and place.mode == "prefer":
                    score = float(blend(place, np.array([score]), np.array([km]))[0])
                it.result.distance_km = km
            scored.append((score, it.result))
        return sorted(scored, key=lambda sr: -sr[0])[:k]


def check_sensor(sensor: str) -> str:
    if sensor not in SENSOR_CHOICES:
        raise QueryError(f"unknown sensor filter {sensor!r}: choose one of {SENSOR_CHOICES}")
    return sensor


def clean_query(text: str | None) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise QueryError("Type a description to search for, e.g. 'a lake surrounded by forest'.")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"The query is {len(text)} characters long; keep it under {MAX_QUERY_CHARS}."
        )
    return text


class SearchEngine:
    def __init__(self, corpus: Corpus, encoder: Encoder) -> None:
        self.corpus = corpus
        self.encoder = encoder
        # Rows are decoded per hit, not up front (that took 15-18 s and 2.1 GB at 650k rows).
        self.rows = corpus.rows
        self._filter_columns: FilterColumns | None = None
        self._masks: dict[Filters, np.ndarray] = {}
        self._scene_ids: np.ndarray | None = None
        self.reader = QueryReader(encoder)  # vocabulary and threshold computed on first use
        self._decoded = functools.lru_cache(maxsize=ROW_CACHE)(self._decode)

    # --- metadata filters ----------------------------------------------------------------------
    def filter_columns(self) -> FilterColumns:
        """Built once (~1 s at 650k rows; `warm` at start-up), then kept."""
        if self._filter_columns is None:
            lon, lat = self._centres()
            col = self.rows.column
            self._filter_columns = FilterColumns.build(
                col("source"), col("timestamp"), col("labels"), lon, lat
            )
        return self._filter_columns

    def filter_mask(self, filters: Filters) -> np.ndarray:
        """Rows `filters` keeps; unknown source or label names are refused by name."""
        cols = self.filter_columns()
        for what, names, known in (
            ("source", filters.sources, (*cols.source_names, UPLOAD_SOURCE)),
            ("label", filters.labels, tuple(dict.fromkeys((*ALL_CLASSES, *cols.label_names)))),
        ):
            unknown = [n for n in names if n not in known]
            if unknown:
                raise FilterError(
                    f"unknown {what} {unknown[0][:40]!r}: this corpus has {', '.join(known)}"
                )
        mask = self._masks.get(filters)
        if mask is None:
            mask = cols.mask(filters)
            if len(self._masks) >= MASK_CACHE:
                self._masks.pop(next(iter(self._masks)), None)  # None: another thread got it
            self._masks[filters] = mask
        return mask

    def warm(self) -> None:
        """Build what the first grouped, filtered or place query would (scene numbers, filter
        columns, centres: ~1.3 s at 650k rows, ms on the embedded corpus) before any query."""
        self.scene_ids()
        self.filter_columns()

    def scene_ids(self) -> np.ndarray:
        """(N,) int64 scene number per corpus row (`grouping.scene_keys`), built once (~0.3 s
        at 650k rows; `warm` at start-up), then kept: grouping reads no row."""
        if self._scene_ids is None:
            col = self.rows.column
            self._scene_ids = scene_keys(col("image_id"), col("source"))
        return self._scene_ids

    def corpus_result(self, row: int, rank: int, score: float) -> Result:
        """A new Result for a corpus row (its decoded fields shared from a per-engine cache:
        footprint and evidence are only read, never changed in place)."""
        return Result(rank=rank, score=score, **self._decoded(int(row)))

    def tile_result(self, tile: SceneTile, rank: int = 0) -> Result:
        """The Result of a tile behind "+N more" (`SceneTile`), decoded now."""
        if isinstance(tile.item, Result):
            return replace(tile.item, rank=rank, score=tile.score)
        res = self.corpus_result(tile.item, rank, tile.score)
        res.distance_km = tile.distance_km
        return res

    def forget_rows(self) -> None:
        """Empty the decoded-row cache (benchmarks measure the cold case with it)."""
        self._decoded.cache_clear()

    def _decode(self, row: int) -> dict:
        r = self.rows.row(row)
        return {"image_id": r.image_id, "sensor": r.sensor, "source": r.source,
                "labels": r.labels, "place": r.place, "timestamp": r.timestamp,
                "footprint": r.footprint, "thumbnail": self.corpus.thumbnail_file(r.image_id),
                "evidence": r.evidence, "scene": scene_of(r.image_id, r.source)}  # fmt: skip

    # --- places ------------------------------------------------------------------------------
    def blends_location(self, place: Place | None) -> bool:
        """GeoCLOSP in "prefer" mode: the place enters the query vector, not a prior."""
        return place is not None and place.mode == "prefer" and can_locate(self.encoder)

    def place_rule(self, place: Place) -> str:
        """How `place` changes the ranking, in words (shown in the status line)."""
        if place.mode == "within":
            return place.label()
        how = "location embedding" if self.blends_location(place) else "distance prior"
        scale = "" if self.blends_location(place) else f", {place.radius_km:g} km scale"
        return f"preferring images near {place.where()} ({how}, weight {place.weight:g}{scale})"

    def _centres(self) -> tuple[np.ndarray, np.ndarray]:
        centres = self.rows.centres()  # built once per corpus, on the first place query
        return centres[:, 0], centres[:, 1]

    def place_query(self, text_vector: np.ndarray, place: Place | None) -> np.ndarray:
        if not self.blends_location(place):
            return text_vector
        where = np.array([[place.lon, place.lat]], dtype=np.float32)  # type: ignore[union-attr]
        loc = self.encoder.encode_location(where)[0]  # type: ignore[attr-defined]
        w = place.weight  # type: ignore[union-attr]
        return l2_normalise((1.0 - w) * text_vector + w * loc)

    # --- search --------------------------------------------------------------------------------
    def search_vector(
        self, query: np.ndarray, sensor: str = "both", k: int = 12, overlay: Overlay | None = None,
        place: Place | None = None, rank_by_place: bool = True, filters: Filters | None = None,
        group: bool = False,
    ) -> list[Result]:  # fmt: skip
        """`place` filters or re-weights by distance (geo.place) and every result gets its
        distance from it; `rank_by_place` off (a GeoCLOSP blend, already in `query`, see
        `place_query`) leaves the ranking to the query vector. `filters` restrict the rows
        searched (closp_demo.search.filters), so k results come whenever k rows pass. `group`:
        k scenes, each shown by its best tile, from the best `GROUP_FETCH` k candidates."""
        sensor = check_sensor(sensor)
        k = max(1, min(int(k), 100))
        wanted = k
        k = min(k * GROUP_FETCH, MAX_FETCH) if group else k
        id_range = self.corpus.id_range(sensor)
        allowed = self.filter_mask(filters) if filters is not None and filters.active() else None
        total = len(self.corpus.embeddings) if id_range is None else id_range[1] - id_range[0]
        scenes = self.scene_ids() if group else None
        while True:
            if place is None or not rank_by_place:
                found = top_k(self.corpus.index, self.corpus.embeddings, query, k, id_range,
                              allowed)  # fmt: skip
            else:
                lon, lat = self._centres()
                found = rank_near(self.corpus.index, self.corpus.embeddings, lon, lat, query, k,
                                  place, id_range, allowed)  # fmt: skip
            # Grouped: one dense scene can fill every candidate; fetch more until `wanted`
            # scenes come or nothing more can (the candidates ran out, or the bound).
            if scenes is None or len(found) < k or k >= min(total, GROUP_FETCH_LIMIT):
                break
            rows = np.fromiter((h.row for h in found), dtype=np.int64, count=len(found))
            if len(np.unique(scenes[rows])) >= wanted:
                break
            k = min(k * 4, total, GROUP_FETCH_LIMIT)
        # Ranked candidates as (score, scene key, corpus row or an upload's Result); a corpus
        # row is decoded only if it is shown (or behind a shown "+N more"). Scene keys: ints for
        # corpus rows, strings for uploads, so an upload never joins a corpus scene.
        ranked: list[tuple[float, object, int | Result]] = [
            (h.score, int(scenes[h.row]) if scenes is not None else h.row, h.row) for h in found
        ]
        if overlay is not None and overlay.items:
            uploads = overlay.search(query, sensor, k, place, rank_by_place, filters)
            ranked += [(score, res.scene or res.image_id, res) for score, res in uploads]
            ranked.sort(key=lambda entry: -entry[0])
        shown = [(entry, []) for entry in ranked[:wanted]]
        if group:
            shown = group_members(ranked, lambda entry: entry[1], wanted)
        km_of: dict[int, float] = {}
        if place is not None:
            lon, lat = self._centres()
            rows = np.array([h.row for h in found], dtype=np.int64)
            km_of = dict(zip(rows.tolist(), distances_km(place, lon[rows], lat[rows]).tolist(),
                             strict=True))  # fmt: skip

        def result(score: float, item: int | Result, rank: int) -> Result:
            if isinstance(item, Result):  # an upload: its distance set by `Overlay.search`
                item.score, item.rank = score, rank
                return item
            res = self.corpus_result(item, rank, score)
            if place is not None:
                res.distance_km = float(km_of[item])
            return res

        results = []
        for rank, ((score, _, item), others) in enumerate(shown, start=1):
            res = result(score, item, rank)
            res.more_in_scene = len(others)
            res.scene_tiles = [SceneTile(s, other, km_of.get(other) if isinstance(other, int)
                                         else None) for s, _, other in others]  # fmt: skip
            results.append(res)
        return results

    def search_text(
        self, text: str, sensor: str = "both", k: int = 12, overlay: Overlay | None = None,
        place: Place | None = None, filters: Filters | None = None, group: bool = False,
    ) -> tuple[list[Result], dict[str, float]]:  # fmt: skip
        results, timings, _ = self.search_text_read(text, sensor, k, overlay, place, filters, group)
        return results, timings

    def read_query(self, text: str) -> QueryReading:
        """How the model reads `text` (closp_demo.search.reading), without searching."""
        return self.reader.read(clean_query(text))

    def search_text_read(
        self, text: str, sensor: str = "both", k: int = 12, overlay: Overlay | None = None,
        place: Place | None = None, filters: Filters | None = None, group: bool = False,
    ) -> tuple[list[Result], dict[str, float], QueryReading]:  # fmt: skip
        """`search_text` and the query's reading; the text is encoded once for both."""
        text = clean_query(text)
        t0 = time.perf_counter()
        vector, reading = self.reader.read_and_embed(text)
        query = self.place_query(vector, place)
        t1 = time.perf_counter()
        blended = self.blends_location(place)
        results = self.search_vector(query, sensor, k, overlay, place, not blended, filters, group)
        t2 = time.perf_counter()
        return results, {"encode_ms": (t1 - t0) * 1e3, "search_ms": (t2 - t1) * 1e3}, reading

    def row_of(self, image_id: str) -> int:
        """The corpus row of an image id; QueryError if the corpus has no such image."""
        image_id = str(image_id or "").strip()
        column = self.rows.column("image_id")
        at = pc.index(column, image_id).as_py() if isinstance(column, pa.ChunkedArray) else next(
            (i for i, x in enumerate(column) if x == image_id), -1)  # fmt: skip
        if not image_id or at is None or at < 0:
            raise QueryError(f"no image {image_id[:80]!r} in this corpus: pick a result's id")
        return int(at)

    def vector_of(self, image_id: str, overlay: Overlay | None = None) -> np.ndarray:
        """The embedding of a corpus image, or of one of this session's uploads (its id as the
        results show it, "upload:<file name>"); QueryError for an id neither holds."""
        key = str(image_id or "").strip()
        for item in reversed(overlay.items if overlay is not None else []):
            if item.result.image_id == key:  # the newest upload of that name
                return np.asarray(item.vector, dtype=np.float32)
        return np.asarray(self.corpus.embeddings[self.row_of(key)], dtype=np.float32)

    def search_like(
        self, image_id: str, sensor: str = "both", k: int = 12, overlay: Overlay | None = None,
        filters: Filters | None = None, group: bool = False,
    ) -> tuple[list[Result], dict[str, float]]:  # fmt: skip
        """More like this: rank by a corpus image's own embedding, in either sensor (one space,
        so an S1 image finds similar S2 images too), or by one of the session's uploads in
        `overlay`. The image itself is left out."""
        t0 = time.perf_counter()
        vector = self.vector_of(image_id, overlay)
        results = self.search_vector(vector, sensor, min(int(k), 99) + 1, overlay, None, True,
                                     filters, group)  # fmt: skip
        results = [r for r in results if r.image_id != image_id][: max(1, min(int(k), 100))]
        for rank, r in enumerate(results, start=1):
            r.rank = rank
        return results, {"search_ms": (time.perf_counter() - t0) * 1e3}

    def embed_scene(self, tiles: Sequence[np.ndarray], sensor: Sensor) -> np.ndarray:
        """One vector for a whole scene: the mean of its tiles' embeddings, re-normalised."""
        stack = np.stack(list(tiles))
        return l2_normalise(self.encoder.encode_images(stack, sensor).mean(axis=0))
