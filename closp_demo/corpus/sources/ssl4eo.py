"""SSL4EO-S12 locations (`ssl4eo_s12/{s1,s2c,s2a}/<location>/<product>/`).

One GeoTIFF per band in EPSG:4326 (about 10 m; 264 x 264 px at 10 m, 132 at 20 m, 44 at 60 m)
plus a `metadata.json` (Earth Engine properties) per product:
- `s1`:  VV.tif, VH.tif, backscatter in dB (Earth Engine's S1_GRD; the shipped values sit at
  VV about -10 dB, VH about -17 dB). Linear power (no negative value) would be converted with
  `sensors.linear_to_db`, and `extra["s1_units"]` says so. level "GRD".
- `s2c`: Level-1C, 13 bands B1..B12 with B8A and B10; B10 (cirrus) is dropped with
  `sensors.drop_b10` to reach the internal 12-band layout. level "L1C" (top-of-atmosphere DN).
- `s2a`: Level-2A, the 12 internal bands. level "L2A".

Band files are named B1..B12 and B8A; `tiling.canonical_band` maps them to B01..B12 / B8A. Every
band goes onto the grid of the product's B2 (or VV) file with nearest neighbour (the 20/60 m
files sit half a pixel off the 10 m grid; nearest keeps measured values). Each product is cut
into 2 x 2 centred tiles of 120 px (12 px dropped on each side). S1 and S2 grids differ
slightly (S1 pixels are ~0.7 % larger), so tiles of one position overlap but are not identical;
`group` ties the same tile position across all products of a location.

Timestamps come from the folder names (S1: the product name; S2: the Earth Engine index, which
starts with the datatake sensing time). The +1000 DN offset of processing baseline 04.00+ is
removed when metadata.json says so (the shipped products are 02.09 / 02.14: none).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources.tiling import (
    RESAMPLING_NAME,
    Grid,
    make_id,
    ordered_band_files,
    product_time,
    remove_dn_offset,
    s2_dn_offset,
    stack_on_grid,
    tiles,
)
from closp_demo.sensors import S1_BANDS, S2_BANDS, S2_L1C_BANDS, drop_b10, linear_to_db

SOURCE = "ssl4eo"
ATTRIBUTION = (
    "SSL4EO-S12 (Wang et al., 2023), via the kai-tub/rico-hdl test data; SSL4EO-S12 CC-BY-4.0. "
    "Contains modified Copernicus Sentinel data 2020."
)

FOLDER = "ssl4eo_s12"
KINDS: dict[str, tuple[str, str]] = {  # product folder -> (sensor, level)
    "s1": ("S1", "GRD"),
    "s2c": ("S2", "L1C"),
    "s2a": ("S2", "L2A"),
}
# Readable names of the shipped locations (samples README); others show their id.
REGIONS: dict[str, str] = {"0000200": "Punjab, Pakistan"}

_MGRS_RE = re.compile(r"_T(\d{2}[A-Z]{3})$")
_TIME_RE = re.compile(r"\d{8}T\d{6}")


def _metadata(product: Path) -> dict:
    path = product / "metadata.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def _s1_files(product: Path) -> list[Path]:
    found = {p.stem.upper(): p for p in product.glob("*.tif")}
    missing = [b for b in S1_BANDS if b not in found]
    if missing:
        raise FileNotFoundError(f"{product}: missing band file(s) {', '.join(missing)}")
    return [found[b] for b in S1_BANDS]


def as_db(backscatter: np.ndarray) -> tuple[np.ndarray, str]:
    """(VV, VH) in dB and a note on the units found: dB has negative values, power never."""
    data = backscatter.astype(np.float32)
    finite = data[np.isfinite(data)]
    if finite.size and finite.min() >= 0:
        return linear_to_db(data), "linear power, converted to dB"
    return data, "dB"


def _read_product(kind: str, product: Path) -> tuple[np.ndarray, Grid, dict]:
    """(B, H, W) stack on the product's 10 m grid, the grid, and notes for `extra`."""
    meta = _metadata(product)
    if kind == "s1":
        files = _s1_files(product)
        grid = Grid.of(files[0])
        stack, units = as_db(stack_on_grid(files, grid))
        return stack, grid, {"s1_units": units, "orbit_pass": meta.get("orbitProperties_pass", "")}
    order = S2_L1C_BANDS if kind == "s2c" else S2_BANDS
    files = ordered_band_files(product, order)
    grid = Grid.of(files[order.index("B02")])
    stack = stack_on_grid(files, grid)
    if kind == "s2c":
        stack = drop_b10(stack)
    baseline = meta.get("PROCESSING_BASELINE")
    offset = s2_dn_offset(baseline)
    notes = {
        "product_id": meta.get("PRODUCT_ID", ""),
        "processing_baseline": baseline or "",
        "dn_offset_removed": offset,
        "scene_cloud_percentage": meta.get("CLOUDY_PIXEL_PERCENTAGE"),
    }
    return remove_dn_offset(stack, offset), grid, notes


def _products(root: Path) -> list[tuple[str, str, Path]]:
    """(location, kind, product folder), sorted by location, then kind (s1, s2c, s2a), then name."""
    base = Path(root) / FOLDER
    if not base.is_dir():
        raise FileNotFoundError(f"SSL4EO-S12 samples: {base} not found")
    found = [
        (loc.name, kind, product)
        for kind in KINDS
        for loc in sorted((base / kind).glob("*"))
        if loc.is_dir()
        for product in sorted(loc.iterdir())
        if product.is_dir()
    ]
    order = list(KINDS)
    return sorted(found, key=lambda t: (t[0], order.index(t[1]), t[2].name))


def iter_records(root: Path) -> Iterator[ImageRecord]:
    """2 x 2 tiles of every product: per location s1, s2c, s2a products in name order."""
    for loc, kind, product in _products(root):
        sensor, level = KINDS[kind]
        stamp = _TIME_RE.search(product.name)
        if stamp is None:
            raise ValueError(f"{product}: no acquisition time (yyyymmddThhmmss) in the folder name")
        stack, grid, notes = _read_product(kind, product)
        region = REGIONS.get(loc, f"SSL4EO-S12 location {loc}")
        mgrs = _MGRS_RE.search(product.name)
        place = f"{region}, MGRS tile {mgrs.group(1)}" if mgrs else region
        for tile in tiles(grid.transform, grid.height, grid.width):
            rows, cols = tile.slices
            yield ImageRecord(
                image_id=make_id("ssl4eo", loc, kind, stamp.group(0), tile.name),
                sensor=sensor,
                image=np.ascontiguousarray(stack[:, rows, cols], dtype=np.float32),
                crs=grid.crs.to_string(),
                bounds=tile.bounds,
                timestamp=product_time(product.name),
                source=SOURCE,
                place=place,
                level=level,
                group=make_id("ssl4eo", loc, tile.name),
                extra={
                    "location": loc,
                    "product": product.name,
                    "tile_row": tile.row,
                    "tile_col": tile.col,
                    "resampling": RESAMPLING_NAME,
                    **notes,
                },
            )
