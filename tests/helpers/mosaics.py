"""Real BigEarthNet patches laid side by side: rasters larger than one 120 px window whose every
window content is known (the shared samples' `bigearthnet/ben_patches.npz`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from closp_demo.sensors import Sensor


def real_patches(samples_dir: Path, sensor: Sensor, n: int) -> np.ndarray:
    """The first `n` patches of `sensor` ((n, B, 120, 120) float32) whose every pixel is valid
    (S2: no 0 digital number; S1: finite dB)."""
    with np.load(samples_dir / "bigearthnet" / "ben_patches.npz") as npz:
        stack = npz[sensor.lower()]
    flat = stack.reshape(len(stack), -1)
    ok = np.all(flat > 0, axis=1) if sensor == "S2" else np.isfinite(flat).all(axis=1)
    chosen = stack[ok][:n].astype(np.float32)
    if len(chosen) < n:
        raise ValueError(f"only {len(chosen)} fully valid {sensor} patches, {n} asked for")
    return chosen


def side_by_side(patches: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(rows * cols, B, h, w) patches -> one (B, rows * h, cols * w) raster, row-major."""
    return np.concatenate([np.concatenate(list(patches[r * cols : (r + 1) * cols]), axis=2)
                           for r in range(rows)], axis=1)  # fmt: skip
