"""Places: parsing the visitor's fields, great-circle distances, the distance-decay prior."""

from __future__ import annotations

import math

import numpy as np
import pytest

from closp_demo.geo.place import (
    EARTH_RADIUS_KM,
    Place,
    PlaceError,
    blend,
    distances_km,
    parse_place,
    prior,
    ring_centre,
)


def test_off_means_no_place_whatever_the_fields():
    assert parse_place(None, None, mode="off") is None
    assert parse_place("not a number", 999, mode="off") is None


def test_fields_are_parsed_and_defaults_filled():
    p = parse_place("45.07", 7.66, "", "within", None)
    assert p == Place(45.07, 7.66, 250.0, "within", 0.5)
    assert p.label() == "within 250 km of 45.0700° N, 7.6600° E"


def test_label_names_the_hemispheres_and_reads_for_prefer():
    assert Place(-33.9, -18.4, 50, "within").label() == "within 50 km of 33.9000° S, 18.4000° W"
    near = Place(10.0, 10.0, 250, "prefer").label()
    assert near == "preferring images near 10.0000° N, 10.0000° E (250 km scale)"


@pytest.mark.parametrize(
    "lat, lon, radius, mode, weight, message",
    [
        (None, 7.0, 100, "prefer", 0.5, "click the map"),
        (45.0, "", 100, "prefer", 0.5, "click the map"),
        ("north", 7.0, 100, "prefer", 0.5, "Latitude must be a number"),
        ([45.0], 7.0, 100, "prefer", 0.5, "Latitude must be a number"),
        (45.0, True, 100, "prefer", 0.5, "Longitude must be a number, got true"),
        (45.0, 7.0, {"km": 1}, "prefer", 0.5, "Radius must be a number"),
        (float("nan"), 7.0, 100, "prefer", 0.5, "finite"),
        (91.0, 7.0, 100, "prefer", 0.5, "between -90 and 90"),
        (45.0, -180.5, 100, "prefer", 0.5, "between -180 and 180"),
        (45.0, 7.0, 0, "prefer", 0.5, "Radius must be above 0"),
        (45.0, 7.0, 1e9, "prefer", 0.5, "at most"),
        (45.0, 7.0, 100, "prefer", 1.5, "between 0 and 1"),
        (45.0, 7.0, 100, "nearby", 0.5, "unknown place mode"),
    ],
)
def test_bad_fields_get_specific_messages(lat, lon, radius, mode, weight, message):
    with pytest.raises(PlaceError, match=message):
        parse_place(lat, lon, radius, mode, weight)


def test_distances_match_known_figures():
    turin = Place(45.0703, 7.6869)
    # Milan (45.4642, 9.19) is ~126 km from Turin; the antipode is half the circumference
    d = distances_km(turin, np.array([9.19, 7.6869 - 180.0]), np.array([45.4642, -45.0703]))
    assert d[0] == pytest.approx(126, abs=2)
    assert d[1] == pytest.approx(math.pi * EARTH_RADIUS_KM, rel=1e-9)
    # across the antimeridian: one degree of longitude at the equator, not 359
    edge = Place(0.0, 179.5)
    assert distances_km(edge, np.array([-179.5]), np.array([0.0]))[0] == pytest.approx(111.2, 0.01)


def test_prior_decays_with_distance_and_blend_weighs_it():
    p = Place(0.0, 0.0, radius_km=100.0, weight=0.25)
    np.testing.assert_allclose(prior(p, np.array([0.0, 100.0, 300.0])), np.exp([0, -1, -3]))
    np.testing.assert_allclose(blend(p, np.array([0.8]), np.array([0.0])), [0.75 * 0.8 + 0.25])
    # weight 0 is the similarity alone, weight 1 the prior alone
    sims, dist = np.array([0.9, 0.1]), np.array([1000.0, 0.0])
    assert blend(Place(0, 0, weight=0.0), sims, dist).argmax() == 0
    assert blend(Place(0, 0, weight=1.0), sims, dist).argmax() == 1


def test_ring_centre_handles_the_antimeridian():
    lon, lat = ring_centre([(179.9, 10.0), (-179.9, 10.0), (-179.9, 11.0), (179.9, 11.0)])
    assert abs(abs(lon) - 180.0) < 1e-6 and lat == pytest.approx(10.5)
    assert ring_centre([[10.0, 0.0], [12.0, 0.0], [12.0, 2.0], [10.0, 2.0]]) == (11.0, 1.0)
    with pytest.raises(PlaceError):
        ring_centre([])
