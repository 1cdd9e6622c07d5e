"""Sentinel-1 memberships for images without a cross-polarised band (VV or HH alone): only the
rules that need no VH remain (README "Single-polarisation Sentinel-1")."""

from __future__ import annotations

import numpy as np


def without_vh(
    member: dict[str, np.ndarray], no_vh: np.ndarray, calm_vv: np.ndarray, built: np.ndarray,
    fields: np.ndarray,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Memberships for images without VH (`no_vh`, per image): only the VV rules."""
    water = calm_vv * (1 - built)
    land = (1 - water) * (1 - built)
    zero = np.zeros_like(water)
    vv_only = {
        "Water": water, "Trees": zero, "Grass": land * (1 - fields), "Crops": land * fields,
        "Shrub and Scrub": zero, "Built": built, "Bare": zero, "Flooded Vegetation": zero,
    }  # fmt: skip
    pick = no_vh[:, None, None]
    return {k: np.where(pick, vv_only[k], v) for k, v in member.items()}
