"""BigEarthNet sample patches (`bigearthnet/ben_patches.npz` + `ben_patches.csv`).

Every CSV row (same order as the npz arrays) is one patch; its S2 and S1 images become SEPARATE
records that share `group` = the BigEarthNet v2 patch id.

- S2: L2A digital numbers, already in the internal band order (20/60 m bands were upsampled by
  pixel repetition when the patches were made). A patch without S2 (all-zero array,
  `has_s2` False) gives no S2 record.
- S1: VV, VH in dB. A patch without S1 (all-NaN, `has_s1` False) gives no S1 record. NaN pixels
  inside an otherwise valid S1 patch are kept as NaN (the encoders ignore them); none of the
  shipped patches has any.
- Labels: CORINE BigEarthNet-19 -> Dynamic World via `labels.clc19_to_dw`, on both records.
- Georeferencing: CRS and UTM bounds from the CSV (S1 patches share the S2 grid). Rows without
  usable georeferencing (no CRS or bounds; in the shipped CSV one BigEarthNet-v1 patch,
  `v1:S2A_MSIL2A_20170613T101031_39_24`) are SKIPPED: a location is never invented.
- Timestamps from the product names: the S2 patch id (S2A_MSIL2A_20170613T101031_...) and the S1
  name (S1B_IW_GRDH_1SDV_20170612T165809_...), ISO 8601 UTC.
- place = country, split from the CSV, level "L2A" (S2) / "GRD" (S1).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from closp_demo.corpus.labels import clc19_to_dw
from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources.tiling import make_id, product_time
from closp_demo.sensors import S1_BANDS, S2_BANDS

SOURCE = "bigearthnet"
ATTRIBUTION = (
    "BigEarthNet v1/v2 sample patches (from the PyPI packages configilm 0.7.1 and "
    "bigearthnet-common 2.8.0, and the test data of kai-tub/bigearthnet_encoder and "
    "kai-tub/rico-hdl); BigEarthNet: CDLA-Permissive-1.0, packages MIT / Apache-2.0. "
    "Contains modified Copernicus Sentinel data 2017-2018."
)

FOLDER = "bigearthnet"
NPZ = "ben_patches.npz"
CSV = "ben_patches.csv"
_BOUNDS = ("minx", "miny", "maxx", "maxy")


def _text(value: object) -> str:
    """CSV cell -> stripped string ('' for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _split_labels(value: object) -> list[str]:
    return [s.strip() for s in _text(value).split("|") if s.strip()]


def georeference(row: pd.Series) -> tuple[str, tuple[float, float, float, float]] | None:
    """(crs, bounds) of a CSV row, or None when the row cannot be placed on the map."""
    crs = _text(row.get("crs"))
    try:
        bounds = tuple(float(row[k]) for k in _BOUNDS)
    except (KeyError, TypeError, ValueError):
        return None
    if not crs or not all(math.isfinite(v) for v in bounds):
        return None
    minx, miny, maxx, maxy = bounds
    if maxx <= minx or maxy <= miny:
        return None
    return crs, (minx, miny, maxx, maxy)


def _load(root: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """CSV table and the (N,12,120,120) S2 / (N,2,120,120) S1 arrays, checked against each other."""
    folder = root / FOLDER
    npz_path, csv_path = folder / NPZ, folder / CSV
    for path in (npz_path, csv_path):
        if not path.is_file():
            raise FileNotFoundError(f"BigEarthNet samples: {path} not found")
    table = pd.read_csv(csv_path)
    with np.load(npz_path) as arrays:
        missing = {"patch_id", "s2", "s1", "s2_bands", "s1_bands"} - set(arrays.files)
        if missing:
            raise ValueError(f"{npz_path}: missing array(s) {', '.join(sorted(missing))}")
        ids = [str(p) for p in arrays["patch_id"]]
        s2_bands = tuple(str(b) for b in arrays["s2_bands"])
        s1_bands = tuple(str(b) for b in arrays["s1_bands"])
        s2, s1 = arrays["s2"], arrays["s1"]
    if len(ids) != len(table) or list(table["patch_id"].astype(str)) != ids:
        raise ValueError(
            f"{csv_path.name} and {npz_path.name} disagree: the CSV must list the npz patches "
            "in the same order"
        )
    if s2_bands != S2_BANDS or s1_bands != S1_BANDS:
        raise ValueError(
            f"{npz_path.name}: band order {s2_bands} / {s1_bands} is not the internal "
            f"{S2_BANDS} / {S1_BANDS}"
        )
    return table, s2, s1


def iter_records(root: Path) -> Iterator[ImageRecord]:
    """S2 then S1 record of every georeferenced patch, in CSV order."""
    table, s2_all, s1_all = _load(Path(root))
    for i, (_, row) in enumerate(table.iterrows()):
        geo = georeference(row)
        if geo is None:
            continue  # no usable georeferencing: skipped, see module docstring
        crs, bounds = geo
        patch_id = _text(row["patch_id"])
        s1_name = _text(row.get("s1_name"))
        clc19 = _split_labels(row.get("labels_clc19"))
        common = dict(
            crs=crs,
            bounds=bounds,
            labels=clc19_to_dw(clc19),
            source=SOURCE,
            place=_text(row.get("country")),
            group=patch_id,
            split=_text(row.get("split")),
        )
        extra = {
            "patch_id": patch_id,
            "labels_clc19": clc19,
            "labels_clc43": _split_labels(row.get("labels_clc43_v1")),
            "georef_source": _text(row.get("georef_source")),
        }
        s2 = s2_all[i]
        if s2.any():
            yield ImageRecord(
                image_id=make_id("ben-s2", patch_id),
                sensor="S2",
                image=s2.astype(np.float32),
                timestamp=product_time(patch_id),
                level="L2A",
                extra=dict(extra),
                **common,
            )
        s1 = s1_all[i]
        if not np.isnan(s1).all():
            if not s1_name:
                raise ValueError(f"{CSV}: patch {patch_id} has S1 data but no s1_name")
            yield ImageRecord(
                image_id=make_id("ben-s1", s1_name),
                sensor="S1",
                image=s1.astype(np.float32),
                timestamp=product_time(s1_name),
                level="GRD",
                extra={**extra, "s1_name": s1_name, "nan_fraction": float(np.isnan(s1).mean())},
                **common,
            )
