"""Corpus build + load: the manifest is checked and damaged artefacts are refused by name."""

import json
import shutil

import numpy as np
import pytest

from closp_demo.corpus import CorpusError, load_corpus
from closp_demo.encoders.base import EncoderInfo


@pytest.fixture()
def corpus_copy(small_corpus, tmp_path):
    dst = tmp_path / "c"
    shutil.copytree(small_corpus, dst)
    return dst


def test_built_corpus_loads_and_is_consistent(small_corpus):
    c = load_corpus(small_corpus)
    m = c.manifest
    assert m["encoder"]["id"] == "physics-minilm" and m["encoder"]["dim"] == 384
    assert len(c) == m["count"] == c.index.ntotal == len(c.embeddings)
    assert set(m["counts_by_sensor"]) == {"S1", "S2"}
    assert sum(m["counts_by_sensor"].values()) == len(c)
    # rows sorted by sensor, so the id ranges partition the corpus
    lo1, hi1 = c.id_range("S1")
    lo2, hi2 = c.id_range("S2")
    assert (lo1, hi2) == (0, len(c)) and hi1 == lo2
    assert (c.metadata["sensor"][lo1:hi1] == "S1").all()
    np.testing.assert_allclose(np.linalg.norm(c.embeddings, axis=1), 1.0, atol=1e-4)
    assert all(c.thumbnail_path(i).is_file() for i in range(len(c)))
    assert (small_corpus / "ATTRIBUTION.md").read_text().count("BigEarthNet") >= 1
    assert m["labelled"] > 0


def test_refuses_a_truncated_embeddings_file(corpus_copy):
    p = corpus_copy / "embeddings.npy"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(CorpusError, match="embeddings.npy.*truncated"):
        load_corpus(corpus_copy)


def test_refuses_a_modified_thumbnail(corpus_copy):
    thumb = next((corpus_copy / "thumbnails").iterdir())
    data = bytearray(thumb.read_bytes())
    data[-1] ^= 0xFF
    thumb.write_bytes(bytes(data))
    with pytest.raises(CorpusError, match=f"{thumb.name}.*checksum"):
        load_corpus(corpus_copy)


def test_refuses_a_missing_file(corpus_copy):
    (corpus_copy / "index.faiss").unlink()
    with pytest.raises(CorpusError, match="index.faiss.*missing"):
        load_corpus(corpus_copy)


def test_refuses_a_missing_or_broken_manifest(corpus_copy):
    (corpus_copy / "manifest.json").write_text("{not json")
    with pytest.raises(CorpusError, match="manifest.json: unreadable"):
        load_corpus(corpus_copy)
    (corpus_copy / "manifest.json").unlink()
    with pytest.raises(CorpusError, match="manifest.json: missing"):
        load_corpus(corpus_copy)


def test_refuses_a_corpus_of_another_encoder(small_corpus):
    other = EncoderInfo(id="closp-rn", version="1", dim=384, name="CLOSP-RN")
    with pytest.raises(CorpusError, match="built with encoder physics-minilm.*closp-rn"):
        load_corpus(small_corpus, expected_encoder=other)


def test_refuses_count_mismatch(corpus_copy):
    path = corpus_copy / "manifest.json"
    m = json.loads(path.read_text())
    m["count"] += 1
    path.write_text(json.dumps(m))
    with pytest.raises(CorpusError, match="rows, manifest says"):
        load_corpus(corpus_copy, verify_checksums=False)
