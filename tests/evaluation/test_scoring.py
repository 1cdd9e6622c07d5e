"""`evaluate` on a score matrix: condensed lists, reported cut-offs, means, per-query tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from closp_demo.evaluation.baselines import expected_oracle_ndcg
from closp_demo.evaluation.relevance import judged_mask, relevance_matrix
from closp_demo.evaluation.scoring import evaluate


def test_evaluate_hand_computed_with_condensed_lists() -> None:
    labels = [(), ("Water",), ("Trees",), ("Water", "Trees"), ()]
    gains = relevance_matrix(labels, [("Water",), ("Crops",)])
    # Query 0 ranks images 0, 2, 1, 3, 4; unlabelled 0 and 4 go -> condensed [2, 1, 3]: gains
    # (0, 1, 1/2) -> AP = (1/2 + 2/3) / 2; nDCG@2 = (1/log2 3) / (1 + 0.5/log2 3).
    scores = np.array([[0.9, 0.5, 0.8, 0.1, 0.95], [0.1, 0.2, 0.3, 0.4, 0.5]])
    report = evaluate(scores, gains, judged_mask(labels), ks=(2, 3, 4), n_shuffles=0)
    row = report.per_query.iloc[0]
    assert row["n_judged"] == 3 and row["n_relevant"] == 2
    assert row["AP"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert row["nDCG@2"] == pytest.approx((1 / math.log2(3)) / (1 + 0.5 / math.log2(3)))
    assert row["P@2"] == pytest.approx(0.5) and row["R@2"] == pytest.approx(0.5)
    # k = 4 exceeds the 3 judged images: not reported, and the notes say so.
    assert report.metrics == ["nDCG@2", "nDCG@3", "P@2", "P@3", "R@2", "R@3", "AP"]
    assert any("@4 not reported" in note for note in report.notes)
    # Query 1 (Crops) has no relevant image: NaN row, left out of the means, named in the notes.
    assert report.per_query.iloc[1][report.metrics].isna().all()
    assert report.n_scored == 1
    assert report.means["AP"] == pytest.approx(row["AP"])
    assert any("'q1'" in note for note in report.notes)
    # Random expectation for query 0: n = 3, R = 2 -> E[AP] = (H_3 + (2-1)(3-H_3)/2) / 3.
    h3 = 1 + 1 / 2 + 1 / 3
    assert report.random_expected["AP"] == pytest.approx((h3 + (3 - h3) / 2) / 3)
    assert report.random_expected["P@2"] == pytest.approx(2 / 3)


def test_evaluate_perfect_scores() -> None:
    rng = np.random.default_rng(3)
    gains = np.where(rng.random((4, 30)) < 0.3, rng.integers(1, 4, (4, 30)) / 3, 0.0)
    gains[:, 0] = 1.0
    report = evaluate(gains.copy(), gains, ks=(5, 10, 100), n_shuffles=20)
    for m in ("nDCG@5", "nDCG@10", "AP"):
        assert report.means[m] == pytest.approx(1.0)
    assert "nDCG@100" not in report.per_query.columns
    assert report.means["nDCG@10"] > report.random_expected["nDCG@10"]
    assert report.n_shuffles == 20 and set(report.random_stderr) == set(report.metrics)


@pytest.mark.parametrize(
    ("scores", "gains", "judged", "message"),
    [
        (np.zeros((2, 3)), np.zeros((2, 4)), None, "differs from scores"),
        (np.full((1, 3), np.nan), np.zeros((1, 3)), None, "NaN or infinite"),
        (np.zeros((1, 3)), -np.ones((1, 3)), None, "non-negative"),
        (np.zeros((1, 3)), np.ones((1, 3)), np.zeros(3, bool), "no judged"),
        (np.zeros((1, 3)), np.ones((1, 3)), np.ones(2, bool), "judged must be"),
        (np.zeros(3), np.ones(3), None, "matrix"),
    ],
)
def test_evaluate_rejects_bad_input(scores, gains, judged, message) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(scores, gains, judged, ks=(1,), n_shuffles=0)


def test_per_query_tables_and_kind_means(mixed_kinds_result) -> None:
    rep = mixed_kinds_result.reports["S2"]
    water = rep.per_query.index[rep.per_query["query"] == "Water"][0]
    gains = np.array([1.0, 0.5, 0.0, 1 / 3, 0.0])
    assert rep.per_query.loc[water, "mean_relevant_gain"] == pytest.approx(np.mean([1, 0.5, 1 / 3]))
    assert rep.oracle_per_query.loc[water, "nDCG@3"] == pytest.approx(
        expected_oracle_ndcg(gains, 3)
    )
    # Snow and Ice has no relevant image: NaN everywhere and out of every mean.
    snow = rep.per_query.index[rep.per_query["query"] == "Snow and Ice"][0]
    assert rep.oracle_per_query.loc[snow].isna().all()
    assert rep.random_per_query.loc[snow].isna().all()
    scored = rep.per_query["n_relevant"] > 0
    assert rep.oracle_expected["nDCG@3"] == pytest.approx(
        rep.oracle_per_query.loc[scored, "nDCG@3"].mean()
    )
    by_kind = rep.kind_means("oracle")
    assert set(by_kind) == {"class", "paraphrase"}
    # The paraphrase asks for the same class as "Water": same oracle.
    assert by_kind["paraphrase"]["nDCG@3"] == pytest.approx(
        rep.oracle_per_query.loc[water, "nDCG@3"]
    )
    table = rep.query_table("nDCG@3")
    assert table["query"].tolist() == ["Water", "a lake", "Trees"]
    with pytest.raises(ValueError, match="not reported"):
        rep.query_table("nDCG@10")
    with pytest.raises(ValueError, match="ranking must be"):
        rep.kind_means("ideal")  # type: ignore[arg-type]
