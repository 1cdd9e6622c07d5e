"""Reading an open raster by windows: the tile grid, the tiles, and the decimated preview.

The full raster is never in memory. Rasters larger than 120 x 120 are cut into 120 x 120 tiles read
by windows on an even grid: tile origins evenly spaced from the first to the last pixel of each
axis, as many as fit without overlap, reduced to at most `max_tiles` (e.g. 8 x 8 for a square
scene); the heat map passes its own grid (`window_scores.centred_grid`). Rasters whose short
side is 32..119 px are read with square windows of that side, upsampled (bilinear) to 120.

Invalid pixels (nodata, mask, NaN, +-Inf): tiles with less than half valid pixels, and constant
tiles, are skipped; the remaining invalid pixels are filled with the tile's band medians.

The preview is the whole scene nearest-decimated so its long side is at most 512 px (from overviews
when the file has them, else from windows one row of blocks high, see `decimated`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import numpy as np
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds

from closp_demo.corpus.records import ImageRecord
from closp_demo.sensors import PATCH_SIZE
from closp_demo.settings import Limits
from closp_demo.upload.bands import BandLayout, present_rows, to_internal
from closp_demo.upload.errors import UploadError

logger = logging.getLogger(__name__)

PREVIEW_SIDE = 512  # long side of the preview, pixels
PREVIEW_CHUNK_BYTES = 32 * 1024 * 1024  # one window of the block-row preview read
MIN_VALID_FRACTION = 0.5  # a tile needs at least this share of valid pixels


def normalised_bounds(b: Sequence[float]) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) whatever the axis directions of the geotransform."""
    left, bottom, right, top = (float(v) for v in b)
    return min(left, right), min(bottom, top), max(left, right), max(bottom, top)


# --- raw pixels --------------------------------------------------------------------------------


