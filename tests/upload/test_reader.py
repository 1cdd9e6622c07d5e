"""The upload reader: GeoTIFFs written by rasterio, hostile inputs, the shared real samples."""

from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_bounds, from_origin
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds

from closp_demo.corpus.records import footprint_lonlat
from closp_demo.sensors import S2_BANDS, S2_L1C_BANDS, drop_b10
from closp_demo.upload import reader as upload_module
from closp_demo.upload.limits import MB, Limits
from closp_demo.upload.reader import (
    UploadError,
    display_name,
    read_upload,
    scene_footprint,
    tile_grid,
)
from tests.conftest import REPO_ROOT
from tests.helpers.hostile_inputs import (
    HOSTILE_LIMITS,
    s1_db,
    s2_dn,
    write_hostile_inputs,
    write_tif,
)

# CRSs for the fixtures: (crs, transform) with pixels of roughly 10 m.
CRS_CASES = {
    "utm33n": ("EPSG:32633", from_origin(500_000.0, 5_300_000.0, 10.0, 10.0)),
    "wgs84": ("EPSG:4326", from_origin(12.0, 47.0, 0.0001, 0.0001)),
    "webmercator": ("EPSG:3857", from_origin(1_335_000.0, 5_950_000.0, 10.0, 10.0)),
    "polar3413": ("EPSG:3413", from_origin(-200_000.0, -2_000_000.0, 10.0, 10.0)),
}


def _bounds(transform, width: int, height: int) -> tuple[float, float, float, float]:
    left, top = transform @ (0, 0)
    right, bottom = transform @ (width, height)
    return min(left, right), min(bottom, top), max(left, right), max(bottom, top)


# --- detection and conversion ------------------------------------------------------------------


@pytest.mark.parametrize("crs_case", list(CRS_CASES))
@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32"])
@pytest.mark.parametrize("bands", [12, 13])
def test_s2_detected_and_read_exactly(tmp_path: Path, crs_case: str, dtype: str, bands: int):
    crs, transform = CRS_CASES[crs_case]
    data = s2_dn(seed=bands, bands=bands).astype(dtype)
    path = write_tif(tmp_path / "s2.tif", data, crs=crs, transform=transform)

    scene = read_upload(path)

    assert scene.sensor == "S2"
    assert scene.level == ("L1C" if bands == 13 else "L2A")
    want = drop_b10(data.astype(np.float32)) if bands == 13 else data.astype(np.float32)
    assert len(scene.tiles) == 1
    tile = scene.tiles[0]
    np.testing.assert_array_equal(tile.image, want)
    assert tile.image.dtype == np.float32 and tile.sensor == "S2" and tile.level == scene.level
    assert scene.crs == crs == tile.crs
    expected_bounds = _bounds(transform, 120, 120)
    np.testing.assert_allclose(scene.bounds, expected_bounds)
    np.testing.assert_allclose(tile.bounds, expected_bounds)
    np.testing.assert_allclose(scene.footprint, footprint_lonlat(crs, expected_bounds), atol=1e-9)
    np.testing.assert_array_equal(scene.preview, want)
    note = "13 bands -> Sentinel-2 L1C, B10 dropped" if bands == 13 else "12 bands -> Sentinel-2"
    assert any(n.startswith(note) for n in scene.notes), scene.notes
    assert (scene.width, scene.height) == (120, 120)


def test_s2_l1c_drops_the_b10_band(tmp_path: Path):
    data = s2_dn(seed=3, bands=13)
    data[S2_L1C_BANDS.index("B10")] = 7  # B10 must vanish, the neighbours must keep their place
    scene = read_upload(write_tif(tmp_path / "l1c.tif", data))
    image = scene.tiles[0].image
    assert image.shape == (12, 120, 120)
    assert not (image == 7).all(axis=(1, 2)).any()
    np.testing.assert_array_equal(image[S2_BANDS.index("B11")], data[11])
    np.testing.assert_array_equal(image[S2_BANDS.index("B09")], data[9])


def test_s2_reflectance_floats_are_scaled_to_digital_numbers(tmp_path: Path):
    dn = s2_dn(seed=4)
    path = write_tif(tmp_path / "refl.tif", (dn / 10000.0).astype(np.float32))
    scene = read_upload(path)
    np.testing.assert_allclose(scene.tiles[0].image, dn, rtol=1e-5)
    assert any("reflectance 0..1 -> scaled x10000" in n for n in scene.notes)


