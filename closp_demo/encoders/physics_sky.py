"""Sentinel-2 views the ground does not show through: cloud, haze and cloud shadow.

Per-pixel evidence, from bands every internal 12-band image carries (no B10: the internal layout
is L2A's, and a 13-band L1C upload loses its cirrus band on reading, so cirrus is not measured):
- haze and cloud (one membership; thick cloud is haze at its opaque end): the haze-optimised
  transform HOT = B02 - 0.5 B04 (Zhang et al. 2002; the fixed-slope form of Fmask, Zhu and
  Woodcock 2012) rises where scattering lifts blue above the clear-sky line of land and water,
  on a whitish visible spectrum. Snow is bright and white too but absorbs at 1.6 um (NDSI high,
  SWIR1 low): it is left to the snow rule.
- water-vapour anomaly: in L2A products the atmospheric correction brings B09 (945 nm, water
  vapour) to B8A's level over clear land, because it retrieves the vapour from their ratio; a
  cloud deck above the humid layer absorbs less and ends with B09 well above B8A (1.6 to 2.8 on
  the hazy Congo cell, 0.98 to 1.02 on clear land). It flags thin cloud whose HOT is still near
  that of clear land, and ice-topped cloud, which absorbs at 1.6 um like snow (the one case the
  missing B10 cirrus band would settle). L1C keeps B09 absorbed (ratio < 0.5): it never fires
  there.
- cloud shadow: a dark pixel (NIR and SWIR low) that is not water, in a scene with cloud. The
  ground under it is real but lit by the sky alone, where every absolute threshold misreads it
  (as water, forest or burn scar).
"""

from __future__ import annotations

import numpy as np

from closp_demo.encoders.physics_ops import above, below, box_mean, masked_mean, norm_diff


def cloud_and_haze(band: dict[str, np.ndarray], rules: dict) -> tuple[np.ndarray, dict]:
    """(N,H,W) reflectance bands by name -> haze/cloud membership (N,H,W) and pixel features."""
    rs = rules["sky"]
    blue, green, red = band["B02"], band["B03"], band["B04"]
    visible = (blue + green + red) / 3.0
    # mean absolute deviation of the visible bands over their mean (Fmask's whiteness)
    spread = (np.abs(blue - visible) + np.abs(green - visible) + np.abs(red - visible)) / 3.0
    whiteness = spread / np.maximum(visible, 1e-3)
    hot = blue - rs["hot_slope"] * red
    ndsi = norm_diff(green, band["B11"])
    # over B09's own 60 m footprint: pixel ratios of 60 m against 20 m data are edge noise
    vapour = box_mean(band["B09"], 7) / np.maximum(box_mean(band["B8A"], 7), 1e-3)
    # Snow absorbs at 1.6 um; a bright cloud top (NDSI up to ~0.5) does not.
    snow_like = above(ndsi, rs["ndsi_max"], 0.1) * below(band["B11"], rs["snow_swir1_max"], 0.03)
    white = below(whiteness, rs["whiteness_max"], 0.05)
    scatter = above(hot, rs["hot_min"], rs["hot_width"]) * (1.0 - snow_like)
    # Dark pixels (water) make the ratio noise: only bright land-like pixels vote.
    lifted = (
        above(vapour, rs["vapour_ratio_min"], 0.15)
        * above(band["B8A"], rs["vapour_nir_min"], 0.03)
        * above(visible, rs["vapour_visible_min"], 0.02)
    )
    # The vapour test also catches ice-topped cloud, which absorbs at 1.6 um like snow.
    haze = white * np.maximum(scatter, lifted)
    return haze, {"hot": hot, "vapour": vapour}


def cloud_shadow(
    band: dict[str, np.ndarray], water: np.ndarray, haze: np.ndarray, validf: np.ndarray,
    rules: dict,
) -> np.ndarray:  # fmt: skip
    """Shadow membership (N,H,W): dark, non-water pixels of scenes with some cloud or haze."""
    rs = rules["sky"]["shadow"]
    w = rules["sharpness"]
    cloudy = above(masked_mean(haze, validf), rs["scene_min"], 0.02)[:, None, None]
    dark = below(band["B08"], rs["nir_max"], w) * below(band["B11"], rs["swir1_max"], w)
    return cloudy * dark * (1.0 - water) * (1.0 - haze)
