"""Scoring a (queries, images) similarity matrix: per-query metrics on condensed lists (see
`metrics.py`), their means, and both baselines of the same run (see `baselines.py`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from closp_demo.evaluation.baselines import (
    DEFAULT_SHUFFLES,
    expected_row,
    random_baseline_monte_carlo,
)
from closp_demo.evaluation.metrics import (
    DEFAULT_KS,
    check_k,
    ideal_order,
    list_metrics,
    metric_names,
    rank,
)
from closp_demo.evaluation.queries import Query
from closp_demo.evaluation.relevance import as_judged

Ranking = Literal["model", "random", "oracle"]
RANKINGS: tuple[Ranking, ...] = ("model", "random", "oracle")


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
        """One row per query with R >= 1: query, query_id, kind, n_relevant, mean_relevant_gain,
        and `metric` for the model, the random expectation and the presence oracle."""
        if metric not in self.metrics:
            raise ValueError(f"{metric!r} is not reported here; reported: {self.metrics}")
        scored = self.per_query["n_relevant"] > 0
        columns = ["query", "query_id", "kind", "n_relevant", "mean_relevant_gain"]
        out = self.per_query.loc[scored, columns]
        values = {r: self._values(r).loc[scored, metric] for r in RANKINGS}
        return out.assign(**values).reset_index(drop=True)


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
    The random baseline and the presence oracle are exact expectations (`baselines.py`).
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
    mask = as_judged(judged, n_images)
    if queries is not None and len(queries) != n_queries:
        raise ValueError(f"{len(queries)} queries given for {n_queries} score rows")
    ks = tuple(sorted({check_k(k) for k in ks}))
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
            values[q] = list_metrics(g[q, rank(s[q])], ideal_order(g[q]), ks)
            random_rows[q] = expected_row(g[q], kept_ks, "random")
            oracle_rows[q] = expected_row(g[q], kept_ks, "oracle")
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
