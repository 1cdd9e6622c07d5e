"""Baselines for the metrics of `metrics.py`, exact expectations computed in the same run.

Random baseline, a ranking drawn uniformly from all n! orders, exact by linearity of expectation:
- E[P@k]    = R / n                        (each position holds a relevant item w.p. R/n; k <= n)
- E[R@k]    = k / n                        (k <= n)
- E[nDCG@k] = mean(g) * sum_{i<=k} 1/log2(i+1) / IDCG@k   (E[g_i] = mean gain of the pool)
- E[AP]     = (H_n + (R-1)(n-H_n)/(n-1)) / n, H_n = sum_{i=1}^n 1/i. Derivation: AP =
  (1/R) sum_i rel_i (1/i) sum_{j<=i} rel_j, E[rel_i] = R/n, E[rel_i rel_j] = R(R-1)/(n(n-1))
  for i != j; summing gives the formula (Bestgen 2015); it is ~R/n for large n.
The expectation is the reported baseline; a Monte-Carlo estimate (fixed seed, `n_shuffles`
random rankings, mean +- standard error) is reported beside it as an independent check.

Presence oracle, the ceiling for an encoder that knows WHICH classes an image carries but not how
many labels it carries (so not its graded gain): every relevant item (g > 0) is ranked above every
irrelevant one, in uniformly random order among the relevant and among the irrelevant items. Its
exact expectation, again by linearity (IDCG@k is fixed, so E[nDCG@k] = E[DCG@k] / IDCG@k):
- E[nDCG@k] = mean(g_rel) * sum_{i<=min(k,R)} 1/log2(i+1) / IDCG@k: positions 1..R hold a
  uniformly random relevant item each (E[g_i] = mean relevant gain), positions > R gain 0;
- P@k = min(k, R) / k, R@k = min(k, R) / R, AP = 1: deterministic, the best any ranking can do
  on binary relevance.
So only graded nDCG stays below 1: the ideal ranking (1.0 by definition) puts the relevant items in
decreasing gain, i.e. single-label images before mixed ones, which presence alone cannot tell. By
the rearrangement inequality the oracle's nDCG@k is 1 iff all relevant gains are equal (always so
for binary relevance), and it is >= the random expectation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from closp_demo.evaluation.metrics import (
    as_gains,
    check_k,
    dcg_at_k,
    ideal_order,
    list_metrics,
    metric_names,
)

DEFAULT_SHUFFLES = 100

# --------------------------------------------------------------------------------------------
# Random baseline


def _check_pool(n_relevant: int, n: int) -> None:
    if n < 1 or not 0 <= n_relevant <= n:
        raise ValueError(f"need 0 <= R <= n and n >= 1, got R={n_relevant}, n={n}")


def expected_random_precision(n_relevant: int, n: int, k: int) -> float:
    """E[P@k] under a uniformly random ranking of n items, R of them relevant: R min(k,n)/(n k)."""
    k = check_k(k)
    _check_pool(n_relevant, n)
    return n_relevant * min(k, n) / (n * k)


def expected_random_recall(n_relevant: int, n: int, k: int) -> float:
    """E[R@k] = min(k, n) / n; NaN when R = 0."""
    k = check_k(k)
    _check_pool(n_relevant, n)
    return min(k, n) / n if n_relevant else math.nan


def expected_random_ndcg(gains: Sequence[float] | np.ndarray, k: int) -> float:
    """E[nDCG@k] = mean(g) * sum_{i<=min(k,n)} 1/log2(i+1) / IDCG@k (gains = the judged pool)."""
    g = as_gains(gains)
    k = check_k(k)
    best = dcg_at_k(ideal_order(g), k)
    if best == 0:
        return math.nan
    m = min(k, g.size)
    return float(g.mean() * np.sum(1.0 / np.log2(np.arange(2, m + 2)))) / best


def expected_random_average_precision(n_relevant: int, n: int) -> float:
    """E[AP] = (H_n + (R-1)(n-H_n)/(n-1)) / n, exact (see the module docstring); NaN if R = 0."""
    _check_pool(n_relevant, n)
    if not n_relevant:
        return math.nan
    if n == 1:
        return 1.0
    h = float(np.sum(1.0 / np.arange(1, n + 1)))
    return (h + (n_relevant - 1) * (n - h) / (n - 1)) / n


def random_baseline_monte_carlo(
    gains: np.ndarray, ks: Sequence[int], n_shuffles: int = DEFAULT_SHUFFLES, seed: int = 0
) -> tuple[dict[str, float], dict[str, float]]:
    """Mean over queries of every metric under random rankings: (estimate, standard error).

    `gains` is (Q, n), the judged pool of each query (queries with R = 0 should be dropped first).
    Each shuffle draws one random permutation shared by all queries (a random encoder ranking
    the corpus once); the query-mean of each shuffle is one i.i.d. sample, so the standard error
    is std / sqrt(n_shuffles). Cost ~ Q * n_shuffles * n.
    """
    g = np.asarray(gains, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] == 0 or g.shape[1] == 0:
        raise ValueError(f"gains must be (Q, n) with Q, n >= 1, got {g.shape}")
    if n_shuffles < 2:
        raise ValueError(f"n_shuffles must be >= 2 for a standard error, got {n_shuffles}")
    ks = [check_k(k) for k in ks]
    ideals = [ideal_order(row) for row in g]
    rng = np.random.default_rng(seed)
    per_shuffle = np.empty((n_shuffles, len(metric_names(ks))))
    for s in range(n_shuffles):
        perm = rng.permutation(g.shape[1])
        rows = [list_metrics(g[q, perm], ideals[q], ks) for q in range(g.shape[0])]
        per_shuffle[s] = np.nanmean(np.array(rows), axis=0)
    names = metric_names(ks)
    mean = per_shuffle.mean(axis=0)
    stderr = per_shuffle.std(axis=0, ddof=1) / math.sqrt(n_shuffles)
    return dict(zip(names, mean.tolist(), strict=True)), dict(
        zip(names, stderr.tolist(), strict=True)
    )


# --------------------------------------------------------------------------------------------
# Presence oracle (relevant items first, random order within relevant and within irrelevant)


def expected_oracle_ndcg(gains: Sequence[float] | np.ndarray, k: int) -> float:
    """E[nDCG@k] of the presence oracle: mean(g_rel) sum_{i<=min(k,R)} 1/log2(i+1) / IDCG@k,
    i.e. a random ranking of the relevant items alone (zeros do not change the ideal DCG)."""
    g = as_gains(gains)
    if not (g > 0).any():
        return math.nan
    return expected_random_ndcg(g[g > 0], k)


def expected_oracle_precision(n_relevant: int, n: int, k: int) -> float:
    """P@k of the presence oracle: min(k, R) / k (the same for every order among relevant)."""
    k = check_k(k)
    _check_pool(n_relevant, n)
    return min(k, n_relevant) / k


def expected_oracle_recall(n_relevant: int, n: int, k: int) -> float:
    """R@k of the presence oracle: min(k, R) / R; NaN when R = 0."""
    k = check_k(k)
    _check_pool(n_relevant, n)
    return min(k, n_relevant) / n_relevant if n_relevant else math.nan


def expected_oracle_average_precision(n_relevant: int, n: int) -> float:
    """AP of the presence oracle: 1 (all relevant items come first); NaN when R = 0."""
    _check_pool(n_relevant, n)
    return 1.0 if n_relevant else math.nan


# --------------------------------------------------------------------------------------------
# Every metric of one judged pool


def expected_row(
    g: np.ndarray, ks: Sequence[int], ranking: Literal["random", "oracle"]
) -> list[float]:
    """Exact expectation of every metric of one judged pool (`metric_names` order) under the
    "random" or the "oracle" (presence) ranking."""
    n, r = g.size, int((g > 0).sum())
    if ranking == "random":
        ndcg, prec = expected_random_ndcg, expected_random_precision
        rec, ap = expected_random_recall, expected_random_average_precision
    else:
        ndcg, prec = expected_oracle_ndcg, expected_oracle_precision
        rec, ap = expected_oracle_recall, expected_oracle_average_precision
    return (
        [ndcg(g, k) for k in ks]
        + [prec(r, n, k) for k in ks]
        + [rec(r, n, k) for k in ks]
        + [ap(r, n)]
    )
