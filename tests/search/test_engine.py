"""Location-aware search through the engine and the Explorer (real corpus, real encoders)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from closp_demo.corpus.build import embed_records, write_corpus
from closp_demo.corpus.sources import bigearthnet
from closp_demo.corpus.store import load_corpus
from closp_demo.encoders import closp_loaders as loaders
from closp_demo.encoders.base import l2_normalise
from closp_demo.geo.place import Place
from closp_demo.search.engine import QueryError, SearchEngine
from closp_demo.service import Explorer
from closp_demo.views.results import PLACE_COLUMN
from tests.encoders import closp_fixtures as fx
from tests.encoders.test_closp import offline_hub
from tests.helpers.tolerances import SCORE_ATOL

VIENNA = {"lat": 48.21, "lon": 16.37}


@pytest.fixture(scope="module")
def explorer(small_corpus):
    return Explorer(small_corpus)


def test_within_keeps_only_nearby_images_and_reports_distances(explorer):
    a = explorer.text_search_near("forest", "both", 12, None, "within", radius_km=400, **VIENNA)
    assert a.ok and len(a.table) > 0, a.message
    assert (a.table[PLACE_COLUMN] <= 400).all()
    assert "within 400 km of 48.2100° N, 16.3700° E" in a.message
    # without the place the same query reaches images far from Vienna (Finland, Portugal ...)
    far = explorer.text_search_near("forest", "both", 50, None, "within", radius_km=20000, **VIENNA)
    assert far.table[PLACE_COLUMN].max() > 1000


def test_prefer_with_full_weight_ranks_by_distance(explorer):
    a = explorer.text_search_near("water", "S2", 10, None, "prefer", weight=1.0, **VIENNA)
    km = a.table[PLACE_COLUMN].tolist()
    assert km == sorted(km) and "distance prior, weight 1" in a.message
    plain = explorer.text_search("water", "S2", 10)
    assert PLACE_COLUMN not in plain.table.columns
    # weight 0 is the plain ranking (the distance is shown, the scores unchanged); the ids are
    # compared as a set: the best water patches lie 2e-6 apart, under the rounding bound of a
    # float32 384-term dot product (2.3e-5), and may swap between the two score paths (FAISS,
    # BLAS). Table scores are rounded to 1e-4.
    zero = explorer.text_search_near("water", "S2", 10, None, "prefer", weight=0.0, **VIENNA)
    assert set(zero.table["id"]) == set(plain.table["id"])
    np.testing.assert_allclose(zero.table["score"], plain.table["score"], atol=1e-4, rtol=0)


def test_an_empty_region_says_so(explorer):
    a = explorer.text_search_near("forest", "both", 5, None, "within", lat=-45, lon=-140,
                                  radius_km=100)  # fmt: skip
    assert a.ok and len(a.table) == 0 and "widen the radius" in a.message


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"mode": "within"}, "click the map"),
        ({"mode": "prefer", "lat": 95, "lon": 0}, "Latitude must be between"),
        ({"mode": "prefer", "lat": 10, "lon": 0, "weight": -1}, "Place weight"),
        ({"mode": "somewhere", "lat": 10, "lon": 0}, "place_mode must be one of"),
    ],
)
def test_bad_place_fields_get_a_message(explorer, fields, message):
    a = explorer.text_search_near("forest", "both", 5, None, **fields)
    assert not a.ok and message in a.message


def test_the_map_shows_the_place(explorer):
    a = explorer.text_search_near("forest", "both", 5, None, "within", radius_km=300, **VIENNA)
    assert "Search place 48.2100, 16.3700" in a.map_html


# ---------------------------------------------------------------- GeoCLOSP


@pytest.fixture(scope="module")
def geo_engine(samples_dir, tmp_path_factory):
    """A tiny GeoCLOSP (seeded) and a corpus of real BigEarthNet patches built with it."""
    root = tmp_path_factory.mktemp("geo-search")
    text = fx.write_text_model(root / "text")
    state = fx.add_location_tower(fx.closp_state_dict(fx.TINY_RESNET_ARCH, text, seed=6), seed=7)
    sd = fx.write_state_dict(root / "geo.safetensors", state)
    with offline_hub(root / "modules"):
        enc = loaders.load_closp(sd, arch=fx.TINY_GEO_ARCH, text_model=text, device="cpu")
    records = list(itertools.islice(bigearthnet.iter_records(samples_dir), 24))
    thumbs = root / "thumbs"
    thumbs.mkdir()
    rows, vectors = embed_records(records, enc, thumbs, progress=False)
    write_corpus(root / "corpus", rows, vectors, enc, "pytest geo", thumbs)
    return SearchEngine(load_corpus(root / "corpus", expected_encoder=enc.info), enc)


def test_geoclosp_blends_the_location_embedding_into_the_query(geo_engine):
    enc = geo_engine.encoder
    place = Place(60.0, 25.0, radius_km=300.0, mode="prefer", weight=0.3)
    t = enc.encode_text(["trees"])[0]
    loc = enc.encode_location(np.array([[25.0, 60.0]]))[0]
    expected = l2_normalise(0.7 * t + 0.3 * loc)
    np.testing.assert_allclose(geo_engine.place_query(t, place), expected, atol=1e-6)
    results, _ = geo_engine.search_text("trees", "both", 8, None, place)
    scores = [r.score for r in results]
    emb = geo_engine.corpus.embeddings
    np.testing.assert_allclose(scores, np.sort(emb @ expected)[::-1][:8], atol=SCORE_ATOL)
    assert all(r.distance_km is not None for r in results)
    assert "location embedding" in geo_engine.place_rule(place)
    # "within" still filters by distance, with the text vector alone
    within = Place(60.0, 25.0, radius_km=300.0, mode="within")
    assert geo_engine.place_query(t, within) is t
    inside, _ = geo_engine.search_text("trees", "both", 8, None, within)
    assert all(r.distance_km <= 300.0 for r in inside)


def test_text_search_reads_the_query_once_and_ranks_as_before(explorer):
    results, timings, reading = explorer.engine.search_text_read("a lake", "both", 8)
    plain, _ = explorer.engine.search_text("a lake", "both", 8)
    assert [r.image_id for r in results] == [r.image_id for r in plain]
    assert reading.query == "a lake" and reading.in_scope and reading.classes[0][0] == "Water"
    assert set(timings) == {"encode_ms", "search_ms"}
    answer = explorer.text_search("airport runway", "both", 5)
    assert answer.ok and answer.reading is not None and not answer.reading.in_scope
    assert explorer.read_query("airport runway") == answer.reading.to_dict()
    with pytest.raises(QueryError, match="Type a description"):
        explorer.engine.read_query("   ")


def test_each_hit_is_its_own_result_though_rows_are_decoded_once(explorer):
    """Rows are decoded once per engine (a cache); every hit still gets its own Result, so the
    rank, score and grouping fields of one list never leak into another."""
    engine = explorer.engine
    first = engine.corpus_result(3, 1, 0.5)
    again = engine.corpus_result(3, 7, 0.1)
    assert first is not again and (first.rank, again.rank) == (1, 7)
    assert first.image_id == again.image_id == engine.rows.row(3).image_id
    grouped = engine.search_text("river", "both", 5, group=True)[0]
    plain = engine.search_text("river", "both", 5)[0]
    grouped[0].more_in_scene, grouped[0].scene_tiles = 99, []
    assert all(r.more_in_scene == 0 for r in plain)
