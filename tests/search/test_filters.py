"""Metadata filters inside the search, against brute force on the embedded corpus.

The brute force reads every row's metadata in plain Python (an independent reading of the rules
in closp_demo/search/filters.py), scores every passing row with a dot product, and takes the top
k: the engine must return exactly min(k, passing rows) results with the same scores.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pytest

from closp_demo.corpus.index import IndexSpec, build_index
from closp_demo.corpus.store import load_corpus
from closp_demo.encoders import create_encoder
from closp_demo.search import candidates
from closp_demo.search.engine import Overlay, OverlayItem, Result, SearchEngine
from closp_demo.search.filters import FilterError, Filters, parse_filters

QUERIES = ["forest", "a lake surrounded by forest", "farmland with crop fields", "the sea"]
FILTERS = [
    parse_filters(sources="majortom"),
    parse_filters(sources=["bigearthnet", "ssl4eo"]),
    parse_filters(date_from="2017-06-01", date_to="2017-12-31"),
    parse_filters(date_from="2020-01-01"),
    parse_filters(labels="Water"),
    parse_filters(labels=["Trees", "Built"], unlabelled="drop"),
    parse_filters(labels="Snow and Ice", unlabelled="keep"),
    parse_filters(unlabelled="drop"),
    parse_filters(box="5, 40, 30, 70"),  # Europe
    parse_filters(box="100, -10, 110, 25"),  # south-east Asia
    parse_filters(box="170, -90, -170, 90"),  # across the antimeridian: nothing there
    parse_filters(
        sources="bigearthnet",
        labels="Water",
        box="-30, 30, 40, 75",
        date_from="2017-01-01",
        date_to="2018-12-31",
    ),
]


@pytest.fixture(scope="module")
def engine(repo_root):
    corpus = load_corpus(repo_root / "precomputed")
    return SearchEngine(corpus, create_encoder(corpus.manifest["encoder"]["id"]))


@pytest.fixture(scope="module")
def decoded(engine):
    return [engine.rows.row(i) for i in range(len(engine.rows))]


def passes(r, f: Filters) -> bool:
    day = date.fromisoformat(r.timestamp[:10]) if r.timestamp else None
    if f.sources and r.source not in f.sources:
        return False
    if (f.date_from or f.date_to) and day is None:
        return False
    if (f.date_from and day < f.date_from) or (f.date_to and day > f.date_to):
        return False
    if not r.labels:
        if f.unlabelled == "drop":
            return False
    elif f.labels and not set(r.labels) & set(f.labels):
        return False
    if f.box:
        w, s, e, n = f.box
        in_lon = (w <= r.lon <= e) if w <= e else (r.lon >= w or r.lon <= e)
        if not (in_lon and s <= r.lat <= n):
            return False
    return True


def brute(engine, decoded, query, sensor, k, f):
    lo, hi = engine.corpus.id_range(sensor) or (0, len(engine.rows))
    rows = [i for i in range(lo, hi) if passes(decoded[i], f)]
    sims = np.asarray(engine.corpus.embeddings[rows]) @ query
    return rows, np.sort(sims)[::-1][:k]


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: f.describe() or "none")
def test_filtered_search_equals_brute_force(engine, decoded, f):
    checked = 0
    for text in QUERIES:
        q = engine.encoder.encode_text([text])[0]
        for sensor in ("both", "S1", "S2"):
            for k in (1, 12, 50):
                got = engine.search_vector(q, sensor, k, filters=f)
                rows, best = brute(engine, decoded, q, sensor, k, f)
                assert len(got) == min(k, len(rows))  # k whenever k pass
                np.testing.assert_allclose([r.score for r in got], best, atol=1e-5)
                ids = {decoded[i].image_id for i in rows}
                assert all(r.image_id in ids for r in got)
                checked += len(rows) > 0
    assert checked or f.box == (170.0, -90.0, -170.0, 90.0)


def test_an_approximate_index_still_returns_k(engine, decoded, monkeypatch):
    """IVF probing 4 of 8 lists, the candidate set forced through the index selector: a small
    filtered set is spread over lists the query does not probe, so the selector alone returns
    fewer than exist; the exact fallback returns every passing row, in the true order."""
    ivf = build_index(np.asarray(engine.corpus.embeddings), spec=IndexSpec("ivf", 8, 1))
    monkeypatch.setattr(candidates, "EXACT_ROWS", 4)
    monkeypatch.setattr(engine.corpus, "index", ivf)
    f = parse_filters(sources="ssl4eo")
    q = engine.encoder.encode_text(["river"])[0]
    rows, best = brute(engine, decoded, q, "both", 50, f)
    assert 4 < len(rows) < 50
    got = engine.search_vector(q, "both", 50, filters=f)
    assert sorted(r.image_id for r in got) == sorted(decoded[i].image_id for i in rows)
    np.testing.assert_allclose([r.score for r in got], best, atol=1e-5)


def test_filters_combine_with_a_place(engine):
    from closp_demo.geo.place import Place

    f = parse_filters(labels="Water", unlabelled="drop")
    q = engine.encoder.encode_text(["river"])[0]
    got = engine.search_vector(q, "both", 10, place=Place(48.2, 16.4, 2000.0, "within"), filters=f)
    assert got and all("Water" in r.labels for r in got)
    assert all(r.distance_km <= 2000.0 for r in got)


def test_uploads_obey_the_filters(engine):
    row = engine.rows.row(0)
    upload = Result(0, 0.0, "upload:x.tif", row.sensor, "your upload", (), "x.tif", "",
                    row.footprint, "x.webp", origin="your upload")  # fmt: skip
    # a vector no corpus row is near: the upload (itself) scores 1, every corpus row far less,
    # so the order does not hang on a float tie
    q = np.random.default_rng(0).standard_normal(engine.corpus.embeddings.shape[1])
    q = (q / np.linalg.norm(q)).astype(np.float32)
    assert np.max(np.asarray(engine.corpus.embeddings) @ q) < 0.9
    overlay = Overlay([OverlayItem(q, upload)])
    assert engine.search_vector(q, "both", 3, overlay)[0].image_id == "upload:x.tif"
    for f in (
        parse_filters(unlabelled="drop"),
        parse_filters(sources="bigearthnet"),
        parse_filters(date_from="2000-01-01"),
        parse_filters(box="-179, -89, -178, -88"),
    ):
        ids = [r.image_id for r in engine.search_vector(q, "both", 3, overlay, filters=f)]
        assert "upload:x.tif" not in ids  # fmt: skip
    kept = engine.search_vector(q, "both", 3, overlay, filters=parse_filters(sources="your upload"))
    assert [r.image_id for r in kept] == ["upload:x.tif"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"date_from": "2020-13-01"}, "not a calendar date"),
        ({"date_from": "yesterday"}, "YYYY-MM-DD"),
        ({"date_from": "2021-01-01", "date_to": "2020-01-01"}, "after the end date"),
        ({"unlabelled": "maybe"}, "'keep' or 'drop'"),
        ({"box": "1,2,3"}, "four numbers"),
        ({"box": "0, 10, 5, nan"}, "finite"),
        ({"box": "0, 50, 5, 10"}, "south <= north"),
        ({"box": "<script>,1,2,3"}, "four numbers"),
    ],
)
def test_bad_filters_get_a_clear_message(fields, message):
    with pytest.raises(FilterError, match=message):
        parse_filters(**fields)


def test_unknown_names_are_refused_by_name(engine):
    q = engine.encoder.encode_text(["forest"])[0]
    with pytest.raises(FilterError, match="unknown source 'sentinel-5'"):
        engine.search_vector(q, filters=parse_filters(sources="sentinel-5"))
    with pytest.raises(FilterError, match="unknown label 'Lava'"):
        engine.search_vector(q, filters=parse_filters(labels="Lava"))


def test_map_boxes_from_leaflet_are_normalised():
    assert parse_filters(box="-200, 0, 200, 10").box == (-180.0, 0.0, 180.0, 10.0)
    assert parse_filters(box="170, 0, 200, 10").box == (170.0, 0.0, -160.0, 10.0)  # across 180
    assert dataclasses.replace(parse_filters(), unlabelled="keep") == Filters()
    assert not parse_filters(sources=" , ", labels=[], box="").active()
