"""CrisisLandMark files (`crisislandmark.h5` + `metadata.parquet`) -> `ImageRecord`s.

Layout read here (the dataset card documents the sample contents; the rest are assumptions):
- `crisislandmark.h5`: its top-level entries are HDF5 external links to shard files in the SAME
  folder. A top-level entry is either one sample (a link per key) or a whole shard whose children
  are samples; both are accepted. A link whose shard file is absent (only some shards fetched)
  makes its samples unavailable, never an error. Shards may be compressed with the filters of
  the `hdf5plugin` package (the card asks for it); importing it here registers them.
- A sample is a group named by its key, holding datasets `image` (B, 120, 120) float32 and
  `coords` (2, 120, 120): x then y of every PIXEL CENTRE in the sample's CRS. Attributes `crs`
  and `timestamp` sit on the group (else on `image`). The card types both as float32: `crs` is
  an EPSG code (32633, 32633.0, "32633" or "EPSG:32633"); `timestamp` is NaN or absent when
  unknown, else read as Unix seconds (or milliseconds) when a number, as ISO 8601 when text.
  A timestamp that reads as neither is kept as an unknown date, never an error.
- The sensor comes from the band count: 2 = Sentinel-1 (VV, VH in dB, level GRD), 12 =
  Sentinel-2 L2A (internal band order). QuakeSet samples (key naming "quakeset") may hold 4
  bands, QuakeSet's pre-event VV, VH then post-event VV, VH: bands 3-4 are used, as the authors'
  loader does (`data[2:]` for QuakeSet), so the image shows the aftermath its "Earthquake
  Damage" label describes. Not followed: that loader also reverses the band order of its
  `benv2s1` and `sen1flood` files; the card says VV, VH for every S1 sample, so none is flipped.
- `metadata.parquet`: columns `key`, `labels`, `split`. Labels come "from the original source
  (either CLC or DW)" (card): each name goes through `corpus.labels.harmonise_label` (class
  names, DW band names, CORINE-43/19, crisis spellings); a name it does not know is kept as
  "unmapped: NAME" in the `unmapped` column, out of `labels`, so it is relevant to no class.
  Labels are a list/array, or one string separated by "|" or "," (commas inside CORINE names
  such as "Beaches, dunes, sands" are kept together).
- Bounds: pixel-centre coordinates extended by half a pixel on every side (pixel-edge bounds).

A key that cannot be read (link that does not resolve, missing or misshaped datasets, band
count, unreadable pixels, no usable CRS or coords) is refused on its own, with the reason, in
`catalogue(...).attrs["refused"]` or by `read_records`; the other keys are read as usual.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from rasterio.crs import CRS
from rasterio.errors import CRSError

from closp_demo.corpus.labels import ALL_CLASSES, harmonise_label
from closp_demo.corpus.records import BANDS_BY_SENSOR, ImageRecord
from closp_demo.corpus.sources.tiling import make_id
from closp_demo.sensors import PATCH_SIZE

try:  # registers the compression filters the dataset's shards may use
    import hdf5plugin
except ImportError:  # reading an uncompressed shard does not need it
    hdf5plugin = None

log = logging.getLogger(__name__)

SOURCE = "crisislandmark"
ATTRIBUTION = (
    "CrisisLandMark (Rege Cambrin et al., CLOSP, arXiv 2507.10403), CC-BY-NC-4.0: "
    "non-commercial use only. Contains modified Copernicus Sentinel data."
)

H5_FILE = "crisislandmark.h5"
METADATA_FILE = "metadata.parquet"
LEVELS = {"S1": "GRD", "S2": "L2A"}
UNMAPPED = "unmapped: "
QUAKESET_BANDS = 4  # pre VV, pre VH, post VV, post VH
QUAKESET_FIRST_BAND = 2  # the post-event pair, as the authors' loader takes it
_SENSOR_BY_BANDS = {bands: sensor for sensor, bands in BANDS_BY_SENSOR.items()}
# Timestamps given as numbers: plausible Unix seconds / milliseconds (2000-01-01 .. 2100-01-01)
_EPOCH_RANGE = (946_684_800, 4_102_444_800)


class CrisisLandMarkError(ValueError):
    """Unreadable or inconsistent CrisisLandMark input; the message names the file and key."""


# ---------------------------------------------------------------------------------- metadata


def _split_names(text: str) -> list[str]:
    """One labels string -> names; "," splits only where no known name spans the comma."""
    if "|" in text:
        return text.split("|")
    pieces = [p.strip() for p in text.split(",")]
    names, i = [], 0
    while i < len(pieces):
        # the longest run of pieces that is one known name ("Beaches, dunes, sands"), else one
        j = next(
            (j for j in range(len(pieces), i + 1, -1) if harmonise_label(", ".join(pieces[i:j]))),
            i + 1,
        )
        names.append(", ".join(pieces[i:j]))
        i = j
    return names


def parse_labels(value: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Labels cell -> (classes in `ALL_CLASSES` order, "unmapped: NAME" for unknown names)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        names: list[str] = []
    elif isinstance(value, str):
        names = _split_names(value)
    elif isinstance(value, Iterable):
        names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in value]
    else:
        names = [str(value)]
    found, unmapped = set(), []
    for name in (" ".join(n.split()) for n in names):
        if not name:
            continue
        canonical = harmonise_label(name)
        if canonical is None:
            if UNMAPPED + name not in unmapped:
                unmapped.append(UNMAPPED + name)
        else:
            found.add(canonical)
    return tuple(c for c in ALL_CLASSES if c in found), tuple(unmapped)


def read_metadata(root: Path) -> pd.DataFrame:
    """`metadata.parquet` -> DataFrame key (str), labels (tuple of classes), unmapped (tuple of
    "unmapped: NAME"), split (str)."""
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
    parsed = [parse_labels(v) for v in table["labels"]]
    split = table["split"].fillna("").astype(str).str.strip()
    return pd.DataFrame(
        {
            "key": keys,
            "labels": [p[0] for p in parsed],
            "unmapped": [p[1] for p in parsed],
            "split": split,
        }
    )


def unmapped_counts(labels_unmapped: Iterable[Iterable[str]]) -> dict[str, int]:
    """{"unmapped: NAME": rows carrying it}, most frequent first."""
    counts = pd.Series([u for row in labels_unmapped for u in row], dtype=object).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


# ---------------------------------------------------------------------------------- the h5 file


def open_h5(root: Path) -> h5py.File:
    path = Path(root) / H5_FILE
    if not path.is_file():
        raise FileNotFoundError(f"CrisisLandMark: {path} not found")
    return h5py.File(path, "r")


def sample_paths(
    h5: h5py.File, keys: Iterable[str]
) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """(key -> HDF5 path of every sample of `keys` in the file, absent shard files, top-level
    entries that do not resolve -> why). Only group names are listed: nothing is read."""
    keys = set(keys)
    folder = Path(h5.filename).parent
    paths: dict[str, str] = {}
    absent: set[str] = set()
    broken: dict[str, str] = {}
    for name in h5:
        link = h5.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink) and not (folder / link.filename).is_file():
            absent.add(link.filename)
            continue
        try:
            node = h5[name]
        except (KeyError, OSError) as err:  # a link that does not resolve inside its file
            external = isinstance(link, h5py.ExternalLink)
            where = f" -> {link.filename}:{link.path}" if external else ""
            broken[name] = f"entry does not resolve{where} ({err})"
            continue
        if name in keys:
            paths[name] = name
        elif isinstance(node, h5py.Group):
            paths.update({child: f"{name}/{child}" for child in node if child in keys})
    return paths, sorted(absent), broken


def _sensor_of(bands: int, key: str) -> tuple[str, int]:
    """(sensor, first band to read) for an image of `bands` bands; raises with the reason."""
    if bands in _SENSOR_BY_BANDS:
        return _SENSOR_BY_BANDS[bands], 0
    if bands == QUAKESET_BANDS and "quakeset" in key.lower():
        return "S1", QUAKESET_FIRST_BAND
    raise CrisisLandMarkError(
        f"image has {bands} bands; expected 2 (Sentinel-1 VV, VH), 12 (Sentinel-2 L2A) or 4 "
        "for a QuakeSet key (pre- and post-event VV, VH)"
    )


def inspect_sample(h5: h5py.File, path: str, key: str) -> tuple[str, int]:
    """(sensor, first band) of the sample at `path` from dataset shapes; raises with the reason."""
    try:
        group = h5[path]
        if not isinstance(group, h5py.Group):
            raise CrisisLandMarkError("not a group")
        for name in ("image", "coords"):
            if not isinstance(group.get(name), h5py.Dataset):
                raise CrisisLandMarkError(f"no {name} dataset")
        image, coords = group["image"].shape, group["coords"].shape
    except (KeyError, OSError, RuntimeError) as err:  # h5py's errors for damaged objects
        raise CrisisLandMarkError(f"unreadable ({err})") from err
    if len(image) != 3 or image[1:] != (PATCH_SIZE, PATCH_SIZE):
        raise CrisisLandMarkError(f"image shape {image}, want (bands, 120, 120)")
    if coords != (2, PATCH_SIZE, PATCH_SIZE):
        raise CrisisLandMarkError(f"coords shape {coords}, want (2, 120, 120)")
    return _sensor_of(image[0], key)


def catalogue(root: Path, split: str | None = None) -> pd.DataFrame:
    """Every readable metadata row with its sample: key, labels, unmapped, split, path, sensor,
    band0 (first band read: 2 for 4-band QuakeSet samples, else 0).

    Reads only dataset shapes, not pixels. `attrs`: "absent_shards" (shard files not present:
    their keys are left out), "missing" (metadata keys with no sample in the present files),
    "refused" ([(key or entry, reason)] of samples that cannot be read), "notes" (band choices).
    """
    meta = read_metadata(root)
    if split:
        meta = meta[meta["split"] == split]
    refused: list[tuple[str, str]] = []
    with open_h5(root) as h5:
        paths, absent, broken = sample_paths(h5, meta["key"])
        refused += sorted(broken.items())
        found = meta["key"].isin(paths).to_numpy()
        missing = int((~found & ~meta["key"].isin(broken).to_numpy()).sum())
        meta = meta[found].reset_index(drop=True)
        meta["path"] = [paths[k] for k in meta["key"]]
        sensors, band0, ok = [], [], []
        for key, path in zip(meta["key"], meta["path"], strict=True):
            try:
                sensor, first = inspect_sample(h5, path, key)
            except CrisisLandMarkError as err:
                refused.append((key, str(err)))
                sensor, first = "", 0
            ok.append(bool(sensor))
            sensors.append(sensor)
            band0.append(first)
    meta["sensor"], meta["band0"] = sensors, band0
    meta = meta[ok].reset_index(drop=True)
    seen: dict[str, str] = {}
    unique = []
    for key, sensor in zip(meta["key"], meta["sensor"], strict=True):
        other = seen.setdefault(image_id(key, sensor), key)
        unique.append(other == key)
        if other != key:
            refused.append((key, f"its image id collides with key {other!r}"))
    meta = meta[unique].reset_index(drop=True)
    quake = int((meta["band0"] > 0).sum())
    notes = []
    if quake:
        notes.append(
            f"{quake} QuakeSet sample(s) hold 4 bands (pre-event VV, VH, post-event VV, VH): "
            "bands 3-4, the post-event VV, VH, are used, as the authors' loader does."
        )
        log.info("CrisisLandMark: %s", notes[-1])
    for key, reason in refused:  # debug: the build report lists them, possibly thousands
        log.debug("CrisisLandMark: refused %s: %s", key, reason)
    meta.attrs.update(absent_shards=absent, missing=missing, refused=refused, notes=notes)
    return meta


def image_id(key: str, sensor: str) -> str:
    return make_id(f"clm-{sensor.lower()}", key)


# ---------------------------------------------------------------------------------- records


def _attr(group: h5py.Group, name: str) -> object:
    for node in (group, group["image"]):
        if name in node.attrs:
            value = node.attrs[name]
            if isinstance(value, np.ndarray) and value.size == 1:
                value = value.item()
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return None


def _crs(value: object) -> str:
    """EPSG code as int, float (32633.0: the card's float32), or text -> "EPSG:n"; else raises."""
    code, number = None, value
    if isinstance(value, str):
        try:
            number = float(value.strip().upper().removeprefix("EPSG:"))
        except ValueError:
            number = None
    if isinstance(number, int | float | np.integer | np.floating) and not isinstance(number, bool):
        number = float(number)
        if math.isfinite(number) and number.is_integer() and number > 0:
            code = int(number)
    if code is None:
        raise CrisisLandMarkError(f"crs {value!r} is not an EPSG code")
    try:
        CRS.from_epsg(code)
    except CRSError as err:
        raise CrisisLandMarkError(f"crs EPSG:{code} is unknown ({err})") from err
    return f"EPSG:{code}"


def _timestamp(value: object) -> str | None:
    """ISO 8601 UTC text, or None (an unknown date) for a missing, NaN or unreadable value."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        number = float(value)
        for scale in (1, 1000):  # seconds, milliseconds
            if math.isfinite(number) and _EPOCH_RANGE[0] <= number / scale < _EPOCH_RANGE[1]:
                # a date only: float32 seconds are exact to about 2 minutes only
                return pd.Timestamp(number / scale, unit="s").strftime("%Y-%m-%d")
        return None
    text = str(value).strip() if value is not None else ""
    if not text or text.lower() in ("nan", "nat", "none"):
        return None
    try:
        when = pd.Timestamp(text)
    except (ValueError, OverflowError):
        return None
    if pd.isna(when):
        return None
    if when.tzinfo is not None:
        when = when.tz_convert("UTC")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def pixel_edge_bounds(coords: np.ndarray) -> tuple[float, float, float, float]:
    """(2, H, W) pixel-centre x/y -> (minx, miny, maxx, maxy) of the outer pixel edges."""
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 3 or coords.shape[0] != 2 or min(coords.shape[1:]) < 2:
        raise CrisisLandMarkError(f"coords shape {coords.shape}")
    if not np.isfinite(coords).all():
        raise CrisisLandMarkError("coords contain NaN or infinity")
    x, y = coords
    h, w = x.shape
    dx = abs(x[0, -1] - x[0, 0]) / (w - 1)
    dy = abs(y[-1, 0] - y[0, 0]) / (h - 1)
    if dx <= 0 or dy <= 0:
        raise CrisisLandMarkError("coords do not span a grid")
    return (
        float(x.min() - dx / 2),
        float(y.min() - dy / 2),
        float(x.max() + dx / 2),
        float(y.max() + dy / 2),
    )


def read_record(h5: h5py.File, row: pd.Series) -> ImageRecord:
    """One catalogue row -> its `ImageRecord`; a sample that cannot be read raises
    `CrisisLandMarkError` naming the key and the reason."""
    key = row["key"]
    try:
        return _read(h5, row)
    except CrisisLandMarkError as err:
        raise CrisisLandMarkError(f"{H5_FILE}: key {key!r}: {err}") from err
    except (KeyError, OSError, RuntimeError) as err:  # damaged data, a filter not installed
        hint = "" if hdf5plugin else "; if the shards are compressed, pip install hdf5plugin"
        raise CrisisLandMarkError(f"{H5_FILE}: key {key!r}: unreadable ({err}){hint}") from err


def _read(h5: h5py.File, row: pd.Series) -> ImageRecord:
    key, sensor = row["key"], row["sensor"]
    group = h5[row["path"]]
    first = int(row.get("band0", 0))
    bands = BANDS_BY_SENSOR[sensor]
    image = np.asarray(group["image"][first : first + bands], dtype=np.float32)
    if image.shape != (bands, PATCH_SIZE, PATCH_SIZE):
        raise CrisisLandMarkError(f"image shape {image.shape}, want {(bands, 120, 120)}")
    if "coords" not in group:
        raise CrisisLandMarkError("no coords dataset")
    unmapped = tuple(row["unmapped"]) if "unmapped" in row else ()
    return ImageRecord(
        image_id=image_id(key, sensor),
        sensor=sensor,
        image=image,
        crs=_crs(_attr(group, "crs")),
        bounds=pixel_edge_bounds(group["coords"][()]),
        timestamp=_timestamp(_attr(group, "timestamp")),
        labels=tuple(row["labels"]),
        source=SOURCE,
        level=LEVELS[sensor],
        group=key,
        split=row["split"],
        extra={"key": key, "unmapped_labels": unmapped},
    )


def read_records(
    h5: h5py.File, rows: pd.DataFrame
) -> tuple[list[ImageRecord], list[tuple[str, str]]]:
    """(records of the readable rows, in order; [(key, reason)] of the refused ones)."""
    records, refused = [], []
    for _, row in rows.iterrows():
        try:
            records.append(read_record(h5, row))
        except CrisisLandMarkError as err:
            log.debug("CrisisLandMark: refused %s: %s", row["key"], err)
            refused.append((row["key"], str(err)))
    return records, refused


def iter_records(
    root: Path, rows: pd.DataFrame | None = None, refused: list[tuple[str, str]] | None = None
) -> Iterator[ImageRecord]:
    """Records of `rows` (a `catalogue` slice; default: the whole catalogue), in row order.

    Samples that cannot be read are skipped; `refused`, when given, receives (key, reason) of
    every one, the catalogue's included."""
    if rows is None:
        rows = catalogue(root)
        if refused is not None:
            refused += rows.attrs["refused"]
    with open_h5(root) as h5:
        for i in range(len(rows)):
            records, bad = read_records(h5, rows.iloc[i : i + 1])
            if refused is not None:
                refused += bad
            yield from records
