"""Relevance from labels: graded share, binary, judged pool (see relevance.py's docstring)."""

from __future__ import annotations

import numpy as np
import pytest

from closp_demo.evaluation.relevance import (
    binary_relevance,
    graded_relevance,
    judged_mask,
    relevance_matrix,
)

LABELS = [("Water",), ("Water", "Trees", "Crops"), ("Trees",), (), ("Water", "Trees")]


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
