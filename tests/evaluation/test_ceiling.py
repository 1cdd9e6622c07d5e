"""Measured ceilings: the linear probe, leave-one-out, query scores, the flood water ranking, and
the report on the embedded corpus."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from closp_demo.corpus.store import load_corpus
from closp_demo.evaluation.baselines import expected_random_ndcg
from closp_demo.evaluation.ceiling import (
    evidence_features,
    fit_probe,
    flood_ceiling,
    held_out_ceiling,
    loo_scores,
    main,
    ndcg_rows,
    probe_scores,
    query_scores,
)
from closp_demo.evaluation.queries import Query

NAN = float("nan")


def _separable(n: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two features; class 0 present when feature 0 > 0, class 1 when feature 1 > 0."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 1.0, size=(n, 2)) * rng.choice([-1.0, 1.0], size=(n, 2))
    return x, x > 0


def test_a_probe_on_separable_features_ranks_perfectly():
    x, y = _separable()
    p = probe_scores(x[:8], y[:8], x)
    assert p.shape == (12, 2)
    for c in range(2):
        assert p[y[:, c], c].min() > p[~y[:, c], c].max()
    queries = [Query("a", ("Water",), "class"), Query("b", ("Trees",), "class")]
    scores = query_scores(p, queries, ("Water", "Trees"))
    assert ndcg_rows(scores, y.T.astype(float), k=5).tolist() == [1.0, 1.0]


def test_one_valued_labels_give_a_constant_probe_scored_as_random():
    x, _ = _separable()
    probe = fit_probe(x, np.zeros(12))
    assert probe.constant == 0.0 and probe.predict(x).tolist() == [0.0] * 12
    gains = np.array([[1.0, 0, 0, 1, 0, 0]])
    assert ndcg_rows(np.zeros((1, 6)), gains, k=3)[0] == expected_random_ndcg(gains[0], 3)
    assert np.isnan(ndcg_rows(np.arange(6.0)[None], np.zeros((1, 6)), k=3)[0])


def test_leave_one_out_never_sees_the_item_it_scores():
    x, y = _separable()
    y = y[:, :1].copy()
    y[:] = False
    y[4] = True  # the only positive: without it, the fit has no positive and learns nothing
    assert loo_scores(x, y, [4])[0, 0] == 0.0
    for r in (0, 7):  # every other row equals a fit on all rows but that one
        keep = np.arange(12) != r
        assert loo_scores(x, y, [r])[0, 0] == probe_scores(x[keep], y[keep], x[[r]])[0, 0]


def test_a_query_of_several_classes_scores_any_of_them():
    p = np.array([[0.5, 0.5, 0.9], [0.0, 0.0, 0.0]])
    q = Query("savanna", ("Grass", "Shrub and Scrub"), "paraphrase")
    scores = query_scores(p, [q], ("Grass", "Trees", "Shrub and Scrub"))
    assert scores[0, 0] == pytest.approx(1 - 0.5 * 0.1) and scores[0, 1] == 0.0


def test_features_are_the_measurements_and_sqrt_fractions_and_sensors_do_not_mix():
    s2 = json.dumps({"measurements": {"NDVI": 0.5}, "class_weights": {"Water": 0.25}})
    s1 = json.dumps({"measurements": {"VV median dB": -9.0}, "class_weights": {"Water": 0.25}})
    x, names = evidence_features([s2, s2])
    assert names == ["NDVI", "sqrt Water"] and x.tolist() == [[0.5, 0.5], [0.5, 0.5]]
    with pytest.raises(ValueError, match="mixed sensors"):
        evidence_features([s2, s1])


def _evidence(water: float) -> str:
    return json.dumps({"class_weights": {"Water": water, "Flooded Vegetation": 0.0}})


def test_the_flood_ranking_counts_the_lakes_that_outrank_flood_tiles():
    meta = pd.DataFrame({
        "sensor": ["S2"] * 5,
        "source": ["hydro", "sen1floods11", "sen1floods11", "sen1floods11", "bigearthnet"],
        "labels": ["", "Water|Flooded Area", "Water|Flooded Area", "Water", "Trees"],
        "evidence": [_evidence(w) for w in (1.0, 0.5, 0.2, 0.05, 0.0)],
        "water_fraction": [NAN, 0.6, 0.3, 0.1, NAN],
        "flood_fraction": [NAN, 0.5, 0.2, 0.0, NAN],
    })  # fmt: skip
    row = flood_ceiling(SimpleNamespace(metadata=meta), "S2", k=3)[0]
    assert row["estimate"] == "Water" and row["flood tiles"] == 2
    assert row["above first"] == 1 and row["above median by source"] == "hydro 1"
    assert row["nDCG Sen1Floods11"] == 1.0 and row["nDCG all"] < 1.0
    assert row["rho water"] == pytest.approx(1.0) and row["rho flood"] == pytest.approx(1.0)


def test_on_the_embedded_corpus_a_class_no_train_patch_carries_is_random(repo_root):
    corpus = load_corpus(repo_root / "precomputed", verify_checksums=False)
    meta = corpus.metadata
    train = meta[(meta["source"] == "bigearthnet") & (meta["split"] == "train")]
    assert not train["labels"].str.contains("Flooded Vegetation").any()
    table = held_out_ceiling(corpus, "S2").set_index("query")
    assert len(table) == 43
    fv = table.loc["Flooded Vegetation"]
    assert fv["probe, train"] == fv["random"] and fv["probe, LOO"] != fv["random"]


def test_the_cli_writes_its_section_and_refuses_a_missing_corpus(repo_root, tmp_path, capsys):
    out = tmp_path / "B.md"
    out.write_text("# Title\n")
    assert main(["--corpus", str(repo_root / "precomputed"), "--write", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Title") and "<!-- eval-ceiling:start -->" in text
    assert "| S2 | 43 |" in text and "| S1 | 43 |" in text and "| S2 | Water | 248 | 13 |" in text
    assert main(["--corpus", str(tmp_path / "none")]) == 2
    assert "error:" in capsys.readouterr().err
