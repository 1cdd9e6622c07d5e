"""Evaluation fixtures: the real BigEarthNet samples, a small mixed-kind evaluation, and the
live report of the physics baseline on a real built corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from closp_demo.corpus.store import load_corpus
from closp_demo.encoders import create_encoder
from closp_demo.evaluation.cli import evaluate_loaded
from closp_demo.evaluation.queries import Query
from closp_demo.evaluation.run import EvaluationResult, run_evaluation
from tests.helpers.evaluation import load_ben_samples


@pytest.fixture(scope="module")
def ben(samples_dir: Path) -> dict:
    return load_ben_samples(samples_dir)


@pytest.fixture
def mixed_kinds_result() -> EvaluationResult:
    """Four queries of two kinds on five S2 images; "Snow and Ice" has no relevant image."""
    queries = [
        Query("Water", ("Water",), "class"),
        Query("a lake", ("Water",), "paraphrase"),
        Query("Trees", ("Trees",), "class"),
        Query("Snow and Ice", ("Snow and Ice",), "class"),
    ]
    labels = [("Water",), ("Water", "Trees"), ("Trees",), ("Trees", "Crops", "Water"), ("Crops",)]
    sensors = ["S2"] * 5
    rng = np.random.default_rng(0)
    return run_evaluation(
        rng.normal(size=(4, 6)), rng.normal(size=(5, 6)), labels, sensors, queries, ks=(3,)
    )


@pytest.fixture(scope="session")
def live_report(small_corpus: Path) -> tuple[str, EvaluationResult | None]:
    """`evaluate_loaded` of the physics baseline on the class-name queries (what the app shows)."""
    corpus = load_corpus(small_corpus, verify_checksums=False)
    return evaluate_loaded(corpus, create_encoder("physics-minilm"), queries_kind="classes")
