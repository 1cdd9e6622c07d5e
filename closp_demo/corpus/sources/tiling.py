"""Shared building blocks of the source readers: rasters -> internal 120 x 120 patches.

- `Grid` / `read_on_grid`: put every band file on one reference pixel grid (the 10 m grid of
  B02). Coarser bands are resampled with nearest neighbour: it is the pixel repetition the
  BigEarthNet patches were made with (one convention across sources), it never invents a value
  that was not measured, and on the aligned Sentinel-2 grids (20 m and 60 m pixels = 2 x 2 and
  6 x 6 pixels at 10 m) it is an exact copy.
- `tiles`: non-overlapping 120 x 120 windows, centred in the raster (the ragged remainder is
  split between the borders, so the tiles stay centred on the sample's location), each with
  its bounds from the window transform.
- small parsers every reader needs: band names, product times, ids, the Sentinel-2 DN offset.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.warp import reproject
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds

from closp_demo.sensors import PATCH_SIZE

RESAMPLING = Resampling.nearest
RESAMPLING_NAME = "nearest"

# L1C and L2A products of processing baseline 04.00 and later (from 25 Jan 2022) store
# DN = (reflectance + 0.1) * 10000, i.e. a +1000 offset (RADIO_/BOA_ADD_OFFSET = -1000).
S2_DN_OFFSET = 1000
_OFFSET_FROM_BASELINE = (4, 0)


@dataclass(frozen=True)
class Grid:
    """A raster pixel grid: CRS, affine transform and size."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @classmethod
    def of(cls, path: Path) -> Grid:
        with rasterio.open(path) as src:
            return cls(src.crs, src.transform, src.width, src.height)

    def same_as(self, other: Grid) -> bool:
        return (
            self.crs == other.crs
            and self.width == other.width
            and self.height == other.height
            and self.transform.almost_equals(other.transform)
        )


def read_on_grid(path: Path, grid: Grid, band: int = 1) -> np.ndarray:
    """One band of `path` on `grid` (H, W), in the file's dtype; nearest-neighbour resampling.

    Pixels of `grid` that the file does not cover are 0 (Sentinel-2's no-data value).
    """
    with rasterio.open(path) as src:
        if src.crs is None:
            raise ValueError(f"{path}: no coordinate reference system; cannot place it on a grid")
        data = src.read(band)
        if Grid(src.crs, src.transform, src.width, src.height).same_as(grid):
            return data
        out = np.zeros((grid.height, grid.width), dtype=data.dtype)
        reproject(
            source=data,
            destination=out,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            resampling=RESAMPLING,
        )
        return out


def stack_on_grid(paths: Sequence[Path], grid: Grid) -> np.ndarray:
    """Single-band files, in order, on `grid` -> (B, H, W) in their common dtype."""
    return np.stack([read_on_grid(p, grid) for p in paths])


@dataclass(frozen=True)
class Tile:
    row: int
    col: int
    window: Window
    bounds: tuple[float, float, float, float]  # (minx, miny, maxx, maxy) in the raster's CRS

    @property
    def slices(self) -> tuple[slice, slice]:
        return self.window.toslices()

    @property
    def name(self) -> str:
        return f"r{self.row}c{self.col}"


