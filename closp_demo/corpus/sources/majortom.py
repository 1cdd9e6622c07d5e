"""Major-TOM Core-S2L2A grid cells (`majortom_core_s2l2a/<row>/<cell>/<product>/`).

Each product folder holds one GeoTIFF per band at native resolution (10 m: B02 B03 B04 B08;
20 m: B05 B06 B07 B8A B11 B12; 60 m: B01 B09; about 1068 px at 10 m) and `cloud_mask.tif`.

- All bands go onto the 10 m grid of B02; the 20 m and 60 m bands are resampled with nearest
  neighbour (`tiling` says why: pixel repetition, as in BigEarthNet; exact on these grids).
- The cell is cut into non-overlapping 120 x 120 tiles (8 x 8 = 64 per cell), centred; the
  remaining 108 px (54 on each side) is dropped. That border is the overhang of Major-TOM's
  window beyond its 10 km cell, which neighbouring cells cover. Bounds come from each tile's
  window transform.
- `extra["cloud_fraction"]`: share of the tile's pixels that `cloud_mask.tif` flags as cloud.
  The mask is SEnSeI v2's 4-class output (0 clear, 1 thick cloud, 2 thin cloud, 3 cloud
  shadow; Major-TOM dataset card); cloud = classes 1 and 2, shadow (3) is reported apart in
  `extra["cloud_shadow_fraction"]`, values above 3 are no-data. NOTE: both shipped masks are
  all 0, although cell 0U_199R is visibly hazy, so 0.0 means "the mask flags nothing".
- Processing baseline 04.00+ products (N0400 in the name, e.g. cell 0U_199R) carry the +1000
  DN offset; it is removed (`tiling.remove_dn_offset`) so every source shares DN =
  reflectance x 10000. N9999 products (cell 199U_1099R) have none.
- No labels. place = region (README) + MGRS tile; timestamp from the product name.
- image_id `mtom-<cell>-r<row>c<col>` (row/col of the tile in the cell); if a cell holds several
  products, the sensing date is added to keep ids unique.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources.tiling import (
    RESAMPLING_NAME,
    Grid,
    baseline_from_product,
    make_id,
    ordered_band_files,
    product_time,
    read_on_grid,
    remove_dn_offset,
    s2_dn_offset,
    stack_on_grid,
    tiles,
)
from closp_demo.sensors import S2_BANDS

SOURCE = "majortom"
ATTRIBUTION = (
    "Major-TOM Core-S2L2A (ESA Phi-lab), via the kai-tub/rico-hdl test data; Major-TOM data "
    "CC-BY-SA-4.0. Contains modified Copernicus Sentinel data 2020, 2022."
)

FOLDER = "majortom_core_s2l2a"
CLOUD_MASK = "cloud_mask.tif"
CLOUD_CLASSES = (1, 2)  # SEnSeI v2: thick, thin cloud
SHADOW_CLASS = 3
MAX_CLASS = 3  # larger values: no-data

# Readable names of the shipped cells (from the samples README); other cells show their id.
REGIONS: dict[str, str] = {"0U_199R": "Congo basin", "199U_1099R": "Laos / Vietnam"}

_CELL_RE = re.compile(r"^\d+[UD]_\d+[LR]$")
_MGRS_RE = re.compile(r"_T(\d{2}[A-Z]{3})_")


def product_folders(root: Path) -> list[Path]:
    """Product folders (<row>/<cell>/<product>) under the Major-TOM folder, sorted."""
    base = Path(root) / FOLDER
    if not base.is_dir():
        raise FileNotFoundError(f"Major-TOM samples: {base} not found")
    return sorted(
        p.parent for p in base.glob("*/*/*/B02.tif") if _CELL_RE.match(p.parent.parent.name)
    )


def cloud_fractions(mask: np.ndarray) -> tuple[float | None, float | None]:
    """(cloud, shadow) share of the valid pixels of a SEnSeI v2 mask; None if none is valid."""
    valid = mask <= MAX_CLASS
    n = int(valid.sum())
    if n == 0:
        return None, None
    cloud = np.isin(mask, CLOUD_CLASSES) & valid
    shadow = (mask == SHADOW_CLASS) & valid
    return float(cloud.sum() / n), float(shadow.sum() / n)


def place_name(cell: str, product: str) -> str:
    region = REGIONS.get(cell, f"Major-TOM cell {cell}")
    m = _MGRS_RE.search(product)
    return f"{region}, MGRS tile {m.group(1)}" if m else region


def _product_records(product: Path, id_suffix: str) -> Iterator[ImageRecord]:
    cell = product.parent.name
    bands = ordered_band_files(product, S2_BANDS)
    grid = Grid.of(bands[S2_BANDS.index("B02")])
    dn = stack_on_grid(bands, grid)  # uint16, ~27 MB for a cell; tiles are converted one by one
    mask_path = product / CLOUD_MASK
    mask = read_on_grid(mask_path, grid) if mask_path.is_file() else None
    baseline = baseline_from_product(product.name)
    offset = s2_dn_offset(baseline)
    timestamp = product_time(product.name)
    place = place_name(cell, product.name)
    mgrs = _MGRS_RE.search(product.name)
    for tile in tiles(grid.transform, grid.height, grid.width):
        rows, cols = tile.slices
        cloud, shadow = cloud_fractions(mask[rows, cols]) if mask is not None else (None, None)
        yield ImageRecord(
            image_id=make_id("mtom", cell + id_suffix, tile.name),
            sensor="S2",
            image=remove_dn_offset(dn[:, rows, cols], offset),
            crs=grid.crs.to_string(),
            bounds=tile.bounds,
            timestamp=timestamp,
            source=SOURCE,
            place=place,
            level="L2A",
            group=make_id("mtom", cell, tile.name),
            extra={
                "cell": cell,
                "product": product.name,
                "mgrs_tile": mgrs.group(1) if mgrs else "",
                "tile_row": tile.row,
                "tile_col": tile.col,
                "cloud_fraction": cloud,
                "cloud_shadow_fraction": shadow,
                "processing_baseline": baseline or "",
                "dn_offset_removed": offset,
                "resampling": RESAMPLING_NAME,
            },
        )


def iter_records(root: Path) -> Iterator[ImageRecord]:
    """64 tiles per shipped cell, cells and products in sorted order, tiles row-major."""
    products = product_folders(root)
    per_cell: dict[str, int] = {}
    for p in products:
        per_cell[p.parent.name] = per_cell.get(p.parent.name, 0) + 1
    for product in products:
        several = per_cell[product.parent.name] > 1
        suffix = "-" + product_time(product.name)[:10].replace("-", "") if several else ""
        yield from _product_records(product, suffix)
