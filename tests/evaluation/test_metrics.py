"""Metrics against numbers derived by hand from their definitions (see metrics' docstring)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from closp_demo.evaluation.metrics import (
    average_precision,
    condense,
    dcg_at_k,
    ndcg_at_k,
    precision_at_k,
    rank,
    recall_at_k,
)
from closp_demo.evaluation.relevance import binary_relevance, judged_mask


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
