"""SSL4EO-S12 reader on the real shared location 0000200 (Punjab)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import rasterio

from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources import ssl4eo
from closp_demo.corpus.sources.tiling import canonical_band
from closp_demo.sensors import S2_BANDS


@pytest.fixture(scope="module")
def records(samples_dir: Path) -> list[ImageRecord]:
    return list(ssl4eo.iter_records(samples_dir))


def _product_dir(samples_dir: Path, r: ImageRecord) -> Path:
    kind = r.image_id.split("-")[2]
    return samples_dir / ssl4eo.FOLDER / kind / r.extra["location"] / r.extra["product"]


def _raw_band(folder: Path, band: str) -> np.ndarray:
    path = next(p for p in folder.glob("*.tif") if canonical_band(p.stem) == band)
    with rasterio.open(path) as src:
        return src.read(1)


def test_counts_per_product_kind(records):
    kinds = Counter((r.sensor, r.level) for r in records)
    # 2 dates x 2 x 2 tiles for each of s1, s2c, s2a
    assert kinds == {("S1", "GRD"): 8, ("S2", "L1C"): 8, ("S2", "L2A"): 8}
    for r in records:
        bands = 12 if r.sensor == "S2" else 2
        assert r.image.shape == (bands, 120, 120) and r.image.dtype == np.float32
        assert r.source == "ssl4eo" and r.crs == "EPSG:4326"


def test_ids_unique_and_groups_tie_tile_positions(records):
    ids = [r.image_id for r in records]
    assert len(set(ids)) == len(ids)
    assert "ssl4eo-0000200-s2c-20200604T054639-r0c1" in ids
    groups = Counter(r.group for r in records)
    assert groups == {f"ssl4eo-0000200-r{r}c{c}": 6 for r in (0, 1) for c in (0, 1)}


def test_centres_are_in_punjab(records):
    for r in records:
        lon, lat = r.centre_lonlat()
        assert abs(lat - 30.5) < 0.1 and abs(lon - 73.3) < 0.1  # README: ~30.5 N 73.3 E
        assert r.place.startswith("Punjab, Pakistan")


def test_bounds_inside_the_product_raster(records, samples_dir):
    for r in records:
        folder = _product_dir(samples_dir, r)
        ref = folder / ("VV.tif" if r.sensor == "S1" else "B2.tif")
        with rasterio.open(ref) as src:
            left, bottom, right, top = src.bounds
            res = src.res
        minx, miny, maxx, maxy = r.bounds
        assert left <= minx < maxx <= right and bottom <= miny < maxy <= top
        assert (maxx - minx, maxy - miny) == pytest.approx((120 * res[0], 120 * res[1]))


def test_timestamps_from_folder_names(records):
    stamps = {(r.image_id.split("-")[2], r.timestamp) for r in records}
    assert stamps == {
        ("s1", "2020-06-07T01:08:00Z"),
        ("s1", "2020-09-03T13:12:12Z"),
        ("s2c", "2020-06-04T05:46:39Z"),
        ("s2c", "2020-08-23T05:46:39Z"),
        ("s2a", "2020-06-04T05:46:39Z"),
        ("s2a", "2020-08-13T05:46:39Z"),
    }


def test_s1_is_in_db(records):
    for r in (r for r in records if r.sensor == "S1"):
        assert r.extra["s1_units"] == "dB"
        assert np.isfinite(r.image).all()
        assert ((r.image >= -35) & (r.image <= 5)).mean() > 0.95
        vv, vh = np.median(r.image[0]), np.median(r.image[1])
        assert -15 < vv < -5 and -22 < vh < -12  # farmland: VV ~ -10 dB, VH ~ -17 dB


def test_linear_backscatter_would_be_converted():
    power = np.array([[[0.1, 0.01]], [[0.02, 0.001]]], dtype=np.float32)
    db, units = ssl4eo.as_db(power)
    assert units.startswith("linear") and np.allclose(db.ravel(), [-10, -20, -16.9897, -30])
    same, units = ssl4eo.as_db(db)
    assert units == "dB" and np.array_equal(same, db)


def test_l1c_becomes_the_12_band_layout_without_b10(records, samples_dir):
    r = next(r for r in records if r.level == "L1C" and r.extra["tile_row"] == 1)
    folder = _product_dir(samples_dir, r)
    top, left = 12 + 120 * r.extra["tile_row"], 12 + 120 * r.extra["tile_col"]  # 264 = 12+240+12
    rows, cols = slice(top, top + 120), slice(left, left + 120)
    for band in ("B02", "B03", "B04", "B08"):  # 10 m bands: an exact window of the file
        assert np.array_equal(r.image[S2_BANDS.index(band)], _raw_band(folder, band)[rows, cols])
    b10 = set(np.unique(_raw_band(folder, "B10")))
    for i, band in enumerate(S2_BANDS):  # nearest resampling: only values of the right file
        values = set(np.unique(r.image[i]).astype(np.uint16))
        assert values <= set(np.unique(_raw_band(folder, band))), band
        assert not values <= b10, band
    assert np.median(_raw_band(folder, "B10")) < 50 < np.median(r.image, axis=(1, 2)).min()


def test_atmospheric_correction_darkens_blue(records):
    """Same acquisition (2020-06-04): L2A blue is below L1C blue (haze and Rayleigh removed)."""
    day = "2020-06-04T05:46:39Z"
    l1c = np.stack([r.image for r in records if r.level == "L1C" and r.timestamp == day])
    l2a = np.stack([r.image for r in records if r.level == "L2A" and r.timestamp == day])
    b01, b02 = S2_BANDS.index("B01"), S2_BANDS.index("B02")
    assert np.median(l2a[:, b02]) < np.median(l1c[:, b02])
    assert np.median(l2a[:, b01]) < np.median(l1c[:, b01])


def test_s2_values_are_physical(records):
    for r in (r for r in records if r.sensor == "S2"):
        assert np.isfinite(r.image).all() and r.image.min() >= 0
        assert r.image.max() <= 20_000 and (r.image <= 12_000).mean() > 0.99
        assert r.extra["dn_offset_removed"] == 0  # baselines 02.09 / 02.14
        b04, b08 = np.median(r.image[3]), np.median(r.image[7])
        assert b08 > b04  # vegetated farmland


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="ssl4eo_s12"):
        next(ssl4eo.iter_records(tmp_path))
