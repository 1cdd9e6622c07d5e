"""Unit tests of the shared reader helpers, on GeoTIFFs written by rasterio into tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from closp_demo.corpus.sources.tiling import (
    Grid,
    band_files,
    baseline_from_product,
    canonical_band,
    make_id,
    ordered_band_files,
    product_time,
    read_on_grid,
    remove_dn_offset,
    s2_dn_offset,
    stack_on_grid,
    tiles,
)

UTM = "EPSG:32633"
X0, Y0 = 500_000.0, 5_300_000.0


def write_tif(path: Path, data: np.ndarray, transform, crs: str = UTM) -> Path:
    """Write a (H, W) or (B, H, W) array as a GeoTIFF."""
    data = data[None] if data.ndim == 2 else data
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=transform,
    ) as dst:
        dst.write(data)
    return path


def test_tiles_are_centred_non_overlapping_and_georeferenced():
    transform = from_origin(X0, Y0, 10, 10)
    found = list(tiles(transform, 256, 256))
    assert [(t.row, t.col) for t in found] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    # 256 = 2 * 120 + 16: 8 px dropped on each side
    assert (found[0].window.col_off, found[0].window.row_off) == (8, 8)
    assert found[0].bounds == (X0 + 80, Y0 - 80 - 1200, X0 + 80 + 1200, Y0 - 80)
    assert found[3].bounds == (X0 + 1280, Y0 - 1280 - 1200, X0 + 1280 + 1200, Y0 - 1280)
    for t in found:
        minx, miny, maxx, maxy = t.bounds
        assert maxx - minx == pytest.approx(1200) and maxy - miny == pytest.approx(1200)
        assert minx >= X0 and maxx <= X0 + 2560 and miny >= Y0 - 2560 and maxy <= Y0


def test_tiles_of_a_major_tom_sized_raster():
    found = list(tiles(from_origin(X0, Y0, 10, 10), 1068, 1068))
    assert len(found) == 64
    assert found[0].window.col_off == 54 and found[-1].window.col_off == 54 + 7 * 120
    slices = {(t.slices[0].start, t.slices[1].start) for t in found}
    assert len(slices) == 64  # all distinct windows


def test_tiles_reject_a_raster_smaller_than_a_tile():
    with pytest.raises(ValueError, match="smaller than one 120 px tile"):
        list(tiles(from_origin(X0, Y0, 10, 10), 100, 300))


def test_tile_bounds_match_a_rasterio_window_read(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(1, 10_000, size=(256, 256), dtype=np.uint16)
    path = write_tif(tmp_path / "b.tif", data, from_origin(X0, Y0, 10, 10))
    tile = list(tiles(from_origin(X0, Y0, 10, 10), 256, 256))[1]
    with rasterio.open(path) as src:
        window = rasterio.windows.from_bounds(*tile.bounds, transform=src.transform)
        by_bounds = src.read(1, window=window)
    assert np.array_equal(by_bounds, data[tile.slices])


def test_coarse_bands_are_repeated_onto_the_10m_grid(tmp_path):
    rng = np.random.default_rng(1)
    b02 = write_tif(
        tmp_path / "B02.tif",
        rng.integers(1, 5000, (240, 240), dtype=np.uint16),
        from_origin(X0, Y0, 10, 10),
    )
    b20 = rng.integers(1, 5000, (120, 120), dtype=np.uint16)
    b60 = rng.integers(1, 5000, (40, 40), dtype=np.uint16)
    p20 = write_tif(tmp_path / "B11.tif", b20, from_origin(X0, Y0, 20, 20))
    p60 = write_tif(tmp_path / "B09.tif", b60, from_origin(X0, Y0, 60, 60))
    grid = Grid.of(b02)
    up20, up60 = read_on_grid(p20, grid), read_on_grid(p60, grid)
    assert up20.dtype == np.uint16 and up20.shape == (240, 240)
    assert np.array_equal(up20, np.repeat(np.repeat(b20, 2, axis=0), 2, axis=1))
    assert np.array_equal(up60, np.repeat(np.repeat(b60, 6, axis=0), 6, axis=1))
    stack = stack_on_grid([b02, p20, p60], grid)
    assert stack.shape == (3, 240, 240)
    with rasterio.open(b02) as src:
        assert np.array_equal(stack[0], src.read(1))


def test_nearest_resampling_of_an_offset_grid_only_uses_measured_values(tmp_path):
    rng = np.random.default_rng(2)
    ref = write_tif(
        tmp_path / "B02.tif", np.ones((240, 240), np.uint16), from_origin(X0, Y0, 10, 10)
    )
    coarse = rng.integers(1, 60_000, (121, 121), dtype=np.uint16)
    # half a 10 m pixel off the reference grid, as SSL4EO's 20 m files are
    path = write_tif(tmp_path / "B05.tif", coarse, from_origin(X0 - 5, Y0 + 5, 20, 20))
    out = read_on_grid(path, Grid.of(ref))
    assert out.shape == (240, 240)
    assert set(np.unique(out)) <= set(np.unique(coarse))
    assert len(np.unique(out)) > 0.9 * 120 * 120  # one source pixel per ~2 x 2 block


def test_pixels_outside_the_file_are_zero(tmp_path):
    ref = write_tif(
        tmp_path / "B02.tif", np.ones((240, 240), np.uint16), from_origin(X0, Y0, 10, 10)
    )
    half = write_tif(
        tmp_path / "B03.tif", np.full((240, 120), 7, np.uint16), from_origin(X0, Y0, 10, 10)
    )
    out = read_on_grid(half, Grid.of(ref))
    assert (out[:, :120] == 7).all() and (out[:, 120:] == 0).all()


def test_reprojects_between_crs(tmp_path):
    ref = write_tif(
        tmp_path / "ref.tif", np.ones((240, 240), np.uint16), from_origin(X0, Y0, 10, 10)
    )
    # a lon/lat raster covering the UTM grid: every output pixel is filled
    lon_lat = write_tif(
        tmp_path / "ll.tif",
        np.full((200, 200), 9, np.uint16),
        from_origin(14.9, 47.9, 0.001, 0.001),
        crs="EPSG:4326",
    )
    out = read_on_grid(lon_lat, Grid.of(ref))
    assert (out == 9).all()


def test_band_names_are_canonicalised():
    assert canonical_band("B1") == "B01"
    assert canonical_band("b01") == "B01"
    assert canonical_band("B8a") == "B8A"
    assert canonical_band("B12") == "B12"
    with pytest.raises(ValueError, match="not a Sentinel-2 band"):
        canonical_band("cloud_mask")


def test_band_files_ignore_other_tifs_and_name_missing_bands(tmp_path):
    t = from_origin(X0, Y0, 10, 10)
    for name in ("B1", "B2", "B8A", "cloud_mask"):
        write_tif(tmp_path / f"{name}.tif", np.ones((4, 4), np.uint16), t)
    assert sorted(band_files(tmp_path)) == ["B01", "B02", "B8A"]
    assert [p.name for p in ordered_band_files(tmp_path, ["B8A", "B01"])] == ["B8A.tif", "B1.tif"]
    with pytest.raises(FileNotFoundError, match="B03, B04"):
        ordered_band_files(tmp_path, ["B01", "B03", "B04"])
    write_tif(tmp_path / "B01.tif", np.ones((4, 4), np.uint16), t)
    with pytest.raises(ValueError, match="given twice"):
        band_files(tmp_path)


def test_product_times_are_iso_utc():
    s2 = "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57"
    s1 = "S1B_IW_GRDH_1SDV_20170612T165809_33UUP_26_57"
    assert product_time(s2) == "2017-06-13T10:10:31Z"
    assert product_time(s1) == "2017-06-12T16:58:09Z"
    assert product_time("20200604T054639_20200604T054831_T43RCP") == "2020-06-04T05:46:39Z"
    with pytest.raises(ValueError, match="no acquisition time"):
        product_time("patch_0")
    with pytest.raises(ValueError, match="invalid acquisition time"):
        product_time("S2A_MSIL2A_20171341T101031")


def test_ids_are_filesystem_safe():
    assert make_id("ben-s2", "v1:S2A_x y/z") == "ben-s2-v1_S2A_x_y_z"
    assert make_id("mtom", "0U_199R", "r3c5") == "mtom-0U_199R-r3c5"


def test_processing_baseline_decides_the_dn_offset():
    assert baseline_from_product("S2A_MSIL2A_20220706T085611_N0400_R007_T33NZA_x") == "04.00"
    assert baseline_from_product("S2A_MSIL2A_20170613T101031_26_57") is None
    assert s2_dn_offset("02.14") == 0
    assert s2_dn_offset("04.00") == 1000
    assert s2_dn_offset("05.10") == 1000
    assert s2_dn_offset("99.99") == 0
    assert s2_dn_offset(None) == 0
    with pytest.raises(ValueError, match="processing baseline"):
        s2_dn_offset("N0400")


def test_removing_the_offset_keeps_no_data_and_dark_pixels():
    dn = np.array([0, 990, 1000, 1001, 3500], dtype=np.uint16)
    out = remove_dn_offset(dn, 1000)
    assert out.dtype == np.float32
    assert out.tolist() == [0, 1, 1, 1, 2500]
    assert remove_dn_offset(dn, 0).tolist() == dn.tolist()
