"""Metrics against numbers derived by hand from their definitions (see metrics' docstring)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from closp_demo.evaluation.metrics import (
    average_precision,
    binary_relevance,
    condense,
    dcg_at_k,
    evaluate,
    expected_oracle_average_precision,
    expected_oracle_ndcg,
    expected_oracle_precision,
    expected_oracle_recall,
    expected_random_average_precision,
    expected_random_ndcg,
    expected_random_precision,
    expected_random_recall,
    graded_relevance,
    judged_mask,
    ndcg_at_k,
    precision_at_k,
    random_baseline_monte_carlo,
    rank,
    recall_at_k,
    relevance_matrix,
)

LABELS = [("Water",), ("Water", "Trees", "Crops"), ("Trees",), (), ("Water", "Trees")]


# --- relevance ------------------------------------------------------------------------------


def test_graded_relevance_is_the_share_of_matching_labels() -> None:
    # Water only -> 1; Water+Trees+Crops -> 1/3; Trees -> 0; unlabelled -> 0; Water+Trees -> 1/2.
    np.testing.assert_allclose(graded_relevance(LABELS, ["Water"]), [1, 1 / 3, 0, 0, 1 / 2])
    # A class set: {Water, Trees} covers 2 of the 3 labels of image 1.
    np.testing.assert_allclose(graded_relevance(LABELS, ["Water", "Trees"]), [1, 2 / 3, 1, 0, 1])


def test_binary_relevance_and_judged_pool() -> None:
    assert binary_relevance(LABELS, ["Crops"]).tolist() == [False, True, False, False, False]
    assert binary_relevance(LABELS, "Water").tolist() == [True, True, False, False, True]
    assert judged_mask(LABELS).tolist() == [True, True, True, False, True]


def test_relevance_matrix_rows_match_the_single_query_functions() -> None:
    classes = [("Water",), ("Trees", "Crops")]
    graded = relevance_matrix(LABELS, classes, graded=True)
    binary = relevance_matrix(LABELS, classes, graded=False)
    for q, c in enumerate(classes):
        np.testing.assert_allclose(graded[q], graded_relevance(LABELS, c))
        np.testing.assert_array_equal(binary[q], binary_relevance(LABELS, c).astype(float))


@pytest.mark.parametrize(
    ("labels", "classes", "message"),
    [
        ([("Lake",)], ["Water"], "unknown label"),
        ([("Water",)], ["Lake"], "unknown query class"),
        ([("Water",)], [], "at least one class"),
        (["Water"], ["Water"], "not a str"),
    ],
)
def test_relevance_rejects_bad_labels(labels, classes, message) -> None:
    with pytest.raises(ValueError, match=message):
        graded_relevance(labels, classes)


# --- per-list metrics -------------------------------------------------------------------------


def test_average_precision_hand_computed() -> None:
    # Ranking [rel, non, rel] with 2 relevant: AP = (1/1 + 2/3) / 2 = 5/6.
    assert average_precision([0, 1, 2], [1, 0, 1]) == pytest.approx(5 / 6)
    # [non, rel, non, rel]: AP = (1/2 + 2/4) / 2 = 1/2.
    assert average_precision([1, 0, 2, 3], [1, 0, 0, 1]) == pytest.approx(0.5)
    # A relevant item the ranking never reaches adds 0: [rel, non] of R=2 -> (1/1 + 0) / 2.
    assert average_precision([0, 1], [1, 0, 1]) == pytest.approx(0.5)
    assert math.isnan(average_precision([0, 1], [0, 0]))


def test_precision_and_recall_hand_computed() -> None:
    ranking, relevant = [2, 0, 1, 3], [1, 0, 1, 0]  # positions hold: rel, rel, non, non
    assert [precision_at_k(ranking, relevant, k) for k in (1, 2, 3, 4)] == pytest.approx(
        [1, 1, 2 / 3, 2 / 4]
    )
    assert [recall_at_k(ranking, relevant, k) for k in (1, 2, 4)] == pytest.approx([0.5, 1, 1])
    # k past the end of the list: P@k still divides by k (2 hits / 10), recall is complete.
    assert precision_at_k(ranking, relevant, 10) == pytest.approx(0.2)
    assert recall_at_k(ranking, relevant, 10) == 1.0
    assert math.isnan(recall_at_k(ranking, [0, 0, 0, 0], 2))


def test_ndcg_hand_computed() -> None:
    gains = [1.0, 1 / 3, 0.0, 0.5]
    # Ranking [1, 0, 2, 3] puts gains (1/3, 1, 0, 1/2) at positions 1..4; discounts log2(i + 1).
    dcg = (1 / 3) / 1 + 1 / math.log2(3) + 0 / 2 + 0.5 / math.log2(5)
    # Ideal order (1, 1/2, 1/3, 0).
    idcg = 1 / 1 + 0.5 / math.log2(3) + (1 / 3) / 2
    assert ndcg_at_k([1, 0, 2, 3], gains, 4) == pytest.approx(dcg / idcg)
    # @2: DCG (1/3 + 1/log2 3), ideal (1 + 0.5/log2 3).
    assert ndcg_at_k([1, 0, 2, 3], gains, 2) == pytest.approx(
        (1 / 3 + 1 / math.log2(3)) / (1 + 0.5 / math.log2(3))
    )
    assert dcg_at_k([3, 2], 5) == pytest.approx(3 + 2 / math.log2(3))


def test_perfect_ranking_scores_one_and_reversed_scores_low() -> None:
    gains = np.array([0.0, 0.2, 1.0, 0.0, 0.5, 0.0, 0.0, 1 / 3])
    perfect = rank(gains)
    reverse = perfect[::-1]
    for k in (1, 3, 8, 20):
        assert ndcg_at_k(perfect, gains, k) == pytest.approx(1.0)
    assert average_precision(perfect, gains) == pytest.approx(1.0)
    # Reversed: the 4 non-relevant items come first, so nothing relevant in the top 3 ...
    assert ndcg_at_k(reverse, gains, 3) == 0.0
    # ... and relevant items at positions 5..8: AP = (1/5 + 2/6 + 3/7 + 4/8) / 4.
    assert average_precision(reverse, gains) == pytest.approx((1 / 5 + 2 / 6 + 3 / 7 + 4 / 8) / 4)
    assert ndcg_at_k(reverse, gains, 8) < 0.6


def test_no_positive_gain_gives_nan_ndcg() -> None:
    assert math.isnan(ndcg_at_k([0, 1], [0.0, 0.0], 2))


def test_rank_breaks_ties_by_corpus_order() -> None:
    assert rank([0.5, 0.9, 0.5, 0.9]).tolist() == [1, 3, 0, 2]


def test_condensed_list_drops_unlabelled_items() -> None:
    judged = judged_mask([("Water",), (), ("Trees",), ()])
    assert condense([1, 3, 0, 2], judged).tolist() == [0, 2]
    # An unlabelled image ranked first would cost P@1; condensed, the relevant one is first.
    relevant = binary_relevance([("Water",), (), ("Trees",), ()], ["Water"])
    assert precision_at_k([1, 0, 2, 3], relevant, 1) == 0.0
    assert precision_at_k(condense([1, 0, 2, 3], judged), relevant, 1) == 1.0


@pytest.mark.parametrize(
    ("ranking", "message"),
    [([0, 0], "twice"), ([0, 5], r"\[0, 3\)"), ([[0, 1]], "1-D"), ([0.5], "1-D")],
)
def test_bad_rankings_raise(ranking, message) -> None:
    with pytest.raises(ValueError, match=message):
        ndcg_at_k(ranking, [1.0, 0.0, 0.5], 2)


def test_bad_k_and_gains_raise() -> None:
    with pytest.raises(ValueError, match="positive integer"):
        precision_at_k([0], [1], 0)
    with pytest.raises(ValueError, match="non-negative"):
        ndcg_at_k([0], [-1.0], 1)


# --- random baseline ------------------------------------------------------------------------


def test_expected_random_metrics_equal_the_mean_over_all_permutations() -> None:
    # Exhaustive check of the closed forms: every one of the 5! orders, equally likely.
    gains = np.array([1.0, 0.0, 1 / 3, 0.0, 0.5])
    perms = list(itertools.permutations(range(gains.size)))
    for k in (1, 2, 4, 5, 7):
        assert_expectations_match(perms, gains, k, "random")


def assert_expectations_match(perms: list, gains: np.ndarray, k: int, ranking: str) -> None:
    """The closed forms of `ranking` ("random" or "oracle") equal the mean over `perms`."""
    n, r = gains.size, int((gains > 0).sum())
    fns = {
        "random": (expected_random_ndcg, expected_random_precision, expected_random_recall,
                   expected_random_average_precision),
        "oracle": (expected_oracle_ndcg, expected_oracle_precision, expected_oracle_recall,
                   expected_oracle_average_precision),
    }[ranking]  # fmt: skip
    ndcg, prec, rec, ap = fns
    assert ndcg(gains, k) == pytest.approx(np.mean([ndcg_at_k(p, gains, k) for p in perms]))
    assert prec(r, n, k) == pytest.approx(np.mean([precision_at_k(p, gains, k) for p in perms]))
    assert rec(r, n, k) == pytest.approx(np.mean([recall_at_k(p, gains, k) for p in perms]))
    assert ap(r, n) == pytest.approx(np.mean([average_precision(p, gains) for p in perms]))


def test_expected_random_ap_edge_cases() -> None:
    assert expected_random_average_precision(1, 1) == 1.0
    assert expected_random_average_precision(4, 4) == pytest.approx(1.0)
    # One relevant among n: E[AP] = E[1/position] = H_n / n; n = 3 -> (1 + 1/2 + 1/3) / 3.
    assert expected_random_average_precision(1, 3) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert math.isnan(expected_random_average_precision(0, 3))
    with pytest.raises(ValueError, match="R <= n"):
        expected_random_average_precision(4, 3)


def test_monte_carlo_agrees_with_the_expectation() -> None:
    rng = np.random.default_rng(7)
    gains = np.where(rng.random((6, 400)) < 0.15, rng.random((6, 400)), 0.0)
    gains[:, 0] = 1.0  # every query has a relevant item
    ks = (10, 50)
    mc, se = random_baseline_monte_carlo(gains, ks, n_shuffles=300, seed=1)
    report = evaluate(rng.random(gains.shape), gains, ks=ks, n_shuffles=0)
    for metric, expected in report.random_expected.items():
        assert abs(mc[metric] - expected) <= 4 * se[metric] + 1e-3, metric
    assert report.random_monte_carlo == {}


# --- evaluate ---------------------------------------------------------------------------------


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
