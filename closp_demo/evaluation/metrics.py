"""Retrieval metrics for text-to-image search, encoder-agnostic (they only see scores and labels).

Relevance (image labels vs the query's class set C, an image may carry several labels L):
- binary: rel = 1 if L and C intersect (the image carries one of the query's classes);
- graded: g = |L ∩ C| / |L|, the share of the image's labels the query asks for: an image labelled
  only Water gets 1.0 for "water", one labelled Water + Trees + Crops gets 1/3. g > 0 iff rel = 1.
- judged: an image is judged iff it has at least one label. Unlabelled images are unjudged.

Condensed lists (Sakai 2007, "Alternatives to bpref", SIGIR): unjudged items are removed from the
ranking before scoring, so an unlabelled image neither helps nor hurts; n below is the length of
the condensed list (the judged pool), R the number of relevant items in it.

Metrics on a ranking (corpus indices, best first; position i = 1, 2, ...), g_i / rel_i the gain /
binary relevance of the item at position i:
- DCG@k  = sum_{i=1}^{min(k,n)} g_i / log2(i + 1)   (linear gains, log2 discount, as trec_eval)
- nDCG@k = DCG@k / IDCG@k, IDCG@k = DCG@k of the judged pool sorted by decreasing gain
- P@k    = (sum_{i<=k} rel_i) / k                    (divides by k even past the list's end)
- R@k    = (sum_{i<=k} rel_i) / R                    (recall; undefined when R = 0)
- AP     = (1/R) sum_{i: rel_i = 1} P@i              (binary; relevant items never ranked add 0)
- MAP    = mean of AP over queries.
Queries with R = 0 have no defined score and are left out of every mean (reported as such).

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

Ties in the scores are broken by corpus order (stable sort), so results are deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from closp_demo.corpus.labels import ALL_CLASSES
from closp_demo.evaluation.queries import Query
from closp_demo.sensors import SENSOR_NAMES, SENSORS

DEFAULT_KS: tuple[int, ...] = (10, 100, 1000)
DEFAULT_SHUFFLES = 100
SUBSETS: tuple[str, ...] = ("S1", "S2", "both")
SUBSET_NAMES: dict[str, str] = {**SENSOR_NAMES, "both": "S1 + S2, one mixed corpus"}
KIND_NAMES: dict[str, str] = {"class": "class names", "paraphrase": "paraphrases", "qrels": "qrels"}

# --------------------------------------------------------------------------------------------
# Relevance


def _label_sets(image_labels: Sequence[Iterable[str]]) -> list[frozenset[str]]:
    out = []
    for i, labels in enumerate(image_labels):
        if isinstance(labels, str):
            raise ValueError(f"image #{i}: labels must be a collection of class names, not a str")
        labels = frozenset(labels)
        unknown = sorted(labels - set(ALL_CLASSES))
        if unknown:
            raise ValueError(f"image #{i}: unknown label(s) {unknown}; known: {list(ALL_CLASSES)}")
        out.append(labels)
    return out


def _class_set(classes: Iterable[str]) -> frozenset[str]:
    if isinstance(classes, str):
        classes = (classes,)
    wanted = frozenset(classes)
    unknown = sorted(wanted - set(ALL_CLASSES))
    if unknown:
        raise ValueError(f"unknown query class(es) {unknown}; known: {list(ALL_CLASSES)}")
    if not wanted:
        raise ValueError("a query needs at least one class to derive relevance from labels")
    return wanted


def judged_mask(image_labels: Sequence[Iterable[str]]) -> np.ndarray:
    """(N,) bool: the image has at least one label (it is in the judged pool)."""
    return np.array([bool(s) for s in _label_sets(image_labels)], dtype=bool)


def binary_relevance(image_labels: Sequence[Iterable[str]], classes: Iterable[str]) -> np.ndarray:
    """(N,) bool: the image carries at least one of `classes`."""
    wanted = _class_set(classes)
    return np.array([bool(s & wanted) for s in _label_sets(image_labels)], dtype=bool)


def graded_relevance(image_labels: Sequence[Iterable[str]], classes: Iterable[str]) -> np.ndarray:
    """(N,) float in [0, 1]: share of the image's labels in `classes` (0 when unlabelled)."""
    wanted = _class_set(classes)
    sets = _label_sets(image_labels)
    return np.array([len(s & wanted) / len(s) if s else 0.0 for s in sets], dtype=np.float64)


