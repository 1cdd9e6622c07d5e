"""Hydro reader on the real shared patches, plus offset detection on written arrays."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources import hydro
from closp_demo.sensors import S2_BANDS
from tests.corpus.sources.test_tiling import write_tif

SWIR = [S2_BANDS.index("B11"), S2_BANDS.index("B12")]


def _raw_tile(samples_dir: Path, r: ImageRecord) -> np.ndarray:
    """The record's footprint read straight from its patch file."""
    with rasterio.open(samples_dir / hydro.FOLDER / f"{r.extra['patch']}.tif") as src:
        window = rasterio.windows.from_bounds(*r.bounds, transform=src.transform)
        return src.read(window=window.round_offsets().round_lengths()).astype(np.float32)


@pytest.fixture(scope="module")
def records(samples_dir: Path) -> list[ImageRecord]:
    return list(hydro.iter_records(samples_dir))


def test_counts_layout_and_ids(records):
    assert len(records) == 28  # 7 patches x 2 x 2 tiles
    assert len({r.extra["patch"] for r in records}) == 7
    ids = [r.image_id for r in records]
    assert len(set(ids)) == len(ids)
    assert ids[:5] == [f"hydro-patch_0-r{r}c{c}" for r in (0, 1) for c in (0, 1)] + [
        "hydro-patch_1-r0c0"
    ]  # patches by number, not by string
    for r in records:
        assert r.sensor == "S2" and r.level == "L2A" and r.source == "hydro"
        assert r.image.shape == (12, 120, 120) and r.image.dtype == np.float32
        assert r.timestamp is None and r.labels == ()


def test_bounds_and_centres_inside_the_source_patch(records, samples_dir):
    for r in records:
        with rasterio.open(samples_dir / hydro.FOLDER / f"{r.extra['patch']}.tif") as src:
            left, bottom, right, top = src.bounds
            crs = src.crs
        minx, miny, maxx, maxy = r.bounds
        assert r.crs == crs.to_string() and r.crs.startswith(("EPSG:326", "EPSG:327"))  # UTM
        assert left <= minx < maxx <= right and bottom <= miny < maxy <= top
        w, s, e, n = transform_bounds(crs, "EPSG:4326", left, bottom, right, top)
        lon, lat = r.centre_lonlat()
        assert w <= lon <= e and s <= lat <= n
        m = re.search(r"([\d.]+)°([NS]) ([\d.]+)°([EW])", r.place)  # the patch centre
        assert m, r.place
        place_lat = float(m.group(1)) * (1 if m.group(2) == "N" else -1)
        place_lon = float(m.group(3)) * (1 if m.group(4) == "E" else -1)
        assert abs(place_lat - lat) < 0.02 and abs(place_lon - lon) < 0.05


def test_band_order_matches_physics(records):
    arctic = [r for r in records if r.centre_lonlat()[1] > 80]
    assert arctic  # patch_10000, 80.9 N: snow / ice is bright in VNIR, dark in SWIR
    for r in arctic:
        vnir = np.median(r.image[: S2_BANDS.index("B8A") + 1])
        assert vnir > 8000 and np.median(r.image[SWIR]) < 2000


def test_offset_is_removed_where_water_sits_at_1000(records, samples_dir):
    """Water has SWIR reflectance ~0: after harmonising, the darkest SWIR DN is near 0."""
    patches = sorted({r.extra["patch"] for r in records})
    for patch in patches:
        tiles = [r for r in records if r.extra["patch"] == patch]
        with rasterio.open(samples_dir / hydro.FOLDER / f"{patch}.tif") as src:
            raw = src.read(indexes=[i + 1 for i in SWIR])
        raw_dark = np.percentile(raw.min(axis=0)[(raw > 0).all(axis=0)], 0.1)
        image = np.concatenate([r.image for r in tiles], axis=2)
        swir = image[SWIR].min(axis=0)[(image > 0).all(axis=0)]
        removed = {r.extra["dn_offset_removed"] for r in tiles}
        known = {r.extra["dn_offset_known"] for r in tiles}
        assert len(removed) == len(known) == 1  # one decision per patch
        if removed == {1000}:
            assert 800 < raw_dark < 1300 and np.percentile(swir, 0.1) < 100
        elif known == {True}:
            assert raw_dark < 100 and np.percentile(swir, 0.1) < 100
        else:
            assert raw_dark > 1300  # no dark pixel: offset undecidable, values left as is
            for r in tiles:
                assert np.array_equal(r.image, _raw_tile(samples_dir, r))
    assert sum(r.extra["dn_offset_removed"] == 1000 for r in records) >= 4 * 4


def test_no_data_stays_zero(records, samples_dir):
    for r in records:
        assert np.array_equal(r.image == 0, _raw_tile(samples_dir, r) == 0)


def test_values_are_physical(records):
    for r in records:
        assert np.isfinite(r.image).all() and r.image.min() >= 0
        assert r.image.max() <= 20_000
        assert (r.image <= 12_000).mean() > 0.8  # one patch is a bright cloud deck


def test_detect_offset_on_written_arrays():
    water = np.full((12, 50, 50), 30, np.uint16)
    assert hydro.detect_offset(water) == (0, 30.0)
    assert hydro.detect_offset(water + 1000) == (1000, 1030.0)
    assert hydro.detect_offset(water + 5000)[0] is None
    assert hydro.detect_offset(np.zeros((12, 5, 5), np.uint16)) == (None, None)


def test_wrong_band_count_is_a_clear_error(tmp_path):
    data = np.ones((4, 256, 256), np.uint16)
    write_tif(tmp_path / hydro.FOLDER / "patch_0.tif", data, from_origin(500_000, 100_000, 10, 10))
    with pytest.raises(ValueError, match="4 bands, expected 12"):
        next(hydro.iter_records(tmp_path))
