"""Flood retrieval on a built corpus: do flood queries find the Sen1Floods11 flood patches first?

    python -m closp_demo.evaluation.flood --corpus precomputed --write BENCHMARKS.md

Relevance comes from pixels, not from a label: the corpus columns `flood_fraction` /
`water_fraction` (`store.REFERENCE_COLUMNS`, from the hand-drawn Sen1Floods11 water mask; the rule
is in `corpus/sources/sen1floods11.py`). Two graded relevances, over the WHOLE corpus, per sensor:
- "flood" (the headline): gain = the tile's flood-water fraction (water broader than the river
  channel) on images labelled Flooded Area, 0 elsewhere, so relevant = labelled Flooded Area and a
  half-flooded tile outranks one with a few flooded fields in the ideal ranking;
- "water": gain = the tile's water fraction on every image with a water mask (the literal
  "Sen1Floods11 water fraction", river channel included), 0 elsewhere.
Every other image is judged not relevant (gain 0): they come from datasets without a flood event
(BigEarthNet, Major-TOM, SSL4EO-S12, hydro; a lake is not a flood). No unjudged images, so no
condensing: a hydro lake ranked above a flooded field costs the score.

Metrics per query and sensor subset (S1, S2, both): nDCG@k (linear gains, log2 discount, as
`evaluation.metrics`), its exact random expectation (`evaluation.baselines`), P@k, the rank of
the first relevant image and which sources fill the top k. Plus cross-sensor twin recall over
every S1/S2 pair in the corpus and over the Sen1Floods11 pairs alone (still against all images
of the other sensor).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from closp_demo.corpus.store import Corpus, load_corpus
from closp_demo.encoders import Encoder, create_encoder
from closp_demo.encoders.registry import add_encoder_argument
from closp_demo.evaluation import cross_sensor, ndcg_at_k, precision_at_k, rank
from closp_demo.evaluation.baselines import expected_random_ndcg
from closp_demo.evaluation.markdown import markdown_table
from closp_demo.evaluation.report import publish

# Written once, before any retrieval result was seen; not to be tuned to results. They describe
# what the flood tiles show (flooded fields in a farmed river plain), as a user would type it.
FLOOD_QUERIES: tuple[str, ...] = (
    "Flooded Area",
    "flooded fields after heavy rain",
    "flood water over farmland",
    "inundated area",
    "flooded agricultural land",
    "fields under water after a river flood",
)
GAINS: dict[str, str] = {"flood": "flood_fraction", "water": "water_fraction"}
SUBSETS: tuple[str, ...] = ("S1", "S2", "both")
FLOOD_LABEL = "Flooded Area"
SECTION = "eval-flood"


def flood_gains(metadata: pd.DataFrame, gain: str = "flood") -> np.ndarray:
    """(N,) float64 gains of every corpus row for the flood queries (module docstring)."""
    if gain not in GAINS:
        raise ValueError(f"gain must be one of {list(GAINS)}, got {gain!r}")
    column = GAINS[gain]
    if column not in metadata.columns:
        raise ValueError(
            f"this corpus has no {column!r} column (no Sen1Floods11 images, or built before "
            "it existed); rebuild it with python -m closp_demo.corpus.build"
        )
    values = pd.to_numeric(metadata[column], errors="coerce").to_numpy(dtype=np.float64)
    values = np.where(np.isfinite(values), values, 0.0)
    if gain == "flood":
        flooded = metadata["labels"].map(lambda s: FLOOD_LABEL in str(s).split("|")).to_numpy()
        values = np.where(flooded, values, 0.0)
    if np.any(values < 0) or np.any(values > 1):
        raise ValueError(f"{column}: fractions must lie in [0, 1]")
    return values


def _subset_rows(sensors: np.ndarray, subset: str) -> np.ndarray:
    return np.arange(sensors.size) if subset == "both" else np.flatnonzero(sensors == subset)


def score_queries(
    query_vectors: np.ndarray, image_vectors: np.ndarray, sensors: Sequence[str],
    gains: dict[str, np.ndarray], sources: Sequence[str], queries: Sequence[str], k: int = 10,
) -> pd.DataFrame:  # fmt: skip
    """One row per (subset, query): nDCG@k per gain, its random expectation (headline gain),
    P@k, first relevant rank, and the top k by source. Gains: name -> (N,) array; the first
    is the headline."""
    sensors = np.asarray(sensors)
    sources = np.asarray(sources)
    head = next(iter(gains))
    rows = []
    for subset in SUBSETS:
        idx = _subset_rows(sensors, subset)
        if not idx.size or not gains[head][idx].any():
            continue
        scores = query_vectors @ np.asarray(image_vectors)[idx].T
        for text, s in zip(queries, scores, strict=True):
            ranking = rank(s)
            g = gains[head][idx]
            hits = np.flatnonzero(g[ranking] > 0)
            top = Counter(sources[idx][ranking[:k]])
            rows.append({
                "subset": subset, "query": text, "pool": idx.size, "relevant": int((g > 0).sum()),
                **{f"nDCG@{k} {name}": ndcg_at_k(ranking, v[idx], k) for name, v in gains.items()},
                f"random nDCG@{k}": expected_random_ndcg(g, k),
                f"P@{k}": precision_at_k(ranking, g, k),
                "first relevant": int(hits[0]) + 1 if hits.size else None,
                f"top {k}": ", ".join(f"{src} {n}" for src, n in top.most_common()),
            })  # fmt: skip
    return pd.DataFrame(rows)


def twins(corpus: Corpus, source: str = "sen1floods11") -> dict[str, dict[str, dict[str, float]]]:
    """Twin recall over all pairs of the corpus, and over `source`'s pairs against everything."""
    meta = corpus.metadata
    vectors = np.asarray(corpus.embeddings)
    sensors = meta["sensor"].tolist()
    groups = meta["group"].fillna("").astype(str)
    only = groups.where(meta["source"] == source, "")  # "" = not paired, still a candidate
    return {
        "all pairs": cross_sensor.twin_recall(vectors, sensors, groups.tolist()),
        f"{source} pairs": cross_sensor.twin_recall(vectors, sensors, only.tolist()),
    }