def test_s2_scale_and_offset_tags_are_applied(tmp_path: Path):
    dn = s2_dn(seed=5) + 1000  # processing baseline 04.00: DN = reflectance * 10000 + 1000
    path = write_tif(tmp_path / "baseline04.tif", dn)
    with rasterio.open(path, "r+") as dst:
        dst.scales = (1e-4,) * 12
        dst.offsets = (-0.1,) * 12
    scene = read_upload(path)
    np.testing.assert_allclose(scene.tiles[0].image, dn.astype(np.float64) - 1000, atol=0.01)
    assert any("scale/offset" in n for n in scene.notes)


@pytest.mark.parametrize("crs_case", list(CRS_CASES))
def test_s1_db_is_kept(tmp_path: Path, crs_case: str):
    crs, transform = CRS_CASES[crs_case]
    db = s1_db(seed=6)
    scene = read_upload(write_tif(tmp_path / "s1.tif", db, crs=crs, transform=transform))
    assert (scene.sensor, scene.level) == ("S1", "GRD")
    np.testing.assert_array_equal(scene.tiles[0].image, db)
    assert any("dB" in n and "kept" in n for n in scene.notes)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_s1_linear_power_is_converted_to_db(tmp_path: Path, dtype: str):
    db = s1_db(seed=7)
    power = (10.0 ** (db.astype(np.float64) / 10)).astype(dtype)
    scene = read_upload(write_tif(tmp_path / "lin.tif", power))
    np.testing.assert_allclose(scene.tiles[0].image, db, atol=1e-4)
    assert any("linear power" in n and "converted to dB" in n for n in scene.notes)


def test_s1_amplitude_is_squared_when_the_bands_say_so(tmp_path: Path):
    db = s1_db(seed=8)
    amplitude = (10.0 ** (db / 20)).astype(np.float32)
    path = write_tif(tmp_path / "amp.tif", amplitude, descriptions=["Amplitude_VV", "Amplitude_VH"])
    scene = read_upload(path)
    np.testing.assert_allclose(scene.tiles[0].image, db, atol=1e-4)
    assert any("amplitude" in n for n in scene.notes)


def test_s1_scaled_integer_db_is_read(tmp_path: Path):
    db = s1_db(seed=9)
    path = write_tif(tmp_path / "db100.tif", np.round(db * 100).astype(np.int16))
    with rasterio.open(path, "r+") as dst:
        dst.scales = (0.01, 0.01)
    scene = read_upload(path)
    np.testing.assert_allclose(scene.tiles[0].image, db, atol=0.006)


def test_bands_are_reordered_by_their_descriptions(tmp_path: Path):
    db = s1_db(seed=10)
    scene = read_upload(
        write_tif(tmp_path / "vhvv.tif", db[::-1].copy(), descriptions=["Sigma0_VH_db", "VV"])
    )
    np.testing.assert_array_equal(scene.tiles[0].image, db)

    dn = s2_dn(seed=11)
    order = np.random.default_rng(0).permutation(12)
    names = [S2_BANDS[i].replace("B0", "B") for i in order]  # "B4" style, B8A kept
    scene = read_upload(write_tif(tmp_path / "shuffled.tif", dn[order], descriptions=names))
    np.testing.assert_array_equal(scene.tiles[0].image, dn)
    assert any("reordered" in n for n in scene.notes)


def test_descriptions_naming_no_band_are_ignored(tmp_path: Path):
    dn = s2_dn(seed=12)
    junk = ["stackstac-0ae4141e486362741b2f1530a6de44a3"] * 6 + [f"Band {i}" for i in range(6)]
    scene = read_upload(write_tif(tmp_path / "junk.tif", dn, descriptions=junk))
    np.testing.assert_array_equal(scene.tiles[0].image, dn)
    assert not any("reordered" in n for n in scene.notes)


def test_12_bands_named_l1c_in_the_filename(tmp_path: Path):
    name = "S2B_MSIL1C_20200223T034009_N0209_R061_T48QUE.tif"
    scene = read_upload(write_tif(tmp_path / name, s2_dn(seed=13)))
    assert scene.level == "L1C"
    assert scene.timestamp == "2020-02-23T03:40:09Z" == scene.tiles[0].timestamp


# --- size handling -----------------------------------------------------------------------------


def test_large_scene_is_sampled_by_windows_on_an_even_grid(tmp_path: Path):
    db = s1_db(2000, 2000, seed=14)
    transform = CRS_CASES["utm33n"][1]
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


# --- footprints --------------------------------------------------------------------------------


