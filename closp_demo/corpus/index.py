"""FAISS vector index: cosine similarity as inner product on L2-normalised vectors.

Index type by corpus size (`choose_spec`, measured in bench/index_scale.py, see BENCHMARKS.md):
- up to `FLAT_MAX` rows: exact `IndexFlatIP`. Scanning 50k x 384 floats takes a few ms on one
  core, and exact needs no training and no tuning.
- above: `IndexIVFFlat` (spherical k-means, inner product). nlist = 4 sqrt(N) rounded down to a
  power of two (1024 at 100k, 2048 at 650k: ~100-300 rows a list), nprobe = nlist / 16: ~6 %
  of the rows scanned per query. Measured at 650k on the physics encoder's vectors with text
  queries (the hardest case: vectors confined to an 11-d subspace, with many near-ties), that
  gives recall@10 0.99 where nlist 1024 at the same scanned share gives 0.97; training
  takes ~1 min on 2 vCPU. Vectors are stored unquantised: scores are exact, no recall is lost
  to compression, and 650k x 384 float32 (1 GB) is memory-mapped, not loaded. HNSW
  (`kind="hnsw"`) is available for comparison: faster per query, but 10x slower to build, and
  its recall for text queries on these vectors is 0.65-0.87, under a sensor filter ~0.4.

Sensor filter: rows are stored sorted by sensor, so a filter is a contiguous id range
(`faiss.IDSelectorRange`, honoured by every index type). IVF: the nprobe lists are chosen among
the lists that hold rows of the range (S1 and S2 images fall into mostly separate lists), and
ids ascend within a list, so the range is found by binary search (`assume_sorted`). HNSW: the
beam (efSearch) is widened by 1 / (share of rows the filter keeps), capped.

Persistence: `faiss.write_index`; `load_index` maps the file with `IO_FLAG_MMAP_IFC`, zero-copy
for flat codes, IVF lists and HNSW storage alike (checked in faiss 1.15; plain `IO_FLAG_MMAP`
copies a flat or HNSW index into RAM and only maps IVF lists), so loading takes milliseconds and
the OS pages vectors in on demand (file-backed pages: shared, evictable, not anonymous memory).
"""

from __future__ import annotations

import hashlib
import math
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

INDEX_FILE = "index.faiss"
FLAT_MAX = 50_000  # largest corpus served by exact search (see module docstring)
IndexKind = Literal["flat", "ivf", "hnsw"]
KINDS: tuple[str, ...] = ("auto", "flat", "ivf", "hnsw")
TRAIN_PER_LIST = 64  # k-means training rows per list (faiss warns below 39)
MAX_WIDEN = 16  # cap on the filtered-search widening factor
ADD_CHUNK = 65_536  # rows added at a time: bounds the float32 copy of a memory-mapped input


@dataclass(frozen=True)
class IndexSpec:
    """What to build: the kind and its parameters (0 where a parameter does not apply)."""

    kind: IndexKind
    nlist: int = 0  # IVF: number of k-means lists
    nprobe: int = 0  # IVF: lists scanned per query
    m: int = 0  # HNSW: graph degree
    ef_construction: int = 0
    ef_search: int = 0

    def describe(self) -> str:
        if self.kind == "ivf":
            return f"IVF-Flat nlist={self.nlist} nprobe={self.nprobe}"
        if self.kind == "hnsw":
            return f"HNSW-Flat M={self.m} efC={self.ef_construction} efS={self.ef_search}"
        return "Flat (exact)"