def relevance_matrix(
    image_labels: Sequence[Iterable[str]],
    query_classes: Sequence[Iterable[str]],
    graded: bool = True,
) -> np.ndarray:
    """(Q, N) float64 gains, one row per query class set (binary rows are 0/1)."""
    sets = _label_sets(image_labels)
    out = np.zeros((len(query_classes), len(sets)), dtype=np.float64)
    for q, classes in enumerate(query_classes):
        wanted = _class_set(classes)
        for j, s in enumerate(sets):
            hit = len(s & wanted)
            out[q, j] = (hit / len(s) if graded else float(hit > 0)) if s else 0.0
    return out


# --------------------------------------------------------------------------------------------
# Rankings and per-list metrics


def _check_k(k: int) -> int:
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


def _as_gains(gains: Sequence[float] | np.ndarray) -> np.ndarray:
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
    g = np.asarray(ranked_gains, dtype=np.float64)[: _check_k(k)]
    return float(np.sum(g / np.log2(np.arange(2, g.size + 2))))


def _ideal(gains: np.ndarray) -> np.ndarray:
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
    g = _as_gains(gains)
    return _ndcg(g[_as_ranking(ranking, g.size)], _ideal(g), _check_k(k))


def precision_at_k(
    ranking: Sequence[int] | np.ndarray, relevant: Sequence[float] | np.ndarray, k: int
) -> float:
    """Relevant items in the top k, divided by k; `relevant` > 0 counts as relevant."""
    rel = _as_gains(relevant) > 0
    k = _check_k(k)
    return float(rel[_as_ranking(ranking, rel.size)][:k].sum()) / k


def recall_at_k(
    ranking: Sequence[int] | np.ndarray, relevant: Sequence[float] | np.ndarray, k: int
) -> float:
    """Relevant items in the top k over all relevant items; NaN when there are none."""
    rel = _as_gains(relevant) > 0
    return _recall(rel[_as_ranking(ranking, rel.size)], int(rel.sum()), _check_k(k))


def average_precision(
    ranking: Sequence[int] | np.ndarray, relevant: Sequence[float] | np.ndarray
) -> float:
    """Binary AP: mean over ALL relevant items of P@(its rank), 0 for those not ranked."""
    rel = _as_gains(relevant) > 0
    return _average_precision(rel[_as_ranking(ranking, rel.size)], int(rel.sum()))


# --------------------------------------------------------------------------------------------
# Random baseline


def expected_random_precision(n_relevant: int, n: int, k: int) -> float:
    """E[P@k] under a uniformly random ranking of n items, R of them relevant: R min(k,n)/(n k)."""
    k = _check_k(k)
    _check_pool(n_relevant, n)
    return n_relevant * min(k, n) / (n * k)


def expected_random_recall(n_relevant: int, n: int, k: int) -> float:
    """E[R@k] = min(k, n) / n; NaN when R = 0."""
    k = _check_k(k)
    _check_pool(n_relevant, n)
    return min(k, n) / n if n_relevant else math.nan


def expected_random_ndcg(gains: Sequence[float] | np.ndarray, k: int) -> float:
    """E[nDCG@k] = mean(g) * sum_{i<=min(k,n)} 1/log2(i+1) / IDCG@k (gains = the judged pool)."""
    g = _as_gains(gains)
    k = _check_k(k)
    best = dcg_at_k(_ideal(g), k)
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


