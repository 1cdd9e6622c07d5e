"""Thumbnails: fixed stretches, NaN handling, any size, encodings; real BigEarthNet patches."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from closp_demo.corpus import thumbnails
from closp_demo.sensors import S2_BANDS, S2_SCALE

RNG = np.random.default_rng(7)


def s1_image(vv: np.ndarray, vh: np.ndarray) -> np.ndarray:
    return np.stack([vv, vh]).astype(np.float32)


def s2_image(height: int, width: int, reflectance: dict[str, float], rng=None) -> np.ndarray:
    image = np.zeros((len(S2_BANDS), height, width), np.float32)
    for band, value in reflectance.items():
        image[S2_BANDS.index(band)] = value * S2_SCALE
    if rng is not None:
        image += rng.normal(0, 50, image.shape).astype(np.float32)
    return image


def test_s1_range_ends_map_to_0_and_255():
    lo_vv, hi_vv = thumbnails.S1_VV_RANGE_DB
    lo_vh, hi_vh = thumbnails.S1_VH_RANGE_DB
    lo_r, hi_r = thumbnails.S1_RATIO_RANGE_DB
    # Pixel 0: VV and VH at their lower ends; pixel 1: both at their upper ends.
    vv = np.array([[lo_vv, hi_vv]])
    vh = np.array([[lo_vh, hi_vh]])
    rgb = thumbnails.s1_false_colour(s1_image(vv, vh))
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 2, 3)
    assert rgb[0, 0, 0] == 0 and rgb[0, 1, 0] == 255
    assert rgb[0, 0, 1] == 0 and rgb[0, 1, 1] == 255
    # Blue is the ratio VV - VH: its range ends.
    vv = np.array([[-10.0, -10.0]])
    vh = np.array([[-10.0 - lo_r, -10.0 - hi_r]])
    rgb = thumbnails.s1_false_colour(s1_image(vv, vh))
    assert rgb[0, 0, 2] == 0 and rgb[0, 1, 2] == 255


def test_s1_values_outside_ranges_clip():
    vv = np.array([[-60.0, 30.0]])
    vh = np.array([[-70.0, 25.0]])
    rgb = thumbnails.s1_false_colour(s1_image(vv, vh))
    assert rgb[0, 0, :2].tolist() == [0, 0]
    assert rgb[0, 1, :2].tolist() == [255, 255]


def test_s1_stretch_is_fixed_not_per_image():
    vv = RNG.uniform(-20, -8, (40, 40))
    vh = vv - RNG.uniform(4, 9, (40, 40))
    base = thumbnails.s1_false_colour(s1_image(vv, vh))
    brighter = thumbnails.s1_false_colour(s1_image(vv + 3.0, vh + 3.0))
    # Per-image min-max would render both identically; a fixed stretch makes +3 dB brighter.
    assert brighter[..., 0].mean() > base[..., 0].mean() + 20
    assert brighter[..., 1].mean() > base[..., 1].mean() + 20
    # The ratio is unchanged by a common offset, so blue stays (up to rounding).
    assert np.abs(brighter[..., 2].astype(int) - base[..., 2]).max() <= 1


def test_s2_range_ends_and_gamma():
    top = thumbnails.S2_REFLECTANCE_MAX
    image = np.zeros((len(S2_BANDS), 1, 3), np.float32)
    for band in thumbnails.S2_RGB_BANDS:
        image[S2_BANDS.index(band)] = np.array([0.0, top, top / 2]) * S2_SCALE
    rgb = thumbnails.s2_true_colour(image)
    assert rgb[0, 0].tolist() == [0, 0, 0]
    assert rgb[0, 1].tolist() == [255, 255, 255]
    expected_mid = round(255 * 0.5 ** (1 / thumbnails.S2_GAMMA))
    assert rgb[0, 2].tolist() == [expected_mid] * 3


def test_s2_uses_red_green_blue_bands_in_order():
    image = s2_image(4, 4, {"B04": 0.2, "B03": 0.05, "B02": 0.0, "B08": 0.3, "B01": 0.3})
    rgb = thumbnails.s2_true_colour(image)
    red, green, blue = rgb[0, 0]
    assert red > green > blue == 0


def test_s2_stretch_is_fixed_not_per_image():
    dark = s2_image(30, 30, {"B04": 0.03, "B03": 0.04, "B02": 0.03}, RNG)
    bright = dark + 0.05 * S2_SCALE
    assert thumbnails.s2_true_colour(bright).mean() > thumbnails.s2_true_colour(dark).mean() + 30


def test_nan_pixels_are_nodata_grey_and_others_untouched():
    vv = RNG.uniform(-20, -5, (10, 12))
    vh = vv - 6
    clean = thumbnails.s1_false_colour(s1_image(vv, vh))
    vv_nan = vv.copy()
    vv_nan[2, 3] = np.nan
    vh_nan = vh.copy()
    vh_nan[5, 5] = np.inf
    rgb = thumbnails.s1_false_colour(s1_image(vv_nan, vh_nan))
    assert tuple(rgb[2, 3]) == thumbnails.NODATA_RGB
    assert tuple(rgb[5, 5]) == thumbnails.NODATA_RGB
    mask = np.ones((10, 12), bool)
    mask[2, 3] = mask[5, 5] = False
    assert np.array_equal(rgb[mask], clean[mask])

    s2 = s2_image(6, 6, {"B04": 0.1, "B03": 0.1, "B02": 0.1})
    s2[S2_BANDS.index("B03"), 1, 1] = np.nan
    rgb = thumbnails.s2_true_colour(s2)
    assert tuple(rgb[1, 1]) == thumbnails.NODATA_RGB
    assert tuple(rgb[0, 0]) != thumbnails.NODATA_RGB

    all_nan = thumbnails.render(np.full((2, 8, 8), np.nan, np.float32), "S1")
    assert (all_nan == np.array(thumbnails.NODATA_RGB, np.uint8)).all()


@pytest.mark.parametrize("shape", [(1, 1), (7, 300), (512, 256), (120, 120)])
def test_any_size(shape):
    h, w = shape
    s1 = thumbnails.render(RNG.uniform(-25, 0, (2, h, w)).astype(np.float32), "S1")
    s2 = thumbnails.render(RNG.uniform(0, 4000, (12, h, w)).astype(np.float32), "S2")
    assert s1.shape == s2.shape == (h, w, 3)
    assert s1.dtype == s2.dtype == np.uint8


def test_render_max_side_downscales_keeping_aspect():
    image = RNG.uniform(0, 3000, (12, 600, 1000)).astype(np.float32)
    assert thumbnails.render(image, "S2", max_side=512).shape == (307, 512, 3)
    small = RNG.uniform(0, 3000, (12, 100, 50)).astype(np.float32)
    assert thumbnails.render(small, "S2", max_side=512).shape == (100, 50, 3)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="2 bands"):
        thumbnails.s1_false_colour(np.zeros((3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="drop_b10"):
        thumbnails.s2_true_colour(np.zeros((13, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"\(bands, height, width\)"):
        thumbnails.render(np.zeros((4, 4), np.float32), "S1")
    with pytest.raises(ValueError, match="sensor 'S3'"):
        thumbnails.render(np.zeros((2, 4, 4), np.float32), "S3")
    with pytest.raises(ValueError, match="uint8"):
        thumbnails.to_webp_bytes(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="use one of"):
        thumbnails.save(np.zeros((4, 4, 3), np.uint8), "preview.tif")


def test_webp_round_trip_and_data_uri(tmp_path):
    yy, xx = np.mgrid[0:64, 0:96]
    rgb = np.stack([xx * 2, yy * 3, (xx + yy)], axis=-1).astype(np.uint8)
    data = thumbnails.to_webp_bytes(rgb)
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert decoded.shape == rgb.shape
    assert np.abs(decoded.astype(int) - rgb).mean() < 4

    uri = thumbnails.data_uri(rgb)
    prefix = "data:image/webp;base64,"
    assert uri.startswith(prefix)
    assert base64.b64decode(uri[len(prefix) :]) == data

    png = thumbnails.save(rgb, tmp_path / "sub" / "p.png")
    assert np.array_equal(np.asarray(Image.open(png)), rgb)  # PNG is lossless
    webp = thumbnails.save(rgb, tmp_path / "p.webp")
    assert Image.open(webp).format == "WEBP"

    from_file = thumbnails.file_data_uri(png)
    assert from_file.startswith("data:image/png;base64,")
    assert base64.b64decode(from_file.split(",", 1)[1]) == png.read_bytes()
    assert thumbnails.file_data_uri(webp).startswith("data:image/webp;base64,")
    with pytest.raises(ValueError, match="does not exist"):
        thumbnails.file_data_uri(tmp_path / "missing.webp")
    with pytest.raises(ValueError, match="cannot inline"):
        thumbnails.file_data_uri(tmp_path / "p.tif")


def test_real_bigearthnet_patches_render_non_degenerate(samples_dir):
    with np.load(samples_dir / "bigearthnet" / "ben_patches.npz") as npz:
        s1, s2 = npz["s1"], npz["s2"]
    has_s1 = np.isfinite(s1).reshape(len(s1), -1).all(axis=1)
    has_s2 = s2.reshape(len(s2), -1).max(axis=1) > 0
    assert has_s1.sum() >= 60 and has_s2.sum() >= 60
    for i in np.flatnonzero(has_s1 & has_s2)[:12]:
        for image, sensor in ((s1[i], "S1"), (s2[i].astype(np.float32), "S2")):
            rgb = thumbnails.render(image, sensor)
            assert rgb.shape == (120, 120, 3)
            assert rgb.std() > 8, f"patch {i} {sensor}: flat preview (std {rgb.std():.1f})"
            # Not saturated: most pixels inside the stretch, not clipped to black or white.
            clipped = ((rgb == 0) | (rgb == 255)).all(axis=-1).mean()
            assert clipped < 0.5, f"patch {i} {sensor}: {clipped:.0%} of pixels clipped"
            assert not (rgb == np.array(thumbnails.NODATA_RGB, np.uint8)).all(axis=-1).any()
