"""run_evaluation end to end on the real BigEarthNet samples (labels and pixels)."""

from __future__ import annotations

import numpy as np
import pytest

from closp_demo.evaluation.queries import Query, load_queries
from closp_demo.evaluation.run import run_evaluation
from closp_demo.sensors import s2_band
from tests.helpers.evaluation import (
    class_indicator_vectors,
    label_share_result,
    label_share_vectors,
)


def test_oracle_scores_rank_perfectly_per_sensor(ben: dict) -> None:
    # Dot products of these vectors equal the graded gains, so every list is in ideal order.
    queries = load_queries("all")
    result = label_share_result(ben, queries, n_shuffles=20)
    n_s1, n_s2 = ben["sensors"].count("S1"), ben["sensors"].count("S2")
    assert result.n_images == {"S1": n_s1, "S2": n_s2, "both": n_s1 + n_s2}
    assert list(result.reports) == ["S1", "S2", "both"]
    for subset, report in result.reports.items():
        assert report.n_scored > 0
        for metric in report.metrics:
            if metric.startswith(("nDCG", "AP")):
                assert report.means[metric] == pytest.approx(1.0), (subset, metric)
            assert report.means[metric] >= report.random_expected[metric] - 1e-12
        # No crisis image among the samples: those queries are skipped, not scored as zero.
        row = report.per_query.set_index("query").loc["Burned Area"]
        assert row["n_relevant"] == 0 and np.isnan(row["AP"])
    assert result.reports["both"].n_judged > 100  # 126 images: @100 is reported there only
    assert "nDCG@100" in result.reports["both"].metrics
    assert "nDCG@100" not in result.reports["S1"].metrics


def test_shuffled_oracle_scores_lower(ben: dict) -> None:
    queries = load_queries("classes")
    vectors = label_share_vectors(ben["labels"])
    shuffled = vectors[np.random.default_rng(0).permutation(len(vectors))]
    args = (ben["labels"], ben["sensors"], queries)
    good = run_evaluation(class_indicator_vectors(queries), vectors, *args, n_shuffles=0)
    bad = run_evaluation(class_indicator_vectors(queries), shuffled, *args, n_shuffles=0)
    assert bad.reports["both"].means["AP"] < good.reports["both"].means["AP"] - 0.2


def test_water_fraction_from_real_pixels_beats_random(ben: dict) -> None:
    # A one-number 'encoder' from real S2 pixels: the share of pixels with NDWI > 0.
    s2 = [i for i, s in enumerate(ben["sensors"]) if s == "S2"]
    water = []
    for i in s2:
        image = ben["images"][i].astype(np.float64)
        green, nir = s2_band(image, "B03"), s2_band(image, "B08")
        water.append(float(((green - nir) / np.maximum(green + nir, 1e-6) > 0).mean()))
    query = [Query("Water", ("Water",), "class")]
    result = run_evaluation(
        np.ones((1, 1)),
        np.array(water)[:, None],
        [ben["labels"][i] for i in s2],
        ["S2"] * len(s2),
        query,
        ks=(10,),
    )
    report = result.reports["S2"]
    assert set(result.reports) == {"S2"}  # one sensor: no separate "both"
    assert report.means["AP"] > report.random_expected["AP"] + 0.2
    assert report.means["nDCG@10"] > report.random_expected["nDCG@10"] + 0.3


def test_summary_long_table(ben: dict, mixed_kinds_result) -> None:
    summary = label_share_result(ben, load_queries("all"), n_shuffles=10).summary()
    assert set(summary["subset"]) == {"S1", "S2", "both"}
    groups = set(summary["group"])
    assert {"all", "class", "paraphrase", "random (expected)"} <= groups
    assert {"presence oracle (expected)", "paraphrase: presence oracle (expected)"} <= groups
    groups = set(mixed_kinds_result.summary()["group"])
    assert {"presence oracle (expected)", "class: presence oracle (expected)"} <= groups


def test_binary_relevance_changes_ndcg_not_ap(ben: dict) -> None:
    queries = load_queries("classes")[:9]
    rng = np.random.default_rng(5)
    qv, iv = rng.normal(size=(9, 8)), rng.normal(size=(len(ben["labels"]), 8))
    args = (qv, iv, ben["labels"], ben["sensors"], queries)
    graded = run_evaluation(*args, relevance="graded", n_shuffles=0).reports["both"]
    binary = run_evaluation(*args, relevance="binary", n_shuffles=0).reports["both"]
    assert graded.means["AP"] == binary.means["AP"]
    assert graded.means["nDCG@10"] != binary.means["nDCG@10"]


def test_a_sensor_without_labels_is_noted() -> None:
    queries = load_queries("classes")[:2]
    result = run_evaluation(
        np.eye(2, 3), np.eye(3), [(), (), ("Water",)], ["S1", "S1", "S2"], queries, ks=(1,)
    )
    assert set(result.reports) == {"S2", "both"}
    assert "S1: no judged (labelled) image, not evaluated." in result.to_markdown()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query_vectors": np.ones((2, 4))}, "dimension 4"),
        ({"query_vectors": np.ones((3, 3))}, "2 queries but 3"),
        ({"image_sensors": ["S1", "S3", "S2"]}, "unknown sensor"),
        ({"image_sensors": ["S1"]}, "1 image sensors for 3"),
        ({"image_labels": [("Water",)]}, "1 image label sets"),
        ({"image_labels": None}, "pass image_labels"),
        ({"image_vectors": np.ones(3)}, "2-D"),
        ({"gains": np.ones((2, 2))}, "gains shape"),
        ({"relevance": "fuzzy"}, "graded"),
    ],
)
def test_bad_input_raises(kwargs: dict, message: str) -> None:
    args = {
        "query_vectors": np.ones((2, 3)),
        "image_vectors": np.eye(3),
        "image_labels": [("Water",), ("Trees",), ()],
        "image_sensors": ["S1", "S2", "S2"],
        "queries": load_queries("classes")[:2],
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        run_evaluation(**args)
