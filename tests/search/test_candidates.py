"""Top-k within a row set (`search.candidates`): exact for small or fully wanted sets, the index
with a bitmap for large ones, and never fewer than k when k rows pass."""

from __future__ import annotations

import numpy as np
import pytest

from closp_demo.corpus.index import IndexSpec, build_index
from closp_demo.search import candidates
from closp_demo.search.candidates import top_k, top_rows


@pytest.fixture(scope="module")
def world(repo_root):
    """3000 vectors around the embedded corpus's real embeddings; an IVF probing 1 of 32 lists."""
    real = np.load(repo_root / "precomputed" / "embeddings.npy")
    rng = np.random.default_rng(0)
    v = real[rng.integers(0, len(real), 3000)] + rng.normal(0, 0.05, (3000, real.shape[1]))
    v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return v, build_index(v, spec=IndexSpec("ivf", nlist=32, nprobe=1))


def test_every_row_wanted_is_every_row_scored(world):
    """A place's "prefer" mode asks for all its rows: they all come, with exact scores, though
    the index probing one list would reach few of them."""
    v, ivf = world
    rows = np.arange(0, 3000, 3)  # 1000 rows: over 1/32 of the corpus
    rows_got, sims = top_rows(ivf, v, v[5], rows, len(rows))
    assert sorted(rows_got.tolist()) == rows.tolist()
    np.testing.assert_allclose(sims, v[rows_got] @ v[5], atol=1e-5)


def test_a_large_set_goes_through_the_index_and_keeps_to_the_set(world, monkeypatch):
    """A third of the rows kept, within the sensor range: the index (probe widened 3x) returns
    k kept rows of the range, nearly all the true best (IVF stays approximate)."""
    v, _ = world
    ivf = build_index(v, spec=IndexSpec("ivf", nlist=32, nprobe=4))
    mask = np.zeros(len(v), bool)
    mask[1::2] = True
    mask[:100] = False
    calls = []
    exact_scoring = candidates._exact
    monkeypatch.setattr(candidates, "_exact", lambda *a: calls.append(1) or exact_scoring(*a))
    reached = []
    for q in v[:20]:
        hits = top_k(ivf, v, q, 10, (0, 2000), mask)
        assert all(100 <= h.row < 2000 and mask[h.row] for h in hits) and len(hits) == 10
        kth = np.sort(v[100:2000][mask[100:2000]] @ q)[::-1][9]
        reached.append(np.mean([h.score >= kth - 1e-5 for h in hits]))
    assert not calls  # no exact scoring: the index served every query
    assert np.mean(reached) >= 0.9


def test_a_small_set_is_scored_exactly_and_an_empty_one_gives_nothing(world):
    v, ivf = world
    mask = np.zeros(len(v), bool)
    mask[[7, 8, 2999]] = True
    assert {h.row for h in top_k(ivf, v, v[0], 10, None, mask)} == {7, 8, 2999}
    assert top_k(ivf, v, v[0], 10, (0, 7), mask) == []
