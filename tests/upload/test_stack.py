"""Several band files -> one scene (`closp_demo.upload.stack` through `scene.read_uploads`), on the
real SSL4EO-S12 and Major-TOM one-file-per-band samples and on generated band files."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling

from closp_demo.upload.scene import UploadError, read_upload, read_uploads
from tests.helpers.hostile_inputs import s1_db, write_tif
from tests.helpers.hostile_uploads import write_band_set
from tests.helpers.products import band_of_ssl4eo, jp2_bytes, ssl4eo_band_files


@pytest.mark.parametrize(
    ("kind", "sensor", "level", "count"),
    [("s2a", "S2", "L2A", 12), ("s2c", "S2", "L1C", 13), ("s1", "S1", "GRD", 2)],
)
def test_real_ssl4eo_band_files_make_one_scene(samples_dir, kind, sensor, level, count):
    files = ssl4eo_band_files(samples_dir, kind)
    assert len(files) == count
    shuffled = files[::-1]  # any order
    scene = read_uploads(shuffled)
    assert (scene.sensor, scene.level, scene.width, scene.height) == (sensor, level, 264, 264)
    assert scene.notes[0].startswith(f"{count} bands from {count} files")
    assert len(scene.tiles) == 4 and scene.tiles[0].image.shape[0] == (12 if sensor == "S2" else 2)
    if sensor == "S2":
        assert "resampled B01, B05..B07, B8A" in scene.notes[0]
    with rasterio.open(next(f for f in files if band_of_ssl4eo(f) in ("B02", "VV"))) as src:
        native = src.read(1)
    col, row, _, _ = scene.tiles[0].extra["window"]
    np.testing.assert_array_equal(
        scene.tiles[0].image[1 if sensor == "S2" else 0], native[row : row + 120, col : col + 120]
    )


def test_real_majortom_bands_are_resampled_to_the_10m_grid(samples_dir):
    folder = next((samples_dir / "majortom_core_s2l2a").glob("0U/*/*"))
    files = sorted(folder.glob("B*.tif"))
    scene = read_uploads(files)
    assert (scene.width, scene.height, len(scene.tiles)) == (1068, 1068, 64)
    assert "to 10 m (B02's grid, 1068x1068 px)" in scene.notes[0]
    # A 20 m band read through the stack = that band bilinearly upsampled by rasterio itself.
    with rasterio.open(folder / "B05.tif") as src:
        up = src.read(1, out_shape=(1068, 1068), resampling=Resampling.bilinear)
    tile = scene.tiles[0]
    col, row, _, _ = tile.extra["window"]
    ref = up[row : row + 120, col : col + 120].astype(np.float32)
    assert np.median(np.abs(tile.image[4] - ref)) <= 0.01 * np.median(ref)


def test_jp2_band_files_read_like_their_tiffs(samples_dir, tmp_path):
    files = ssl4eo_band_files(samples_dir, "s2a")
    jp2 = []
    for f in files:
        out = tmp_path / f"T43RCP_20200813T054639_{band_of_ssl4eo(f)}.jp2"
        out.write_bytes(jp2_bytes(f))
        jp2.append(out)
    a, b = read_uploads(files), read_uploads(jp2)
    assert b.filename == "T43RCP_20200813T054639"
    assert b.timestamp == "2020-08-13T05:46:39Z"
    for ta, tb in zip(a.tiles, b.tiles, strict=True):
        np.testing.assert_array_equal(ta.image, tb.image)  # lossless JPEG 2000


def test_generated_native_resolution_band_set(tmp_path):
    bands = write_band_set(tmp_path / "set", seed=30)
    scene = read_uploads(list(bands.values()))
    assert (scene.width, scene.height) == (240, 240)
    assert "to 10 m" in scene.notes[0]


@pytest.mark.parametrize(
    ("pols", "note"), [(("VV",), "VV only"), (("HH",), "HH only"), (("HH", "HV"), "HH + HV dual")]
)
def test_single_and_other_polarisations_are_degraded_scenes(tmp_path, pols, note):
    data = s1_db(200, 200, seed=31)
    paths = [write_tif(tmp_path / f"{p}.tif", data[i : i + 1]) for i, p in enumerate(pols)]
    scene = read_uploads(paths)
    assert scene.polarisations == pols and not scene.full_polarisation
    assert any(note in n and "degraded" in n for n in scene.notes)
    image = scene.tiles[0].image
    assert image.shape == (2, 120, 120) and np.isfinite(image[0]).all()
    assert np.isnan(image[1]).all() == (len(pols) == 1)


def test_one_band_file_alone_names_what_is_missing(tmp_path):
    path = write_tif(tmp_path / "B04.tif", np.full((1, 120, 120), 500, dtype=np.uint16))
    with pytest.raises(UploadError, match="B01, B02, B03, B05"):
        read_upload(path)