def choose_spec(n: int, kind: str = "auto") -> IndexSpec:
    """The index for `n` rows: exact up to FLAT_MAX, IVF-Flat above (or the `kind` forced)."""
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}: choose one of {', '.join(KINDS)}")
    if kind == "auto":
        kind = "flat" if n <= FLAT_MAX else "ivf"
    if kind == "ivf":
        # 4 sqrt(N) rounded down to a power of two; each list needs >= 39 training rows.
        nlist = _pow2_floor(min(4.0 * math.sqrt(n), n / 39))
        return IndexSpec("ivf", nlist=nlist, nprobe=max(1, nlist // 16))
    if kind == "hnsw":
        return IndexSpec("hnsw", m=32, ef_construction=80, ef_search=64)
    return IndexSpec("flat")


def _pow2_floor(x: float) -> int:
    return 2 ** int(math.log2(x)) if x >= 1 else 1


def set_single_query_threads() -> None:
    """One FAISS thread: on 2 vCPU one query runs faster without OpenMP fan-out."""
    faiss.omp_set_num_threads(1)


def build_index(
    vectors: np.ndarray, kind: str = "auto", spec: IndexSpec | None = None, seed: int = 0
) -> faiss.Index:
    """Index over `vectors` (N, d), L2-normalised rows, in row order (row i gets id i).

    `kind` "auto" picks by size (`choose_spec`); `spec` overrides both. `vectors` may be a
    memory-mapped array: it is added in chunks, never copied whole.
    """
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        raise ValueError(f"cannot index an array of shape {vectors.shape}: need (N > 0, dim)")
    n, dim = vectors.shape
    spec = spec or choose_spec(n, kind)
    if spec.kind == "ivf":
        quantizer = faiss.IndexFlatIP(dim)
        # faiss' Python wrapper keeps `quantizer` alive as long as `index`.
        index = faiss.IndexIVFFlat(quantizer, dim, spec.nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.spherical = True  # centroids on the unit sphere, like the data
        index.cp.seed = seed
        rng = np.random.default_rng(seed)
        n_train = min(n, spec.nlist * TRAIN_PER_LIST)
        rows = np.sort(rng.choice(n, size=n_train, replace=False))
        index.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
        index.nprobe = spec.nprobe
    elif spec.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, spec.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
        index.hnsw.efSearch = spec.ef_search
    else:
        index = faiss.IndexFlatIP(dim)
    for start in range(0, n, ADD_CHUNK):
        index.add(np.ascontiguousarray(vectors[start : start + ADD_CHUNK], dtype=np.float32))
    return index


def index_kind(index: faiss.Index) -> IndexKind:
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    return "flat"


def describe(index: faiss.Index) -> str:
    """Human-readable kind and parameters of a built or loaded index."""
    kind = index_kind(index)
    if kind == "ivf":
        return IndexSpec("ivf", nlist=index.nlist, nprobe=index.nprobe).describe()
    if kind == "hnsw":
        h = index.hnsw
        return IndexSpec("hnsw", m=h.nb_neighbors(0) // 2, ef_construction=h.efConstruction,
                         ef_search=h.efSearch).describe()  # level 0 has 2M links  # fmt: skip
    return IndexSpec("flat").describe()


def save_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_index(path: Path, mmap: bool = True) -> faiss.Index:
    """Read an index; with `mmap`, map its vectors from the file (read-only) instead of copying."""
    flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
    return faiss.read_index(str(path), flags)


@dataclass(frozen=True)
class Hit:
    row: int
    score: float


@dataclass
class _IvfCache:
    """Per-index data for filtered IVF search, computed once per loaded index."""

    centroids: np.ndarray  # (nlist, d)
    lists_with_rows: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    list_of_row: np.ndarray | None = None  # (ntotal,) the list holding each row
    kept_per_list: dict[bytes, np.ndarray] = field(default_factory=dict)  # by mask digest


# faiss proxies refuse new attributes; the corpus keeps one index object for its lifetime.
_IVF_CACHE: weakref.WeakKeyDictionary[faiss.Index, _IvfCache] = weakref.WeakKeyDictionary()
_IVF_CACHE_LOCK = threading.Lock()


def _ivf_cache(index: faiss.Index, ivf: faiss.IndexIVF) -> _IvfCache:
    with _IVF_CACHE_LOCK:
        cache = _IVF_CACHE.get(index)
        if cache is None:
            cache = _IvfCache(ivf.quantizer.reconstruct_n(0, ivf.nlist))
            _IVF_CACHE[index] = cache
        return cache


def _list_of_row(cache: _IvfCache, ivf: faiss.IndexIVF) -> np.ndarray:
    """(ntotal,) int32: the inverted list holding each row, read from the lists' ids once per
    index (a few ms at 650k rows)."""
    with _IVF_CACHE_LOCK:
        if cache.list_of_row is None:
            list_of_row = np.empty(ivf.ntotal, dtype=np.int32)
            invlists = ivf.invlists
            for lst in range(ivf.nlist):
                if size := invlists.list_size(lst):
                    list_of_row[faiss.rev_swig_ptr(invlists.get_ids(lst), size)] = lst
            cache.list_of_row = list_of_row
        return cache.list_of_row


def list_of_each_row(index: faiss.Index) -> np.ndarray:
    """(ntotal,) the inverted list of an IVF index that holds each row."""
    ivf = faiss.extract_index_ivf(index)
    return _list_of_row(_ivf_cache(index, ivf), ivf)


def _lists_with_rows(cache: _IvfCache, ivf: faiss.IndexIVF, lo: int, hi: int) -> np.ndarray:
    """Boolean (nlist,): which inverted lists hold a row in [lo, hi), once per range."""
    mask = cache.lists_with_rows.get((lo, hi))
    if mask is None:
        mask = np.bincount(_list_of_row(cache, ivf)[lo:hi], minlength=ivf.nlist) > 0
        cache.lists_with_rows[(lo, hi)] = mask
    return mask


def _ivf_filtered(
    index: faiss.Index, q: np.ndarray, k: int, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """IVF search restricted to rows [lo, hi): probe the nprobe best lists among those that
    hold such rows. Ranking all lists would spend the probes on lists of the other sensor: a
    text query's nearest S1 rows sit in lists ranked far below S2 lists (measured: recall 0.7)."""
    ivf = faiss.extract_index_ivf(index)
    cache = _ivf_cache(index, ivf)
    allowed = _lists_with_rows(cache, ivf, lo, hi)
    nprobe = int(min(ivf.nprobe, allowed.sum()))
    if nprobe == 0:
        return np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
    scores = q @ cache.centroids.T  # inner product = the quantizer's metric
    scores[:, ~allowed] = -np.inf
    assign = np.argpartition(-scores, nprobe - 1, axis=1)[:, :nprobe]
    sel = faiss.IDSelectorRange(lo, hi, True)  # assume_sorted: ids ascend within each list
    return _search_lists(ivf, q, k, assign, np.take_along_axis(scores, assign, 1), sel)


def _search_lists(
    ivf: faiss.IndexIVF, q: np.ndarray, k: int, assign: np.ndarray, coarse: np.ndarray,
    sel: faiss.IDSelector,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Scan the lists `assign` (Q, nprobe) chosen for each query, keeping rows `sel` passes."""
    assign = np.ascontiguousarray(assign, dtype=np.int64)
    coarse = np.ascontiguousarray(coarse, dtype=np.float32)
    params = faiss.SearchParametersIVF(sel=sel, nprobe=assign.shape[1])
    dist = np.empty((len(q), k), dtype=np.float32)
    ids = np.empty((len(q), k), dtype=np.int64)
    # The C++ call takes per-call params (the Python wrapper would need index.nprobe changed,
    # which is shared state between concurrent requests).
    ivf.search_preassigned_c(len(q), faiss.swig_ptr(q), k, faiss.swig_ptr(assign),
                             faiss.swig_ptr(coarse), faiss.swig_ptr(dist), faiss.swig_ptr(ids),
                             False, params)  # fmt: skip
    return dist, ids


def _params(index: faiss.Index, id_range: tuple[int, int] | None, k: int):
    """Search parameters of the index's own type (faiss refuses a mismatched type)."""
    kind = index_kind(index)
    sel = None
    widen = 1.0
    if id_range is not None:
        lo, hi = id_range
        sel = faiss.IDSelectorRange(lo, hi)
        widen = min(MAX_WIDEN, index.ntotal / max(hi - lo, 1))
    if kind == "hnsw":
        # The graph is walked through all rows; widen the beam by the share filtered out.
        ef = max(k, math.ceil(index.hnsw.efSearch * widen))
        params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef) if sel else (
            faiss.SearchParametersHNSW(efSearch=ef))  # fmt: skip
    elif sel is not None:
        params = faiss.SearchParameters(sel=sel)
    else:
        params = None
    return params, sel  # the selector must outlive the search call


def search_many(
    index: faiss.Index, queries: np.ndarray, k: int, id_range: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows) for a batch of queries (Q, d); rows are -1 where fewer than k exist."""
    q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32).reshape(-1, index.d))
    lo, hi = id_range if id_range is not None else (0, index.ntotal)
    k = min(k, max(hi - lo, 0))
    if k <= 0:
        return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
    if index_kind(index) == "ivf":
        if id_range is not None and (lo, hi) != (0, index.ntotal):
            return _ivf_filtered(index, q, k, lo, hi)
        return index.search(q, k)  # nprobe as stored in the index
    params, _sel = _params(index, id_range, k)
    if params is None:
        return index.search(q, k)
    return index.search(q, k, params=params)


def search(
    index: faiss.Index, query: np.ndarray, k: int, id_range: tuple[int, int] | None = None
) -> list[Hit]:
    """Top-k rows for one query vector, optionally restricted to rows in [lo, hi)."""
    scores, ids = search_many(index, np.asarray(query).reshape(1, -1), k, id_range)
    if ids.shape[1] == 0:
        return []
    return [Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


IVF_MAX_WIDEN = 4  # cap on the lists an IVF search within a row set probes, x nprobe
# A search within a row set probes lists, best first, until the kept rows in them reach this
# share of the rows an unfiltered search probes (python -m bench.grouping --vectors, BENCHMARKS.md).
IVF_KEPT_PROBED = 0.25
IVF_EXTEND_STEPS = 4  # then lists are added nprobe / 4 at a time while they improve the top k:
IVF_EXTEND_PATIENCE = 3  # the first step that changes nothing ends it, or once one has, 3 in a row
KEPT_CACHE = 16  # row sets whose per-list counts are kept, per index


def row_mask(rows: np.ndarray, n: int) -> np.ndarray:
    """`rows` (any order, duplicates allowed) as a boolean mask over `n` rows."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) and (rows.min() < 0 or rows.max() >= n):
        raise IndexError(f"rows outside the index's 0..{n - 1}")
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def search_rows(index: faiss.Index, query: np.ndarray, k: int, rows: np.ndarray) -> list[Hit]:
    """Top-k among an arbitrary set of rows (a place filter): `search_mask` of their mask."""
    return search_mask(index, query, k, row_mask(rows, int(index.ntotal)))


def _kept_per_list(
    cache: _IvfCache, ivf: faiss.IndexIVF, mask: np.ndarray, bits: np.ndarray
) -> np.ndarray:
    """(nlist,) kept rows in each list: ~3 ms at 650k rows, so kept per row set (by digest; a
    user's filter stays while the query text changes)."""
    key = hashlib.blake2b(bits.tobytes(), digest_size=16).digest()
    with _IVF_CACHE_LOCK:
        counts = cache.kept_per_list.get(key)
    if counts is None:
        counts = np.bincount(_list_of_row(cache, ivf)[mask], minlength=ivf.nlist)
        with _IVF_CACHE_LOCK:
            if len(cache.kept_per_list) >= KEPT_CACHE:
                cache.kept_per_list.pop(next(iter(cache.kept_per_list)))
            cache.kept_per_list[key] = counts
    return counts


def _ivf_in_mask(index: faiss.Index, q: np.ndarray, k: int, mask: np.ndarray, bits: np.ndarray,
                 sel: faiss.IDSelector) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Probe lists in the order the query ranks them, skipping those with no kept row, until
    the kept rows reached are `IVF_KEPT_PROBED` x the rows an unfiltered search probes (at
    least nprobe lists); then a further nprobe / `IVF_EXTEND_STEPS` lists at a time while they
    improve the top k: the first step that changes nothing ends it, but once a step has
    changed it, `IVF_EXTEND_PATIENCE` steps in a row must change nothing. Counting kept rows
    adapts to the filter's density; extending while the top k changes adapts to where its best
    rows are (a filter that leaves out what the query is near puts them on a shell spread over
    many lists, where improvements come and go)."""
    ivf = faiss.extract_index_ivf(index)
    cache = _ivf_cache(index, ivf)
    counts = _kept_per_list(cache, ivf, mask, bits)
    scores = (q @ cache.centroids.T)[0]
    scores[counts == 0] = -np.inf
    order = np.argsort(-scores)[: int(np.count_nonzero(counts))]
    target = IVF_KEPT_PROBED * ivf.nprobe * ivf.ntotal / ivf.nlist
    start = int(np.searchsorted(np.cumsum(counts[order]), target)) + 1
    last = min(len(order), IVF_MAX_WIDEN * ivf.nprobe)
    end = min(max(start, ivf.nprobe), last)
    dist, ids = _search_lists(ivf, q, k, order[None, :end], scores[None, order[:end]], sel)
    step = max(1, ivf.nprobe // IVF_EXTEND_STEPS)
    misses, patience = 0, 1
    while end < last:
        lists = order[None, end : end + step]
        end += lists.shape[1]
        more_dist, more_ids = _search_lists(ivf, q, k, lists, scores[lists], sel)
        if (ids[0] >= 0).all() and more_dist[0, 0] <= dist[0, -1]:
            misses += 1
            if misses >= patience:
                break  # these lists changed nothing in the top k
            continue
        misses, patience = 0, IVF_EXTEND_PATIENCE
        both_dist = np.concatenate([dist, more_dist], axis=1)
        both_ids = np.concatenate([ids, more_ids], axis=1)
        best = np.argsort(-np.where(both_ids >= 0, both_dist, -np.inf), axis=1, kind="stable")
        dist = np.take_along_axis(both_dist, best[:, :k], 1)
        ids = np.take_along_axis(both_ids, best[:, :k], 1)
    return dist, ids


def search_mask(
    index: faiss.Index, query: np.ndarray, k: int, mask: np.ndarray, kept: int | None = None
) -> list[Hit]:
    """Top-k among the rows `mask` (bool, one per row) keeps; `kept`: its count, if known.
    Exact on flat indexes; on IVF approximate, the probe chosen by kept rows (`_ivf_in_mask`).
    The mask goes to faiss as a bitmap (`IDSelectorBitmap`: a bit test per probed row, ~0.1 ms
    to pack at 650k rows), where `IDSelectorBatch` sorted and hashed the row ids on every query
    (49 ms for 300k rows). Small sets are better scored exactly from the embeddings
    (`search.candidates`)."""
    n = int(index.ntotal)
    mask = np.asarray(mask, dtype=bool)
    if len(mask) != n:
        raise ValueError(f"a mask of {len(mask)} rows for an index of {n}")
    kept = int(np.count_nonzero(mask)) if kept is None else kept
    k = min(k, kept)
    if k <= 0:
        return []
    bits = np.packbits(mask, bitorder="little")  # bit i & 7 of byte i >> 3: row i
    q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, index.d))
    sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))  # `bits` outlives the search below
    kind = index_kind(index)
    if kind == "ivf":
        scores, ids = _ivf_in_mask(index, q, k, mask, bits, sel)
    else:
        if kind == "hnsw":
            widen = min(MAX_WIDEN, n / kept)
            params = faiss.SearchParametersHNSW(
                sel=sel, efSearch=max(k, int(index.hnsw.efSearch * widen))
            )
        else:
            params = faiss.SearchParameters(sel=sel)
        scores, ids = index.search(q, k, params=params)
    return [Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
