"""Top-k among a candidate set of rows (a place or a metadata filter), with k guaranteed.

Small row sets are scored exactly from the embeddings (memory-mapped, one gather); larger sets go
through the index with a row selector (`search_rows`: exact on flat indexes, approximate on IVF),
and if that returns fewer than k while k rows exist, the set is scored exactly in chunks: a
filter never silently shortens the list.

Small means under `EXACT_SHARE` of the corpus (and `EXACT_ROWS`): gathering a row from the
mapped embeddings costs ~0.5 µs (a scattered 1.5 kB read), while the index scans a probed row in
~0.06 µs and probes at most a quarter of them (IVF: nlist / 16 lists, widened at most 4x for a
filter). At 650k rows a filter keeping 46 % took 190 ms scored exactly or through a hashed id
set, 5 ms through the index with a bitmap (bench.grouping --vectors, BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np

from closp_demo.corpus.index import Hit, row_mask, search, search_mask

EXACT_ROWS = 50_000  # rows gathered at a time when scoring exactly (77 MB of float32)
EXACT_SHARE = 1 / 32  # row sets up to this share of the corpus are scored exactly


def _exact(embeddings: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int):
    best_rows, best_sims = np.zeros(0, np.int64), np.zeros(0, np.float32)
    for start in range(0, len(rows), EXACT_ROWS):
        chunk = rows[start : start + EXACT_ROWS]
        sims = np.asarray(embeddings[chunk], dtype=np.float32) @ query
        best_rows = np.concatenate([best_rows, chunk])
        best_sims = np.concatenate([best_sims, sims])
        if len(best_rows) > k:
            top = np.argpartition(-best_sims, k - 1)[:k]
            best_rows, best_sims = best_rows[top], best_sims[top]
    return best_rows, best_sims


def _top_in_mask(
    index, embeddings: np.ndarray, query: np.ndarray, mask: np.ndarray, kept: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    if kept <= min(EXACT_ROWS, EXACT_SHARE * len(embeddings)):
        return _exact(embeddings, query, np.flatnonzero(mask), k)
    hits = search_mask(index, query, k, mask, kept)
    if len(hits) < min(k, kept):  # IVF probed too few lists holding candidates
        return _exact(embeddings, query, np.flatnonzero(mask), k)
    return np.array([h.row for h in hits], np.int64), np.array([h.score for h in hits], np.float32)


def top_rows(
    index, embeddings: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, similarities) of the min(k, len(rows)) most similar rows among `rows`, unordered."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    # every row wanted (a place's "prefer" gathering): nothing for the index to skip
    if len(rows) <= EXACT_ROWS and (k >= len(rows) or len(rows) <= EXACT_SHARE * len(embeddings)):
        return _exact(embeddings, query, rows, k)
    mask = row_mask(rows, len(embeddings))
    return _top_in_mask(index, embeddings, query, mask, int(np.count_nonzero(mask)), k)


def top_k(
    index, embeddings: np.ndarray, query: np.ndarray, k: int,
    id_range: tuple[int, int] | None = None, allowed: np.ndarray | None = None,
) -> list[Hit]:  # fmt: skip
    """Top-k hits best first among rows in `id_range` (the sensor) that `allowed` (a boolean
    mask over all rows, or None for every row) keeps."""
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    if allowed is None:
        return search(index, query, k, id_range)
    mask = np.asarray(allowed, dtype=bool)
    if id_range is not None:  # the sensor's rows only
        lo, hi = id_range
        mask = np.zeros_like(mask)
        mask[lo:hi] = allowed[lo:hi]
    kept = int(np.count_nonzero(mask))
    if kept == 0 or k <= 0:
        return []
    rows, sims = _top_in_mask(index, embeddings, query, mask, kept, k)
    order = np.argsort(-sims, kind="stable")
    return [Hit(int(rows[i]), float(sims[i])) for i in order]
