"""Footprint geometry: ring checks, the antimeridian, one world copy, circle boxes, bounds."""

from __future__ import annotations

import math

import pytest

from closp_demo.geo.footprint import (
    EARTH_RADIUS_M,
    MERCATOR_MAX_LAT,
    WORLD_BOUNDS,
    bounds_of,
    check_ring,
    circle_box,
    layout,
    shift_together,
    unwrap_ring,
)


def square(lon: float, lat: float, size: float = 0.011) -> list[tuple[float, float]]:
    return [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size), (lon, lat)]


def fitted(rings, place=None):
    """What the map fits its view to: the laid-out rings and the place's circle box."""
    laid, box = layout(rings, None if place is None else circle_box(*place))
    return bounds_of(laid if box is None else [*laid, box])


def test_check_ring_drops_the_closing_corner_and_reads_numbers():
    assert check_ring(square(1.0, 2.0, 1.0)) == [(1.0, 2.0), (2.0, 2.0), (2.0, 3.0), (1.0, 3.0)]
    assert check_ring([("1", "2"), (3, 2), (3, 4)]) == [(1.0, 2.0), (3.0, 2.0), (3.0, 4.0)]


@pytest.mark.parametrize(
    ("ring", "message"),
    [
        ([(0, 0), (1, 1)], "at least 3 distinct"),
        ([(0, 0), (1, 1), (0, 0), (1, 1)], "at least 3 distinct"),
        ([(0, 0), (1, float("nan")), (1, 1)], "not a valid"),
        ([(0, 0), (1, 95), (1, 1)], "not a valid"),
        ([(0, 0), (361, 1), (1, 1)], "not a valid"),
        ([(0, 0), "ab", (1, 1)], "pairs"),
        ([(0, 0), (1, 2, 3), (1, 1)], "pairs"),
    ],
)
def test_check_ring_refuses_what_is_not_a_footprint(ring, message):
    with pytest.raises(ValueError, match=message):
        check_ring(ring)


def test_a_ring_across_the_antimeridian_is_unwrapped_into_a_small_polygon():
    ring = unwrap_ring([(179.995, -16.0), (-179.994, -16.0), (-179.994, -16.01), (179.995, -16.01)])
    lons = [lon for lon, _ in ring]
    assert ring[0] == (179.995, -16.0)  # the first corner stays; the others follow it
    assert max(lons) - min(lons) == pytest.approx(0.011)
    # longitudes given beyond +-180 are brought back first
    assert unwrap_ring([(190.0, 1.0), (191.0, 1.0), (191.0, 2.0)])[0] == (-170.0, 1.0)


def test_rings_on_both_sides_of_the_antimeridian_are_drawn_next_to_each_other():
    east, west = unwrap_ring(square(179.5, -17.0)), unwrap_ring(square(-179.5, -17.5))
    (_, w), (_, e) = bounds_of(shift_together([east, west]))
    assert e - w < 2.0
    assert -181 < (w + e) / 2 < 181  # kept on the world copy where the basemap is drawn


def test_a_cluster_across_the_antimeridian_with_duplicates_sits_on_the_main_world_copy():
    (_, west), (_, east) = fitted([square(179.0, 10.0), square(179.0, 10.0), square(-178.0, 11.0)])
    assert east - west == pytest.approx(3.011)
    assert -180 < (west + east) / 2 < 180


def test_far_apart_rings_keep_their_real_longitudes():
    (_, west), (_, east) = fitted([square(-120.0, 40.0), square(100.0, 20.0), square(10.0, 50.0)])
    assert west == pytest.approx(-120.0) and east == pytest.approx(100.011)


def test_nothing_to_show_is_the_world():
    assert fitted([]) == WORLD_BOUNDS
    assert layout([]) == ([], None)


def test_a_point_is_its_own_box_and_a_circle_spans_its_radius():
    assert circle_box(-33.9, 18.4, None) == (-33.9, 18.4, -33.9, 18.4)
    # 111.19 km is one degree of a great circle on Leaflet's sphere
    one_degree_km = EARTH_RADIUS_M * math.pi / 180 / 1000
    south, west, north, east = circle_box(0.0, 0.0, one_degree_km)
    assert (south, west, north, east) == pytest.approx((-1.0, -1.0, 1.0, 1.0), abs=1e-9)
    # at 60 degrees north a degree of longitude is half as long, so the box is twice as wide
    # (Leaflet's Mercator-midpoint ellipse differs from 1 / cos(lat) by 0.015% at this size)
    south, west, north, east = circle_box(60.0, 10.0, one_degree_km)
    assert north - south == pytest.approx(2.0)
    assert east - west == pytest.approx(4.0, rel=1e-3)


def test_a_huge_radius_is_bounded_to_one_world_width_and_the_mercator_limit():
    south, west, north, east = circle_box(80.0, 10.0, 5000)
    assert east - west <= 360.0
    assert north <= MERCATOR_MAX_LAT and south < 80.0 - 44.0


def test_a_place_box_across_the_antimeridian_joins_the_rings_world_copy():
    rings, box = layout([square(179.5, -17.0)], circle_box(-17.2, -179.8, 20))
    assert box is not None
    centre = (box[0][0] + box[1][0]) / 2
    assert centre == pytest.approx(180.2)  # -179.8 shifted by 360, next to the ring
    (_, west), (_, east) = bounds_of([*rings, box])
    assert 0 < east - west < 1.5