def _check_pool(n_relevant: int, n: int) -> None:
    if n < 1 or not 0 <= n_relevant <= n:
        raise ValueError(f"need 0 <= R <= n and n >= 1, got R={n_relevant}, n={n}")


def metric_names(ks: Sequence[int]) -> list[str]:
    """Column names in report order: nDCG@k..., P@k..., R@k..., AP."""
    return [f"nDCG@{k}" for k in ks] + [f"P@{k}" for k in ks] + [f"R@{k}" for k in ks] + ["AP"]


def _list_metrics(ranked_gains: np.ndarray, ideal: np.ndarray, ks: Sequence[int]) -> list[float]:
    """All metrics of one condensed list, in `metric_names` order (gains already in rank order)."""
    rel = ranked_gains > 0
    n_rel = int((ideal > 0).sum())
    return (
        [_ndcg(ranked_gains, ideal, k) for k in ks]
        + [float(rel[:k].sum()) / k for k in ks]
        + [_recall(rel, n_rel, k) for k in ks]
        + [_average_precision(rel, n_rel)]
    )


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
    ks = [_check_k(k) for k in ks]
    ideals = [_ideal(row) for row in g]
    rng = np.random.default_rng(seed)
    per_shuffle = np.empty((n_shuffles, len(metric_names(ks))))
    for s in range(n_shuffles):
        perm = rng.permutation(g.shape[1])
        rows = [_list_metrics(g[q, perm], ideals[q], ks) for q in range(g.shape[0])]
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
    g = _as_gains(gains)
    if not (g > 0).any():
        return math.nan
    return expected_random_ndcg(g[g > 0], k)


def expected_oracle_precision(n_relevant: int, n: int, k: int) -> float:
    """P@k of the presence oracle: min(k, R) / k (the same for every order among relevant)."""
    k = _check_k(k)
    _check_pool(n_relevant, n)
    return min(k, n_relevant) / k


def expected_oracle_recall(n_relevant: int, n: int, k: int) -> float:
    """R@k of the presence oracle: min(k, R) / R; NaN when R = 0."""
    k = _check_k(k)
    _check_pool(n_relevant, n)
    return min(k, n_relevant) / n_relevant if n_relevant else math.nan


def expected_oracle_average_precision(n_relevant: int, n: int) -> float:
    """AP of the presence oracle: 1 (all relevant items come first); NaN when R = 0."""
    _check_pool(n_relevant, n)
    return 1.0 if n_relevant else math.nan


# --------------------------------------------------------------------------------------------
# Evaluating a score matrix

Ranking = Literal["model", "random", "oracle"]
RANKING_NAMES: dict[str, str] = {
    "model": "model",
    "random": "random, expected",
    "oracle": "presence oracle, expected",
}


