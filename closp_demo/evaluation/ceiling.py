"""Measured ceilings: how far could the physics baseline's own image measurements go?

    python -m closp_demo.evaluation.ceiling --corpus precomputed --write BENCHMARKS.md

Held-out BigEarthNet (test + validation, binary relevance, the evaluation's queries and query ->
class mapping). An image is described only by the evidence the physics encoder stored for it
(`evidence`: its measurements and the square roots of its class fractions). A linear probe per
class (L2-regularised logistic regression on standardised features, penalty `L2` fixed before any
figure was seen) reads them; a query ranks images by P(any of its classes) = 1 - prod(1 - p_c).
The query's classes are GIVEN (no text model): only the image side is measured. Rankings:
- `model`: the shipped encoder's scores (text side included, as the evaluation reports them);
- `fractions`: the encoder's own class fractions summed over the query's classes;
- `probe, train`: probes fitted on the sensor's BigEarthNet train patches (held-out clean);
- `probe, LOO`: leave-one-out over ALL the sensor's BigEarthNet patches, each held-out image
  scored by probes fitted on every other one, held-out labels included (a ceiling, not a result);
- `probe, resubstitution`: fitted on the held-out images themselves and scoring them.
A query whose scores are constant (its classes never seen in fitting) gets the random expectation.

Flood (every image of a sensor, gains `flood.flood_gains`): images ranked by the encoder's water
estimate (its Water fraction; also + Flooded Vegetation), over the whole sensor corpus and over the
Sen1Floods11 tiles alone, with the non-flood images that outrank flood tiles.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from closp_demo.corpus.labels import ALL_CLASSES
from closp_demo.corpus.store import Corpus, CorpusError, load_corpus
from closp_demo.encoders import create_encoder
from closp_demo.evaluation.baselines import expected_oracle_ndcg, expected_random_ndcg
from closp_demo.evaluation.flood import flood_gains
from closp_demo.evaluation.markdown import markdown_table
from closp_demo.evaluation.metrics import check_k, ndcg_at_k, rank
from closp_demo.evaluation.queries import Query, load_queries
from closp_demo.evaluation.relevance import relevance_matrix
from closp_demo.evaluation.report import publish

L2 = 1.0  # penalty on the weights of standardised features (bias free); fixed a priori
L2_GRID = (0.1, 1.0, 10.0, 100.0)  # reported beside it, so no choice of penalty hides a ceiling
HELD_OUT = ("test", "validation")
RANKINGS = ("model", "fractions", "probe, train", "probe, LOO", "probe, resubstitution")
SECTION = "eval-ceiling"


def evidence_features(evidence: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """(N, F) features from evidence JSON: measurements, then sqrt of every class fraction."""
    rows, names = [], None
    for i, text in enumerate(evidence):
        e = json.loads(text)
        meas, weights = e.get("measurements", {}), e.get("class_weights", {})
        keys = [*meas, *(f"sqrt {c}" for c in weights)]
        if names is None:
            names = keys
        elif keys != names:
            raise ValueError(f"evidence #{i} has other features than #0 (mixed sensors?)")
        rows.append(
            [*map(float, meas.values()), *(math.sqrt(max(w, 0.0)) for w in weights.values())]
        )
    if names is None:
        raise ValueError("no evidence given")
    return np.asarray(rows, dtype=np.float64), names


def class_fractions(evidence: Sequence[str], classes: Sequence[str] = ALL_CLASSES) -> np.ndarray:
    """(N, C) the encoder's class fractions (0 for a class its evidence does not list)."""
    out = [[json.loads(t).get("class_weights", {}).get(c, 0.0) for c in classes] for t in evidence]
    return np.asarray(out, dtype=np.float64).reshape(len(out), len(classes))


