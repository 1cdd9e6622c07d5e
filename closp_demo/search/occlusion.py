"""Occlusion maps: how much a query's score drops when each window of an image is masked.

For encoders that cannot explain themselves pixel by pixel (CLOSP). Each `window` x `window`
block is replaced by the image's per-band median (a neutral value of this very image, not a
no-data fill the encoder may treat specially), all masked copies are encoded in one batch, and
the map holds score(original) - score(masked). Results are cached per (encoder, image, query).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from closp_demo.encoders.base import Encoder

WINDOW = 20
CACHE_SIZE = 64


def masked_copies(image: np.ndarray, window: int = WINDOW) -> tuple[np.ndarray, tuple[int, int]]:
    """(B, H, W) -> (rows * cols, B, H, W) copies with one window each set to the band median."""
    bands, h, w = image.shape
    rows, cols = h // window, w // window
    fill = np.nanmedian(image.reshape(bands, -1), axis=1).astype(np.float32)
    copies = np.repeat(image[None].astype(np.float32), rows * cols, axis=0)
    for i in range(rows):
        for j in range(cols):
            block = (slice(i * window, (i + 1) * window), slice(j * window, (j + 1) * window))
            copies[i * cols + j][:, block[0], block[1]] = fill[:, None, None]
    return copies, (rows, cols)


class OcclusionCache:
    """Computes occlusion maps on demand and keeps the last `CACHE_SIZE` (thread-safe)."""

    def __init__(self, encoder: Encoder, size: int = CACHE_SIZE) -> None:
        self.encoder = encoder
        self.size = size
        self._maps: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def occlusion(self, image: np.ndarray, sensor: str, text_vector: np.ndarray,
                  window: int = WINDOW) -> np.ndarray:  # fmt: skip
        """(rows, cols) score drop per masked window for this query's text embedding."""
        digest = hashlib.sha1(np.ascontiguousarray(image).tobytes())
        digest.update(np.asarray(text_vector, np.float32).tobytes())
        key = (digest.hexdigest(), sensor, str(window))
        with self._lock:
            if key in self._maps:
                self._maps.move_to_end(key)
                return self._maps[key]
        copies, shape = masked_copies(image, window)
        vectors = self.encoder.encode_images(np.concatenate([image[None], copies]), sensor)
        scores = vectors @ np.asarray(text_vector, dtype=np.float32)
        drop = (scores[0] - scores[1:]).reshape(shape).astype(np.float32)
        with self._lock:
            self._maps[key] = drop
            while len(self._maps) > self.size:
                self._maps.popitem(last=False)
        return drop