@dataclass
class MetricReport:
    """`evaluate`'s output for one corpus: per-query tables, means and the two baselines."""

    per_query: pd.DataFrame  # one row per query; metric columns NaN where R = 0
    metrics: list[str]  # reported metric columns (those with k <= n_judged)
    means: dict[str, float]  # over queries with R >= 1
    random_expected: dict[str, float]  # exact expectation, mean over the same queries
    random_monte_carlo: dict[str, float]  # empty when n_shuffles = 0
    random_stderr: dict[str, float]
    oracle_expected: dict[str, float]  # presence oracle, exact expectation, same queries
    random_per_query: pd.DataFrame  # rows aligned with per_query, columns = metrics
    oracle_per_query: pd.DataFrame
    n_images: int
    n_judged: int
    n_scored: int  # queries with R >= 1
    n_shuffles: int
    seed: int
    notes: list[str] = field(default_factory=list)

    def _values(self, ranking: Ranking) -> pd.DataFrame:
        tables = {
            "model": self.per_query,
            "random": self.random_per_query,
            "oracle": self.oracle_per_query,
        }
        if ranking not in tables:
            raise ValueError(f"ranking must be one of {list(tables)}, got {ranking!r}")
        return tables[ranking]

    def kind_means(self, ranking: Ranking = "model") -> dict[str, dict[str, float]]:
        """Means per query kind ("class", "paraphrase", "qrels"), only kinds present; of the
        model's metrics, the random expectation or the presence oracle's."""
        values = self._values(ranking)
        scored = self.per_query["n_relevant"] > 0
        kinds = self.per_query.loc[scored, "kind"]
        return {
            kind: {m: float(values.loc[part.index, m].mean()) for m in self.metrics}
            for kind, part in kinds.groupby(kinds, sort=False)
        }

    def query_table(self, metric: str) -> pd.DataFrame:
        """One row per query with R >= 1: query, query_id, kind, n_relevant, mean_relevant_gain, and
        `metric` for the model, the random expectation and the presence oracle."""
        if metric not in self.metrics:
            raise ValueError(f"{metric!r} is not reported here; reported: {self.metrics}")
        scored = self.per_query["n_relevant"] > 0
        columns = ["query", "query_id", "kind", "n_relevant", "mean_relevant_gain"]
        out = self.per_query.loc[scored, columns]
        return out.assign(
            model=self.per_query.loc[scored, metric],
            random=self.random_per_query.loc[scored, metric],
            oracle=self.oracle_per_query.loc[scored, metric],
        ).reset_index(drop=True)


