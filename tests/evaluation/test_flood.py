"""Flood queries: relevance from the Sen1Floods11 water fractions, scoring, and the report on the
embedded corpus."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from closp_demo.corpus.sources import sen1floods11
from closp_demo.corpus.store import load_corpus
from closp_demo.evaluation.flood import flood_gains, main, score_queries

NAN = float("nan")


def _meta() -> pd.DataFrame:
    return pd.DataFrame({
        "source": ["sen1floods11", "sen1floods11", "bigearthnet", "hydro"],
        "labels": ["Water|Flooded Area", "Water", "Water|Trees", ""],
        "water_fraction": [0.4, 0.03, NAN, NAN],
        "flood_fraction": [0.3, 0.004, NAN, NAN],
    })  # fmt: skip


def test_gains_come_from_the_fractions():
    meta = _meta()
    # flood: the flood-water share, only where the rule labelled the tile Flooded Area
    np.testing.assert_array_equal(flood_gains(meta, "flood"), [0.3, 0.0, 0.0, 0.0])
    # water: the water share of every masked tile, river channel included
    np.testing.assert_array_equal(flood_gains(meta, "water"), [0.4, 0.03, 0.0, 0.0])


def test_gain_errors_are_specific():
    with pytest.raises(ValueError, match="no 'flood_fraction' column.*rebuild"):
        flood_gains(_meta().drop(columns="flood_fraction"))
    with pytest.raises(ValueError, match="gain must be one of"):
        flood_gains(_meta(), "depth")
    bad = _meta()
    bad.loc[0, "water_fraction"] = 1.5
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        flood_gains(bad, "water")


def test_scores_rank_by_similarity_per_sensor():
    # One axis per image; query 0 prefers images in gain order, query 1 the reverse.
    gains = np.array([0.6, 0.2, 0.0, 0.0, 0.5, 0.1, 0.0, 0.0])
    vectors = np.eye(8)
    best = np.array([4, 3, 2, 1, 4, 3, 2, 1], float)
    queries = np.stack([best, best[::-1]])
    sensors = ["S1"] * 4 + ["S2"] * 4
    sources = ["s11", "s11", "ben", "ben"] * 2
    frame = score_queries(queries, vectors, sensors, {"flood": gains}, sources, ["good", "bad"], 2)
    s1 = frame[frame.subset == "S1"].set_index("query")
    assert s1.loc["good", "nDCG@2 flood"] == 1.0 and s1.loc["good", "P@2"] == 1.0
    assert s1.loc["good", "first relevant"] == 1 and s1.loc["good", "top 2"] == "s11 2"
    assert s1.loc["bad", "nDCG@2 flood"] == 0.0 and s1.loc["bad", "first relevant"] == 3
    assert s1.loc["good", "random nDCG@2"] == pytest.approx(
        0.2 * (1 + 1 / math.log2(3)) / (0.6 + 0.2 / math.log2(3))
    )  # mean gain x discount sum / IDCG
    both = frame[frame.subset == "both"].set_index("query")
    assert both.loc["good", "relevant"] == 4 and both.loc["good", "pool"] == 8
    # S1 and S2 in one list: the 0.6 and 0.5 images tie first (corpus order), the ideal order
    assert both.loc["good", "nDCG@2 flood"] == 1.0 and both.loc["good", "top 2"] == "s11 2"


@pytest.fixture(scope="module")
def embedded(repo_root):
    return load_corpus(repo_root / "precomputed", verify_checksums=False)


def test_embedded_corpus_carries_the_masks_fractions(embedded, samples_dir):
    meta = embedded.metadata
    rows = meta[meta["source"] == "sen1floods11"].set_index("image_id")
    for r in sen1floods11.iter_records(samples_dir):  # the corpus is not stale
        assert rows.loc[r.image_id, "water_fraction"] == r.extra["water_fraction"]
        assert rows.loc[r.image_id, "flood_fraction"] == r.extra["flood_fraction"]
    assert meta.loc[meta["source"] != "sen1floods11", "water_fraction"].isna().all()
    gains = flood_gains(meta)
    relevant = meta[gains > 0]
    assert set(relevant["source"]) == {"sen1floods11"}
    assert relevant["sensor"].value_counts().to_dict() == {"S1": 13, "S2": 13}
    assert relevant["labels"].str.contains("Flooded Area").all()


def test_report_writes_its_section(repo_root, tmp_path):
    out = tmp_path / "B.md"
    out.write_text("# Title\n")
    main(["--corpus", str(repo_root / "precomputed"), "--write", str(out)])
    text = out.read_text()
    assert text.startswith("# Title") and "<!-- eval-flood:start -->" in text
    for heading in ("#### S1: 13 relevant of", "#### S2: 13 relevant of", "#### both: 26"):
        assert heading in text
    assert "| flooded fields after heavy rain |" in text
    assert "sen1floods11 pairs:" in text and "| S1->S2 | 16 |" in text


def test_a_corpus_without_the_columns_loads_and_is_refused_clearly(small_corpus):
    corpus = load_corpus(small_corpus, verify_checksums=False)  # built with BigEarthNet only
    assert "water_fraction" not in corpus.metadata.columns
    with pytest.raises(ValueError, match="rebuild"):
        flood_gains(corpus.metadata)
