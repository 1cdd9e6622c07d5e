"""Corpus build + load: the manifest is checked and damaged artefacts are refused by name, at
start (CorpusError) or, for what load_corpus defers at scale, reported by the background check."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from closp_demo.corpus.store import CorpusError, load_corpus, sha256_file
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


def test_thumbnail_file_is_the_thumbnail_path_as_text(small_corpus, monkeypatch):
    c = load_corpus(small_corpus)
    ids = c.metadata["image_id"].tolist()
    assert [c.thumbnail_file(i) for i in ids] == [str(c.thumbnail_path(r)) for r in range(len(c))]
    # an id with slashes: pathlib's answer (repeated slashes folded), kept exactly
    assert c.thumbnail_file("odd//name/") == str(c.root / "thumbnails" / "odd//name/.webp")
    monkeypatch.chdir(small_corpus.parent)  # a relative root stays relative, as in thumbnail_path
    rel = load_corpus(small_corpus.relative_to(small_corpus.parent))
    assert rel.thumbnail_file(ids[0]) == str(rel.thumbnail_path(0))


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


# --- integrity at start-up: what is checked before load_corpus returns, what after -------------


def flip_last_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def wait_done(corpus) -> None:
    assert corpus.integrity.wait(120), "background integrity check did not finish"


def test_thumbnail_checksums_live_in_one_sha256sum_digest(small_corpus):
    m = json.loads((small_corpus / "manifest.json").read_text())
    assert set(m["files"]) == {
        "metadata.parquet", "embeddings.npy", "index.faiss", "thumbnails.sha256", "bands.zip"
    }  # fmt: skip
    assert m["thumbnail_digest"] == "thumbnails.sha256"
    lines = (small_corpus / "thumbnails.sha256").read_text().splitlines()
    assert len(lines) == m["count"]
    # the standard tool verifies it too (CI, after copying a corpus)
    done = subprocess.run(["sha256sum", "--check", "--quiet", "thumbnails.sha256"],
                          cwd=small_corpus, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    corpus = load_corpus(small_corpus)
    assert corpus.integrity.state == "ok" and corpus.integrity.total == 0  # all done at start


def test_a_damaged_thumbnail_of_a_large_corpus_is_reported_in_the_background(corpus_copy):
    thumb = sorted((corpus_copy / "thumbnails").iterdir())[3]
    flip_last_byte(thumb)
    corpus = load_corpus(corpus_copy, thumbnails_at_start=0)  # a "large" corpus: starts
    wait_done(corpus)
    assert corpus.integrity.state == "failed"
    assert len(corpus.integrity.problems) == 1
    assert thumb.name in corpus.integrity.problems[0]
    assert "checksum mismatch" in corpus.integrity.problems[0]
    assert corpus.integrity.summary().startswith("corpus integrity check FAILED:")


def test_a_missing_thumbnail_of_a_large_corpus_is_reported(corpus_copy):
    thumb = sorted((corpus_copy / "thumbnails").iterdir())[0]
    thumb.unlink()
    with pytest.raises(CorpusError, match=f"{thumb.name}.*missing"):
        load_corpus(corpus_copy)  # small: refused at start
    corpus = load_corpus(corpus_copy, thumbnails_at_start=0)
    wait_done(corpus)
    assert [p for p in corpus.integrity.problems if thumb.name in p and "missing" in p]


def test_large_files_are_hashed_in_the_background_but_sized_at_start(corpus_copy):
    emb = corpus_copy / "embeddings.npy"
    flip_last_byte(emb)  # same size, different bytes: only a checksum sees it
    with pytest.raises(CorpusError, match="embeddings.npy.*checksum"):
        load_corpus(corpus_copy)  # below HASH_AT_START_BYTES: hashed at start
    corpus = load_corpus(corpus_copy, hash_at_start_bytes=100_000)  # embeddings are 467 kB
    wait_done(corpus)
    assert corpus.integrity.state == "failed"
    assert [p for p in corpus.integrity.problems if "embeddings.npy" in p and "checksum" in p]
    # A wrong size is still refused before the server starts, whatever is deferred.
    index = corpus_copy / "index.faiss"
    index.write_bytes(index.read_bytes() + b"\0")
    with pytest.raises(CorpusError, match="index.faiss.*truncated or replaced"):
        load_corpus(corpus_copy, hash_at_start_bytes=0, thumbnails_at_start=0)


def test_an_intact_corpus_verifies_in_the_background(small_corpus):
    corpus = load_corpus(small_corpus, hash_at_start_bytes=0, thumbnails_at_start=0)
    assert corpus.integrity.state in ("checking", "ok")
    wait_done(corpus)
    assert corpus.integrity.state == "ok" and corpus.integrity.problems == []
    assert corpus.integrity.total == 5 + len(corpus)  # listed files (bands.zip too) + thumbnails
    assert corpus.integrity.checked == corpus.integrity.total
    assert corpus.integrity.summary() == "corpus checksums verified"


def test_without_checksums_nothing_is_hashed(corpus_copy):
    flip_last_byte(sorted((corpus_copy / "thumbnails").iterdir())[0])
    corpus = load_corpus(corpus_copy, verify_checksums=False)
    assert corpus.integrity.state == "skipped"
    assert corpus.integrity.summary() == "corpus checksums not verified"


def legacy_manifest(root) -> None:
    """Rewrite a corpus's manifest the way builds before the digest file wrote it."""
    path = root / "manifest.json"
    m = json.loads(path.read_text())
    digest = root / m.pop("thumbnail_digest")
    del m["files"][digest.name]
    for line in digest.read_text().splitlines():
        sha, rel = line.split("  ")
        m["files"][rel] = {"sha256": sha, "bytes": (root / rel).stat().st_size}
    digest.unlink()
    path.write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")


def test_manifests_listing_each_thumbnail_still_load_and_verify(corpus_copy):
    legacy_manifest(corpus_copy)
    corpus = load_corpus(corpus_copy)
    assert corpus.integrity.state == "ok" and len(corpus) > 0
    thumb = sorted((corpus_copy / "thumbnails").iterdir())[1]
    flip_last_byte(thumb)
    with pytest.raises(CorpusError, match=f"{thumb.name}.*checksum"):
        load_corpus(corpus_copy)
    corpus = load_corpus(corpus_copy, thumbnails_at_start=0)
    wait_done(corpus)
    assert [p for p in corpus.integrity.problems if thumb.name in p and "checksum" in p]


def test_a_malformed_digest_is_refused_by_line(corpus_copy):
    digest = corpus_copy / "thumbnails.sha256"
    digest.write_text("not a digest line\n")
    path = corpus_copy / "manifest.json"
    m = json.loads(path.read_text())
    m["files"]["thumbnails.sha256"] = {"sha256": sha256_file(digest), "bytes": 18}
    path.write_text(json.dumps(m))
    with pytest.raises(CorpusError, match=r"thumbnails.sha256: line 1 is not"):
        load_corpus(corpus_copy)
    m["thumbnail_digest"] = "elsewhere.sha256"
    path.write_text(json.dumps(m))
    with pytest.raises(CorpusError, match="unreadable manifest.*not among its files"):
        load_corpus(corpus_copy)
