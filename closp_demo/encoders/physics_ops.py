"""Soft thresholds and window statistics shared by the physics encoder's rule modules."""

from __future__ import annotations

import numpy as np


def above(x: np.ndarray, threshold: float, width: float) -> np.ndarray:
    """Soft x > threshold: 0.5 at the threshold, ~0.95 one `width` beyond (logistic)."""
    # tanh form of the logistic 1 / (1 + exp(-3 (x - t) / w)): no overflow far from t
    return 0.5 * (1.0 + np.tanh(1.5 * (x - threshold) / width))


def below(x: np.ndarray, threshold: float, width: float) -> np.ndarray:
    return 1.0 - above(x, threshold, width)


def norm_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a - b) / np.maximum(a + b, 1e-6)


def box_mean(x: np.ndarray, size: int) -> np.ndarray:
    """Mean over a size x size window (edge-padded) on the last two axes, via summed areas."""
    pad = size // 2
    xp = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(pad, pad), (pad, pad)], mode="edge")
    c = np.cumsum(np.cumsum(xp, axis=-1), axis=-2)
    c = np.pad(c, [(0, 0)] * (x.ndim - 2) + [(1, 0), (1, 0)])
    s = (
        c[..., size:, size:]
        - c[..., :-size, size:]
        - c[..., size:, :-size]
        + c[..., :-size, :-size]
    )
    return s / (size * size)


def local_std(x: np.ndarray, size: int = 5) -> np.ndarray:
    m = box_mean(x, size)
    return np.sqrt(np.maximum(box_mean(x * x, size) - m * m, 0.0))


def masked_mean(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per-image weighted mean over pixels: (N,H,W) -> (N,)."""
    total = weight.sum(axis=(-2, -1))
    return (x * weight).sum(axis=(-2, -1)) / np.maximum(total, 1e-6)


def masked_median(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-image median over valid pixels: (N,H,W) -> (N,), NaN where none is valid."""
    return np.array([np.median(v[m]) if m.any() else np.nan for v, m in zip(x, valid, strict=True)])
