"""FAISS index: exact cosine search, sensor ranges, persistence with memory-mapping."""

import numpy as np

from closp_demo.index import build_index, load_index, save_index, search


def _unit(n, d, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_matches_brute_force():
    v = _unit(500, 32)
    q = _unit(1, 32, seed=1)[0]
    hits = search(build_index(v), q, 10)
    expected = np.argsort(-(v @ q))[:10]
    assert [h.row for h in hits] == expected.tolist()
    np.testing.assert_allclose([h.score for h in hits], (v @ q)[expected], rtol=1e-5)


def test_id_range_restricts_results():
    v = _unit(100, 16)
    hits = search(build_index(v), v[10], 5, id_range=(40, 60))
    assert hits and all(40 <= h.row < 60 for h in hits)
    assert search(build_index(v), v[10], 5, id_range=(7, 7)) == []


def test_k_larger_than_corpus():
    v = _unit(3, 8)
    assert len(search(build_index(v), v[0], 50)) == 3


def test_roundtrip_memory_mapped(tmp_path):
    v = _unit(200, 16)
    save_index(build_index(v), tmp_path / "i.faiss")
    loaded = load_index(tmp_path / "i.faiss", mmap=True)
    assert loaded.ntotal == 200
    assert search(loaded, v[42], 1)[0].row == 42
