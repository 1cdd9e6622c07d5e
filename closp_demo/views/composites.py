"""Band composites of one image, each with a fixed range, a formula and one line of meaning.

Fixed ranges (never a per-image stretch), so two images on screen stay comparable. Recipes:
- Sentinel-2 RGB composites follow the Sentinel Hub custom-script repository
  (github.com/sentinel-hub/custom-scripts, `sentinel-2/false_color_infrared/script.js`:
  `[B08, B04, B03].map(a => 2.5 * a)`): reflectance x 2.5, clipped to [0, 1], i.e. reflectance
  0..0.4 to full scale, no gamma. The same gain for true colour (B04, B03, B02), short-wave
  infrared (B12, B8A, B04) and agriculture (B11, B08, B02), as in that repository's scripts of
  those names.
- NDVI = (B08 - B04) / (B08 + B04) (Rouse et al. 1974) and MNDWI = (B03 - B11) / (B03 + B11)
  (Xu 2006) on [-1, 1] with diverging colour maps centred on 0 (RdYlGn, BrBG: green/blue for
  vegetation/water).
- Sentinel-1: VV and VH in dB on grey ramps with the thumbnails' fixed ranges (VV -25..0 dB,
  VH -30..-5 dB), VV - VH in dB on 0..15, and the thumbnails' false colour
  (`corpus.thumbnails.s1_false_colour`).
Input is the internal layout (`corpus.records`): S2 digital numbers, S1 dB (NaN = no data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from closp_demo.corpus.thumbnails import (
    NODATA_RGB,
    S1_RATIO_RANGE_DB,
    S1_VH_RANGE_DB,
    S1_VV_RANGE_DB,
    s1_false_colour,
)
from closp_demo.sensors import S2_BANDS, S2_SCALE

S2_GAIN = 2.5  # Sentinel Hub custom scripts' reflectance gain (module docstring)


@dataclass(frozen=True)
class Composite:
    key: str
    sensor: str
    title: str
    formula: str
    meaning: str
    # For a single-band composite: its colour map and fixed range (drawn with a colour bar);
    # None for an RGB composite (no colour bar: a channel legend in the formula instead).
    cmap: str | None = None
    vrange: tuple[float, float] | None = None
    unit: str = ""


def _band(image: np.ndarray, name: str) -> np.ndarray:
    return image[S2_BANDS.index(name)].astype(np.float32) / S2_SCALE


def _norm_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / total
    return np.where(np.abs(total) > 1e-6, out, np.nan).astype(np.float32)


def _s2_valid(image: np.ndarray) -> np.ndarray:
    return np.isfinite(image).all(axis=0) & (np.abs(np.nan_to_num(image)).sum(axis=0) > 0)


def _rgb(image: np.ndarray, bands: tuple[str, str, str]) -> np.ndarray:
    """Gain 2.5 on reflectance, clipped: (H, W, 3) uint8, no-data grey."""
    rgb = np.stack([np.clip(S2_GAIN * _band(image, b), 0.0, 1.0) for b in bands], axis=-1)
    out = np.round(np.nan_to_num(rgb) * 255.0).astype(np.uint8)
    out[~_s2_valid(image)] = NODATA_RGB
    return out


def ndvi(image: np.ndarray) -> np.ndarray:
    return np.where(_s2_valid(image), _norm_diff(_band(image, "B08"), _band(image, "B04")), np.nan)


def mndwi(image: np.ndarray) -> np.ndarray:
    return np.where(_s2_valid(image), _norm_diff(_band(image, "B03"), _band(image, "B11")), np.nan)


COMPOSITES: dict[str, Composite] = {
    c.key: c
    for c in (
        Composite("s1_false", "S1", "False colour (thumbnails)",
                  "R = VV [−25, 0] dB, G = VH [−30, −5] dB, B = VV−VH [0, 15] dB",
                  "Water dark, forest green (volume scattering), towns bright (double bounce)."),
        Composite("vv", "S1", "VV (dB)", "10·log10(σ⁰ VV), grey on [−25, 0] dB",
                  "Co-polarised backscatter: smooth water is dark, rough or built surfaces bright.",
                  "gray", S1_VV_RANGE_DB, "dB"),
        Composite("vh", "S1", "VH (dB)", "10·log10(σ⁰ VH), grey on [−30, −5] dB",
                  "Cross-polarised backscatter: high where canopies scatter in volume.",
                  "gray", S1_VH_RANGE_DB, "dB"),
        Composite("ratio", "S1", "VV − VH (dB)", "VV dB − VH dB on [0, 15] dB",
                  "Depolarisation: low over forest, high over bare soil, crops rows and towns.",
                  "viridis", S1_RATIO_RANGE_DB, "dB"),
        Composite("true", "S2", "True colour", "R, G, B = 2.5 × (B04, B03, B02)",
                  "What the eye would see; haze and cloud hide the ground."),
        Composite("cir", "S2", "Colour infrared", "R, G, B = 2.5 × (B08, B04, B03)",
                  "Healthy vegetation reflects near infrared strongly and turns red."),
        Composite("swir", "S2", "Short-wave infrared", "R, G, B = 2.5 × (B12, B8A, B04)",
                  "Moisture and soil: water black, vegetation green, bare or burnt land brown."),
        Composite("agri", "S2", "Agriculture", "R, G, B = 2.5 × (B11, B08, B02)",
                  "Crops and grass bright green, bare fields brown-orange, forest dark green."),
        Composite("ndvi", "S2", "NDVI", "(B08 − B04) / (B08 + B04) on [−1, 1]",
                  "Vegetation index: green above ~0.3 for plants, near 0 bare, below 0 water.",
                  "RdYlGn", (-1.0, 1.0)),
        Composite("mndwi", "S2", "MNDWI", "(B03 − B11) / (B03 + B11) on [−1, 1]",
                  "Water index: positive (blue-green) for open water and snow, negative for land.",
                  "BrBG", (-1.0, 1.0)),
    )
}  # fmt: skip


def for_sensor(sensor: str) -> list[Composite]:
    return [c for c in COMPOSITES.values() if c.sensor == sensor]


def default_key(sensor: str) -> str:
    return "s1_false" if sensor == "S1" else "true"


_RGB: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "s1_false": s1_false_colour,
    "true": lambda im: _rgb(im, ("B04", "B03", "B02")),
    "cir": lambda im: _rgb(im, ("B08", "B04", "B03")),
    "swir": lambda im: _rgb(im, ("B12", "B8A", "B04")),
    "agri": lambda im: _rgb(im, ("B11", "B08", "B02")),
}
_SCALAR: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "vv": lambda im: im[0].astype(np.float32),
    "vh": lambda im: im[1].astype(np.float32),
    "ratio": lambda im: (im[0] - im[1]).astype(np.float32),
    "ndvi": ndvi,
    "mndwi": mndwi,
}


def compute(key: str, image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 for an RGB composite, (H, W) float32 values (NaN = no data) for a
    single-band one (its colour map and range are in `COMPOSITES[key]`)."""
    if key in _RGB:
        return _RGB[key](image)
    if key in _SCALAR:
        return _SCALAR[key](image)
    raise KeyError(f"unknown composite {key!r}; known: {', '.join(COMPOSITES)}")
