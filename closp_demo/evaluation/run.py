"""Encoder outputs -> evaluation per sensor: S1 images, S2 images and both mixed in one corpus."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from closp_demo.evaluation.baselines import DEFAULT_SHUFFLES
from closp_demo.evaluation.markdown import result_markdown
from closp_demo.evaluation.metrics import DEFAULT_KS, check_k
from closp_demo.evaluation.queries import Query
from closp_demo.evaluation.relevance import as_judged, judged_mask, relevance_matrix
from closp_demo.evaluation.scoring import MetricReport, evaluate
from closp_demo.sensors import SENSORS

SUBSETS: tuple[str, ...] = ("S1", "S2", "both")


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
        return result_markdown(self, per_query)


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
        mask = as_judged(judged_mask(image_labels) if judged is None else judged, n)
        how = relevance
    else:
        g = np.asarray(gains, dtype=np.float64)
        if g.shape != (qv.shape[0], n):
            raise ValueError(f"gains shape {g.shape}, expected {(qv.shape[0], n)}")
        mask = as_judged(judged, n)
        how = "given"

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
        ks=tuple(sorted({check_k(k) for k in ks})),
        relevance=how,
        reports=reports,
        n_images=counts,
        notes=notes,
    )
