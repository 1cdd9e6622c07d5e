"""Footprints as RFC 7946 geometries: closed counterclockwise rings, antimeridian cut in two."""

from __future__ import annotations

import pytest

from closp_demo.geo.geojson import footprint_geometry, geometry_wkt, signed_area
from tests.helpers.geojson_check import check_feature_collection, ring_area


def collection(*geometries: dict) -> dict:
    features = [{"type": "Feature", "properties": {}, "geometry": g} for g in geometries]
    return {"type": "FeatureCollection", "features": features}


CLOCKWISE = [(10.0, 45.0), (10.0, 45.01), (10.01, 45.01), (10.01, 45.0)]
# A 0.1 x 0.2 degree footprint across 180 degrees, corners given as a sensor reports them.
ACROSS = [(179.95, -16.9), (-179.95, -16.9), (-179.95, -16.7), (179.95, -16.7)]


def test_a_clockwise_footprint_becomes_a_closed_counterclockwise_polygon():
    geometry = footprint_geometry(CLOCKWISE)
    assert geometry["type"] == "Polygon"
    (ring,) = geometry["coordinates"]
    assert ring[0] == ring[-1] and len(ring) == 5
    assert ring_area(ring) > 0
    assert {tuple(p) for p in ring} == set(CLOCKWISE)
    assert check_feature_collection(collection(geometry)) == []


@pytest.mark.parametrize(
    "corners", [ACROSS, ACROSS[::-1], [(lon + 360 if lon < 0 else lon, lat) for lon, lat in ACROSS]]
)
def test_a_footprint_across_the_antimeridian_is_cut_into_two_polygons(corners):
    geometry = footprint_geometry(corners)
    assert geometry["type"] == "MultiPolygon"
    east, west = (polygon[0] for polygon in geometry["coordinates"])
    assert {p[0] for p in east} == {179.95, 180.0}
    assert {p[0] for p in west} == {-180.0, -179.95}
    assert {p[1] for p in east + west} == {-16.9, -16.7}
    # the two halves hold the whole footprint's area, none of it spanning the globe
    assert ring_area(east) + ring_area(west) == pytest.approx(0.1 * 0.2, rel=1e-6)
    assert check_feature_collection(collection(geometry)) == []
    assert geometry_wkt(geometry).startswith("MULTIPOLYGON (((179.95 -16.9, 180.0 -16.9")


def test_a_footprint_touching_the_antimeridian_stays_one_polygon():
    geometry = footprint_geometry([(179.9, 0.0), (180.0, 0.0), (180.0, 0.1), (179.9, 0.1)])
    assert geometry["type"] == "Polygon"
    assert check_feature_collection(collection(geometry)) == []


def test_a_footprint_given_beyond_minus_180_is_brought_back():
    geometry = footprint_geometry([(-180.2, 5.0), (-180.1, 5.0), (-180.1, 5.1), (-180.2, 5.1)])
    assert geometry["type"] == "Polygon"
    assert {p[0] for p in geometry["coordinates"][0]} == {179.8, 179.9}


def test_wkt_of_a_polygon():
    wkt = geometry_wkt(footprint_geometry(CLOCKWISE))
    assert wkt.startswith("POLYGON ((") and wkt.count(",") == 4


BROKEN = [[(0, 0), (1, 1)], [(0, 0), (1, "x"), (2, 2)], [(0, 95), (1, 0), (2, 2)]]


@pytest.mark.parametrize("bad", BROKEN)
def test_a_broken_footprint_is_refused(bad):
    with pytest.raises(ValueError):
        footprint_geometry(bad)


def test_the_checker_flags_what_the_rfc_forbids():
    clockwise = [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]
    spanning = [[179.9, 0], [-179.9, 0], [-179.9, 1], [179.9, 1], [179.9, 0]]
    assert signed_area([tuple(p) for p in clockwise]) < 0
    problems = check_feature_collection(
        collection(
            {"type": "Polygon", "coordinates": [clockwise]},
            {"type": "Polygon", "coordinates": [spanning]},
            {"type": "Polygon", "coordinates": [[[0, 0]]]},
        )
    )
    assert any("counterclockwise" in p for p in problems)
    assert any("antimeridian" in p for p in problems)
    assert any(">= 4 positions" in p for p in problems)
