"""Windowed processing of a tile-sized raster: per-window embeddings -> a low-resolution heat map.

A full Sentinel-2 tile (10980 x 10980 px, 12 bands, 2.9 GB as uint16) does not fit the memory
budget of a small server, and need not: the raster is read one strip of windows at a time
(a `window`-pixel-high band across the raster), each strip is cut into `window` x `window`
patches (the encoder's 120 x 120 input) and handed to the window-scoring core the app's heat map
uses too (`window_scores.ScoreGrid`: embedded in batches; kept per window: the similarity of its
embedding to a text query and, for encoders that measure land cover (the physics baseline), its
class fractions). Peak memory is one strip, one batch of encoder intermediates and GDAL's block
cache, whatever the raster's size.

Windows follow `window_scores.window_layout` (the corpus convention): contiguous, centred, the
ragged remainder dropped (10980 = 91 x 120 + 60). Windows with less than half valid pixels
(no-data 0 / NaN) get NaN. Band layout is the internal one (`corpus.records`): 12 bands in
`sensors.S2_BANDS` order as digital numbers, or 2 bands VV, VH in dB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.transform import Affine
from rasterio.windows import Window
from tqdm import tqdm

from closp_demo.corpus.records import BANDS_BY_SENSOR
from closp_demo.encoders.base import Encoder
from closp_demo.sensors import PATCH_SIZE, Sensor
from closp_demo.upload.errors import UploadError
from closp_demo.upload.window_scores import (
    BATCH_WINDOWS,
    ScoreGrid,
    WindowLayout,
    query_vector,
    window_layout,
)

MIN_VALID = 0.5  # a window needs this share of valid pixels to get a value
# GDAL must keep one row of compressed blocks decoded while the strips inside it are read (a
# 512-px block row of a 10980-px, 12-band uint16 raster is 138 MB), or it decodes each block
# again for every strip.
GDAL_CACHE_MB = 256

TileError = UploadError  # a raster that cannot be heat-mapped; the message says why


@dataclass
class HeatMap:
    similarity: np.ndarray | None  # (rows, cols) float32 cosine similarity to the query, or None
    fractions: np.ndarray | None  # (rows, cols, n_classes) float32, physics encoder only
    classes: tuple[str, ...]  # names of the fraction channels
    valid: np.ndarray  # (rows, cols) float32 share of valid pixels per window
    embeddings: np.ndarray | None  # (rows, cols, dim) float32 when asked for
    transform: Affine  # of the heat-map grid: one cell = one window
    crs: str
    window: int
    sensor: Sensor
    layout: WindowLayout  # where each cell's window lies in the raster

    @property
    def shape(self) -> tuple[int, int]:
        return self.valid.shape


def _valid_pixels(patches: np.ndarray, sensor: Sensor, nodata: float | None) -> np.ndarray:
    """(N, B, H, W) -> (N, H, W) bool: finite in every band and not no-data in all bands."""
    valid = np.isfinite(patches).all(axis=1)
    fill = 0.0 if sensor == "S2" and nodata is None else nodata
    if fill is not None:
        valid &= ~(patches == fill).all(axis=1)
    return valid


def heat_map(
    path: str | Path,
    encoder: Encoder,
    query: np.ndarray | None = None,
    sensor: Sensor | None = None,
    window: int = PATCH_SIZE,
    keep_embeddings: bool = False,
    progress: bool = True,
) -> HeatMap:
    """Heat map of a large raster by windows (see module docstring).

    `query`: a (dim,) L2-normalised vector (e.g. `encoder.encode_text([text])[0]`) to score each
    window against; `sensor`: "S1" or "S2", by default from the band count (2 or 12).
    """
    path = Path(path)
    if query is not None:
        query = query_vector(query, encoder)
    try:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2**20), rasterio.open(path) as src:
            return _heat_map(src, encoder, query, sensor, window, keep_embeddings, progress)
    except RasterioError as exc:
        raise TileError(f"{path.name}: cannot be read as a raster ({exc})") from exc


def _heat_map(src, encoder, query, sensor, window, keep_embeddings, progress) -> HeatMap:
    name = Path(src.name).name
    by_count = {n: s for s, n in BANDS_BY_SENSOR.items()}
    if sensor is None:
        if src.count not in by_count:
            raise TileError(f"{name} has {src.count} bands: expected 12 (Sentinel-2 L2A, B01..B12 "
                            "without B10) or 2 (Sentinel-1 VV, VH in dB)")  # fmt: skip
        sensor = by_count[src.count]
    elif BANDS_BY_SENSOR.get(sensor) != src.count:
        raise TileError(f"{name} has {src.count} bands, but {sensor} needs "
                        f"{BANDS_BY_SENSOR.get(sensor, '?')}")  # fmt: skip
    layout = window_layout(src.width, src.height, window)  # every window: contiguous strips
    rows, cols = layout.shape
    left = layout.xs[0]
    grid = ScoreGrid(encoder, layout.shape, query, keep_embeddings)
    valid_share = np.zeros((rows, cols), np.float32)
    bands = list(range(1, src.count + 1))
    for r in tqdm(range(rows), desc=f"heat map {name}", unit="row", disable=not progress):
        strip = src.read(bands, window=Window(left, layout.ys[r], cols * window, window),
                         out_dtype=np.float32)  # fmt: skip
        # (B, window, cols*window) -> (cols, B, window, window): one patch per window.
        patches = strip.reshape(src.count, window, cols, window).transpose(2, 0, 1, 3)
        del strip
        for start in range(0, cols, BATCH_WINDOWS):
            batch = np.ascontiguousarray(patches[start : start + BATCH_WINDOWS])
            share = _valid_pixels(batch, sensor, src.nodata).mean(axis=(1, 2))
            valid_share[r, start : start + len(batch)] = share
            keep = share >= MIN_VALID
            grid.add(np.full(keep.sum(), r), np.flatnonzero(keep) + start, batch[keep], sensor)
    transform = src.transform * Affine.translation(left, layout.ys[0]) * Affine.scale(window)
    crs = src.crs.to_string() if src.crs else ""
    return HeatMap(grid.similarity, grid.fractions, grid.classes, valid_share, grid.embeddings,
                   transform, crs, window, sensor, layout)  # fmt: skip


def save_heat_map(heat: HeatMap, path: str | Path) -> Path:
    """Write the heat map as a float32 GeoTIFF: similarity (if any), then one band per class."""
    layers, names = [], []
    if heat.similarity is not None:
        layers.append(heat.similarity)
        names.append("similarity")
    if heat.fractions is not None:
        layers += [heat.fractions[..., i] for i in range(heat.fractions.shape[2])]
        names += [f"fraction {c}" for c in heat.classes]
    if not layers:
        raise TileError("the heat map has no layer to save (no query and no class fractions)")
    path = Path(path)
    rows, cols = heat.shape
    profile = {"driver": "GTiff", "width": cols, "height": rows, "count": len(layers),
               "dtype": "float32", "transform": heat.transform, "nodata": np.nan,
               "compress": "deflate", "crs": heat.crs or None}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.stack(layers))
        dst.descriptions = tuple(names)
    return path
