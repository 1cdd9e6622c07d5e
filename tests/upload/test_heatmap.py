"""Windowed heat maps of large rasters, on real Sentinel data written to GeoTIFFs by rasterio."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from closp_demo.encoders import create_encoder
from closp_demo.encoders.base import measures_land_cover
from closp_demo.sensors import S1_BANDS, S2_BANDS
from closp_demo.upload.heatmap import TileError, heat_map, save_heat_map
from tests.helpers.mosaics import real_patches, side_by_side

W = 120


@pytest.fixture(scope="module")
def encoder():
    return create_encoder("physics-minilm")


def _write(path, data, nodata=None, crs="EPSG:32633"):
    count, h, w = data.shape
    profile = {"driver": "GTiff", "width": w, "height": h, "count": count, "dtype": data.dtype,
               "crs": crs, "transform": from_origin(500000, 5200000, 10, 10), "nodata": nodata,
               "tiled": True, "blockxsize": 128, "blockysize": 128}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


@pytest.fixture(scope="module")
def s2_raster(samples_dir, tmp_path_factory):
    """A 410 x 530 px 12-band raster of real BigEarthNet S2 patches side by side (uint16 DN),
    with a no-data (0) block over the top-left window and a thin no-data stripe elsewhere."""
    data = side_by_side(real_patches(samples_dir, "S2", 20), 4, 5)[:, :410, :530].astype(np.uint16)
    data[:, :150, :150] = 0  # covers window (0, 0) entirely (rows and cols 25..145)
    data[:, 300:310, :] = 0  # < half of the windows it crosses
    return _write(tmp_path_factory.mktemp("tiles") / "s2.tif", data, nodata=0)


def test_heat_map_matches_encoding_each_window(s2_raster, encoder):
    query = encoder.encode_text(["dense forest"])[0]
    heat = heat_map(s2_raster, encoder, query, progress=False)
    top, left = heat.layout.ys[0], heat.layout.xs[0]
    assert heat.shape == (3, 4) and (top, left) == (25, 25)  # centred windows
    assert heat.sensor == "S2"
    # window (0, 0) is all no-data: no value, valid share 0
    assert heat.valid[0, 0] == 0 and np.isnan(heat.similarity[0, 0])
    assert np.isnan(heat.fractions[0, 0]).all()
    with rasterio.open(s2_raster) as src:
        for r, c in ((0, 1), (1, 3), (2, 2)):
            patch = src.read(window=Window(left + c * W, top + r * W, W, W)).astype(np.float32)
            expected = encoder.encode_images(patch[None], "S2")[0] @ query
            assert heat.similarity[r, c] == pytest.approx(float(expected), abs=1e-5)
            fractions, _ = encoder.class_fractions(patch[None], "S2")
            np.testing.assert_allclose(heat.fractions[r, c], fractions[0], atol=1e-5)
            assert heat.valid[r, c] == pytest.approx(float((patch != 0).any(axis=0).mean()))
        # the geotransform of a heat-map cell is that of its window's corner
        assert heat.transform * (3, 2) == src.transform * (left + 3 * W, top + 2 * W)
    assert heat.classes == encoder.classes


class OnlyEmbeds:
    """The physics encoder seen through the plain `Encoder` interface: no land-cover capability."""

    def __init__(self, encoder):
        self.info, self.encode_images = encoder.info, encoder.encode_images


class Undeclared(OnlyEmbeds):
    """Has the land-cover methods but does not declare them (`info.land_cover` False)."""

    def __init__(self, encoder):
        super().__init__(encoder)
        self.info = dataclasses.replace(encoder.info, land_cover=False)
        self.classes, self.class_fractions = encoder.classes, encoder.class_fractions
        self.embed_fractions = encoder.embed_fractions


def test_fractions_only_from_an_encoder_that_declares_land_cover(s2_raster, encoder):
    query = encoder.encode_text(["dense forest"])[0]
    full = heat_map(s2_raster, encoder, query, progress=False)
    for plain in (OnlyEmbeds(encoder), Undeclared(encoder)):
        assert not measures_land_cover(plain)
        heat = heat_map(s2_raster, plain, query, progress=False)
        assert heat.fractions is None and heat.classes == ()
        # the same embeddings by the generic route: encode_images per window
        np.testing.assert_allclose(heat.similarity, full.similarity, atol=1e-6, equal_nan=True)


def test_keep_embeddings_and_no_query(s2_raster, encoder):
    heat = heat_map(s2_raster, encoder, keep_embeddings=True, progress=False)
    assert heat.similarity is None
    assert heat.embeddings.shape == (3, 4, encoder.info.dim)
    norms = np.linalg.norm(heat.embeddings[1, 1])
    assert norms == pytest.approx(1.0, abs=1e-4)


def test_s1_raster_detected_by_band_count(samples_dir, tmp_path, encoder):
    s1 = real_patches(samples_dir, "S1", 6)
    data = side_by_side(s1, 2, 3)
    path = _write(tmp_path / "s1.tif", data)
    heat = heat_map(path, encoder, encoder.encode_text(["open water"])[0], progress=False)
    assert heat.sensor == "S1" and heat.shape == (2, 3)
    expected = encoder.encode_images(s1[4:5].astype(np.float32), "S1")[0]
    assert heat.similarity[1, 1] == pytest.approx(
        float(expected @ encoder.encode_text(["open water"])[0]), abs=1e-5
    )
    assert len(S1_BANDS) == data.shape[0]


def test_progress_bar_is_shown(s2_raster, encoder, capsys):
    heat_map(s2_raster, encoder, progress=True)
    assert "heat map s2.tif" in capsys.readouterr().err


def test_save_heat_map_roundtrip(s2_raster, encoder, tmp_path):
    heat = heat_map(s2_raster, encoder, encoder.encode_text(["a river"])[0], progress=False)
    out = save_heat_map(heat, tmp_path / "heat.tif")
    with rasterio.open(out) as src:
        assert (src.height, src.width) == heat.shape
        assert src.count == 1 + len(heat.classes)
        assert src.descriptions[0] == "similarity"
        assert src.descriptions[1] == f"fraction {heat.classes[0]}"
        assert src.res == (1200.0, 1200.0)
        np.testing.assert_allclose(src.read(1), heat.similarity, equal_nan=True)


def test_bad_inputs_raise_clear_errors(tmp_path, encoder, s2_raster):
    four = _write(tmp_path / "rgbn.tif", np.ones((4, 240, 240), np.uint16))
    with pytest.raises(TileError, match="has 4 bands: expected 12"):
        heat_map(four, encoder, progress=False)
    with pytest.raises(TileError, match="has 12 bands, but S1 needs 2"):
        heat_map(s2_raster, encoder, sensor="S1", progress=False)
    small = _write(tmp_path / "small.tif", np.ones((len(S2_BANDS), 100, 300), np.uint16))
    with pytest.raises(TileError, match="smaller than one 120 px window"):
        heat_map(small, encoder, progress=False)
    with pytest.raises(TileError, match="query vector has 3 values"):
        heat_map(s2_raster, encoder, np.ones(3), progress=False)
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(TileError, match="cannot be read as a raster"):
        heat_map(text, encoder, progress=False)
