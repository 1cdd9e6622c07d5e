"""Hydro foundation-model samples (`hydro_s2/patch_<n>.tif`): Sentinel-2 L2A around water.

Each file is one 256 x 256 px, 10 m, 12-band UTM GeoTIFF. The band descriptions are only
stackstac hashes, so the order is taken from the rico-hdl documentation of this set (B01..B08,
B8A, B09, B11, B12 = the internal order) and checked on the data: the high-Arctic patch
(80.9 N) is bright in bands 1-9 and dark in the last two, as snow and ice are in B11/B12.
0 is no-data (a few pixels of some patches are 0 in only some bands; they stay 0).

The files carry no acquisition date or processing baseline, and the values show that some
patches carry the +1000 DN offset of baseline 04.00+ and some do not: over water, whose SWIR
reflectance is about 0, the darkest B11/B12 pixels sit at DN ~1000 in five patches and at DN 1
in another. So the offset is decided per patch from its darkest SWIR pixels (the 0.1th
percentile of the valid min(B11, B12)): below 500 -> no offset; 500-1300 -> offset, removed;
above 1300 (no dark pixel at all, e.g. the bright high-Arctic patch) -> undecidable, left as
is. `extra["dn_offset_removed"]` and `extra["dn_offset_known"]` record the decision,
`extra["darkest_swir_dn"]` the evidence.

Each patch is cut into 2 x 2 centred tiles of 120 px (8 px dropped on each side). No labels,
no timestamp; place = the patch centre in degrees.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import transform as warp_transform

from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources.tiling import S2_DN_OFFSET, make_id, remove_dn_offset, tiles
from closp_demo.sensors import S2_BANDS

SOURCE = "hydro"
ATTRIBUTION = (
    "Hydro foundation-model sample patches (isaaccorley/hydro-foundation-model), via the "
    "kai-tub/rico-hdl test data; MIT (repository). Contains modified Copernicus Sentinel data."
)

FOLDER = "hydro_s2"
_NAME_RE = re.compile(r"^patch_(\d+)$")
_SWIR = [S2_BANDS.index("B11"), S2_BANDS.index("B12")]
NO_OFFSET_BELOW = 500  # darkest SWIR DN; water without offset is ~0
OFFSET_UP_TO = 1300  # water with the +1000 offset is ~1000


def patch_files(root: Path) -> list[Path]:
    """patch_<n>.tif files sorted by n."""
    base = Path(root) / FOLDER
    if not base.is_dir():
        raise FileNotFoundError(f"hydro samples: {base} not found")
    found = [(int(m.group(1)), p) for p in base.glob("*.tif") if (m := _NAME_RE.match(p.stem))]
    return [p for _, p in sorted(found)]


def detect_offset(dn: np.ndarray) -> tuple[int | None, float | None]:
    """(offset, darkest SWIR DN) for a (12, H, W) patch; offset None = undecidable."""
    valid = (dn > 0).all(axis=0)
    if not valid.any():
        return None, None
    swir = dn[_SWIR][:, valid].min(axis=0)
    darkest = float(np.percentile(swir, 0.1))
    if darkest < NO_OFFSET_BELOW:
        return 0, darkest
    if darkest <= OFFSET_UP_TO:
        return S2_DN_OFFSET, darkest
    return None, darkest


def _place(crs: rasterio.crs.CRS, bounds: rasterio.coords.BoundingBox) -> str:
    x = (bounds.left + bounds.right) / 2
    y = (bounds.bottom + bounds.top) / 2
    (lon,), (lat,) = warp_transform(crs, "EPSG:4326", [x], [y])
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"water body at {abs(lat):.2f}°{ns} {abs(lon):.2f}°{ew}"


def iter_records(root: Path) -> Iterator[ImageRecord]:
    """4 tiles per patch, patches by number, tiles row-major."""
    for path in patch_files(root):
        with rasterio.open(path) as src:
            if src.count != len(S2_BANDS):
                raise ValueError(f"{path}: {src.count} bands, expected {len(S2_BANDS)} (L2A)")
            if src.crs is None:
                raise ValueError(f"{path}: no coordinate reference system")
            dn = src.read()
            crs, transform, bounds = src.crs, src.transform, src.bounds
        offset, darkest = detect_offset(dn)
        image = remove_dn_offset(dn, offset or 0)
        place = _place(crs, bounds)
        for tile in tiles(transform, dn.shape[1], dn.shape[2]):
            rows, cols = tile.slices
            yield ImageRecord(
                image_id=make_id("hydro", path.stem, tile.name),
                sensor="S2",
                image=np.ascontiguousarray(image[:, rows, cols]),
                crs=crs.to_string(),
                bounds=tile.bounds,
                source=SOURCE,
                place=place,
                level="L2A",
                group=make_id("hydro", path.stem, tile.name),
                extra={
                    "patch": path.stem,
                    "tile_row": tile.row,
                    "tile_col": tile.col,
                    "dn_offset_removed": offset or 0,
                    "dn_offset_known": offset is not None,
                    "darkest_swir_dn": darkest,
                },
            )