def evaluate(
    scores: np.ndarray,
    gains: np.ndarray,
    judged: np.ndarray | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    queries: Sequence[Query] | None = None,
    n_shuffles: int = DEFAULT_SHUFFLES,
    seed: int = 0,
) -> MetricReport:
    """Score a (Q, N) similarity matrix against (Q, N) gains on condensed lists.

    `judged` (N,) bool drops unjudged images from every ranking (None: all judged). Binary
    relevance is gains > 0. A metric @k is reported only when the judged list has >= k items:
    past that the whole list is retrieved and P@k, R@k no longer depend on the ranking (the
    output's notes say which were left out). `n_shuffles` = 0 skips the Monte-Carlo check.
    The random baseline and the presence oracle are exact expectations (module docstring).
    """
    scores = np.asarray(scores, dtype=np.float64)
    gains = np.asarray(gains, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"scores must be a (queries, images) matrix, got shape {scores.shape}")
    if gains.shape != scores.shape:
        raise ValueError(f"gains shape {gains.shape} differs from scores shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinite values (check the encoder's outputs)")
    if not np.all(np.isfinite(gains)) or np.any(gains < 0):
        raise ValueError("gains must be finite and non-negative")
    n_queries, n_images = scores.shape
    mask = np.ones(n_images, bool) if judged is None else np.asarray(judged, dtype=bool)
    if mask.shape != (n_images,):
        raise ValueError(f"judged must be ({n_images},) bools, got shape {mask.shape}")
    if queries is not None and len(queries) != n_queries:
        raise ValueError(f"{len(queries)} queries given for {n_queries} score rows")
    ks = tuple(sorted({_check_k(k) for k in ks}))
    if not ks:
        raise ValueError("ks must name at least one cut-off")
    n = int(mask.sum())
    if n == 0:
        raise ValueError("no judged (labelled) image to evaluate on")

    # Condensed lists: unjudged columns leave every ranking before it is scored.
    s, g = scores[:, mask], gains[:, mask]
    kept_ks = tuple(k for k in ks if k <= n)
    names_all = metric_names(ks)
    names = metric_names(kept_ks)
    n_rel = (g > 0).sum(axis=1)
    values = np.full((n_queries, len(names_all)), math.nan)
    random_rows = np.full((n_queries, len(names)), math.nan)
    oracle_rows = np.full((n_queries, len(names)), math.nan)
    mean_gain = np.full(n_queries, math.nan)
    for q in range(n_queries):
        if n_rel[q]:
            values[q] = _list_metrics(g[q, rank(s[q])], _ideal(g[q]), ks)
            random_rows[q] = _expected_row(g[q], kept_ks, "random")
            oracle_rows[q] = _expected_row(g[q], kept_ks, "oracle")
            mean_gain[q] = g[q][g[q] > 0].mean()
    table = pd.DataFrame(values, columns=names_all)[names]
    info = pd.DataFrame(
        {
            "query": [qq.text for qq in queries]
            if queries
            else [f"q{i}" for i in range(n_queries)],
            "query_id": [qq.query_id for qq in queries] if queries else [""] * n_queries,
            "kind": [qq.kind for qq in queries] if queries else [""] * n_queries,
            "classes": ["|".join(qq.classes) for qq in queries] if queries else [""] * n_queries,
            "n_judged": n,
            "n_relevant": n_rel,
            "mean_relevant_gain": mean_gain,
        }
    )
    per_query = pd.concat([info, table], axis=1)
    random_table = pd.DataFrame(random_rows, columns=names)
    oracle_table = pd.DataFrame(oracle_rows, columns=names)

    scored = np.flatnonzero(n_rel > 0)

    def query_means(t: pd.DataFrame) -> dict[str, float]:
        return {m: float(t[m].iloc[scored].mean()) if scored.size else math.nan for m in names}

    mc, se = {}, {}
    if n_shuffles and scored.size:
        mc, se = random_baseline_monte_carlo(g[scored], kept_ks, n_shuffles, seed)

    notes = []
    dropped = [k for k in ks if k > n]
    if dropped:
        cut = ", ".join(f"@{k}" for k in dropped)
        notes.append(f"metrics {cut} not reported: the judged list has only {n} images (< k).")
    if n < n_images:
        notes.append(f"{n_images - n} unlabelled images removed from every ranking (condensed).")
    empty = per_query.loc[n_rel == 0, "query"].tolist()
    if empty:
        notes.append(
            f"{len(empty)} queries have no relevant image and are left out of the means: "
            + ", ".join(repr(t) for t in empty)
        )
    return MetricReport(
        per_query=per_query,
        metrics=names,
        means=query_means(table),
        random_expected=query_means(random_table),
        random_monte_carlo=mc,
        random_stderr=se,
        oracle_expected=query_means(oracle_table),
        random_per_query=random_table,
        oracle_per_query=oracle_table,
        n_images=n_images,
        n_judged=n,
        n_scored=int(scored.size),
        n_shuffles=int(n_shuffles) if mc else 0,
        seed=seed,
        notes=notes,
    )


def _expected_row(g: np.ndarray, ks: Sequence[int], ranking: str) -> list[float]:
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


# --------------------------------------------------------------------------------------------
# Encoder outputs -> per-sensor evaluation