def centred_start(length: int, size: int = PATCH_SIZE) -> int:
    """Offset of the first of the length // size contiguous tiles centred along one axis (the
    remainder is split between the borders, the first getting the smaller half)."""
    return (length - (length // size) * size) // 2


def tiles(transform: Affine, height: int, width: int, size: int = PATCH_SIZE) -> Iterator[Tile]:
    """Non-overlapping size x size tiles, row-major, centred (the remainder is dropped)."""
    rows, cols = height // size, width // size
    if rows == 0 or cols == 0:
        raise ValueError(f"raster of {height} x {width} px is smaller than one {size} px tile")
    top, left = centred_start(height, size), centred_start(width, size)
    for r in range(rows):
        for c in range(cols):
            win = Window(left + c * size, top + r * size, size, size)
            minx, miny, maxx, maxy = window_bounds(win, transform)
            yield Tile(r, c, win, (float(minx), float(miny), float(maxx), float(maxy)))


_BAND_RE = re.compile(r"^B(\d{1,2}|8A)$", re.IGNORECASE)


def canonical_band(name: str) -> str:
    """'B1' / 'b01' / 'B8a' -> 'B01' / 'B01' / 'B8A' (the names in `sensors`)."""
    m = _BAND_RE.match(name.strip())
    if not m:
        raise ValueError(f"not a Sentinel-2 band name: {name!r}")
    num = m.group(1).upper()
    return "B8A" if num == "8A" else f"B{int(num):02d}"


def band_files(folder: Path) -> dict[str, Path]:
    """Sentinel-2 band GeoTIFFs in a folder by canonical band name (other .tif files ignored)."""
    out: dict[str, Path] = {}
    for path in sorted(folder.glob("*.tif")):
        try:
            name = canonical_band(path.stem)
        except ValueError:
            continue  # cloud_mask.tif and the like
        if name in out:
            raise ValueError(f"{folder}: band {name} given twice ({out[name].name}, {path.name})")
        out[name] = path
    return out


def ordered_band_files(folder: Path, order: Sequence[str]) -> list[Path]:
    """Band files of `folder` in `order`; a clear error naming the missing bands."""
    found = band_files(folder)
    missing = [b for b in order if b not in found]
    if missing:
        raise FileNotFoundError(f"{folder}: missing band file(s) {', '.join(missing)}")
    return [found[b] for b in order]


_TIME_RE = re.compile(r"(\d{8}T\d{6})")


def product_time(name: str) -> str:
    """First yyyymmddThhmmss in a product name -> ISO 8601 UTC ('2017-06-13T10:10:31Z')."""
    m = _TIME_RE.search(name)
    if not m:
        raise ValueError(f"no acquisition time (yyyymmddThhmmss) in product name {name!r}")
    try:
        when = datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"invalid acquisition time {m.group(1)!r} in {name!r}") from exc
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


_ID_OK = re.compile(r"^[A-Za-z0-9_.-]+$")


def make_id(*parts: str) -> str:
    """Join id parts with '-'; characters outside [A-Za-z0-9_.-] become '_' (filesystem-safe)."""
    text = "-".join(str(p) for p in parts if str(p))
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", text)
    if not _ID_OK.match(safe):
        raise ValueError(f"cannot build an image id from {parts!r}")
    return safe


def baseline_from_product(name: str) -> str | None:
    """'S2A_MSIL2A_..._N0400_R007_...' -> '04.00' (None when the name carries no N-code)."""
    m = re.search(r"_N(\d{2})(\d{2})_", name)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def s2_dn_offset(baseline: str | None) -> int:
    """DN offset stored by a Sentinel-2 processing baseline ('02.14' -> 0, '04.00' -> 1000).

    '99.99' (N9999) marks reprocessed products without the offset (BigEarthNet, Major-TOM's
    older cells); an unknown baseline (None) is treated as no offset.
    """
    if baseline is None:
        return 0
    m = re.fullmatch(r"(\d{1,2})\.(\d{2})", baseline.strip())
    if not m:
        raise ValueError(f"not a Sentinel-2 processing baseline: {baseline!r}")
    version = (int(m.group(1)), int(m.group(2)))
    if version == (99, 99):
        return 0
    return S2_DN_OFFSET if version >= _OFFSET_FROM_BASELINE else 0


def remove_dn_offset(dn: np.ndarray, offset: int) -> np.ndarray:
    """Harmonise to the pre-04.00 convention, DN = reflectance x 10000, as float32.

    No-data (0) stays 0; valid pixels below the offset (slightly negative reflectance, e.g. dark
    water) become 1, the lowest valid DN of the old convention, so they do not turn into no-data.
    """
    dn = np.asarray(dn)
    out = dn.astype(np.float32)
    if offset:
        valid = dn > 0
        out[valid] = np.maximum(out[valid] - offset, 1.0)
    return out
