"""Sen1Floods11 hand-labelled chips (`sen1floods11/<chip>_{S1Hand,S2Hand,LabelHand}.tif`).

Each chip is three co-registered 512 x 512 GeoTIFFs in EPSG:4326 (about 10 m):
- `*_S1Hand.tif`: Sentinel-1 GRD VV, VH backscatter in dB (float32, no-data NaN; the shipped
  chip has none). Kept as dB (`ssl4eo.as_db` would convert linear power). level "GRD".
- `*_S2Hand.tif`: Sentinel-2 L1C, 13 bands B1..B12 with B8A and B10 (int16 DN, no-data 0; the
  shipped chip has none). B10 (cirrus) is dropped with `sensors.drop_b10` for the internal
  12-band layout; 2019 products predate the +1000 DN offset. level "L1C".
- `*_LabelHand.tif`: the hand-drawn water mask, int16: 1 water, 0 not water, -1 no data (the
  shipped chip: 27 % water, 73 % not water, 99 no-data pixels in small specks).

Each chip is cut into 4 x 4 centred tiles of 120 px (16 px dropped on each side), the same
windows on all three rasters (same grid, checked), so an S1 tile and the S2 tile of its position
show exactly the same ground: they share `group` = `sen1floods11-<chip>-r<row>c<col>`, the way
a BigEarthNet S1/S2 pair does (`evaluation.cross_sensor` pairs images by group).

Labels, from the mask only (it says water / not water, so no other class is claimed: the land
between the water, mostly fields and villages here, stays unlabelled). Fractions are shares of
the tile's valid mask pixels (mask != -1):
- `water_fraction`: mask == 1.
- `flood_fraction`: water that is broad, i.e. covered by a `CHANNEL_WIDTH_PX` square of water
  (a morphological opening of the whole chip's mask, before tiling, so shapes are judged in
  context). The permanent river is a thin channel: the Segura crosses the chip's south at
  2-7 px (20-70 m) wide, and a 7 x 7 px (70 m) square fits nowhere in it inside the tiles, while
  flooded fields (parcels of 100 m and more) keep their interior. The chip holds no lake or
  other broad permanent water (the README's "flood water plus the river"), so broad water is
  flood water here. Mask no-data counts as not water in the opening (it can only shrink it).
- "Water" when water_fraction >= `LABEL_MIN_FRACTION`, "Flooded Area" (the crisis class) when
  flood_fraction >= `LABEL_MIN_FRACTION`. 1 % of a tile is 144 px (1.44 ha): a river crossing
  the tile counts as Water (the Segura alone fills 2-4 % of the tiles it crosses, as CORINE's
  "Water courses" map to Water), while a few stray hand-drawn pixels do not.
Both fractions are stored in `extra` and become corpus metadata columns
(`store.REFERENCE_COLUMNS`): the graded relevance of the flood queries
(`evaluation.flood`) comes from them, not from the labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from numpy.lib.stride_tricks import sliding_window_view

from closp_demo.corpus.labels import ALL_CLASSES
from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources.ssl4eo import as_db
from closp_demo.corpus.sources.tiling import Grid, Tile, canonical_band, make_id, tiles
from closp_demo.sensors import S1_BANDS, S2_L1C_BANDS, drop_b10

SOURCE = "sen1floods11"
ATTRIBUTION = (
    "Sen1Floods11 hand-labelled chip Spain_7370579 (Sentinel-1, Sentinel-2 and water mask), from "
    "the sample/ folder of github.com/cloudtostreet/Sen1Floods11; no licence file in the "
    "repository, the authors ask to cite: D. Bonafilia, B. Tellman, T. Anderson, E. Issenberg, "
    '"Sen1Floods11: a georeferenced dataset to train and test deep learning flood algorithms '
    'for Sentinel-1", CVPR Workshops 2020, pp. 210-211. '
    "Contains modified Copernicus Sentinel data 2019."
)

FOLDER = "sen1floods11"
WATER, NOT_WATER, NO_DATA = 1, 0, -1
LABEL_MIN_FRACTION = 0.01
CHANNEL_WIDTH_PX = 7


@dataclass(frozen=True)
class Chip:
    place: str
    s1_date: str | None
    s2_date: str | None


# What the samples README says of the shipped chip (Sen1Floods11's catalogue dates). Other
# chips get their id as place and no date: a date is never invented.
CHIPS: dict[str, Chip] = {
    "Spain_7370579": Chip(
        "Vega Baja del Segura (Alicante), Spain, September 2019 floods",
        "2019-09-17",
        "2019-09-18",
    ),
}
_SUFFIXES = {"S1": "_S1Hand.tif", "S2": "_S2Hand.tif", "label": "_LabelHand.tif"}


def broad_water(water: np.ndarray, width: int = CHANNEL_WIDTH_PX) -> np.ndarray:
    """Morphological opening of a bool mask by a width x width square: the water pixels that
    some all-water square of that side covers. Channels narrower than `width` vanish.

    Erosion pads with the edge value, so a flooded field cut by the raster border keeps its
    pixels there; dilation pads with False."""
    if width < 1:
        raise ValueError(f"width must be >= 1 px, got {width}")
    water = np.asarray(water, dtype=bool)
    lo, hi = (width - 1) // 2, width // 2  # even widths: the square is anchored consistently
    padded = np.pad(water, ((lo, hi), (lo, hi)), mode="edge")
    core = sliding_window_view(padded, (width, width)).all(axis=(-2, -1))
    padded = np.pad(core, ((hi, lo), (hi, lo)), mode="constant")
    return sliding_window_view(padded, (width, width)).any(axis=(-2, -1)) & water


def fractions(mask: np.ndarray, broad: np.ndarray) -> tuple[float, float, float]:
    """(water, flood, valid) fractions of one mask window; water and flood are shares of the
    valid pixels (NaN when none is valid), valid is the share of the window."""
    valid = mask != NO_DATA
    n = int(valid.sum())
    if n == 0:
        return float("nan"), float("nan"), 0.0
    water = int(((mask == WATER) & valid).sum()) / n
    flood = int((broad & valid).sum()) / n
    return water, flood, n / mask.size


def labels_for(water_fraction: float, flood_fraction: float) -> tuple[str, ...]:
    """The documented rule (module docstring): Water / Flooded Area above 1 % of the tile."""
    found = set()
    if water_fraction >= LABEL_MIN_FRACTION:  # NaN (no valid pixel) compares False: no label
        found.add("Water")
    if flood_fraction >= LABEL_MIN_FRACTION:
        found.add("Flooded Area")
    return tuple(c for c in ALL_CLASSES if c in found)


def _check_bands(path: Path, found: tuple[str | None, ...], want: tuple[str, ...]) -> None:
    """Band descriptions, when the file has them, must be the expected bands in order."""
    if len(found) != len(want):
        raise ValueError(f"{path}: {len(found)} bands, expected {len(want)} ({', '.join(want)})")
    if all(found):
        names = tuple(d.upper() if d.upper() in S1_BANDS else canonical_band(d) for d in found)
        if names != want:
            raise ValueError(f"{path}: bands {names}, expected {want}")


def _read(path: Path, want: tuple[str, ...] | None, grid: Grid | None) -> tuple[np.ndarray, Grid]:
    with rasterio.open(path) as src:
        if src.crs is None:
            raise ValueError(f"{path}: no coordinate reference system")
        own = Grid(src.crs, src.transform, src.width, src.height)
        if grid is not None and not own.same_as(grid):
            raise ValueError(f"{path}: not on the grid of the chip's water mask (co-registration)")
        if want is not None:
            _check_bands(path, src.descriptions, want)
        return src.read(), own


def chips(root: Path) -> list[str]:
    """Chip ids with a water mask in the sentinel-samples folder `root`, sorted."""
    folder = Path(root) / FOLDER
    if not folder.is_dir():
        raise FileNotFoundError(f"Sen1Floods11 samples: {folder} not found")
    return sorted(p.name[: -len(_SUFFIXES["label"])] for p in folder.glob("*" + _SUFFIXES["label"]))


def _chip_files(root: Path, chip: str) -> dict[str, Path]:
    files = {k: Path(root) / FOLDER / f"{chip}{s}" for k, s in _SUFFIXES.items()}
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"Sen1Floods11 chip {chip}: missing {', '.join(missing)}")
    return files


def _record(chip: str, sensor: str, image: np.ndarray, grid: Grid, tile: Tile,
            labels: tuple[str, ...], extra: dict) -> ImageRecord:  # fmt: skip
    info = CHIPS.get(chip, Chip(f"Sen1Floods11 chip {chip}", None, None))
    rows, cols = tile.slices
    return ImageRecord(
        image_id=make_id("sen1floods11", chip, sensor.lower(), tile.name),
        sensor=sensor,  # type: ignore[arg-type]
        image=np.ascontiguousarray(image[:, rows, cols], dtype=np.float32),
        crs=grid.crs.to_string(),
        bounds=tile.bounds,
        timestamp=info.s1_date if sensor == "S1" else info.s2_date,
        labels=labels,
        source=SOURCE,
        place=info.place,
        level="GRD" if sensor == "S1" else "L1C",
        group=make_id("sen1floods11", chip, tile.name),
        extra=dict(extra),
    )


def iter_records(root: Path) -> Iterator[ImageRecord]:
    """Per chip, per tile (row-major): the S1 record, then the S2 record of the same window."""
    for chip in chips(root):
        files = _chip_files(root, chip)
        mask_stack, grid = _read(files["label"], None, None)
        mask = mask_stack[0]
        unknown = np.setdiff1d(np.unique(mask), [WATER, NOT_WATER, NO_DATA])
        if unknown.size:
            raise ValueError(f"{files['label']}: unexpected mask values {unknown.tolist()}")
        broad = broad_water(mask == WATER)
        s1_raw, _ = _read(files["S1"], S1_BANDS, grid)
        s1, s1_units = as_db(s1_raw)
        s2_raw, _ = _read(files["S2"], S2_L1C_BANDS, grid)
        s2 = drop_b10(s2_raw.astype(np.float32))
        for tile in tiles(grid.transform, grid.height, grid.width):
            rows, cols = tile.slices
            water, flood, valid = fractions(mask[rows, cols], broad[rows, cols])
            extra = {
                "chip": chip, "tile_row": tile.row, "tile_col": tile.col,
                "water_fraction": water, "flood_fraction": flood, "mask_valid_fraction": valid,
                "channel_width_px": CHANNEL_WIDTH_PX,
            }  # fmt: skip
            labels = labels_for(water, flood)
            yield _record(chip, "S1", s1, grid, tile, labels, {**extra, "s1_units": s1_units})
            yield _record(chip, "S2", s2, grid, tile, labels, extra)
