"""Evaluate an encoder's retrieval on a built corpus and write the report.

    python -m closp_demo.evaluation --corpus precomputed --source bigearthnet --write BENCHMARKS.md

Scores the corpus embeddings (what the app serves) against the query list in
`closp_demo/evaluation/queries.json`, per sensor, with two baselines of the same run (a random
ranking, and the presence oracle: relevant images first in random order, the ceiling for an
encoder that knows which classes an image carries but not how many labels it has; both exact
expectations, see `closp_demo/evaluation/baselines.py`), and measures cross-sensor consistency on
S1/S2 pairs. `--split` restricts the judged images to dataset splits (the physics rules were looked
at on BigEarthNet `train` only; report the others). `--per-query` adds per-query nDCG tables
(model, random expectation, presence oracle, number of relevant images); bare, it lists the
class-name queries. `--relevance binary` scores label presence instead of graded label shares
(written to its own section, beside the graded one).

    python -m closp_demo.evaluation --corpus precomputed-clm --qrels /data/crisislandmark

`--qrels DIR` scores CrisisLandMark's own queries (`queries.jsonl`) against its relevance
judgements (`qrels/<split>.tsv`, `--qrels-split`, default the only split or "test"), per query,
instead of label-derived relevance. Qrels name images by their h5 key, matched to the corpus's
`source_key` column (written by `closp_demo.corpus.build_subset`; for corpora built before it, the
`group` column of CrisisLandMark rows, which held the same key). On a subset corpus, judged
images outside it are ignored: the figures describe the subset, not the full corpus.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from closp_demo.corpus.store import Corpus, CorpusError, load_corpus
from closp_demo.encoders import Encoder, create_encoder
from closp_demo.encoders.registry import add_encoder_argument
from closp_demo.evaluation import EvaluationResult, cross_sensor, load_queries, run_evaluation
from closp_demo.evaluation.qrels import (
    QrelsFormatError,
    choose_split,
    load_crisislandmark_qrels,
    qrels_gains,
)
from closp_demo.evaluation.report import publish


def _judged_rows(
    meta: pd.DataFrame, keep: np.ndarray, source: str | None, splits: list[str] | None
) -> np.ndarray:
    """Row numbers kept by `keep`, restricted to one source and to dataset splits if given."""
    if source:
        keep = keep & (meta["source"] == source).to_numpy()
    if splits:
        keep = keep & meta["split"].isin(splits).to_numpy()
    return np.flatnonzero(keep)


def evaluate_loaded(
    corpus: Corpus, encoder: Encoder, source: str | None = None,
    splits: list[str] | None = None, queries_kind: str = "all", per_query: str | None = None,
    relevance: str = "graded",
) -> tuple[str, EvaluationResult | None]:  # fmt: skip
    """Markdown report + result for the labelled images of a loaded corpus (None if none).

    `per_query`: None for no per-query table, else a query kind ("class", "paraphrase") or "all".
    `relevance`: "graded" (share of an image's labels) or "binary" (carries a query class).
    """
    meta = corpus.metadata
    rows = _judged_rows(meta, (meta["labels"] != "").to_numpy(), source, splits)
    if not len(rows):
        return "This corpus has no labelled images to evaluate on.", None
    vectors = np.asarray(corpus.embeddings)[rows]
    labels = [tuple(x for x in s.split("|") if x) for s in meta["labels"].iloc[rows]]
    sensors = meta["sensor"].iloc[rows].tolist()
    queries = load_queries(queries_kind)
    result = run_evaluation(
        encoder.encode_text([q.text for q in queries]), vectors, labels, sensors, queries,
        relevance=relevance,
    )  # fmt: skip
    twins = cross_sensor.twin_recall(vectors, sensors, meta["group"].iloc[rows].tolist())
    scope = f"source={source or 'all'}, split={','.join(splits) if splits else 'all'}"
    report = result.to_markdown(per_query=per_query or False)
    text = (
        f"Encoder `{encoder.info.id}` v{encoder.info.version} on corpus `{corpus.root.name}` "
        f"({scope}), {len(rows)} labelled images.\n\n" + report
        + "\n### Cross-sensor consistency (image -> its other-sensor twin)\n\n"
        + cross_sensor.to_markdown(twins)
    )  # fmt: skip
    return text, result


def source_keys(meta: pd.DataFrame) -> tuple[pd.Series, str]:
    """(each row's id in its source dataset, "" where none; the column it came from).

    `source_key` when the corpus has it; else `group` of CrisisLandMark rows, which
    `build_subset` set to the h5 key before `source_key` existed (old corpora stay usable)."""
    if "source_key" in meta:
        return meta["source_key"].fillna("").astype(str), "source_key"
    clm = (meta["source"] == "crisislandmark").to_numpy()
    return meta["group"].fillna("").astype(str).where(clm, ""), "group"


def evaluate_qrels(
    corpus: Corpus, encoder: Encoder, qrels_dir: Path, qrels_split: str | None = None,
    source: str | None = None, splits: list[str] | None = None,
) -> tuple[str, EvaluationResult | None]:  # fmt: skip
    """Markdown report + result of CrisisLandMark's queries and qrels on a loaded corpus, with
    per-query nDCG (None when no image has a source key)."""
    split = choose_split(qrels_dir, qrels_split)
    queries, qrels = load_crisislandmark_qrels(qrels_dir, split)
    meta = corpus.metadata
    keys, column = source_keys(meta)
    rows = _judged_rows(meta, (keys != "").to_numpy(), source, splits)
    if not len(rows):
        return (
            "This corpus has no image with a source key (CrisisLandMark h5 key) to match the "
            "qrels against; build it with closp_demo.corpus.build_subset.",
            None,
        )
    row_keys = keys.iloc[rows].tolist()
    gains = qrels_gains(qrels, queries, row_keys)  # raises when no judged id is in the corpus
    judged = {(q, d) for q, docs in qrels.items() for d in docs}
    present = set(row_keys)
    inside = sum(d in present for _, d in judged)
    result = run_evaluation(
        encoder.encode_text([q.text for q in queries]), np.asarray(corpus.embeddings)[rows],
        None, meta["sensor"].iloc[rows].tolist(), queries, gains=gains,
    )  # fmt: skip
    text = (
        f"Encoder `{encoder.info.id}` v{encoder.info.version} on corpus `{corpus.root.name}` "
        f"({len(rows)} images with a source key, from column `{column}`), CrisisLandMark qrels "
        f"split `{split}`: {len(queries)} judged queries; {inside} of {len(judged)} judgements "
        "name an image of this corpus, the others are ignored. Unjudged images count as not "
        "relevant (BEIR). On a subset the figures describe the subset, not the full corpus.\n\n"
        + result.to_markdown(per_query="all")
    )  # fmt: skip
    return text, result


def evaluate_corpus(
    corpus_dir: Path, encoder_name: str | None, source: str | None, splits: list[str] | None,
    queries_kind: str = "all", per_query: str | None = None, qrels: Path | None = None,
    qrels_split: str | None = None, relevance: str = "graded",
) -> tuple[str, EvaluationResult | None]:  # fmt: skip
    corpus = load_corpus(corpus_dir, verify_checksums=False)
    encoder = create_encoder(encoder_name or corpus.encoder_id)
    if qrels is not None:
        return evaluate_qrels(corpus, encoder, qrels, qrels_split, source, splits)
    return evaluate_loaded(corpus, encoder, source, splits, queries_kind, per_query, relevance)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m closp_demo.evaluation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpus", type=Path, default=Path("precomputed"))
    add_encoder_argument(parser, None, "default: the corpus's encoder")
    parser.add_argument("--source", default=None, help="e.g. bigearthnet (the labelled source)")
    parser.add_argument(
        "--split", default=None, help="comma-separated splits, e.g. test,validation"
    )
    parser.add_argument("--queries", default="all", choices=["all", "classes", "paraphrases"])
    parser.add_argument(
        "--per-query",
        nargs="?",
        const="class",
        default=None,
        choices=["class", "paraphrase", "all"],
        help="per-query nDCG tables (model, random, presence oracle); bare: class-name queries",
    )
    parser.add_argument(
        "--qrels", type=Path, default=None,
        help="CrisisLandMark folder with queries.jsonl + qrels/: score its queries per query",
    )  # fmt: skip
    parser.add_argument("--qrels-split", default=None, help="qrels/<split>.tsv (default: test)")
    parser.add_argument(
        "--relevance", default="graded", choices=["graded", "binary"],
        help="label-derived gains: graded (share of an image's labels, default) or binary "
        "(the image carries a query class; the presence oracle then scores 1)",
    )  # fmt: skip
    parser.add_argument("--write", type=Path, default=None, help="Markdown file to update")
    args = parser.parse_args(argv)
    splits = args.split.split(",") if args.split else None
    try:
        text, _ = evaluate_corpus(
            args.corpus, args.encoder, args.source, splits, args.queries, args.per_query,
            args.qrels, args.qrels_split, args.relevance,
        )  # fmt: skip
    except (QrelsFormatError, CorpusError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    parts = [args.source or "all", args.split or "all", "qrels" if args.qrels else ""]
    if args.relevance != "graded" and not args.qrels:
        parts.append(args.relevance)  # its own section beside the graded one
    section = ("eval-" + "-".join(filter(None, parts))).replace(",", "+")
    publish("closp_demo.evaluation", argv, text, args.write, section)
    return 0
