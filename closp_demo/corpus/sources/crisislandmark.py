"""CrisisLandMark files (`crisislandmark.h5` + `metadata.parquet`) -> `ImageRecord`s.

Layout read here (the dataset does not document its HDF5 internals; these are the assumptions):
- `crisislandmark.h5`: its top-level entries are HDF5 external links to shard files in the SAME
  folder. A top-level entry is either one sample (a link per key) or a whole shard whose children
  are samples; both are accepted. A link whose shard file is absent (only some shards fetched)
  makes its samples unavailable, never an error.
- A sample is a group named by its key, holding datasets `image` (B, 120, 120) float32 and
  `coords` (2, 120, 120): x then y of every PIXEL CENTRE in the sample's CRS. Attributes `crs`
  (EPSG code: 32633, "32633" or "EPSG:32633") and `timestamp` (ISO 8601) sit on the group; when
  absent there they are read from the `image` dataset.
- The sensor comes from the band count: 2 = Sentinel-1 (VV, VH in dB, level GRD), 12 =
  Sentinel-2 L2A (internal band order); any other count is an error naming the key.
- `metadata.parquet`: columns `key`, `labels`, `split`. Labels are Dynamic World + crisis class
  names (`labels.ALL_CLASSES`, matched case-insensitively), given as a list/array or as one string
  separated by "|" or ","; an unknown name is an error naming the key.
- Bounds: pixel-centre coordinates extended by half a pixel on every side (pixel-edge bounds).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from closp_demo.corpus.labels import ALL_CLASSES
from closp_demo.corpus.records import BANDS_BY_SENSOR, ImageRecord
from closp_demo.corpus.sources.tiling import make_id
from closp_demo.sensors import PATCH_SIZE

SOURCE = "crisislandmark"
ATTRIBUTION = (
    "CrisisLandMark (Rege Cambrin et al., CLOSP, arXiv 2507.10403), CC-BY-NC-4.0: "
    "non-commercial use only. Contains modified Copernicus Sentinel data."
)

H5_FILE = "crisislandmark.h5"
METADATA_FILE = "metadata.parquet"
LEVELS = {"S1": "GRD", "S2": "L2A"}
_SENSOR_BY_BANDS = {bands: sensor for sensor, bands in BANDS_BY_SENSOR.items()}
_CLASS_BY_LOWER = {name.lower(): name for name in ALL_CLASSES}


class CrisisLandMarkError(ValueError):
    """Unreadable or inconsistent CrisisLandMark input; the message names the file and key."""


def parse_labels(value: object, key: str) -> tuple[str, ...]:
    """Labels cell -> canonical class names in `ALL_CLASSES` order (unknown names raise)."""
    if isinstance(value, bytes):
        value = value.decode()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        names: list[str] = []
    elif isinstance(value, str):
        names = value.split("|" if "|" in value else ",")
    elif isinstance(value, Iterable):
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in value]
    else:
        raise CrisisLandMarkError(f"{METADATA_FILE}: key {key!r}: labels {value!r} not readable")
    found = set()
    for name in (n.strip() for n in names):
        if not name:
            continue
        canonical = _CLASS_BY_LOWER.get(name.lower())
        if canonical is None:
            raise CrisisLandMarkError(
                f"{METADATA_FILE}: key {key!r}: unknown label {name!r}; "
                f"expected Dynamic World or crisis classes: {', '.join(ALL_CLASSES)}"
            )
        found.add(canonical)
    return tuple(c for c in ALL_CLASSES if c in found)


def read_metadata(root: Path) -> pd.DataFrame:
    """`metadata.parquet` -> DataFrame key (str), labels (tuple of classes), split (str)."""
    path = Path(root) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"CrisisLandMark: {path} not found")
    try:
        table = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for damaged files
        raise CrisisLandMarkError(f"{path}: unreadable parquet ({err})") from err
    missing = [c for c in ("key", "labels", "split") if c not in table.columns]
    if missing:
        raise CrisisLandMarkError(f"{path}: missing column(s) {', '.join(missing)}")
    keys = table["key"].astype(str)
    dupes = sorted(set(keys[keys.duplicated()]))
    if dupes:
        raise CrisisLandMarkError(f"{path}: duplicate key(s) {dupes[:5]}")
    labels = [parse_labels(v, k) for k, v in zip(keys, table["labels"], strict=True)]
    split = table["split"].fillna("").astype(str).str.strip()
    return pd.DataFrame({"key": keys, "labels": labels, "split": split})


def _is_sample(node: object) -> bool:
    return isinstance(node, h5py.Group) and "image" in node


def sample_paths(h5: h5py.File) -> tuple[dict[str, str], list[str]]:
    """(key -> HDF5 path of every reachable sample, shard files that are absent)."""
    folder = Path(h5.filename).parent
    paths: dict[str, str] = {}
    absent: set[str] = set()
    for name in h5:
        link = h5.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink) and not (folder / link.filename).is_file():
            absent.add(link.filename)
            continue
        try:
            node = h5[name]
        except KeyError as err:  # a link that does not resolve inside an existing file
            raise CrisisLandMarkError(f"{h5.filename}: entry {name!r} does not resolve") from err
        if _is_sample(node):
            paths[name] = name
        elif isinstance(node, h5py.Group):
            paths.update({child: f"{name}/{child}" for child in node if _is_sample(node[child])})
    return paths, sorted(absent)


def open_h5(root: Path) -> h5py.File:
    path = Path(root) / H5_FILE
    if not path.is_file():
        raise FileNotFoundError(f"CrisisLandMark: {path} not found")
    return h5py.File(path, "r")


def _sensor_of(bands: int, key: str) -> str:
    sensor = _SENSOR_BY_BANDS.get(bands)
    if sensor is None:
        raise CrisisLandMarkError(
            f"{H5_FILE}: key {key!r}: image has {bands} bands; expected 2 (Sentinel-1 VV, VH) "
            "or 12 (Sentinel-2 L2A)"
        )
    return sensor


def catalogue(root: Path, split: str | None = None) -> pd.DataFrame:
    """Every metadata row whose sample is reachable: key, sensor, labels, split, path.

    Reads only dataset shapes, not pixels. Metadata keys without a sample in the file (e.g. in
    shards that were not fetched) are left out; `attrs["absent_shards"]` lists missing shards.
    """
    meta = read_metadata(root)
    if split:
        meta = meta[meta["split"] == split]
    with open_h5(root) as h5:
        paths, absent = sample_paths(h5)
        meta = meta[meta["key"].isin(paths)].reset_index(drop=True)
        meta["path"] = [paths[k] for k in meta["key"]]
        meta["sensor"] = [
            _sensor_of(h5[p]["image"].shape[0], k)
            for k, p in zip(meta["key"], meta["path"], strict=True)
        ]
    meta.attrs["absent_shards"] = absent
    ids = [image_id(k, s) for k, s in zip(meta["key"], meta["sensor"], strict=True)]
    if len(set(ids)) != len(ids):
        raise CrisisLandMarkError(f"{METADATA_FILE}: keys collide once made filesystem-safe")
    return meta


def image_id(key: str, sensor: str) -> str:
    return make_id(f"clm-{sensor.lower()}", key)


def _attr(group: h5py.Group, name: str) -> object:
    for node in (group, group["image"]):
        if name in node.attrs:
            value = node.attrs[name]
            if isinstance(value, np.ndarray) and value.size == 1:
                value = value.item()
            return value.decode() if isinstance(value, bytes) else value
    return None


def _crs(value: object, key: str) -> str:
    text = str(value).strip().upper() if value is not None else ""
    code = text.removeprefix("EPSG:")
    if not code.isdigit():
        raise CrisisLandMarkError(f"{H5_FILE}: key {key!r}: crs {value!r} is not an EPSG code")
    return f"EPSG:{int(code)}"


def _timestamp(value: object, key: str) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        when = pd.Timestamp(str(value).strip())
    except ValueError as err:
        raise CrisisLandMarkError(
            f"{H5_FILE}: key {key!r}: timestamp {value!r} is not ISO 8601"
        ) from err
    if when.tzinfo is not None:
        when = when.tz_convert("UTC")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def pixel_edge_bounds(coords: np.ndarray, key: str = "") -> tuple[float, float, float, float]:
    """(2, H, W) pixel-centre x/y -> (minx, miny, maxx, maxy) of the outer pixel edges."""
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 3 or coords.shape[0] != 2 or min(coords.shape[1:]) < 2:
        raise CrisisLandMarkError(f"{H5_FILE}: key {key!r}: coords shape {coords.shape}")
    if not np.isfinite(coords).all():
        raise CrisisLandMarkError(f"{H5_FILE}: key {key!r}: coords contain NaN or infinity")
    x, y = coords
    h, w = x.shape
    dx = abs(x[0, -1] - x[0, 0]) / (w - 1)
    dy = abs(y[-1, 0] - y[0, 0]) / (h - 1)
    if dx <= 0 or dy <= 0:
        raise CrisisLandMarkError(f"{H5_FILE}: key {key!r}: coords do not span a grid")
    return (
        float(x.min() - dx / 2),
        float(y.min() - dy / 2),
        float(x.max() + dx / 2),
        float(y.max() + dy / 2),
    )


def read_record(h5: h5py.File, row: pd.Series) -> ImageRecord:
    """One catalogue row (key, path, sensor, labels, split) -> its `ImageRecord`."""
    key = row["key"]
    group = h5[row["path"]]
    image = np.asarray(group["image"][()], dtype=np.float32)
    shape = (BANDS_BY_SENSOR[row["sensor"]], PATCH_SIZE, PATCH_SIZE)
    if image.shape != shape:
        raise CrisisLandMarkError(
            f"{H5_FILE}: key {key!r}: image shape {image.shape}, want {shape}"
        )
    if "coords" not in group:
        raise CrisisLandMarkError(f"{H5_FILE}: key {key!r}: no coords dataset")
    return ImageRecord(
        image_id=image_id(key, row["sensor"]),
        sensor=row["sensor"],
        image=image,
        crs=_crs(_attr(group, "crs"), key),
        bounds=pixel_edge_bounds(group["coords"][()], key),
        timestamp=_timestamp(_attr(group, "timestamp"), key),
        labels=tuple(row["labels"]),
        source=SOURCE,
        level=LEVELS[row["sensor"]],
        group=key,
        split=row["split"],
        extra={"key": key},
    )


def iter_records(root: Path, rows: pd.DataFrame | None = None) -> Iterator[ImageRecord]:
    """Records of `rows` (a `catalogue` slice; default: the whole catalogue), in row order."""
    rows = catalogue(root) if rows is None else rows
    with open_h5(root) as h5:
        for _, row in rows.iterrows():
            yield read_record(h5, row)