def read_window(
    src: DatasetReader,
    layout: BandLayout,
    name: str,
    window: Window | None,
    out_hw: tuple[int, int] | None,
    resampling: Resampling,
    where: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw values (float64, scale/offset applied) and the valid-pixel mask of one window."""
    kwargs: dict = {"window": window}
    if out_hw is not None:
        kwargs["out_shape"] = (len(layout.indexes), *out_hw)
    try:
        raw = src.read(layout.indexes, resampling=resampling, **kwargs)
        masks = src.read_masks(layout.indexes, resampling=Resampling.nearest, **kwargs)
    except RasterioError as exc:
        logger.info("upload %r: read failed (%s): %s", name, where, exc)
        raise UploadError(
            f"'{name}' is damaged or truncated: reading its pixels failed ({where})"
        ) from None
    win = window or Window(0, 0, src.width, src.height)
    h, w = raw.shape[1:]
    rows = win.row_off + (np.arange(h) + 0.5) * win.height / h
    cols = win.col_off + (np.arange(w) + 0.5) * win.width / w
    return physical(raw, masks, layout, rows, cols)


def physical(
    raw: np.ndarray, masks: np.ndarray, layout: BandLayout,
    rows: np.ndarray | None = None, cols: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Native pixels + GDAL masks -> float64 values with scale/offset applied (and calibrated,
    `layout.calibrate`, at pixel-centre `rows` x `cols`), valid-pixel mask."""
    raw = raw.astype(np.float64)
    if layout.scales.size and layout.scaled:
        raw = raw * layout.scales[:, None, None] + layout.offsets[:, None, None]
    if layout.calibrate is not None and rows is not None and cols is not None:
        raw = layout.calibrate(raw, rows, cols)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(raw).all(axis=0) & (masks > 0).all(axis=0)
    return raw, valid


# --- the preview -------------------------------------------------------------------------------


def read_preview(
    src: DatasetReader, layout: BandLayout, name: str
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Raw values and valid mask of the whole scene, decimated to a long side of at most
    PREVIEW_SIDE, and a note saying how (None when read at full resolution)."""
    width, height = src.width, src.height
    factor = max(width, height) / PREVIEW_SIDE
    if factor <= 1:
        raw, valid = read_window(src, layout, name, None, None, Resampling.nearest, "preview")
        return raw, valid, None
    out_hw = (max(1, round(height / factor)), max(1, round(width / factor)))
    raw, valid = decimated(src, layout, name, out_hw)
    return raw, valid, f"preview {out_hw[1]}x{out_hw[0]} px (decimated 1:{factor:.1f})"


def decimated(
    src: DatasetReader, layout: BandLayout, name: str, out_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The whole raster, nearest-decimated to `out_hw`, with bounded memory.

    With overviews (e.g. a COG) GDAL reads the decimated raster from them (out_shape). Without,
    GDAL's own nearest decimation re-decodes every block once per output row as soon as a row of
    blocks outgrows its cache (a pixel-interleaved 12-band S2 tile: minutes); so the preview is
    assembled from windows spanning one row of blocks and at most PREVIEW_CHUNK_BYTES, each block
    decoded once, keeping only the sampled pixels.
    """
    height, width = src.height, src.width
    factor = max(width / out_hw[1], height / out_hw[0])
    overviews = src.overviews(layout.indexes[0])
    if overviews and max(overviews) >= factor / 2:
        return read_window(src, layout, name, None, out_hw, Resampling.nearest, "preview")
    rows = np.minimum(((np.arange(out_hw[0]) + 0.5) * height / out_hw[0]).astype(int), height - 1)
    cols = np.minimum(((np.arange(out_hw[1]) + 0.5) * width / out_hw[1]).astype(int), width - 1)
    n = len(layout.indexes)
    raw = np.empty((n, *out_hw), dtype=src.dtypes[0])
    masks = np.full((n, *out_hw), 255, dtype=np.uint8)
    flags = [src.mask_flag_enums[i - 1] for i in layout.indexes]
    read_masks = any(MaskFlags.per_dataset in f or MaskFlags.alpha in f for f in flags)
    nodata = [src.nodatavals[i - 1] if MaskFlags.nodata in f else None
              for i, f in zip(layout.indexes, flags, strict=True)]  # fmt: skip
    bh, bw = src.block_shapes[layout.indexes[0] - 1]
    item = np.dtype(src.dtypes[0]).itemsize
    chunk_cols = max(bw, PREVIEW_CHUNK_BYTES // (min(bh, height) * n * item) // bw * bw)
    try:
        for block_row in np.unique(rows // bh):
            sel_r = np.flatnonzero(rows // bh == block_row)
            r0, r1 = int(rows[sel_r[0]]), int(rows[sel_r[-1]]) + 1
            for c0 in range(0, width, chunk_cols):
                sel_c = np.flatnonzero((cols >= c0) & (cols < c0 + chunk_cols))
                if not sel_c.size:
                    continue
                c1 = int(cols[sel_c[-1]]) + 1
                window = Window(c0, r0, c1 - c0, r1 - r0)
                pick = np.ix_(range(n), rows[sel_r] - r0, cols[sel_c] - c0)
                put = np.ix_(range(n), sel_r, sel_c)
                raw[put] = src.read(layout.indexes, window=window)[pick]
                if read_masks:
                    masks[put] = src.read_masks(layout.indexes, window=window)[pick]
    except RasterioError as exc:
        logger.info("upload %r: read failed (preview): %s", name, exc)
        raise UploadError(
            f"'{name}' is damaged or truncated: reading its pixels failed (preview)"
        ) from None
    for b, value in enumerate(nodata):
        if value is not None and not math.isnan(value):
            masks[b][raw[b] == np.asarray(value).astype(raw.dtype)] = 0
    return physical(raw, masks, layout, rows + 0.5, cols + 0.5)


# --- the tiles ---------------------------------------------------------------------------------


def grid_counts(width: int, height: int, side: int, max_tiles: int) -> tuple[int, int]:
    """(columns, rows) of side x side windows: as many as fit without overlap (at least one per
    axis) or, when more than `max_tiles` fit, the largest grid within it, preferring square
    spacing."""
    nx, ny = max(1, width // side), max(1, height // side)
    gx, gy = nx, ny
    if nx * ny > max_tiles:
        best: tuple[int, float] | None = None
        for cy in range(1, min(ny, max_tiles) + 1):
            cx = min(nx, max_tiles // cy)
            key = (cx * cy, -abs(math.log((width / cx) / (height / cy))))
            if best is None or key > best:
                best, gx, gy = key, cx, cy
    return gx, gy


def tile_grid(width: int, height: int, side: int, max_tiles: int) -> list[tuple[int, int]]:
    """Origins (col, row) of side x side windows on an even grid, at most `max_tiles`.

    Per axis, `grid_counts` windows; origins are evenly spaced from the first to the last pixel
    (a single window is centred). Row-major order. (The heat map uses the contiguous centred
    grid of `window_scores.centred_grid` instead.)
    """
    gx, gy = grid_counts(width, height, side, max_tiles)

    def axis(size: int, n: int) -> list[int]:
        if n == 1:
            return [(size - side) // 2]
        return [int(v) for v in np.linspace(0, size - side, n).round()]

    return [(x, y) for y in axis(height, gy) for x in axis(width, gx)]


TileGrid = Callable[[int, int, int, int], list[tuple[int, int]]]  # (w, h, side, max) -> origins


def read_tiles(
    src: DatasetReader,
    layout: BandLayout,
    limits: Limits,
    name: str,
    notes: list[str],
    crs: str,
    timestamp: str | None,
    grid: TileGrid = tile_grid,
) -> list[ImageRecord]:
    """The scene's usable 120 x 120 tiles in the internal layout (see the module docstring),
    at the origins `grid` lays out."""
    width, height = src.width, src.height
    side = min(PATCH_SIZE, width, height)
    origins = grid(width, height, side, limits.max_tiles)
    upsample = side < PATCH_SIZE
    out_hw = (PATCH_SIZE, PATCH_SIZE) if upsample else None
    resampling = Resampling.bilinear if upsample else Resampling.nearest
    if upsample:
        notes.append(
            f"{width}x{height} px: {side}x{side} px windows upsampled x{PATCH_SIZE / side:.2f} "
            f"(bilinear) to {PATCH_SIZE}x{PATCH_SIZE}: {len(origins)} tile(s)"
        )
    elif len(origins) == 1 and width == height == PATCH_SIZE:
        notes.append(f"{width}x{height} px: one tile")
    else:
        fits = max(1, width // side) * max(1, height // side)
        how = "sampled on a grid" if fits > len(origins) else "on a grid"
        notes.append(f"{width}x{height} px: {len(origins)} tiles of {side}x{side} {how}")
    tiles: list[ImageRecord] = []
    sparse = constant = filled_tiles = 0
    filled_px = 0
    for col, row in origins:
        window = Window(col, row, side, side)
        raw, valid = read_window(
            src, layout, name, window, out_hw, resampling, f"tile at column {col}, row {row}"
        )
        image = to_internal(raw, valid, layout)
        rows = present_rows(layout)  # a single-polarisation scene's VH row is all NaN
        valid &= np.isfinite(image[:rows]).all(axis=0)  # e.g. float64 beyond float32's range
        if valid.mean() < MIN_VALID_FRACTION:
            sparse += 1
            continue
        values = image[:rows, valid]
        if (values.min(axis=1) == values.max(axis=1)).all():
            constant += 1
            continue
        if not valid.all():
            filled_tiles += 1
            filled_px += int((~valid).sum())
            medians = np.median(values, axis=1).astype(np.float32)
            image[:rows] = np.where(valid, image[:rows], medians[:, None, None])
        tiles.append(
            ImageRecord(
                image_id=f"upload-{len(tiles)}",
                sensor=layout.sensor,
                image=image,
                crs=crs,
                bounds=normalised_bounds(window_bounds(window, src.transform)),
                timestamp=timestamp,
                source="upload",
                level=layout.level,
                extra={"filename": name, "window": (col, row, side, side)},
            )
        )
    reasons = ", ".join(
        f"{n} {why}" for n, why in ((sparse, "mostly nodata/NaN/Inf"), (constant, "constant")) if n
    )
    if not tiles:
        raise UploadError(
            f"'{name}': none of its {len(origins)} tile(s) of {PATCH_SIZE}x{PATCH_SIZE} px is "
            f"usable ({reasons}; a tile needs {MIN_VALID_FRACTION:.0%} valid pixels)"
        )
    if sparse or constant:
        notes.append(
            f"{sparse + constant} of {len(origins)} tiles skipped ({reasons}; a tile needs "
            f"{MIN_VALID_FRACTION:.0%} valid pixels)"
        )
    if filled_tiles:
        share = filled_px / (filled_tiles * PATCH_SIZE * PATCH_SIZE)
        notes.append(
            f"{share:.0%} of the pixels of {filled_tiles} tile(s) were nodata/NaN/Inf -> filled "
            "with the tile's band medians"
        )
    return tiles
