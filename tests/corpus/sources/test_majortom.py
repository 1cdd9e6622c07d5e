"""Major-TOM reader: the real shared cells, and a small product written by rasterio."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources import majortom
from closp_demo.sensors import S2_BANDS
from tests.corpus.sources.test_tiling import write_tif

CONGO, LAOS = "0U_199R", "199U_1099R"
RES = {"B01": 60, "B09": 60, "B05": 20, "B06": 20, "B07": 20, "B8A": 20, "B11": 20, "B12": 20}


@pytest.fixture(scope="module")
def records(samples_dir: Path) -> list[ImageRecord]:
    return list(majortom.iter_records(samples_dir))


def _product(samples_dir: Path, cell: str) -> Path:
    return next(p for p in majortom.product_folders(samples_dir) if p.parent.name == cell)


def _cell_box(cell: str, d_km: float = 10.0) -> tuple[float, float, float, float]:
    """Lon/lat box of a Major-TOM cell from the grid definition (arXiv 2402.12095, sec. 3.1)."""
    radius = 6378.137
    m = re.fullmatch(r"(\d+)([UD])_(\d+)([LR])", cell)
    assert m
    dlat = 180.0 / math.ceil(math.pi * radius / d_km)
    lat = int(m.group(1)) * dlat * (1 if m.group(2) == "U" else -1)
    dlon = 360.0 / math.ceil(2 * math.pi * radius * math.cos(math.radians(lat)) / d_km)
    lon = int(m.group(3)) * dlon * (1 if m.group(4) == "R" else -1)
    return lon, lat, lon + dlon, lat + dlat


def test_counts_and_layout(records):
    assert len(records) == 128
    for cell in (CONGO, LAOS):
        assert sum(r.extra["cell"] == cell for r in records) == 64
    for r in records:
        assert r.sensor == "S2" and r.level == "L2A" and r.source == "majortom"
        assert r.image.shape == (12, 120, 120) and r.image.dtype == np.float32
        assert r.labels == ()


def test_ids_unique_and_shaped_like_the_cell_and_tile(records):
    ids = [r.image_id for r in records]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"mtom-\d+[UD]_\d+[LR]-r[0-7]c[0-7]", i) for i in ids)
    assert ids[0] == f"mtom-{CONGO}-r0c0"  # cells in sorted order, tiles row-major


def test_bounds_lie_inside_the_b02_raster_and_do_not_overlap(records, samples_dir):
    for cell in (CONGO, LAOS):
        with rasterio.open(_product(samples_dir, cell) / "B02.tif") as src:
            left, bottom, right, top = src.bounds
            crs = src.crs.to_string()
        cell_records = [r for r in records if r.extra["cell"] == cell]
        for r in cell_records:
            minx, miny, maxx, maxy = r.bounds
            assert r.crs == crs
            assert left <= minx < maxx <= right and bottom <= miny < maxy <= top
            assert (maxx - minx, maxy - miny) == pytest.approx((1200, 1200))
        corners = {(round(r.bounds[0]), round(r.bounds[3])) for r in cell_records}
        assert len(corners) == 64


def test_centres_lie_in_their_major_tom_cell(records):
    for r in records:
        w, s, e, n = _cell_box(r.extra["cell"])
        lon, lat = r.centre_lonlat()
        margin = 0.01  # ~1 km: UTM rotation and Major-TOM's lattice snapping
        assert w - margin <= lon <= e + margin and s - margin <= lat <= n + margin, r.image_id


def test_place_and_time(records):
    congo = next(r for r in records if r.extra["cell"] == CONGO)
    laos = next(r for r in records if r.extra["cell"] == LAOS)
    assert congo.place == "Congo basin, MGRS tile 33NZA"
    assert laos.place == "Laos / Vietnam, MGRS tile 48QUE"
    assert congo.timestamp == "2022-07-06T08:56:11Z"
    assert laos.timestamp == "2020-02-23T03:27:39Z"
    assert congo.group == congo.image_id


def _raw(product: Path, band: str, r: ImageRecord) -> np.ndarray:
    """The record's footprint read straight from one band file at its native resolution."""
    with rasterio.open(product / f"{band}.tif") as src:
        window = rasterio.windows.from_bounds(*r.bounds, transform=src.transform)
        return src.read(1, window=window.round_offsets().round_lengths()).astype(np.float32)


def test_baseline_04_offset_is_removed_only_where_present(records, samples_dir):
    for cell, offset in ((CONGO, 1000), (LAOS, 0)):
        product = _product(samples_dir, cell)
        r = next(r for r in records if r.extra["cell"] == cell and r.extra["tile_row"] == 3)
        raw = _raw(product, "B02", r)
        assert r.extra["dn_offset_removed"] == offset
        assert np.array_equal(r.image[S2_BANDS.index("B02")], np.maximum(raw - offset, 1))


