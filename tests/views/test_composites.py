"""Each composite's recipe on arrays with known values."""

import numpy as np
import pytest

from closp_demo.corpus.thumbnails import NODATA_RGB
from closp_demo.sensors import S2_BANDS
from closp_demo.views.composites import COMPOSITES, compute, for_sensor
from closp_demo.views.figures import composite_image


def s2(**reflectance: float) -> np.ndarray:
    """A 2 x 2 S2 image (digital numbers), every band 0.1 unless given."""
    image = np.full((12, 2, 2), 1000.0, dtype=np.float32)
    for band, value in reflectance.items():
        image[S2_BANDS.index(band)] = value * 10000
    return image


@pytest.mark.parametrize(
    ("key", "bands"),
    [("true", ("B04", "B03", "B02")), ("cir", ("B08", "B04", "B03")),
     ("swir", ("B12", "B8A", "B04")), ("agri", ("B11", "B08", "B02"))],
)  # fmt: skip
def test_rgb_composites_are_gain_2_5_of_their_bands(key, bands):
    image = s2(**{bands[0]: 0.2, bands[1]: 0.1, bands[2]: 0.5})
    rgb = compute(key, image)
    # 2.5 x 0.2 = 0.5 -> 128; 2.5 x 0.1 = 0.25 -> 64; 2.5 x 0.5 clips to 1 -> 255
    assert rgb[0, 0].tolist() == [128, 64, 255]


def test_ndvi_and_mndwi_formulas():
    image = s2(B08=0.4, B04=0.1, B03=0.05, B11=0.15)
    assert compute("ndvi", image)[0, 0] == pytest.approx(0.6)  # (0.4-0.1)/(0.4+0.1)
    assert compute("mndwi", image)[0, 0] == pytest.approx(-0.5)  # (0.05-0.15)/(0.05+0.15)


def test_s2_no_data_is_grey_or_nan():
    image = s2(B08=0.4)
    image[:, 1, 1] = 0.0  # Sentinel-2 fill value in every band
    assert tuple(compute("true", image)[1, 1]) == NODATA_RGB
    assert np.isnan(compute("ndvi", image)[1, 1])


def test_s1_single_band_composites():
    image = np.array([[[-10.0, np.nan]], [[-16.0, -20.0]]], dtype=np.float32)
    assert compute("vv", image)[0, 0] == -10.0
    assert compute("vh", image)[0, 0] == -16.0
    assert compute("ratio", image)[0, 0] == pytest.approx(6.0)
    assert np.isnan(compute("ratio", image)[0, 1])


def test_single_band_images_use_the_fixed_range_and_carry_a_colour_bar():
    image = np.zeros((2, 120, 120), dtype=np.float32)
    image[0] = -25.0  # the bottom of VV's fixed range: black
    out = composite_image(image, "vv", zoom=1)
    assert out.shape[0] == 120 and out.shape[1] == 120 + 70  # image + colour bar
    assert out[5, 5].tolist() == [0, 0, 0]
    image[0] = 0.0  # the top: white
    assert composite_image(image, "vv", zoom=1)[5, 5].tolist() == [255, 255, 255]


def test_every_composite_has_a_formula_and_a_meaning():
    assert {c.key for c in for_sensor("S1")} == {"s1_false", "vv", "vh", "ratio"}
    assert {c.key for c in for_sensor("S2")} == {"true", "cir", "swir", "agri", "ndvi", "mndwi"}
    assert all(c.formula and c.meaning for c in COMPOSITES.values())