@dataclass
class EvaluationResult:
    """Per-sensor evaluation of one encoder on one corpus (see `run_evaluation`)."""

    queries: list[Query]
    ks: tuple[int, ...]
    relevance: str  # "graded", "binary" or "given" (gains passed in, e.g. from qrels)
    reports: dict[str, MetricReport]  # "S1", "S2", "both"; subsets without judged images absent
    n_images: dict[str, int]  # images per subset, labelled or not
    notes: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Long table: subset, group (all / a query kind, each with its random and presence
        oracle baselines), metric, value."""
        rows = []
        for subset, rep in self.reports.items():
            groups = {
                "all": rep.means,
                **rep.kind_means(),
                "random (expected)": rep.random_expected,
            }
            if rep.random_monte_carlo:
                groups["random (Monte-Carlo)"] = rep.random_monte_carlo
            groups["presence oracle (expected)"] = rep.oracle_expected
            for kind, means in rep.kind_means("random").items():
                groups[f"{kind}: random (expected)"] = means
            for kind, means in rep.kind_means("oracle").items():
                groups[f"{kind}: presence oracle (expected)"] = means
            for group, means in groups.items():
                for metric in rep.metrics:
                    rows.append((subset, group, metric, means.get(metric, math.nan)))
        return pd.DataFrame(rows, columns=["subset", "group", "metric", "value"])

    def to_markdown(self, per_query: bool | str | Iterable[str] = False) -> str:
        """The report; `per_query` adds, per subset, a table query -> first nDCG@k of the model,
        random expectation and presence oracle: True or "all" for every query, a kind ("class")
        or kinds for those only."""
        kinds: dict[str, int] = {}
        for q in self.queries:
            kinds[q.kind] = kinds.get(q.kind, 0) + 1
        counts = ", ".join(f"{n} {KIND_NAMES.get(k, k)}" for k, n in kinds.items())
        relevance = {
            "graded": "graded: share of an image's labels in the query's class set",
            "binary": "binary: the image carries one of the query's classes",
            "given": "gains given by the caller (e.g. CrisisLandMark qrels)",
        }.get(self.relevance, self.relevance)
        lines = [
            "## Retrieval evaluation",
            "",
            f"- Queries: {len(self.queries)} ({counts}).",
            f"- Relevance for nDCG: {relevance}; P@k, R@k and AP count any positive gain as "
            "relevant. nDCG uses linear gains and a log2 discount, the ideal taken over the "
            "judged pool.",
            "- Condensed lists: unlabelled (unjudged) images are removed from each ranking before "
            "scoring (Sakai 2007). Queries with no relevant image are left out of the means.",
            "- Random baseline: exact expectation over uniformly random rankings; Monte-Carlo "
            "estimate beside it as a check (mean ± standard error).",
            "- Presence oracle: exact expectation (closed form, no sampling) for a ranking that "
            "puts every relevant image above every irrelevant one, in random order within each: "
            "an encoder that knows which classes an image carries but not how many labels it "
            "has. Its P@k, R@k and MAP are the best possible; its nDCG stays below 1 under "
            "graded relevance, because the ideal ranking (nDCG 1.0 by definition) also puts "
            "single-label images, gain 1, before mixed ones, gain 1/(number of labels).",
            "- A metric @k is shown only when the judged list has at least k images.",
        ]
        lines += [f"- {note}" for note in self.notes]
        show = per_query is not False
        kinds = _per_query_kinds(per_query) if show else None
        for subset, rep in self.reports.items():
            lines += ["", *self._subset_markdown(subset, rep, show, kinds)]
        return "\n".join(lines) + "\n"

    def _subset_markdown(
        self, subset: str, rep: MetricReport, per_query: bool, kinds: set[str] | None
    ) -> list[str]:
        title = SUBSET_NAMES.get(subset, subset)
        lines = [
            f"### {subset} ({title}): {rep.n_images} images, {rep.n_judged} labelled",
            "",
        ]
        if not rep.metrics:
            return [*lines, "No metric reported.", *[f"- {n}" for n in rep.notes]]
        table = [["queries", "ranking", *[_metric_label(m) for m in rep.metrics]]]

        def add(group: str, ranking: str, values: dict[str, str]) -> None:
            table.append([group, ranking, *[values[m] for m in rep.metrics]])

        def fmt_all(means: dict[str, float]) -> dict[str, str]:
            return {m: _fmt(means.get(m, math.nan)) for m in rep.metrics}

        add(f"all (n={rep.n_scored})", "model", fmt_all(rep.means))
        add("", RANKING_NAMES["random"], fmt_all(rep.random_expected))
        if rep.random_monte_carlo:
            add(
                "",
                f"random, Monte-Carlo ({rep.n_shuffles} shuffles, seed {rep.seed})",
                {
                    m: f"{_fmt(rep.random_monte_carlo[m])} ± {rep.random_stderr[m]:.1g}"
                    for m in rep.metrics
                },
            )
        add("", RANKING_NAMES["oracle"], fmt_all(rep.oracle_expected))
        by_kind = {r: rep.kind_means(r) for r in ("model", "random", "oracle")}
        if len(by_kind["model"]) > 1:  # one kind only: its rows would repeat "all"
            n_by_kind = rep.per_query[rep.per_query["n_relevant"] > 0]["kind"].value_counts()
            for kind in by_kind["model"]:
                group = f"{KIND_NAMES.get(kind, kind)} (n={n_by_kind[kind]})"
                for i, r in enumerate(("model", "random", "oracle")):
                    add(group if i == 0 else "", RANKING_NAMES[r], fmt_all(by_kind[r][kind]))
        lines += _markdown_table(table)
        if rep.notes:
            lines += ["", *[f"- {note}" for note in rep.notes]]
        if per_query:
            lines += ["", *_query_markdown(rep, kinds)]
        return lines


def _per_query_kinds(per_query: bool | str | Iterable[str]) -> set[str] | None:
    """The query kinds to list per query; None: every kind."""
    if per_query is True or per_query == "all":
        return None
    kinds = {per_query} if isinstance(per_query, str) else set(per_query)
    unknown = sorted(kinds - set(KIND_NAMES))
    if unknown:
        raise ValueError(f"unknown query kind(s) {unknown}; known: {list(KIND_NAMES)} or 'all'")
    return kinds


def _query_markdown(rep: MetricReport, kinds: set[str] | None) -> list[str]:
    """Per-query table of the first nDCG@k: model, random expectation, presence oracle."""
    ndcg = [m for m in rep.metrics if m.startswith("nDCG@")]
    if not ndcg:
        return []
    metric = ndcg[0]
    t = rep.query_table(metric)
    if kinds is not None:
        t = t[t["kind"].isin(kinds)]
    which = (
        "all queries" if kinds is None else ", ".join(KIND_NAMES.get(k, k) for k in sorted(kinds))
    )
    lines = [
        f"Per query ({which}, those with a relevant image): {metric} of the model, of a random "
        "ranking (expected) and of the presence oracle (expected); mean relevant gain = mean "
        "graded gain of the relevant images, what the oracle earns per position.",
        "",
    ]
    if t.empty:
        return [*lines, "No such query has a relevant image here."]
    with_kind = t["kind"].nunique() > 1
    with_id = bool((t["kind"] == "qrels").any())  # official queries are known by their id
    head = ["query", *(["id"] if with_id else []), *(["kind"] if with_kind else [])]
    head += ["relevant images", "mean relevant gain"]
    head += [f"{metric} {RANKING_NAMES[r]}" for r in ("model", "random", "oracle")]
    body = [
        [
            str(r.query),
            *([str(r.query_id)] if with_id else []),
            *([str(r.kind)] if with_kind else []),
            str(r.n_relevant),
            _fmt(r.mean_relevant_gain),
            _fmt(r.model),
            _fmt(r.random),
            _fmt(r.oracle),
        ]
        for r in t.itertuples(index=False)
    ]
    return lines + _markdown_table([head, *body])


def _metric_label(name: str) -> str:
    return "MAP" if name == "AP" else name


def _fmt(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "n/a" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _markdown_table(rows: list[list[str]]) -> list[str]:
    def esc(cell: str) -> str:
        return str(cell).replace("|", "\\|")

    out = ["| " + " | ".join(esc(c) for c in rows[0]) + " |"]
    out.append("|" + "|".join("---" for _ in rows[0]) + "|")
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows[1:]]
    return out


def run_evaluation(
    query_vectors: np.ndarray,
    image_vectors: np.ndarray,
    image_labels: Sequence[Iterable[str]] | None,
    image_sensors: Sequence[str],
    queries: Sequence[Query],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    relevance: Literal["graded", "binary"] = "graded",
    gains: np.ndarray | None = None,
    judged: np.ndarray | None = None,
    n_shuffles: int = DEFAULT_SHUFFLES,
    seed: int = 0,
) -> EvaluationResult:
    """Evaluate encoder outputs on a corpus, for S1 images, S2 images and both mixed together.

    Scores are inner products query_vectors @ image_vectors.T (cosine for the L2-normalised
    outputs every encoder returns), as the search index ranks them. Relevance comes from
    `image_labels` and each query's classes; or pass `gains` (Q, N), e.g. from
    `qrels.qrels_gains`, with `judged` (N,) (default: every image judged, BEIR's convention
    that unjudged means not relevant).
    """
    qv = np.asarray(query_vectors, dtype=np.float32)
    iv = np.asarray(image_vectors, dtype=np.float32)
    if qv.ndim != 2 or iv.ndim != 2:
        raise ValueError(
            f"query and image vectors must be 2-D (count, dim), got {qv.shape} and {iv.shape}"
        )
    if qv.shape[1] != iv.shape[1]:
        raise ValueError(
            f"query vectors have dimension {qv.shape[1]}, image vectors {iv.shape[1]}: "
            "were they made by the same encoder?"
        )
    if len(queries) != qv.shape[0]:
        raise ValueError(f"{len(queries)} queries but {qv.shape[0]} query vectors")
    n = iv.shape[0]
    if n == 0:
        raise ValueError("the corpus has no images")
    sensors = np.asarray(list(image_sensors), dtype=object)
    if sensors.shape != (n,):
        raise ValueError(f"{sensors.size} image sensors for {n} image vectors")
    bad = sorted({str(s) for s in sensors} - set(SENSORS))
    if bad:
        raise ValueError(f"unknown sensor(s) {bad}; expected one of {list(SENSORS)}")
    if relevance not in ("graded", "binary"):
        raise ValueError(f"relevance must be 'graded' or 'binary', got {relevance!r}")

    if gains is None:
        if image_labels is None:
            raise ValueError("pass image_labels, or gains (e.g. from qrels)")
        if len(image_labels) != n:
            raise ValueError(f"{len(image_labels)} image label sets for {n} image vectors")
        if any(not q.classes for q in queries):
            raise ValueError("every query needs classes to derive relevance from labels")
        g = relevance_matrix(image_labels, [q.classes for q in queries], relevance == "graded")
        mask = judged_mask(image_labels) if judged is None else np.asarray(judged, dtype=bool)
        how = relevance
    else:
        g = np.asarray(gains, dtype=np.float64)
        if g.shape != (qv.shape[0], n):
            raise ValueError(f"gains shape {g.shape}, expected {(qv.shape[0], n)}")
        mask = np.ones(n, bool) if judged is None else np.asarray(judged, dtype=bool)
        how = "given"
    if mask.shape != (n,):
        raise ValueError(f"judged must be ({n},) bools, got shape {mask.shape}")

    scores = qv @ iv.T
    subsets = {"S1": sensors == "S1", "S2": sensors == "S2", "both": np.ones(n, bool)}
    reports: dict[str, MetricReport] = {}
    counts: dict[str, int] = {}
    notes: list[str] = []
    for name in SUBSETS:
        cols = subsets[name]
        if name == "both" and len(set(sensors)) == 1:
            continue  # one sensor only: "both" would repeat it
        counts[name] = int(cols.sum())
        if not counts[name]:
            continue
        if not (cols & mask).any():
            notes.append(f"{name}: no judged (labelled) image, not evaluated.")
            continue
        reports[name] = evaluate(
            scores[:, cols], g[:, cols], mask[cols], ks,
            queries=queries, n_shuffles=n_shuffles, seed=seed,
        )  # fmt: skip
    return EvaluationResult(
        queries=list(queries),
        ks=tuple(sorted({_check_k(k) for k in ks})),
        relevance=how,
        reports=reports,
        n_images=counts,
        notes=notes,
    )
