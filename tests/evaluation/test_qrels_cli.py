"""`python -m closp_demo.evaluation --qrels`: CrisisLandMark's queries and qrels, matched by h5 key,
on a corpus built by `build_subset` from h5 + parquet fixtures in the dataset's layout."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from closp_demo.corpus import build_subset as bs
from closp_demo.corpus.store import METADATA, load_corpus, write_manifest
from closp_demo.encoders import create_encoder
from closp_demo.evaluation.cli import main
from closp_demo.evaluation.metrics import ndcg_at_k, rank
from tests.conftest import REPO_ROOT
from tests.corpus.sources.clm_fixtures import write_clm

NOT_BUILT = "s2_9999"  # a judged key outside the subset, as on any subset of the 647k images


@pytest.fixture(scope="module")
def encoder():
    return create_encoder("physics-minilm")


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder) -> tuple[Path, Path, dict]:
    """(corpus, dataset folder with queries.jsonl + qrels/, qrels {query: {key: score}})."""
    root = tmp_path_factory.mktemp("clm")
    write_clm(root / "clm")
    bs.build_subset(root / "clm", root / "corpus", 100, split=None, encoder=encoder)
    meta = load_corpus(root / "corpus").metadata
    keys = dict(zip(meta["source_key"], meta["labels"], strict=True))
    qrels = {
        "q-water": {k: 1 for k, labels in keys.items() if "Water" in labels.split("|")},
        "q-quake": {k: 2 for k, labels in keys.items() if "Earthquake Damage" in labels}
        | {k: 1 for k, labels in keys.items() if labels == "Built|Crops"},
    }
    qrels["q-water"][NOT_BUILT] = 1
    queries = [
        {"_id": "q-water", "text": "Water"},
        {"_id": "q-quake", "text": "buildings damaged by an earthquake"},
        {"_id": "q-unjudged", "text": "snow"},
    ]
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{q}\t{k}\t{s}" for q, docs in qrels.items() for k, s in docs.items()]
    dataset = root / "clm"
    (dataset / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (dataset / "qrels").mkdir()
    (dataset / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return root / "corpus", dataset, qrels


def _per_query(text: str, subset: str) -> dict[str, list[str]]:
    """Rows of the per-query table of one subset section: query id -> its cells."""
    section = text.split(f"### {subset} (", 1)[1].split("\n### ", 1)[0]
    table = section.split("Per query", 1)[1]
    rows = [line.strip("|").split("|") for line in table.splitlines() if line.startswith("| ")]
    head = [c.strip() for c in rows[0]]
    return {cells[1].strip(): dict(zip(head, [c.strip() for c in cells], strict=True))
            for cells in rows[1:]}  # fmt: skip


def _expected_ndcg(corpus_dir: Path, encoder, text: str, judged: dict, sensors: set) -> float:
    """nDCG@10 from the corpus's own vectors and the qrels, matched by key, without the CLI."""
    corpus = load_corpus(corpus_dir, verify_checksums=False)
    rows = np.flatnonzero(corpus.metadata["sensor"].isin(sensors).to_numpy())
    keys = corpus.metadata["source_key"].iloc[rows]
    gains = np.array([judged.get(k, 0) for k in keys], dtype=float)
    scores = np.asarray(corpus.embeddings)[rows] @ encoder.encode_text([text])[0]
    return ndcg_at_k(rank(scores), gains, 10)


def test_cli_reports_per_query_ndcg_of_the_official_queries(built, encoder):
    corpus, dataset, qrels = built
    done = subprocess.run(
        [sys.executable, "-m", "closp_demo.evaluation", "--corpus", str(corpus),
         "--qrels", str(dataset)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = done.stdout
    judged = sum(len(d) for d in qrels.values())
    assert f"{judged - 1} of {judged} judgements name an image of this corpus" in text
    assert "qrels split `test`: 2 judged queries" in text  # q-unjudged has no qrels: dropped
    for subset, sensors in (("both", {"S1", "S2"}), ("S2", {"S2"})):
        table = _per_query(text, subset)
        for qid, query in (("q-water", "Water"), ("q-quake", "buildings damaged by an earthquake")):
            want = _expected_ndcg(corpus, encoder, query, qrels[qid], sensors)
            if np.isnan(want):  # no relevant image of this sensor: not in the table
                assert qid not in table
                continue
            row = table[qid]
            assert row["query"] == query
            # the table rounds to 3 decimals: within half a unit of the last digit (+ noise)
            assert abs(float(row["nDCG@10 model"]) - want) <= 5e-4 + 1e-6
    both = _per_query(text, "both")
    n_water = sum(k != NOT_BUILT for k in qrels["q-water"])
    assert both["q-water"]["relevant images"] == str(n_water)
    mean_gain = np.mean(list(qrels["q-quake"].values()))
    assert both["q-quake"]["mean relevant gain"] == f"{mean_gain:.3f}"


def test_qrels_naming_app_image_ids_are_refused_with_the_reason(built, tmp_path, capsys):
    corpus, dataset, _ = built
    other = tmp_path / "ids"
    (other / "qrels").mkdir(parents=True)
    (other / "queries.jsonl").write_text((dataset / "queries.jsonl").read_text())
    meta = load_corpus(corpus).metadata
    lines = [f"q-water\t{i}\t1" for i in meta["image_id"]]  # the app's ids, not h5 keys
    (other / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    assert main(["--corpus", str(corpus), "--qrels", str(other)]) == 2
    err = capsys.readouterr().err
    first = meta["image_id"].iloc[0]
    assert f"no qrels document id is in the corpus (qrels: {first!r}, corpus: 's1_" in err


def test_a_corpus_without_source_key_is_matched_by_group(built, tmp_path, capsys, encoder):
    corpus, dataset, _ = built
    old = tmp_path / "old"
    old.mkdir()
    for path in corpus.iterdir():  # the corpus as build_subset wrote it before source_key
        if path.is_dir():
            (old / path.name).symlink_to(path)
        elif path.name != METADATA:
            (old / path.name).write_bytes(path.read_bytes())
    meta = pd.read_parquet(corpus / METADATA).drop(columns=["source_key", "unmapped_labels"])
    meta.to_parquet(old / METADATA, index=False)
    manifest = json.loads((corpus / "manifest.json").read_text())
    write_manifest(old, meta, encoder.info, manifest["build_command"])
    assert main(["--corpus", str(corpus), "--qrels", str(dataset)]) == 0
    new = capsys.readouterr().out
    assert main(["--corpus", str(old), "--qrels", str(dataset)]) == 0
    text = capsys.readouterr().out
    assert "from column `group`" in text and "from column `source_key`" in new
    strip = re.compile(r"from column `\w+`|Command: .*")
    assert strip.sub("", text) == strip.sub("", new).replace(f"`{corpus.name}`", f"`{old.name}`")
