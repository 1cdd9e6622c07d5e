"""Windowed reads of uploads (`closp_demo.upload.windows`): the tile grid, tiles, invalid pixels,
the decimated preview, and bounded memory on a full Sentinel-2 tile."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds

from closp_demo.settings import Limits
from closp_demo.upload.scene import read_upload
from closp_demo.upload.windows import tile_grid
from tests.conftest import REPO_ROOT
from tests.helpers.hostile_inputs import UTM_ORIGIN, s1_db, s2_dn, write_tif

# --- size handling -----------------------------------------------------------------------------


def test_large_scene_is_sampled_by_windows_on_an_even_grid(tmp_path: Path):
    db = s1_db(2000, 2000, seed=14)
    transform = UTM_ORIGIN
    scene = read_upload(write_tif(tmp_path / "big.tif", db))

    assert len(scene.tiles) == 64
    assert "2000x2000 px: 64 tiles of 120x120 sampled on a grid" in scene.notes
    windows = [t.extra["window"] for t in scene.tiles]
    assert windows == [(c, r, 120, 120) for c, r in tile_grid(2000, 2000, 120, 64)]
    cols = sorted({w[0] for w in windows})
    assert len(cols) == 8 and cols[0] == 0 and cols[-1] == 2000 - 120
    assert len(set(np.diff(cols).round(-1))) == 1  # evenly spaced (to rounding)
    for tile in scene.tiles[::9]:
        col, row, _, _ = tile.extra["window"]
        np.testing.assert_array_equal(tile.image, db[:, row : row + 120, col : col + 120])
        expected = window_bounds(Window(col, row, 120, 120), transform)
        np.testing.assert_allclose(tile.bounds, expected)
    assert len({t.bounds for t in scene.tiles}) == 64
    assert len({t.image_id for t in scene.tiles}) == 64
    assert all(t.image_id.startswith("upload-") for t in scene.tiles)
    assert scene.preview.shape == (2, 512, 512)


def test_every_tile_that_fits_is_read_when_under_the_limit(tmp_path: Path):
    dn = s2_dn(300, 500, seed=15)
    scene = read_upload(write_tif(tmp_path / "mid.tif", dn))
    assert len(scene.tiles) == (500 // 120) * (300 // 120) == 8
    for tile in scene.tiles:
        col, row, _, _ = tile.extra["window"]
        np.testing.assert_array_equal(tile.image, dn[:, row : row + 120, col : col + 120])
    scene = read_upload(tmp_path / "mid.tif", Limits(max_tiles=3))
    assert len(scene.tiles) == 3


def test_tile_grid_is_even_bounded_and_never_overlaps():
    for width, height, max_tiles in [
        (10980, 10980, 64),
        (30000, 4000, 64),
        (500, 300, 64),
        (121, 4000, 10),
        (10980, 10980, 1),
    ]:
        grid = tile_grid(width, height, 120, max_tiles)
        assert 1 <= len(grid) <= max_tiles
        cols, rows = sorted({c for c, _ in grid}), sorted({r for _, r in grid})
        assert len(grid) == len(cols) * len(rows)
        assert all(0 <= c <= width - 120 for c in cols) and all(
            0 <= r <= height - 120 for r in rows
        )
        assert all(np.diff(cols) >= 120) and all(np.diff(rows) >= 120)
    assert len(tile_grid(10980, 10980, 120, 64)) == 64
    assert tile_grid(10980, 10980, 120, 1) == [(5430, 5430)]  # a single window is centred


def test_non_square_preview_keeps_the_aspect_and_samples_real_pixels(tmp_path: Path):
    db = s1_db(300, 1100, seed=16)
    scene = read_upload(write_tif(tmp_path / "wide.tif", db))
    assert scene.preview.shape == (2, 140, 512)
    assert np.isin(scene.preview, db).all()  # decimated, not interpolated
    np.testing.assert_allclose(scene.preview.mean(axis=(1, 2)), db.mean(axis=(1, 2)), atol=0.3)


@pytest.mark.parametrize(
    ("interleave", "height", "width", "block"),
    [("pixel", 1100, 1500, 256), ("band", 700, 2600, None), ("pixel", 1300, 600, None)],
)
def test_preview_equals_gdal_nearest_decimation(tmp_path, interleave, height, width, block):
    dn = s2_dn(height, width, seed=27)
    dn[:, :300, :200] = 0
    tiling = {"tiled": True, "blockxsize": block, "blockysize": block} if block else {}
    path = write_tif(tmp_path / "dec.tif", dn, nodata=0, interleave=interleave, **tiling)
    scene = read_upload(path, Limits(max_tiles=1))
    with rasterio.open(path) as src:
        shape = (12, *scene.preview.shape[1:])
        want = src.read(out_shape=shape).astype(np.float32)
        want[:, (src.read_masks(out_shape=shape) == 0).any(axis=0)] = np.nan
    assert max(shape[1:]) == 512
    np.testing.assert_array_equal(scene.preview, want)


def test_small_scene_is_upsampled_to_one_tile(tmp_path: Path):
    db = s1_db(60, 60, seed=17)
    scene = read_upload(write_tif(tmp_path / "small.tif", db))
    assert len(scene.tiles) == 1 and scene.tiles[0].image.shape == (2, 120, 120)
    assert any("upsampled x2.00" in n for n in scene.notes)
    np.testing.assert_allclose(scene.tiles[0].image.mean(axis=(1, 2)), db.mean(axis=(1, 2)), 0.02)
    np.testing.assert_allclose(scene.tiles[0].bounds, scene.bounds)
    assert scene.preview.shape == (2, 60, 60)


def test_thin_scene_gets_square_upsampled_windows(tmp_path: Path):
    scene = read_upload(write_tif(tmp_path / "thin.tif", s2_dn(50, 200, seed=18)))
    assert len(scene.tiles) == 4
    for tile in scene.tiles:
        minx, miny, maxx, maxy = tile.bounds
        assert maxx - minx == pytest.approx(500) and maxy - miny == pytest.approx(500)


# --- invalid pixels ----------------------------------------------------------------------------


def test_nodata_tiles_are_skipped_and_masked_in_the_preview(tmp_path: Path):
    dn = s2_dn(300, 300, seed=19)
    dn[:, :, :150] = 0
    scene = read_upload(write_tif(tmp_path / "edge.tif", dn, nodata=0))
    assert len(scene.tiles) == 2  # the right column of the 2 x 2 grid
    assert all(t.extra["window"][0] == 180 for t in scene.tiles)
    assert "2 of 4 tiles skipped (2 mostly nodata/NaN/Inf" in " ".join(scene.notes)
    assert np.isnan(scene.preview[:, :, :150]).all()
    assert not np.isnan(scene.preview[:, :, 150:]).any()


def test_scattered_nan_is_filled_with_band_medians(tmp_path: Path):
    db = s1_db(seed=20)
    holes = np.random.default_rng(1).random((120, 120)) < 0.2
    db_holes = db.copy()
    db_holes[:, holes] = np.nan
    scene = read_upload(write_tif(tmp_path / "holes.tif", db_holes))
    image = scene.tiles[0].image
    assert np.isfinite(image).all()
    np.testing.assert_array_equal(image[:, ~holes], db[:, ~holes])
    medians = np.median(db[:, ~holes], axis=1)
    np.testing.assert_allclose(image[:, holes], np.repeat(medians[:, None], holes.sum(), 1))
    assert any("filled with the tile's band medians" in n for n in scene.notes)


# --- a full Sentinel-2 tile --------------------------------------------------------------------

_FULL_TILE_SCRIPT = textwrap.dedent(
    """
    import json, re, sys
    from closp_demo.settings import Limits
    from closp_demo.upload.scene import read_upload
    scene = read_upload(sys.argv[1], Limits(max_bytes=10**9))
    # VmHWM: this process's peak RSS (ru_maxrss would inherit the parent's peak across fork)
    status = open("/proc/self/status").read()
    print(json.dumps({
        "tiles": len(scene.tiles),
        "preview": list(scene.preview.shape),
        "first": scene.tiles[0].image[:, 0, 0].tolist(),
        "peak_mb": int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024,
    }))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak RSS read from /proc")
