import numpy as np
import pytest

from closp_demo.corpus.records import ImageRecord


def _record(crs: str, bounds: tuple[float, float, float, float]) -> ImageRecord:
    image = np.zeros((2, 120, 120), dtype=np.float32)
    return ImageRecord("x", "S1", image, crs, bounds)


def test_centre_of_a_footprint_across_the_antimeridian_stays_at_180():
    """UTM zone 60 N (central meridian 177 E): at 60 N, eastings 650-690 km reach past 180."""
    record = _record("EPSG:32660", (650_000, 6_650_000, 690_000, 6_690_000))
    lons = [lon for lon, _ in record.footprint_lonlat()]
    assert max(lons) > 179 and min(lons) < -179  # the corners straddle the antimeridian
    lon, lat = record.centre_lonlat()
    assert abs(abs(lon) - 180) < 1.0 and 59.5 < lat < 60.5  # a plain mean gave ~0


def test_centre_of_an_ordinary_footprint_is_the_mean_of_its_corners():
    record = _record("EPSG:32633", (400_000, 5_000_000, 401_200, 5_001_200))
    ring = np.array(record.footprint_lonlat()[:-1])
    assert record.centre_lonlat() == pytest.approx(tuple(ring.mean(axis=0)))