def test_coarse_bands_are_pixel_repeated(records, samples_dir):
    r = next(r for r in records if r.image_id == f"mtom-{LAOS}-r2c5")
    product = _product(samples_dir, LAOS)
    for band in ("B11", "B01"):
        factor = RES[band] // 10
        raw = _raw(product, band, r)
        assert raw.shape == (120 // factor, 120 // factor)
        want = np.repeat(np.repeat(raw, factor, axis=0), factor, axis=1)
        assert np.array_equal(r.image[S2_BANDS.index(band)], want)


def test_cloud_fraction_matches_the_mask(records, samples_dir):
    for cell in (CONGO, LAOS):
        product = _product(samples_dir, cell)
        for r in [r for r in records if r.extra["cell"] == cell][::9]:
            mask = _raw(product, "cloud_mask", r)
            assert r.extra["cloud_fraction"] == pytest.approx(np.isin(mask, [1, 2]).mean())
            assert r.extra["cloud_shadow_fraction"] == pytest.approx((mask == 3).mean())


def test_values_are_physical(records):
    for r in records:
        assert np.isfinite(r.image).all() and r.image.min() >= 0
        assert r.image.max() <= 20_000 and (r.image <= 12_000).mean() > 0.99
    laos = np.stack([r.image for r in records if r.extra["cell"] == LAOS])
    b04, b08 = np.median(laos[:, 3]), np.median(laos[:, 7])
    assert (b08 - b04) / (b08 + b04) > 0.3  # clear tropical land: vegetated (NDVI)


# --- a small Major-TOM product written by rasterio ------------------------------------------

PRODUCT = "S2B_MSIL2A_20230101T101010_N0509_R000_T31NAA_20230101T120000"


def _write_product(root: Path, name: str = PRODUCT, cell: str = "0U_1R") -> Path:
    rng = np.random.default_rng(7)
    folder = root / majortom.FOLDER / cell.split("_")[0] / cell / name
    x0, y0 = 600_000.0, 20_000.0
    for band in S2_BANDS:
        res = RES.get(band, 10)
        n = 240 * 10 // res
        data = rng.integers(1500, 6000, (n, n), dtype=np.uint16)
        write_tif(folder / f"{band}.tif", data, from_origin(x0, y0, res, res), "EPSG:32631")
    mask = np.zeros((240, 240), np.uint8)
    mask[:30, :120] = 1  # tile r0c0: 25 % thick cloud ...
    mask[30:60, :120] = 2  # ... 25 % thin cloud ...
    mask[60:72, :120] = 3  # ... 10 % shadow
    mask[:120, 120:] = 255  # tile r0c1: no-data only
    mask[120:, 120:180] = 255  # tile r1c1: half no-data, a quarter of the rest cloud
    mask[120:150, 180:] = 1
    write_tif(folder / "cloud_mask.tif", mask, from_origin(x0, y0, 10, 10), "EPSG:32631")
    return folder


def test_cloud_mask_coding_on_a_written_product(tmp_path):
    _write_product(tmp_path)
    recs = {r.image_id: r for r in majortom.iter_records(tmp_path)}
    assert sorted(recs) == [f"mtom-0U_1R-r{r}c{c}" for r in (0, 1) for c in (0, 1)]
    assert recs["mtom-0U_1R-r0c0"].extra["cloud_fraction"] == pytest.approx(0.5)
    assert recs["mtom-0U_1R-r0c0"].extra["cloud_shadow_fraction"] == pytest.approx(0.1)
    assert recs["mtom-0U_1R-r0c1"].extra["cloud_fraction"] is None
    assert recs["mtom-0U_1R-r1c0"].extra["cloud_fraction"] == 0.0
    assert recs["mtom-0U_1R-r1c1"].extra["cloud_fraction"] == pytest.approx(0.25)
    r = recs["mtom-0U_1R-r0c0"]
    assert r.place == "Major-TOM cell 0U_1R, MGRS tile 31NAA"
    assert r.extra["processing_baseline"] == "05.09" and r.extra["dn_offset_removed"] == 1000
    assert r.image.min() >= 500 and r.image.max() < 5000  # 1500..6000 minus the offset


def test_several_products_in_a_cell_get_dated_ids(tmp_path):
    _write_product(tmp_path)
    _write_product(tmp_path, PRODUCT.replace("20230101T101010", "20230301T101010"))
    ids = [r.image_id for r in majortom.iter_records(tmp_path)]
    assert len(ids) == len(set(ids)) == 8
    assert ids[0] == "mtom-0U_1R-20230101-r0c0" and ids[4] == "mtom-0U_1R-20230301-r0c0"


def test_a_missing_band_is_named(tmp_path):
    folder = _write_product(tmp_path)
    (folder / "B8A.tif").unlink()
    shutil.copy(folder / "B02.tif", folder / "extra.tif")
    with pytest.raises(FileNotFoundError, match="B8A"):
        next(majortom.iter_records(tmp_path))


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="majortom_core_s2l2a"):
        next(majortom.iter_records(tmp_path))
