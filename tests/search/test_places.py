"""Place-aware ranking on the embedded corpus (real embeddings, footprints) vs brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from closp_demo.corpus.index import IndexSpec, build_index
from closp_demo.geo.place import Place, blend, distances_km
from closp_demo.search import candidates
from closp_demo.search import places as place_search
from closp_demo.search.places import rank_near
from tests.helpers.tolerances import SCORE_ATOL


@pytest.fixture(scope="module")
def world(repo_root):
    emb = np.load(repo_root / "precomputed" / "embeddings.npy")
    meta = pd.read_parquet(repo_root / "precomputed" / "metadata.parquet")
    lon, lat = meta["lon"].to_numpy(float), meta["lat"].to_numpy(float)
    s1 = int((meta["sensor"] == "S1").sum())  # rows are sorted S1 first
    queries = emb[np.random.default_rng(0).choice(len(emb), 8, replace=False)]
    return emb, lon, lat, s1, queries, build_index(emb, spec=IndexSpec("flat"))


AUSTRIA = Place(47.5, 14.5, radius_km=300.0, mode="within")
EUROPE = Place(50.0, 10.0, radius_km=800.0, mode="prefer", weight=0.4)


def test_within_keeps_only_rows_inside_and_ranks_them_by_similarity(world):
    emb, lon, lat, _, queries, index = world
    inside = np.flatnonzero(distances_km(AUSTRIA, lon, lat) <= AUSTRIA.radius_km)
    assert 10 < len(inside) < len(emb)  # the fixture's premise: a real subset
    for q in queries:
        hits = rank_near(index, emb, lon, lat, q, 12, AUSTRIA)
        assert {h.row for h in hits} <= set(inside.tolist())
        expected = inside[np.argsort(-(emb[inside] @ q), kind="stable")][:12]
        np.testing.assert_allclose(
            [h.score for h in hits], np.sort(emb[expected] @ q)[::-1], atol=SCORE_ATOL
        )


def test_prefer_equals_ranking_every_row_by_the_blend(world):
    emb, lon, lat, _, queries, index = world
    for q in queries:
        hits = rank_near(index, emb, lon, lat, q, 10, EUROPE)
        brute = blend(EUROPE, emb @ q, distances_km(EUROPE, lon, lat))  # FAISS vs BLAS scores
        np.testing.assert_allclose(
            [h.score for h in hits], np.sort(brute)[::-1][:10], atol=SCORE_ATOL
        )


def test_weight_moves_results_from_similarity_to_distance(world):
    emb, lon, lat, _, queries, index = world
    q = queries[0]
    zero = rank_near(index, emb, lon, lat, q, 10, Place(10.0, 100.0, 500.0, "prefer", 0.0))
    # the 10 most similar rows, best first, compared by similarity: rows closer than float32
    # noise may swap between score paths (FAISS, BLAS), and the corpus has such near-ties (26 of
    # its 336 rows, as queries, have two of their top 11 within 1e-6)
    top = np.sort(emb @ q)[::-1][:10]
    np.testing.assert_allclose([h.score for h in zero], top, atol=SCORE_ATOL)
    np.testing.assert_allclose([emb[h.row] @ q for h in zero], top, atol=SCORE_ATOL)
    one = rank_near(index, emb, lon, lat, q, 10, Place(10.0, 100.0, 500.0, "prefer", 1.0))
    d = distances_km(Place(10.0, 100.0), lon, lat)
    assert [round(d[h.row], 6) for h in one] == sorted(round(x, 6) for x in d)[:10]


def test_sensor_range_is_respected(world):
    emb, lon, lat, s1, queries, index = world
    for place in (AUSTRIA, EUROPE):
        hits = rank_near(index, emb, lon, lat, queries[1], 20, place, (0, s1))
        assert hits and all(h.row < s1 for h in hits)


def test_an_empty_region_gives_no_results(world):
    emb, lon, lat, _, queries, index = world
    pacific = Place(-40.0, -140.0, radius_km=50.0, mode="within")
    assert rank_near(index, emb, lon, lat, queries[0], 10, pacific) == []


def test_large_row_sets_go_through_the_index_selector(world, monkeypatch):
    emb, lon, lat, _, queries, index = world

    def exact_rows(n):  # both the candidate ranking and the "prefer" gathering read it
        monkeypatch.setattr(place_search, "EXACT_ROWS", n)
        monkeypatch.setattr(candidates, "EXACT_ROWS", n)

    for place in (AUSTRIA, EUROPE):
        for q in queries[:3]:
            exact_rows(5)  # force the selector path
            via_index = rank_near(index, emb, lon, lat, q, 10, place)
            exact_rows(10**9)
            exact = rank_near(index, emb, lon, lat, q, 10, place)
            np.testing.assert_allclose(
                [h.score for h in via_index], [h.score for h in exact], atol=SCORE_ATOL
            )


@pytest.mark.parametrize(
    "place", [Place(89.0, 0.0, 900.0), Place(0.0, 179.9, 500.0), Place(-60.0, -70.0, 3000.0)]
)
def test_latitude_band_loses_no_row(place):
    """The band prefilter against the haversine on every row: poles and the antimeridian."""
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-180, 180, 200_000), np.degrees(np.arcsin(rng.uniform(-1, 1, 200_000)))
    lon[:3], lat[:3] = np.nan, np.nan  # rows without a centre never match
    brute = np.flatnonzero(distances_km(place, lon, lat) <= place.radius_km)
    got = place_search._rows_within(place, lon, lat, 0, len(lon), place.radius_km)
    assert len(brute) > 10
    np.testing.assert_array_equal(got, brute)