def _table(frame: pd.DataFrame) -> list[str]:
    cols = [c for c in frame.columns if c not in ("subset", "pool", "relevant")]
    rows = [cols]
    for _, row in frame.iterrows():
        rows.append([f"{v:.3f}" if isinstance(v, float) else ("–" if v is None else str(v))
                     for v in (row[c] for c in cols)])  # fmt: skip
    means = [f"{frame[c].mean():.3f}" if c.startswith(("nDCG", "random", "P@")) else ""
             for c in cols]  # fmt: skip
    means[0] = "**mean**"
    return markdown_table([*rows, means])


def flood_report(corpus: Corpus, encoder: Encoder, k: int = 10) -> tuple[str, pd.DataFrame]:
    """Markdown report and the per-query table of the flood queries on a loaded corpus."""
    meta = corpus.metadata
    gains = {name: flood_gains(meta, name) for name in GAINS}
    frame = score_queries(
        encoder.encode_text(list(FLOOD_QUERIES)), np.asarray(corpus.embeddings),
        meta["sensor"].tolist(), gains, meta["source"].tolist(), FLOOD_QUERIES, k,
    )  # fmt: skip
    if frame.empty:
        return "No image of this corpus is relevant to the flood queries.", frame
    lines = [
        f"Encoder `{encoder.info.id}` v{encoder.info.version} on corpus `{corpus.root.name}` "
        f"({len(meta)} images). Gains: `flood` = flood-water fraction on Flooded Area images "
        "(headline), `water` = water fraction of every Sen1Floods11 image; every other image 0.",
        "",
    ]
    for subset, part in frame.groupby("subset", sort=False):
        lines += [f"#### {subset}: {part['relevant'].iloc[0]} relevant of {part['pool'].iloc[0]}",
                  "", *_table(part), ""]  # fmt: skip
    lines += ["#### Cross-sensor consistency (image -> its other-sensor twin)", ""]
    for name, result in twins(corpus).items():
        lines += [f"{name}:", "", cross_sensor.to_markdown(result)]
    return "\n".join(lines), frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m closp_demo.evaluation.flood", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpus", type=Path, default=Path("precomputed"))
    add_encoder_argument(parser, None, "default: the corpus's encoder")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--write", type=Path, default=None, help="Markdown file to update")
    args = parser.parse_args(argv)
    corpus = load_corpus(args.corpus, verify_checksums=False)
    encoder = create_encoder(args.encoder or corpus.encoder_id)
    text, _ = flood_report(corpus, encoder, args.k)
    publish("closp_demo.evaluation.flood", argv, text, args.write, SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