def test_footprint_across_the_antimeridian_is_unwrapped(tmp_path: Path):
    (x180,), (y,) = warp_transform("EPSG:4326", "EPSG:32601", [-180.0], [-17.0])
    transform = from_origin(x180 - 1500.0, y, 10.0, 10.0)
    path = write_tif(tmp_path / "fiji.tif", s2_dn(200, 300, seed=21), "EPSG:32601", transform)
    scene = read_upload(path)
    lons = [p[0] for p in scene.footprint]
    assert max(lons) - min(lons) < 0.1  # not a ring around the world
    assert min(lons) < 180.0 < max(lons)
    assert -180.0 <= lons[0] < 180.0
    assert any("antimeridian" in n for n in scene.notes)
    raw = footprint_lonlat(scene.crs, scene.bounds)
    np.testing.assert_allclose(np.mod(lons, 360), np.mod([p[0] for p in raw], 360), atol=1e-9)


@pytest.mark.parametrize(("crs", "pole"), [("EPSG:3031", -90.0), ("EPSG:3413", 90.0)])
def test_footprint_around_a_pole_is_closed_along_it(tmp_path: Path, crs: str, pole: float):
    path = write_tif(
        tmp_path / "pole.tif", s1_db(240, 240, seed=22), crs, from_origin(-1200, 1200, 10, 10)
    )
    scene = read_upload(path)
    assert scene.footprint[0] == scene.footprint[-1]
    lats = [p[1] for p in scene.footprint]
    assert lats.count(pole) == 2
    lons = [p[0] for p in scene.footprint]
    assert max(lons) - min(lons) == pytest.approx(360.0)
    assert any("Pole" in n for n in scene.notes)


def test_ordinary_footprint_is_the_records_ring():
    bounds = (331200.0, 5330400.0, 332400.0, 5331600.0)
    ring, notes = scene_footprint("EPSG:32633", bounds)
    assert ring == footprint_lonlat("EPSG:32633", bounds) and notes == []


# --- filenames, limits, robustness -------------------------------------------------------------


def test_display_name_strips_paths_controls_and_long_names():
    assert display_name("../../etc/passwd.tif") == "passwd.tif"
    assert display_name("C:\\Users\\me\\scene.tif") == "scene.tif"
    assert display_name("a\u202egnp.tif\x00\n") == "agnp.tif"
    assert display_name("") == display_name("///") == "upload"
    long = display_name("y" * 300 + ".tif")
    assert len(long) == 60 and long.endswith(".tif") and "…" in long
    assert display_name("<b>'x'</b>.tif") == "b>.tif"  # raw, no escaping here


def test_filename_in_messages_is_the_display_name(tmp_path: Path):
    path = tmp_path / "upload.bin"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    with pytest.raises(UploadError) as err:
        read_upload(path, filename="../" + "z" * 100 + "<i>.tif")
    message = str(err.value)
    assert message.startswith("'" + display_name("z" * 100 + "<i>.tif") + "' is a JPEG image")
    assert "../" not in message


def test_limits_from_env(monkeypatch: pytest.MonkeyPatch):
    for var in ("CLOSP_MAX_UPLOAD_MB", "CLOSP_MAX_PIXELS", "CLOSP_MAX_SIDE", "CLOSP_MAX_TILES"):
        monkeypatch.delenv(var, raising=False)
    default = Limits.from_env()
    assert default == Limits()
    assert default.max_bytes == 50 * MB and default.max_tiles == 64
    assert default.max_pixels >= 10980 * 10980 and default.max_side >= 10980
    monkeypatch.setenv("CLOSP_MAX_UPLOAD_MB", "2.5")
    monkeypatch.setenv("CLOSP_MAX_PIXELS", "1_000_000")
    monkeypatch.setenv("CLOSP_MAX_TILES", "9")
    assert Limits.from_env() == Limits(2_500_000, 1_000_000, default.max_side, 9)
    for bad in ("lots", "-1", "0", "inf", "nan"):
        monkeypatch.setenv("CLOSP_MAX_TILES", bad)
        with pytest.raises(ValueError, match="CLOSP_MAX_TILES"):
            Limits.from_env()


def test_misconfigured_limits_are_a_clear_upload_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOSP_MAX_UPLOAD_MB", "fifty")
    path = write_tif(tmp_path / "ok.tif", s1_db(seed=23))
    with pytest.raises(UploadError, match="upload limits are misconfigured"):
        read_upload(path)


def test_size_limit_is_checked_before_opening(tmp_path: Path, monkeypatch):
    path = write_tif(tmp_path / "s2.tif", s2_dn(seed=24))
    opened = []
    monkeypatch.setattr(upload_module.rasterio, "open", lambda *a, **k: opened.append(a))
    with pytest.raises(UploadError, match=r"file is 0\.3 MB, above the 0\.1 MB limit"):
        read_upload(path, Limits(max_bytes=100_000))
    assert opened == []


