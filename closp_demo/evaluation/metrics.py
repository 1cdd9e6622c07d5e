"""Retrieval metrics on one ranking, encoder-agnostic (they only see scores and gains).

Condensed lists (Sakai 2007, "Alternatives to bpref", SIGIR): unjudged items are removed from the
ranking before scoring, so an unlabelled image neither helps nor hurts; n below is the length of
the condensed list (the judged pool), R the number of relevant items in it.

Metrics on a ranking (corpus indices, best first; position i = 1, 2, ...), g_i / rel_i the gain /
binary relevance of the item at position i (gains: `relevance.py`, or qrels):
- DCG@k  = sum_{i=1}^{min(k,n)} g_i / log2(i + 1)   (linear gains, log2 discount, as trec_eval)
- nDCG@k = DCG@k / IDCG@k, IDCG@k = DCG@k of the judged pool sorted by decreasing gain
- P@k    = (sum_{i<=k} rel_i) / k                    (divides by k even past the list's end)
- R@k    = (sum_{i<=k} rel_i) / R                    (recall; undefined when R = 0)
- AP     = (1/R) sum_{i: rel_i = 1} P@i              (binary; relevant items never ranked add 0)
- MAP    = mean of AP over queries.
Queries with R = 0 have no defined score and are left out of every mean (reported as such).
Their random-ranking and presence-oracle baselines, exact expectations: `baselines.py`.

Ties in the scores are broken by corpus order (stable sort), so results are deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFAULT_KS: tuple[int, ...] = (10, 100, 1000)


def check_k(k: int) -> int:
    """`k` as an int; raises unless it is a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _as_ranking(ranking: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    r = np.asarray(ranking)
    if r.size == 0:
        return r.astype(np.intp).reshape(0)
    if r.ndim != 1 or not np.issubdtype(r.dtype, np.integer):
        raise ValueError(
            f"a ranking must be a 1-D array of corpus indices, got {r.dtype} {r.shape}"
        )
    if r.min() < 0 or r.max() >= n:
        raise ValueError(f"ranking indices must lie in [0, {n}), got {r.min()}..{r.max()}")
    if np.unique(r).size != r.size:
        raise ValueError("a ranking must not list a corpus index twice")
    return r.astype(np.intp)


def as_gains(gains: Sequence[float] | np.ndarray) -> np.ndarray:
    """(N,) float64 gains; raises unless 1-D, finite and non-negative."""
    g = np.asarray(gains, dtype=np.float64)
    if g.ndim != 1:
        raise ValueError(
            f"gains / relevance must be 1-D (one value per corpus item), got {g.shape}"
        )
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise ValueError("gains / relevance must be finite and non-negative")
    return g


def rank(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Corpus indices by decreasing score; ties keep corpus order (stable)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or not np.all(np.isfinite(s)):
        raise ValueError("scores must be a finite 1-D array")
    return np.argsort(-s, kind="stable")


def condense(
    ranking: Sequence[int] | np.ndarray, judged: Sequence[bool] | np.ndarray
) -> np.ndarray:
    """Remove unjudged (unlabelled) items from a ranking, keeping the order of the rest."""
    mask = np.asarray(judged, dtype=bool)
    r = _as_ranking(ranking, mask.size)
    return r[mask[r]]


def dcg_at_k(ranked_gains: Sequence[float] | np.ndarray, k: int) -> float:
    """sum_{i=1}^{min(k, len)} g_i / log2(i + 1) over gains already in rank order."""
    g = np.asarray(ranked_gains, dtype=np.float64)[: check_k(k)]
    return float(np.sum(g / np.log2(np.arange(2, g.size + 2))))


def ideal_order(gains: np.ndarray) -> np.ndarray:
    """The gains of the ideal ranking: decreasing."""
    return np.sort(gains)[::-1]


def _ndcg(ranked_gains: np.ndarray, ideal: np.ndarray, k: int) -> float:
    best = dcg_at_k(ideal, k)
    return dcg_at_k(ranked_gains, k) / best if best > 0 else math.nan


def _recall(ranked_rel: np.ndarray, n_relevant: int, k: int) -> float:
    return float(ranked_rel[:k].sum()) / n_relevant if n_relevant else math.nan


def _average_precision(ranked_rel: np.ndarray, n_relevant: int) -> float:
    if not n_relevant:
        return math.nan
    positions = np.flatnonzero(ranked_rel) + 1  # 1-based ranks of the relevant items
    return float(np.sum(np.arange(1, positions.size + 1) / positions)) / n_relevant


def ndcg_at_k(
    ranking: Sequence[int] | np.ndarray, gains: Sequence[float] | np.ndarray, k: int
) -> float:
    """nDCG@k of `ranking` (corpus indices) with per-item `gains`; NaN when no gain is positive.

    The ideal DCG is taken over all of `gains`, the judged pool: give unjudged items gain 0 (or
    leave them out) and condense the ranking first.
    """
    g = as_gains(gains)
    return _ndcg(g[_as_ranking(ranking, g.size)], ideal_order(g), check_k(k))


def precision_at_k(
    ranking: Sequence[int] | np.ndarray, relevant: Sequence[float] | np.ndarray, k: int
) -> float:
    """Relevant items in the top k, divided by k; `relevant` > 0 counts as relevant."""
    rel = as_gains(relevant) > 0
    k = check_k(k)
    return float(rel[_as_ranking(ranking, rel.size)][:k].sum()) / k


def recall_at_k(
    ranking: Sequence[int] | np.ndarray, relevant: Sequence[float] | np.ndarray, k: int
) -> float:
    """Relevant items in the top k over all relevant items; NaN when there are none."""
    rel = as_gains(relevant) > 0
    return _recall(rel[_as_ranking(ranking, rel.size)], int(rel.sum()), check_k(k))


def average_precision(
    ranking: Sequence[int] | np.ndarray, relevant: Sequence[float] | np.ndarray
) -> float:
    """Binary AP: mean over ALL relevant items of P@(its rank), 0 for those not ranked."""
    rel = as_gains(relevant) > 0
    return _average_precision(rel[_as_ranking(ranking, rel.size)], int(rel.sum()))


def metric_names(ks: Sequence[int]) -> list[str]:
    """Column names in report order: nDCG@k..., P@k..., R@k..., AP."""
    return [f"nDCG@{k}" for k in ks] + [f"P@{k}" for k in ks] + [f"R@{k}" for k in ks] + ["AP"]


def list_metrics(ranked_gains: np.ndarray, ideal: np.ndarray, ks: Sequence[int]) -> list[float]:
    """All metrics of one condensed list, in `metric_names` order (gains already in rank order,
    `ideal` = `ideal_order` of the judged pool); no input checks, callers pass checked arrays."""
    rel = ranked_gains > 0
    n_rel = int((ideal > 0).sum())
    return (
        [_ndcg(ranked_gains, ideal, k) for k in ks]
        + [float(rel[:k].sum()) / k for k in ks]
        + [_recall(rel, n_rel, k) for k in ks]
        + [_average_precision(rel, n_rel)]
    )
