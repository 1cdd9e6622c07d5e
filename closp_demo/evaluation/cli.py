"""Evaluate an encoder's retrieval on a built corpus and write the report.

    python -m closp_demo.evaluation --corpus precomputed --source bigearthnet --write BENCHMARKS.md

Scores the corpus embeddings (what the app serves) against the query list in
`closp_demo/evaluation/queries.json`, per sensor, with two baselines of the same run (a random
ranking, and the presence oracle: relevant images first in random order, the ceiling for an
encoder that knows which classes an image carries but not how many labels it has; both exact
expectations, see `closp_demo/evaluation/metrics.py`), and measures cross-sensor consistency on
S1/S2 pairs. `--split` restricts the judged images to dataset splits (the physics rules were looked
at on BigEarthNet `train` only; report the others). `--per-query` adds per-query nDCG tables
(model, random expectation, presence oracle, number of relevant images); bare, it lists the
class-name queries.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from closp_demo.corpus.store import Corpus, load_corpus
from closp_demo.encoders import Encoder, create_encoder
from closp_demo.evaluation import EvaluationResult, cross_sensor, load_queries, run_evaluation
from closp_demo.evaluation.report import machine_line, replace_section


def evaluate_loaded(
    corpus: Corpus, encoder: Encoder, source: str | None = None,
    splits: list[str] | None = None, queries_kind: str = "all", per_query: str | None = None,
) -> tuple[str, EvaluationResult | None]:  # fmt: skip
    """Markdown report + result for the labelled images of a loaded corpus (None if none).

    `per_query`: None for no per-query table, else a query kind ("class", "paraphrase") or "all".
    """
    meta = corpus.metadata
    keep = (meta["labels"] != "").to_numpy()
    if source:
        keep = keep & (meta["source"] == source).to_numpy()
    if splits:
        keep = keep & meta["split"].isin(splits).to_numpy()
    rows = np.flatnonzero(keep)
    if not len(rows):
        return "This corpus has no labelled images to evaluate on.", None
    vectors = np.asarray(corpus.embeddings)[rows]
    labels = [tuple(x for x in s.split("|") if x) for s in meta["labels"].iloc[rows]]
    sensors = meta["sensor"].iloc[rows].tolist()
    queries = load_queries(queries_kind)
    result = run_evaluation(
        encoder.encode_text([q.text for q in queries]), vectors, labels, sensors, queries
    )
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


def evaluate_corpus(
    corpus_dir: Path, encoder_name: str | None, source: str | None, splits: list[str] | None,
    queries_kind: str = "all", per_query: str | None = None,
) -> tuple[str, EvaluationResult | None]:  # fmt: skip
    corpus = load_corpus(corpus_dir, verify_checksums=False)
    encoder = create_encoder(encoder_name or corpus.encoder_id)
    return evaluate_loaded(corpus, encoder, source, splits, queries_kind, per_query)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m closp_demo.evaluation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpus", type=Path, default=Path("precomputed"))
    parser.add_argument("--encoder", default=None, help="default: the corpus's encoder")
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
    parser.add_argument("--write", type=Path, default=None, help="Markdown file to update")
    args = parser.parse_args(argv)
    splits = args.split.split(",") if args.split else None
    text, _ = evaluate_corpus(
        args.corpus, args.encoder, args.source, splits, args.queries, args.per_query
    )
    command = "python -m closp_demo.evaluation " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    body = f"Command: `{command.strip()}` ({machine_line()})\n\n{text}"
    print(body)
    if args.write:
        name = "eval-" + "-".join(filter(None, [args.source or "all", args.split or "all"]))
        replace_section(args.write, name.replace(",", "+"), body)
    return 0

