"""Ranking corpus rows for a query vector and a place (the rules are in `closp_demo.geo.place`).

"within": the rows whose centre is within the radius, ranked by similarity. "prefer": the
distance-decay blend; rows farther than `PRIOR_REACH` radii get a prior below 0.0025 and are
taken from the plain top-k instead, so the result equals ranking every row by the blend up to
that negligible prior. Row sets up to `EXACT_ROWS` are scored exactly from the embeddings
(memory-mapped, one gather); larger sets go through the index with a row selector.
"""

from __future__ import annotations

import numpy as np

from closp_demo.corpus.index import Hit, search, search_rows
from closp_demo.geo.place import EARTH_RADIUS_KM, PRIOR_REACH, Place, blend, distances_km

EXACT_ROWS = 50_000  # 50k x 384 float32 = 77 MB gathered at most; ~10 ms of dot products


def _top_rows(
    index, embeddings: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, similarities) of the k most similar rows among `rows`."""
    if len(rows) == 0 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    if len(rows) <= EXACT_ROWS:
        sims = np.asarray(embeddings[rows], dtype=np.float32) @ query
        if k < len(rows):
            top = np.argpartition(-sims, k - 1)[:k]
            return rows[top], sims[top]
        return rows, sims
    hits = search_rows(index, query, k, rows)
    return np.array([h.row for h in hits], np.int64), np.array([h.score for h in hits], np.float32)


def _rows_within(
    place: Place, lon: np.ndarray, lat: np.ndarray, lo: int, hi: int, km: float
) -> np.ndarray:
    """Rows in [lo, hi) whose centre is within `km`. A latitude band comes first: no point is
    closer than its latitude difference along a meridian, so the band loses nothing and spares
    the haversine for most rows of a large corpus (650k rows: ~60 ms for all of them)."""
    band = km / (EARTH_RADIUS_KM * np.pi / 180.0)
    rows = np.flatnonzero(np.abs(lat[lo:hi] - place.lat) <= band) + lo  # NaN rows drop out here
    dist = distances_km(place, lon[rows], lat[rows])
    return rows[dist <= km]


def rank_near(
    index,
    embeddings: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    query: np.ndarray,
    k: int,
    place: Place,
    id_range: tuple[int, int] | None = None,
) -> list[Hit]:
    """Top-k hits under the place rule, best first; `Hit.score` is the ranking score (the blend
    in "prefer" mode, the similarity in "within" mode). `id_range`: the sensor filter."""
    lo, hi = id_range if id_range is not None else (0, len(lon))
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    reach = place.radius_km if place.mode == "within" else PRIOR_REACH * place.radius_km
    rows = _rows_within(place, lon, lat, lo, hi, reach)
    if place.mode == "within":
        rows, sims = _top_rows(index, embeddings, query, rows, k)
        order = np.argsort(-sims, kind="stable")
        return [Hit(int(rows[i]), float(sims[i])) for i in order]
    # rows within reach: all scored when they are few (a close row of modest similarity can
    # outrank a far one); beyond EXACT_ROWS, their best 1000 by similarity
    wanted = len(rows) if len(rows) <= EXACT_ROWS else max(k, 1000)
    near_rows, near_sims = _top_rows(index, embeddings, query, rows, wanted)
    far = search(index, query, k, (lo, hi))
    rows = np.concatenate([near_rows, np.array([h.row for h in far], np.int64)])
    sims = np.concatenate([near_sims, np.array([h.score for h in far], np.float32)])
    rows, first = np.unique(rows, return_index=True)
    sims = sims[first]
    far_km = np.nan_to_num(distances_km(place, lon[rows], lat[rows]), nan=np.inf)
    scores = blend(place, sims, far_km)
    order = np.argsort(-scores, kind="stable")[:k]
    return [Hit(int(rows[i]), float(scores[i])) for i in order]