@dataclass(frozen=True)
class Probe:
    """Logistic regression on standardised features; `constant` when y had one value only."""

    mean: np.ndarray
    scale: np.ndarray
    w: np.ndarray
    b: float
    constant: float | None = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.constant is not None:
            return np.full(x.shape[0], self.constant)
        z = ((x - self.mean) / self.scale) @ self.w + self.b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def fit_probe(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50) -> Probe:
    """L2-regularised logistic regression by Newton's method (bias not penalised)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],) or not x.shape[0]:
        raise ValueError(f"need x (n, f) and y (n,), got {x.shape} and {y.shape}")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    if y.min() == y.max():
        return Probe(mean, scale, np.zeros(x.shape[1]), 0.0, constant=float(y[0]))
    a = np.hstack([(x - mean) / scale, np.ones((x.shape[0], 1))])
    theta = np.zeros(a.shape[1])
    penalty = np.r_[np.full(x.shape[1], l2), 0.0]
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ theta, -50, 50)))
        grad = a.T @ (p - y) + penalty * theta
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty) + 1e-9 * np.eye(a.shape[1])
        delta = np.linalg.solve(hess, grad)
        theta -= delta
        if np.max(np.abs(delta)) < 1e-10:
            break
    return Probe(mean, scale, theta[:-1], float(theta[-1]))


def probe_scores(
    x_fit: np.ndarray, y_fit: np.ndarray, x_eval: np.ndarray, l2: float = L2
) -> np.ndarray:
    """(n_eval, C) P(class) from one probe per column of `y_fit` (n_fit, C)."""
    y_fit = np.asarray(y_fit, dtype=bool)
    probes = [fit_probe(x_fit, y_fit[:, c], l2) for c in range(y_fit.shape[1])]
    return np.stack([p.predict(x_eval) for p in probes], axis=1)


def loo_scores(x: np.ndarray, y: np.ndarray, rows: Sequence[int], l2: float = L2) -> np.ndarray:
    """(len(rows), C): each listed row scored by probes fitted on every OTHER row of x, y."""
    x, y = np.asarray(x), np.asarray(y, dtype=bool)
    out = []
    for r in rows:
        keep = np.arange(x.shape[0]) != r
        out.append(probe_scores(x[keep], y[keep], x[[r]], l2)[0])
    return np.asarray(out).reshape(len(out), y.shape[1])


def query_scores(p: np.ndarray, queries: Sequence[Query], classes: Sequence[str]) -> np.ndarray:
    """(Q, N) P(any of the query's classes) = 1 - prod(1 - p_c), p (N, C) in `classes` order."""
    cols = [[classes.index(c) for c in q.classes] for q in queries]
    return np.stack([1.0 - np.prod(1.0 - p[:, c], axis=1) for c in cols])


def ndcg_rows(scores: np.ndarray, gains: np.ndarray, k: int = 10) -> np.ndarray:
    """(Q,) nDCG@k per row (NaN without a relevant image); constant rows: random expectation."""
    out = np.full(scores.shape[0], math.nan)
    for q, (s, g) in enumerate(zip(scores, gains, strict=True)):
        if (g > 0).any():
            flat = np.ptp(s) == 0
            out[q] = expected_random_ndcg(g, k) if flat else ndcg_at_k(rank(s), g, k)
    return out


def held_out_ceiling(corpus: Corpus, sensor: str, k: int = 10, l2: float = L2) -> pd.DataFrame:
    """One row per query with a relevant held-out image: nDCG@k of every ranking in `RANKINGS`,
    the random expectation, the query's classes and kind, for one sensor's BigEarthNet."""
    meta = corpus.metadata
    is_ben = (meta["source"] == "bigearthnet") & (meta["sensor"] == sensor)
    ben = np.flatnonzero(is_ben.to_numpy())
    if not ben.size:
        raise ValueError(f"no BigEarthNet {sensor} image in corpus {corpus.root}")
    part = meta.iloc[ben]
    x, _ = evidence_features(part["evidence"].tolist())
    labels = [tuple(c for c in s.split("|") if c) for s in part["labels"]]
    y = relevance_matrix(labels, [(c,) for c in ALL_CLASSES], graded=False).T > 0
    test = np.flatnonzero(part["split"].isin(HELD_OUT).to_numpy())
    train = np.flatnonzero((part["split"] == "train").to_numpy())
    queries = load_queries("all")
    gains = relevance_matrix([labels[i] for i in test], [q.classes for q in queries], graded=False)
    encoder = create_encoder(corpus.encoder_id)
    fractions = class_fractions(part["evidence"].iloc[test].tolist())
    cols = [[ALL_CLASSES.index(c) for c in q.classes] for q in queries]
    scores = {
        "model": encoder.encode_text([q.text for q in queries])
        @ np.asarray(corpus.embeddings)[ben[test]].T,
        "fractions": np.stack([fractions[:, c].sum(axis=1) for c in cols]),
        **{name: query_scores(p, queries, ALL_CLASSES) for name, p in (
            ("probe, train", probe_scores(x[train], y[train], x[test], l2)),
            ("probe, LOO", loo_scores(x, y, test, l2)),
            ("probe, resubstitution", probe_scores(x[test], y[test], x[test], l2)),
        )},
    }  # fmt: skip
    frame = pd.DataFrame({
        "query": [q.text for q in queries], "kind": [q.kind for q in queries],
        "classes": ["|".join(q.classes) for q in queries], "relevant": (gains > 0).sum(axis=1),
        **{name: ndcg_rows(s, gains, k) for name, s in scores.items()},
        "random": [expected_random_ndcg(g, k) if g.any() else math.nan for g in gains],
    })  # fmt: skip
    return frame[frame["relevant"] > 0].reset_index(drop=True)


def flood_ceiling(corpus: Corpus, sensor: str, k: int = 10) -> list[dict]:
    """Rank one sensor's images by the encoder's water estimate; rows per estimate and pool."""
    meta = corpus.metadata
    rows = np.flatnonzero((meta["sensor"] == sensor).to_numpy())
    part = meta.iloc[rows]
    gains = flood_gains(part)
    f = class_fractions(part["evidence"].tolist(), ("Water", "Flooded Vegetation"))
    s1f = (part["source"] == "sen1floods11").to_numpy()
    sources = part["source"].to_numpy()
    out = []
    for name, est in (("Water", f[:, 0]), ("Water + Flooded Vegetation", f.sum(axis=1))):
        order = rank(est)
        flood_pos = np.flatnonzero(gains[order] > 0)  # 0-based ranks of the flood tiles
        first, median = flood_pos[0], flood_pos[len(flood_pos) // 2]
        above = Counter(sources[order[:median]][gains[order[:median]] == 0])
        fl = gains > 0
        out.append({
            "sensor": sensor, "estimate": name, "images": rows.size, "flood tiles": int(fl.sum()),
            "nDCG all": ndcg_at_k(order, gains, k), "random all": expected_random_ndcg(gains, k),
            "oracle all": expected_oracle_ndcg(gains, k),
            "nDCG Sen1Floods11": ndcg_at_k(rank(est[s1f]), gains[s1f], k),
            "random Sen1Floods11": expected_random_ndcg(gains[s1f], k),
            "rho water": _spearman(est[s1f], part["water_fraction"].to_numpy()[s1f]),
            "rho flood": _spearman(est[fl], gains[fl]),
            "above first": int(first), "above median": int((gains[order[:median]] == 0).sum()),
            "above median by source": ", ".join(f"{s} {n}" for s, n in above.most_common()),
        })  # fmt: skip
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho: Pearson correlation of the ranks (ties share their mean rank)."""
    return float(np.corrcoef(pd.Series(a).rank(), pd.Series(b).rank())[0, 1])


def _f(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _held_out_markdown(corpus: Corpus, k: int) -> list[str]:
    tables = {s: held_out_ceiling(corpus, s, k) for s in ("S2", "S1")}
    cols = [*RANKINGS, "random"]
    rows = [["sensor", "queries", *cols]]
    for s, t in [*tables.items(), *((f"{s} class names", t) for s, t in tables.items())]:
        t = t[t["kind"] == "class"] if s.endswith("names") else t
        rows.append([s, str(len(t)), *(_f(float(t[c].mean())) for c in cols)])
    lines = [*markdown_table(rows), ""]
    grid = [["sensor", *(f"{c}, L2 = {v:g}" for c in ("LOO", "train") for v in L2_GRID)]]
    for s in tables:
        runs = [held_out_ceiling(corpus, s, k, v) for v in L2_GRID]
        means = [float(r[c].mean()) for c in ("probe, LOO", "probe, train") for r in runs]
        grid.append([s, *map(_f, means)])
    lines += [
        f"Probe means over the same queries for other penalties (the tables use L2 = {L2:g}, "
        "set before any figure was seen):",
        "",
        *markdown_table(grid),
        "",
    ]
    for s, t in tables.items():
        rows = [["class", "relevant", *cols]]
        for _, r in t[t["kind"] == "class"].iterrows():
            rows.append([r["query"], str(r["relevant"]), *(_f(r[c]) for c in cols)])
        lines += [f"{s}, per class (class-name query):", "", *markdown_table(rows), ""]
    return lines


def ceiling_report(corpus: Corpus, k: int = 10) -> str:
    """The Markdown section: held-out ceilings per sensor and class, then the flood ceiling."""
    lines = [
        f"Corpus `{corpus.root.name}` (encoder `{corpus.encoder_id}`), nDCG@{k}, binary "
        "relevance, held-out BigEarthNet (test + validation), queries with a relevant image "
        "there. Rankings: module docstring of `closp_demo/evaluation/ceiling.py`.",
        "",
        *_held_out_markdown(corpus, k),
        "Flood: images of one sensor ranked by the encoder's own water estimate, against the "
        "flood gains (`flood.flood_gains`); `above` = non-flood images ranked above the first / "
        "the median flood tile; rho = Spearman over the Sen1Floods11 tiles (water fraction) and "
        "over the flood tiles (flood fraction).",
        "",
    ]
    flood = [r for s in ("S1", "S2") for r in flood_ceiling(corpus, s, k)]
    lines += markdown_table([list(flood[0]), *([_f(v) for v in r.values()] for r in flood)])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m closp_demo.evaluation.ceiling", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpus", type=Path, default=Path("precomputed"))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--write", type=Path, default=None, help="Markdown file to update")
    args = parser.parse_args(argv)
    try:
        text = ceiling_report(load_corpus(args.corpus, verify_checksums=False), check_k(args.k))
    except (CorpusError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    publish("closp_demo.evaluation.ceiling", argv, text, args.write, SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
