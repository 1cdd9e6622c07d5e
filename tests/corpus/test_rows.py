"""CorpusRows: the real corpus's metadata decoded per row equals decoding everything up front,
construction makes no Python object per row, and the search engine's results are unchanged."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from closp_demo.corpus.rows import TEXT_COLUMNS, CorpusRow, CorpusRows
from closp_demo.corpus.store import load_corpus
from closp_demo.encoders import create_encoder
from closp_demo.search.engine import SearchEngine


@pytest.fixture(scope="module")
def metadata(small_corpus) -> pd.DataFrame:
    return load_corpus(small_corpus, verify_checksums=False).metadata


def eager(meta: pd.DataFrame, row: int) -> CorpusRow:
    """What SearchEngine used to precompute for every row, decoded straight from the table."""
    rec = meta.iloc[row]
    return CorpusRow(
        **{c: rec[c] for c in TEXT_COLUMNS},
        labels=tuple(x for x in rec["labels"].split("|") if x),
        footprint=[tuple(p) for p in json.loads(rec["footprint"])],
        evidence=json.loads(rec["evidence"]) if rec["evidence"] else {},
        lon=float(rec["lon"]),
        lat=float(rec["lat"]),
    )


@pytest.mark.parametrize("storage", ["as read", "object"])
def test_every_row_decodes_like_the_eager_table(metadata, storage):
    meta = metadata if storage == "as read" else metadata.astype(object)
    rows = CorpusRows(meta)
    assert len(rows) == len(meta) > 0
    for i in range(len(meta)):
        assert rows.row(i) == eager(meta, i), i
    assert any(rows.row(i).labels for i in range(len(meta)))  # labels were really split
    assert all(len(rows.footprint(i)) == 5 for i in range(len(meta)))  # closed rings
    assert any(rows.evidence(i).get("class_weights") for i in range(len(meta)))
    assert rows.value("labels", 0) == meta["labels"].iloc[0]  # undecoded on request


def test_arrow_columns_are_the_dataframes_own_buffers(metadata):
    rows = CorpusRows(metadata)
    column = rows._columns["evidence"]
    assert isinstance(column, pa.ChunkedArray)
    source = metadata["evidence"].array.__arrow_array__()
    mine = {b.address for chunk in column.chunks for b in chunk.buffers() if b is not None}
    theirs = {b.address for chunk in source.chunks for b in chunk.buffers() if b is not None}
    assert mine == theirs  # zero-copy: no second copy of the JSON text


def test_construction_makes_no_python_object_per_row(metadata):
    big = metadata.iloc[np.resize(np.arange(len(metadata)), 200_000)].reset_index(drop=True)
    tracemalloc.start()
    try:
        rows = CorpusRows(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # lon/lat as float64 are 3.2 MB; one decoded row of labels + ring + evidence is ~2 kB, so
    # decoding every row up front would trace hundreds of MB.
    assert peak < 8_000_000, f"{peak / 1e6:.1f} MB traced while wrapping 200k rows"
    assert rows.row(199_999) == eager(big, 199_999)


def test_centres_are_the_lon_lat_columns(metadata):
    centres = CorpusRows(metadata).centres()
    assert centres.shape == (len(metadata), 2) and centres.dtype == np.float64
    np.testing.assert_array_equal(centres[:, 0], metadata["lon"].to_numpy())
    np.testing.assert_array_equal(centres[:, 1], metadata["lat"].to_numpy())
    with pytest.raises(ValueError, match="read-only"):
        centres[0, 0] = 0.0


def test_bad_rows_and_tables_are_refused(metadata):
    rows = CorpusRows(metadata)
    for bad in (-1, len(metadata)):
        with pytest.raises(IndexError, match="out of range"):
            rows.row(bad)
    with pytest.raises(ValueError, match=r"lacks columns \['evidence'\]"):
        CorpusRows(metadata.drop(columns=["evidence"]))


def test_each_result_gets_its_own_decoded_objects(metadata):
    rows = CorpusRows(metadata)
    first = rows.row(0)
    first.footprint.append((0.0, 0.0))
    first.evidence.clear()
    assert rows.row(0) == eager(metadata, 0)  # a caller editing a result changes no other


def test_search_engine_results_match_the_eager_decoding(small_corpus):
    corpus = load_corpus(small_corpus, verify_checksums=False)
    engine = SearchEngine(corpus, create_encoder(corpus.encoder_id))
    ids = corpus.metadata["image_id"].tolist()
    for sensor in ("both", "S1", "S2"):
        results = engine.search_vector(np.asarray(corpus.embeddings[3]), sensor, 8)
        assert results
        for res in results:
            row = ids.index(res.image_id)
            want = eager(corpus.metadata, row)
            got = (res.image_id, res.sensor, res.source, res.place, res.timestamp, res.labels,
                   res.footprint, res.evidence)  # fmt: skip
            assert got == (want.image_id, want.sensor, want.source, want.place, want.timestamp,
                           want.labels, want.footprint, want.evidence)  # fmt: skip
            assert res.thumbnail == str(corpus.thumbnail_path(row))