@pytest.mark.parametrize(
    ("error", "message"),
    [(RuntimeError("boom"), "unexpected error (RuntimeError)"), (MemoryError(), "out of memory")],
)
def test_unexpected_errors_are_wrapped_and_logged(tmp_path, monkeypatch, caplog, error, message):
    path = write_tif(tmp_path / "ok.tif", s1_db(seed=25))

    def explode(*args, **kwargs):
        raise error

    monkeypatch.setattr(upload_module, "_read_tiles", explode)
    with (
        caplog.at_level(logging.ERROR, logger="closp_demo.upload.reader"),
        pytest.raises(UploadError) as e,
    ):
        read_upload(path)
    assert message in str(e.value) and "'ok.tif'" in str(e.value)
    assert any(r.exc_info for r in caplog.records)


def test_hostile_inputs_each_give_their_message_and_memory_stays_bounded(tmp_path: Path):
    cases = write_hostile_inputs(tmp_path / "hostile")
    assert len(cases) >= 40
    assert sum(c.expected is None for c in cases) >= 10  # valid odd inputs are part of the set
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    failures = []
    for case in cases:
        try:
            scene = read_upload(case.path, HOSTILE_LIMITS, filename=case.filename)
        except UploadError as exc:
            if case.expected is None or case.expected not in str(exc):
                failures.append(f"{case.path.name}: want {case.expected!r}, got {exc}")
            continue
        except Exception as exc:  # a raw exception escaping is the worst failure
            failures.append(f"{case.path.name}: raw {type(exc).__name__}: {exc}")
            continue
        if case.expected is not None:
            failures.append(f"{case.path.name}: want {case.expected!r}, but it was read")
            continue
        assert scene.tiles and all(t.image.shape[1:] == (120, 120) for t in scene.tiles)
        assert "/" not in scene.filename and "\\" not in scene.filename
        assert len(scene.filename) <= 60
    assert not failures, "\n".join(failures)
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert growth < 1.5e9, f"peak RSS grew by {growth / 1e9:.2f} GB"
    # The reader still works after all of them.
    dn = s2_dn(seed=26)
    scene = read_upload(write_tif(tmp_path / "after.tif", dn), HOSTILE_LIMITS)
    np.testing.assert_array_equal(scene.tiles[0].image, dn)


# --- real data ---------------------------------------------------------------------------------


def test_bigearthnet_patches_round_trip_through_geotiff(samples_dir: Path, tmp_path: Path):
    ben = samples_dir / "bigearthnet"
    arrays = np.load(ben / "ben_patches.npz")
    meta = pd.read_csv(ben / "ben_patches.csv")
    s2_row = int(np.flatnonzero(meta["has_s2"].to_numpy())[0])
    s1_row = int(np.flatnonzero(meta["has_s1"].to_numpy())[0])
    for sensor, row, image in [
        ("S2", s2_row, arrays["s2"][s2_row]),
        ("S1", s1_row, arrays["s1"][s1_row]),
    ]:
        rec = meta.iloc[row]
        bounds = (rec.minx, rec.miny, rec.maxx, rec.maxy)
        transform = from_bounds(*bounds, 120, 120)
        path = write_tif(tmp_path / f"{rec.patch_id}_{sensor}.tif", image, rec.crs, transform)
        scene = read_upload(path)
        assert scene.sensor == sensor and scene.level == ("L2A" if sensor == "S2" else "GRD")
        assert len(scene.tiles) == 1
        np.testing.assert_array_equal(scene.tiles[0].image, image.astype(np.float32))
        np.testing.assert_allclose(scene.bounds, bounds)
        lon, lat = scene.tiles[0].centre_lonlat()
        assert lon == pytest.approx(rec.lon, abs=0.01) and lat == pytest.approx(rec.lat, abs=0.01)


def test_real_hydro_s2_geotiff_is_read_as_an_upload(samples_dir: Path):
    path = sorted((samples_dir / "hydro_s2").glob("*.tif"))[0]
    scene = read_upload(path)
    assert (scene.sensor, scene.level, len(scene.tiles)) == ("S2", "L2A", 4)
    with rasterio.open(path) as src:
        data = src.read()
        assert scene.crs == src.crs.to_string()
    for tile in scene.tiles:
        col, row, _, _ = tile.extra["window"]
        np.testing.assert_array_equal(tile.image, data[:, row : row + 120, col : col + 120])


# --- a full Sentinel-2 tile --------------------------------------------------------------------

_FULL_TILE_SCRIPT = textwrap.dedent(
    """
    import json, re, sys
    from closp_demo.upload.limits import Limits
    from closp_demo.upload.reader import read_upload
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


def test_missing_file_and_directory_are_refused(tmp_path: Path):
    with pytest.raises(UploadError, match="'gone.tif' was not found"):
        read_upload(tmp_path / "gone.tif")
    with pytest.raises(UploadError, match="is not a file"):
        read_upload(tmp_path)
