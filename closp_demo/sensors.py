"""Sensor definitions: band layouts and unit conversions shared by every reader and encoder."""

from __future__ import annotations

from typing import Literal

import numpy as np

Sensor = Literal["S1", "S2"]
SENSORS: tuple[Sensor, ...] = ("S1", "S2")
SENSOR_NAMES: dict[str, str] = {"S1": "Sentinel-1 SAR", "S2": "Sentinel-2 MSI"}

PATCH_SIZE = 120  # CrisisLandMark / BigEarthNet patch side, pixels at 10 m

S1_BANDS: tuple[str, ...] = ("VV", "VH")
# Internal Sentinel-2 layout = L2A: B01..B12 without B10 (cirrus band, absent from L2A).
S2_BANDS: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12",
)  # fmt: skip
# L1C products carry 13 bands; B10 sits at index 10, between B09 and B11.
S2_L1C_BANDS: tuple[str, ...] = (*S2_BANDS[:10], "B10", *S2_BANDS[10:])
S2_B10_INDEX = 10

# Internal Sentinel-2 digital numbers are reflectance x 10000. Products of processing baseline
# 04.00+ (2022 on) add a +1000 offset; the readers remove it (sources/tiling.remove_dn_offset).
S2_SCALE = 10000.0


def s2_band(image: np.ndarray, name: str) -> np.ndarray:
    """Return one band of a 12-band internal S2 image by name (e.g. "B04")."""
    return image[S2_BANDS.index(name)]


def drop_b10(image: np.ndarray) -> np.ndarray:
    """13-band L1C stack -> 12-band internal layout (B10 removed)."""
    if image.shape[0] != 13:
        raise ValueError(f"expected 13 bands, got {image.shape[0]}")
    return np.delete(image, S2_B10_INDEX, axis=0)


def insert_zero_b10(image: np.ndarray) -> np.ndarray:
    """12-band internal layout -> 13 channels with a zero B10 (what CLOSP models take)."""
    if image.shape[-3] != 12:
        raise ValueError(f"expected 12 bands, got {image.shape[-3]}")
    zeros = np.zeros_like(np.take(image, [0], axis=-3))
    return np.concatenate(
        [np.take(image, range(10), axis=-3), zeros, np.take(image, range(10, 12), axis=-3)],
        axis=-3,
    )


def linear_to_db(power: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """Backscatter power (sigma0, linear) -> decibels; non-positive values clipped to floor."""
    return (10.0 * np.log10(np.maximum(power, floor))).astype(np.float32)
