"""Where in my scene: the similarity of a text query to each 120 x 120 window of an upload.

The upload is read as `scene.read_upload` reads it (same checks, band detection, unit
conversion, no-data rules), with the heat map's window layout (`window_scores.window_layout`:
contiguous, centred, so the windows cover the scene but for a margin smaller than one window)
and a larger tile budget: every window, or, beyond `MAX_WINDOWS`, evenly sampled rows and
columns of them (the windows not scored stay blank). `window_scores.ScoreGrid` embeds them in
batches, so a caller can show progress, and scores each against the query vector.
`bench/detail_budgets.py` measures a 2000 x 2000 upload.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.warp import transform

from closp_demo.encoders.base import Encoder
from closp_demo.sensors import PATCH_SIZE
from closp_demo.settings import Limits
from closp_demo.upload.errors import UploadError
from closp_demo.upload.scene import UploadedScene, check_encoder_can_embed, read_uploads
from closp_demo.upload.window_scores import ScoreGrid, centred_grid, query_vector, window_layout

MAX_WINDOWS = 400  # 20 x 20 windows at most: <= 280 MB of Sentinel-2 tiles in memory
Progress = Callable[[float, str], None]


@dataclass
class QueryMap:
    scene: UploadedScene
    scores: np.ndarray  # (rows, cols) float32 cosine similarity, NaN where not scored
    windows: list[tuple[int, int, int, int, int, int]]  # (grid row, grid col, x, y, w, h) px
    rings: list[list[tuple[float, float]]]  # lon/lat footprint of each scored window
    sampled: bool  # True when only a sample of the scene's windows was scored

    @property
    def shape(self) -> tuple[int, int]:
        return self.scores.shape


def query_map(
    paths: str | Path | Sequence[str | Path], encoder: Encoder, query: np.ndarray,
    limits: Limits | None = None, filenames: str | Sequence[str] | None = None,
    progress: Progress | None = None,
) -> QueryMap:  # fmt: skip
    """The query's similarity per window of the upload (one file, band files or one ZIP, as
    `read_uploads` takes them); `UploadError` (a message for a person) for an upload refused
    or a scene not larger than one window."""
    query = query_vector(query, encoder)
    limits = dataclasses.replace(limits or Limits(), max_tiles=MAX_WINDOWS)
    report = progress or (lambda fraction, what: None)
    report(0.0, "reading the scene")
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    names = [filenames] if isinstance(filenames, str) else filenames
    scene = read_uploads(paths, limits, names, grid=centred_grid)
    check_encoder_can_embed(scene, encoder)  # before any window is embedded
    if min(scene.width, scene.height) < PATCH_SIZE or max(scene.width, scene.height) <= PATCH_SIZE:
        raise UploadError(f"'{scene.filename}' is {scene.width}×{scene.height} px: a heat map "
                          f"needs a scene larger than one {PATCH_SIZE}×{PATCH_SIZE} px window; "
                          "its single score is the upload search itself")  # fmt: skip
    layout = window_layout(scene.width, scene.height, PATCH_SIZE, MAX_WINDOWS)
    cells = [layout.cell(*t.extra["window"][:2]) for t in scene.tiles]  # skipped tiles: no cell
    grid = ScoreGrid(encoder, layout.shape, query)
    n = len(scene.tiles)
    rows, cols = [r for r, _ in cells], [c for _, c in cells]
    grid.add(rows, cols, [t.image for t in scene.tiles], scene.sensor,
             lambda done: report(done / n, f"scored {done} of {n} windows"))  # fmt: skip
    windows = [(r, c, *t.extra["window"]) for (r, c), t in zip(cells, scene.tiles, strict=True)]
    rings = _rings(scene.crs, [t.bounds for t in scene.tiles])
    return QueryMap(scene, grid.similarity, windows, rings, sampled=layout.sampled)


def _rings(crs: str, bounds: list[tuple[float, float, float, float]]) -> list:
    """Lon/lat corner rings of many windows in one reprojection call ([] where it fails)."""
    xs = [x for b in bounds for x in (b[0], b[2], b[2], b[0])]
    ys = [y for b in bounds for y in (b[3], b[3], b[1], b[1])]
    try:
        lons, lats = transform(crs, "EPSG:4326", xs, ys)
    except Exception:  # the scene itself was placed, so its windows normally are too
        return [[] for _ in bounds]
    return [[(lons[i + k], lats[i + k]) for k in (0, 1, 2, 3, 0)] for i in range(0, len(xs), 4)]
