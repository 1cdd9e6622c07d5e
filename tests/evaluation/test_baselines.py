"""Random baseline and presence oracle (relevant items first, random order within relevant and
within irrelevant): their closed forms against brute force over every order, the Monte-Carlo
check, and the oracle's place between random and ideal."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from closp_demo.evaluation.baselines import (
    expected_oracle_average_precision,
    expected_oracle_ndcg,
    expected_oracle_precision,
    expected_oracle_recall,
    expected_random_average_precision,
    expected_random_ndcg,
    expected_random_precision,
    expected_random_recall,
    random_baseline_monte_carlo,
)
from closp_demo.evaluation.metrics import average_precision, ndcg_at_k, precision_at_k, recall_at_k
from closp_demo.evaluation.scoring import evaluate

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


# --- presence oracle ------------------------------------------------------------------------


def oracle_rankings(gains: np.ndarray) -> list[np.ndarray]:
    """Every ranking the presence oracle can produce, equally likely: each order of the relevant
    items followed by each order of the irrelevant ones."""
    rel, irr = np.flatnonzero(gains > 0), np.flatnonzero(gains == 0)
    return [
        np.array(a + b)
        for a in itertools.permutations(rel.tolist())
        for b in itertools.permutations(irr.tolist())
    ]


# Distinct relevant gains (an image alone in its class, one of 2, one of 3) and irrelevant items.
GAINS = np.array([1 / 3, 0.0, 1.0, 0.5, 0.0, 1 / 3, 0.0])


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7, 9])
def test_oracle_expectation_equals_the_mean_over_all_its_rankings(k: int) -> None:
    perms = oracle_rankings(GAINS)
    assert len(perms) == math.factorial(4) * math.factorial(3)
    assert_expectations_match(perms, GAINS, k, "oracle")


def test_oracle_ndcg_is_below_one_when_relevant_gains_differ() -> None:
    # Two relevant items, gains 1 and 1/2: the oracle puts the better one first half the time.
    # E[DCG@2] = 0.75 (1 + 1/log2 3); IDCG@2 = 1 + 0.5/log2 3.
    d = 1 / math.log2(3)
    expected = 0.75 * (1 + d) / (1 + 0.5 * d)
    assert expected_oracle_ndcg([1.0, 0.0, 0.5], 2) == pytest.approx(expected)
    assert expected < 1
    # @1: E[g_1] = 0.75 against the ideal 1.
    assert expected_oracle_ndcg([1.0, 0.0, 0.5], 1) == pytest.approx(0.75)


@pytest.mark.parametrize("gain", [1.0, 0.5, 1 / 3])
def test_oracle_is_perfect_when_all_relevant_gains_are_equal(gain: float) -> None:
    gains = np.array([0.0, gain, 0.0, gain, gain, 0.0])
    n, r = gains.size, 3
    for k in (1, 2, 3, 5, 6):
        assert expected_oracle_ndcg(gains, k) == pytest.approx(1.0)
        assert expected_oracle_recall(r, n, k) == pytest.approx(min(k, r) / r)
    assert expected_oracle_average_precision(r, n) == 1.0
    # Through `evaluate`: binary relevance (gains 0/1) gives an oracle of 1 on nDCG and MAP.
    report = evaluate(np.zeros((1, n)), gains[None, :], ks=(2, 5), n_shuffles=0)
    for m in ("nDCG@2", "nDCG@5", "AP"):
        assert report.oracle_expected[m] == pytest.approx(1.0)


def test_oracle_is_at_least_random_and_at_most_ideal() -> None:
    rng = np.random.default_rng(11)
    labels = rng.integers(1, 5, size=(40, 60))  # labels per image: gain = 1 / labels
    gains = np.where(rng.random((40, 60)) < 0.25, 1.0 / labels, 0.0)
    gains[:, 0] = 1 / labels[:, 0]  # every query has a relevant image
    report = evaluate(rng.random(gains.shape), gains, ks=(1, 5, 10, 50), n_shuffles=0)
    for m in report.metrics:
        oracle = report.oracle_per_query[m].to_numpy()
        random = report.random_per_query[m].to_numpy()
        assert np.all(oracle >= random - 1e-12), m
        assert np.all(oracle <= 1 + 1e-12), m
        # The model's ranking here is random scores: the oracle beats it on average.
        assert report.oracle_expected[m] >= report.means[m], m
    # Graded gains that differ: the oracle's nDCG is strictly below the ideal's 1.
    assert report.oracle_expected["nDCG@10"] < 1
    assert report.oracle_expected["AP"] == 1.0


def test_a_presence_encoder_averages_to_the_oracle() -> None:
    # Scores = presence (1 relevant, 0 not) + tiny noise: one random draw of the oracle each seed.
    rng = np.random.default_rng(5)
    labels = rng.integers(1, 4, size=(3, 50))
    gains = np.where(rng.random((3, 50)) < 0.3, 1.0 / labels, 0.0)
    gains[:, :2] = [[1.0, 0.5]] * 3
    draws = [
        evaluate(
            (gains > 0) + 1e-6 * np.random.default_rng(s).random(gains.shape),
            gains,
            ks=(10,),
            n_shuffles=0,
        ).means["nDCG@10"]
        for s in range(400)
    ]
    exact = evaluate(gains, gains, ks=(10,), n_shuffles=0).oracle_expected["nDCG@10"]
    stderr = np.std(draws, ddof=1) / math.sqrt(len(draws))
    assert abs(np.mean(draws) - exact) <= 4 * stderr + 1e-9
    assert exact < 1
