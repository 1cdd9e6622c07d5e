"""FAISS vector index: cosine similarity as inner product on L2-normalised vectors.

Rows are stored sorted by sensor, so a sensor filter is a contiguous id range
(`faiss.IDSelectorRange`), which every FAISS index type honours without a second index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

INDEX_FILE = "index.faiss"


def set_single_query_threads() -> None:
    """One FAISS thread: on 2 vCPU one query runs faster without OpenMP fan-out."""
    faiss.omp_set_num_threads(1)


def build_index(vectors: np.ndarray) -> faiss.Index:
    """Exact inner-product index (the right choice for small corpora)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def save_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_index(path: Path, mmap: bool = True) -> faiss.Index:
    flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
    return faiss.read_index(str(path), flags)


@dataclass(frozen=True)
class Hit:
    row: int
    score: float


def search(
    index: faiss.Index, query: np.ndarray, k: int, id_range: tuple[int, int] | None = None
) -> list[Hit]:
    """Top-k rows for one query vector, optionally restricted to rows in [lo, hi)."""
    q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
    if id_range is not None:
        lo, hi = id_range
        k = min(k, hi - lo)
        if k <= 0:
            return []
        params = faiss.SearchParameters(sel=faiss.IDSelectorRange(lo, hi))
        scores, ids = index.search(q, k, params=params)
    else:
        k = min(k, index.ntotal)
        if k <= 0:
            return []
        scores, ids = index.search(q, k)
    return [Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