def test_full_sentinel2_tile_is_read_with_bounded_memory(tmp_path: Path):
    """10980 x 10980 x 12 uint16 = 2.9 GB of pixels; windowed reads must keep the peak far below."""
    path = tmp_path / "T33UUP_full.tif"
    size, chunk = 10980, 512
    x = np.arange(size)
    with rasterio.open(
        path, "w", driver="GTiff", width=size, height=size, count=12, dtype="uint16",
        crs="EPSG:32633", transform=from_origin(300_000, 5_400_000, 10, 10), tiled=True,
        blockxsize=512, blockysize=512, compress="zstd", predictor=2,
    ) as dst:  # fmt: skip
        for y0 in range(0, size, chunk):
            rows = np.arange(y0, min(y0 + chunk, size))[:, None]
            base = ((x[None, :] // 7 + rows // 5) % 300).astype(np.uint16)
            for band in range(12):
                window = Window(0, y0, size, len(rows))
                dst.write(base + np.uint16(500 + 100 * band), band + 1, window=window)
    result = subprocess.run(
        [sys.executable, "-c", _FULL_TILE_SCRIPT, str(path)],
        capture_output=True, text=True, cwd=REPO_ROOT, check=True,
    )  # fmt: skip
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["tiles"] == 64 and out["preview"] == [12, 512, 512]
    assert out["first"] == [500.0 + 100 * b for b in range(12)]  # pixel (0, 0) of each band
    assert out["peak_mb"] < 1000, out  # the full raster alone would be 2900 MB
