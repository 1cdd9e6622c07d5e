"""Sensor, band order and units of uploads (`closp_demo.upload.bands`), on GeoTIFFs written by
rasterio and read through `read_upload`, and the name rules on their own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from closp_demo.corpus.records import footprint_lonlat
from closp_demo.sensors import S2_BANDS, S2_L1C_BANDS, drop_b10
from closp_demo.upload.bands import band_name, band_order, band_words, stack_layout
from closp_demo.upload.errors import UploadError
from closp_demo.upload.scene import read_upload
from tests.helpers.hostile_inputs import s1_db, s2_dn, write_tif

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


# --- names alone (what a scene assembled from one file per band reuses) -------------------------


@pytest.mark.parametrize(
    ("description", "unit", "name"),
    [
        ("Sigma0_VV_db", None, "VV"), ("VH", "dB", "VH"), ("B4", None, "B04"),
        ("B04", "reflectance", "B04"), ("B8A", None, "B8A"), ("b12", None, "B12"),
        ("Band 1", None, None), ("stackstac-0ae4141e", None, None), ("VV VH", None, None),
        ("B13", None, None), (None, None, None),
    ],
)  # fmt: skip
def test_band_name_reads_one_sentinel_band_or_none(description, unit, name):
    assert band_name(band_words(description, unit)) == name


def test_band_order_fills_unnamed_slots_in_file_order_and_refuses_contradictions():
    assert band_order(["VH", None], ("VV", "VH"), "x.tif") == [2, 1]
    assert band_order([None, None], ("VV", "VH"), "x.tif") == [1, 2]
    with pytest.raises(UploadError, match="'x.tif' names band VV more than once"):
        band_order(["VV", "VV"], ("VV", "VH"), "x.tif")
    with pytest.raises(UploadError, match="bands named B04, which do not belong in a 2-band"):
        band_order(["B04", None], ("VV", "VH"), "x.tif")


def test_stack_layout_refuses_mixed_sensors_and_polar_modes():
    notes: list[str] = []
    with pytest.raises(UploadError, match="mix Sentinel-1 \\(VV\\) and Sentinel-2 \\(B02\\)"):
        stack_layout([["VV"]] + [["B2"]] + [[]] * 10, "x.tif", notes)
    with pytest.raises(UploadError, match="only Sentinel-1 VV \\+ VH dual polarisation"):
        stack_layout([["HH"], ["HV"]], "x.tif", notes)
    layout = stack_layout([["VH"], ["VV"]], "x.tif", notes)
    assert (layout.sensor, layout.level, layout.indexes) == ("S1", "GRD", [2, 1])
    assert notes[-1] == "bands reordered by their descriptions to VV, VH"
