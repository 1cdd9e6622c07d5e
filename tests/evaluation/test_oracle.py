"""Presence oracle (relevant items first, random order within relevant and within irrelevant):
its closed forms against brute force, its place between random and ideal, and its reporting."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from closp_demo.evaluation.metrics import (
    evaluate,
    expected_oracle_average_precision,
    expected_oracle_ndcg,
    expected_oracle_recall,
    run_evaluation,
)
from closp_demo.evaluation.queries import Query
from tests.evaluation.test_metrics import assert_expectations_match


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


def test_per_query_tables_and_kind_means() -> None:
    queries = [
        Query("Water", ("Water",), "class"),
        Query("a lake", ("Water",), "paraphrase"),
        Query("Trees", ("Trees",), "class"),
        Query("Snow and Ice", ("Snow and Ice",), "class"),
    ]
    labels = [("Water",), ("Water", "Trees"), ("Trees",), ("Trees", "Crops", "Water"), ("Crops",)]
    sensors = ["S2"] * 5
    rng = np.random.default_rng(0)
    result = run_evaluation(
        rng.normal(size=(4, 6)), rng.normal(size=(5, 6)), labels, sensors, queries, ks=(3,)
    )
    rep = result.reports["S2"]
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

    text = result.to_markdown(per_query="class")
    assert "| presence oracle, expected |" in text
    water_row = table.iloc[0]
    assert (
        f"| Water | 3 | {water_row.mean_relevant_gain:.3f} | {water_row.model:.3f} | "
        f"{water_row.random:.3f} | {water_row.oracle:.3f} |"
    ) in text
    assert "| a lake |" not in text and "| Snow and Ice |" not in text  # other kind / no R
    assert "| a lake | paraphrase |" in result.to_markdown(per_query=True)
    assert "| Water | 3 |" not in result.to_markdown()
    with pytest.raises(ValueError, match="unknown query kind"):
        result.to_markdown(per_query="classes")
    groups = set(result.summary()["group"])
    assert {"presence oracle (expected)", "class: presence oracle (expected)"} <= groups
