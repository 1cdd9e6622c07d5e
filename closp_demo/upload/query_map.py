"""Where in my scene: the similarity of a text query to each 120 x 120 window of an upload.

The upload is read as `scene.read_upload` reads it (same checks, band detection, unit
conversion, no-data rules), with a larger tile budget: every 120 px window of the scene on the
non-overlapping grid, or, beyond `MAX_WINDOWS`, an evenly spaced sample of them (the windows
not scored stay blank). Windows are embedded in batches, so a caller can show progress; each
gets the cosine similarity of its embedding to the query vector. `bench/detail_budgets.py`
measures a 2000 x 2000 upload.
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

MAX_WINDOWS = 400  # 20 x 20 windows at most: <= 280 MB of Sentinel-2 tiles in memory
BATCH = 48
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
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    if query.shape[0] != encoder.info.dim:
        raise UploadError(f"the query vector has {query.shape[0]} values; the encoder makes "
                          f"{encoder.info.dim}")  # fmt: skip
    limits = dataclasses.replace(limits or Limits(), max_tiles=MAX_WINDOWS)
    report = progress or (lambda fraction, what: None)
    report(0.0, "reading the scene")
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    names = [filenames] if isinstance(filenames, str) else filenames
    scene = read_uploads(paths, limits, names)
    check_encoder_can_embed(scene, encoder)  # before any window is embedded
    if min(scene.width, scene.height) < PATCH_SIZE or max(scene.width, scene.height) <= PATCH_SIZE:
        raise UploadError(f"'{scene.filename}' is {scene.width}×{scene.height} px: a heat map "
                          f"needs a scene larger than one {PATCH_SIZE}×{PATCH_SIZE} px window; "
                          "its single score is the upload search itself")  # fmt: skip
    origins = [t.extra["window"] for t in scene.tiles]
    xs = sorted({o[0] for o in origins})
    ys = sorted({o[1] for o in origins})
    fits = (scene.width // PATCH_SIZE) * (scene.height // PATCH_SIZE)
    # every window of the grid, sparse or not, is in xs x ys unless some rows/cols were all skipped
    scores = np.full((len(ys), len(xs)), np.nan, np.float32)
    windows = []
    n = len(scene.tiles)
    for start in range(0, n, BATCH):
        batch = scene.tiles[start : start + BATCH]
        emb = encoder.encode_images(np.stack([t.image for t in batch]), scene.sensor)
        for tile, score in zip(batch, emb @ query, strict=True):
            x, y, w, h = tile.extra["window"]
            r, c = ys.index(y), xs.index(x)
            scores[r, c] = score
            windows.append((r, c, x, y, w, h))
        report(min(start + BATCH, n) / n, f"scored {min(start + BATCH, n)} of {n} windows")
    rings = _rings(scene.crs, [t.bounds for t in scene.tiles])
    return QueryMap(scene, scores, windows, rings, sampled=fits > len(xs) * len(ys))


def _rings(crs: str, bounds: list[tuple[float, float, float, float]]) -> list:
    """Lon/lat corner rings of many windows in one reprojection call ([] where it fails)."""
    xs = [x for b in bounds for x in (b[0], b[2], b[2], b[0])]
    ys = [y for b in bounds for y in (b[3], b[3], b[1], b[1])]
    try:
        lons, lats = transform(crs, "EPSG:4326", xs, ys)
    except Exception:  # the scene itself was placed, so its windows normally are too
        return [[] for _ in bounds]
    return [[(lons[i + k], lats[i + k]) for k in (0, 1, 2, 3, 0)] for i in range(0, len(xs), 4)]
