"""Pixel masks and statistics that the lessons quote, computed from the stored bands.

Every rule here is a simple published threshold, named where it is used, so a teacher can repeat
it: water = MNDWI > 0 (Xu 2006), snow = NDSI > 0.4 with green reflectance > 0.3 (the Sentinel-2
L2A scene-classification style snow test), cloud = blue reflectance > 0.2 (bright in B02, the
first test of most simple cloud masks). Sentinel-1 arrays are in dB; Sentinel-2 in digital
numbers (reflectance x 10000). BigEarthNet and Sen1Floods11 pairs share one 10 m grid, so a mask
from one sensor indexes the other's pixels.
"""

from __future__ import annotations

import numpy as np

from closp_demo.views.composites import _band, mndwi, ndvi

MNDWI_WATER = 0.0
NDSI_SNOW = 0.4
GREEN_SNOW = 0.3
BLUE_CLOUD = 0.2
VV_BRIGHT_DB = -3.0  # strong double bounce: brighter than any natural surface in these tiles
VV_DARK_DB = -15.0  # smooth open water (and little else) is darker in VV


def water_mask(s2: np.ndarray) -> np.ndarray:
    return np.nan_to_num(mndwi(s2), nan=-1.0) > MNDWI_WATER


def snow_mask(s2: np.ndarray) -> np.ndarray:
    # NDSI has the MNDWI formula, (B03 - B11) / (B03 + B11); the green test keeps water out.
    return (np.nan_to_num(mndwi(s2), nan=-1.0) > NDSI_SNOW) & (_band(s2, "B03") > GREEN_SNOW)


def cloud_mask(s2: np.ndarray) -> np.ndarray:
    return _band(s2, "B02") > BLUE_CLOUD


def vv(s1: np.ndarray) -> np.ndarray:
    return s1[0].astype(np.float32)


def ratio(s1: np.ndarray) -> np.ndarray:
    return (s1[0] - s1[1]).astype(np.float32)


def percent(mask: np.ndarray) -> float:
    return 100.0 * float(np.mean(mask))


def median(values: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Median of the finite values (under `mask`); NaN when there are none."""
    v = values if mask is None else values[mask]
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("nan")


def median_ndvi(s2: np.ndarray, mask: np.ndarray | None = None) -> float:
    return median(ndvi(s2), mask)


def median_band(s2: np.ndarray, band: str, mask: np.ndarray | None = None) -> float:
    return median(_band(s2, band), mask)


def db(value: float) -> str:
    """A dB (or any signed) figure as a lesson prints it: one decimal, a true minus sign."""
    return f"{value:.1f}".replace("-", "−")


def pct(value: float) -> str:
    return f"{value:.0f} %"


def refl(value: float) -> str:
    return f"{value:.2f}"
