"""The window-scoring core of both heat maps: where the windows lie, and their scores.

`upload.query_map` (the app: an upload read into memory, at most a few hundred windows) and
`upload.heatmap` (a tile-sized raster streamed strip by strip) read pixels their own way; both
lay their windows out with `window_layout`, and hand the window patches, batch by batch, to a
`ScoreGrid`, which embeds them and assembles the grid of scores (and, where asked, embeddings
and class fractions).

Layout: the corpus convention (`corpus.sources.tiling`: `tiles`, `centred_start`): `window` x
`window` windows, contiguous and centred. Per axis n = size // window windows, the first at
(size - n * window) // 2, so the windows cover the scene, without gaps or overlaps, except a
centred margin of size - n * window px (< one window) split between the two borders (the left /
top border gets the smaller half). Beyond `max_windows` whole rows and columns of that grid are
sampled evenly (a shape as square as it can be, `windows.grid_counts`), and only the sampled
windows are scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from closp_demo.corpus.sources.tiling import centred_start
from closp_demo.encoders.base import Encoder, measures_land_cover
from closp_demo.sensors import PATCH_SIZE, Sensor
from closp_demo.upload.errors import UploadError
from closp_demo.upload.windows import grid_counts

BATCH_WINDOWS = 48  # windows encoded at once: bounds the encoder's intermediates (~120 MB)


@dataclass(frozen=True)
class WindowLayout:
    """The windows of a `width` x `height` px scene (see the module docstring)."""

    width: int
    height: int
    window: int
    xs: tuple[int, ...]  # column origin (px) of each grid column, ascending
    ys: tuple[int, ...]  # row origin (px) of each grid row, ascending
    fits: tuple[int, int]  # (rows, cols) of the full contiguous grid

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.ys), len(self.xs)

    @property
    def sampled(self) -> bool:
        """True when only some rows or columns of the full grid are scored."""
        return self.shape != self.fits

    def origins(self) -> list[tuple[int, int]]:
        """(x, y) of every window, row-major."""
        return [(x, y) for y in self.ys for x in self.xs]

    def cell(self, x: int, y: int) -> tuple[int, int]:
        """Grid (row, col) of the window at pixel origin (x, y)."""
        return self.ys.index(y), self.xs.index(x)


def window_layout(
    width: int, height: int, window: int = PATCH_SIZE, max_windows: int | None = None
) -> WindowLayout:
    """The centred contiguous grid of a scene, rows and columns sampled beyond `max_windows`."""
    rows, cols = height // window, width // window
    if rows == 0 or cols == 0:
        raise UploadError(f"raster of {width} x {height} px is smaller than one {window} px window")
    gx, gy = cols, rows
    if max_windows is not None:
        gx, gy = grid_counts(width, height, window, max_windows)

    def axis(size: int, n: int, g: int) -> tuple[int, ...]:
        first = centred_start(size, window)
        picks = [(n - 1) // 2] if g == 1 else np.linspace(0, n - 1, g).round().astype(int)
        return tuple(first + int(i) * window for i in picks)

    return WindowLayout(width, height, window, axis(width, cols, gx), axis(height, rows, gy),
                        (rows, cols))  # fmt: skip


def centred_grid(width: int, height: int, side: int, max_tiles: int) -> list[tuple[int, int]]:
    """`window_layout`'s origins as the upload reader's tile grid (`windows.read_tiles`)."""
    return window_layout(width, height, side, max_tiles).origins()


def query_vector(query: np.ndarray, encoder: Encoder) -> np.ndarray:
    """The (dim,) float32 query, or `UploadError` when it does not fit the encoder."""
    vector = np.asarray(query, dtype=np.float32).reshape(-1)
    if vector.shape[0] != encoder.info.dim:
        raise UploadError(f"the query vector has {vector.shape[0]} values; the encoder "
                          f"{encoder.info.id} makes {encoder.info.dim}")  # fmt: skip
    return vector


def encode(
    encoder: Encoder, patches: np.ndarray, sensor: Sensor
) -> tuple[np.ndarray, np.ndarray | None]:
    """Embeddings and, where the encoder measures them, class fractions of one batch."""
    if measures_land_cover(encoder):
        # One pass: the physics encoder's embedding is a function of its class fractions.
        with np.errstate(over="ignore"):  # its soft thresholds saturate exp() on extreme pixels
            fractions, _ = encoder.class_fractions(patches, sensor)
        return encoder.embed_fractions(fractions), fractions
    return encoder.encode_images(patches, sensor), None


class ScoreGrid:
    """A (rows, cols) grid of windows, filled batch by batch: the cosine similarity of each
    window's embedding to `query` (when given), its embedding (`keep_embeddings`) and, for an
    encoder that measures land cover (`encoders.base.LandCoverEncoder`), its class fractions.
    Cells never added stay NaN."""

    def __init__(
        self, encoder: Encoder, shape: tuple[int, int], query: np.ndarray | None = None,
        keep_embeddings: bool = False,
    ) -> None:  # fmt: skip
        self.encoder = encoder
        self.shape = shape
        self.query = None if query is None else query_vector(query, encoder)
        self.similarity = None if query is None else np.full(shape, np.nan, np.float32)
        dim = encoder.info.dim
        self.embeddings = np.full((*shape, dim), np.nan, np.float32) if keep_embeddings else None
        self.fractions: np.ndarray | None = None  # (rows, cols, n_classes), on the first batch
        self.classes = tuple(encoder.classes) if measures_land_cover(encoder) else ()

    def add(
        self, rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray,
        patches: Sequence[np.ndarray] | np.ndarray, sensor: Sensor,
        progress: Callable[[int], None] | None = None,
    ) -> None:  # fmt: skip
        """Embed `patches` ((B, H, W) each, internal layout) in batches of `BATCH_WINDOWS` and
        store each at grid cell (rows[i], cols[i]); `progress(done)` after each batch."""
        rows, cols = np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)
        n = len(patches)
        if not len(rows) == len(cols) == n:
            raise ValueError(f"{n} patches for {len(rows)} rows and {len(cols)} columns")
        for start in range(0, n, BATCH_WINDOWS):
            stop = min(start + BATCH_WINDOWS, n)
            chunk = patches[start:stop]
            batch = np.ascontiguousarray(
                chunk if isinstance(chunk, np.ndarray) else np.stack(chunk), dtype=np.float32
            )
            emb, frac = encode(self.encoder, batch, sensor)
            at = rows[start:stop], cols[start:stop]
            if frac is not None:
                if self.fractions is None:
                    self.fractions = np.full((*self.shape, frac.shape[1]), np.nan, np.float32)
                self.fractions[at] = frac
            if self.similarity is not None:
                self.similarity[at] = emb @ self.query
            if self.embeddings is not None:
                self.embeddings[at] = emb
            if progress is not None:
                progress(stop)
