"""The precomputed corpus on disk: embeddings + FAISS index + metadata + thumbnails + manifest.

Layout of a corpus folder (e.g. `precomputed/`):
    manifest.json       encoder id/version/dim, counts by sensor and source, sha256 of every file,
                        the build command
    metadata.parquet    one row per image, rows sorted by sensor (S1 first), see `COLUMNS`
    embeddings.npy      (N, dim) float32, L2-normalised, same row order
    index.faiss         FAISS index over the same rows
    thumbnails/<image_id>.webp
    ATTRIBUTION.md      origin and licence of every source

`load_corpus` refuses, with a message naming the file, anything that does not match its manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from closp_demo.encoders.base import EncoderInfo
from closp_demo.index import INDEX_FILE, load_index
from closp_demo.sensors import SENSORS

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
METADATA = "metadata.parquet"
EMBEDDINGS = "embeddings.npy"
THUMBNAILS = "thumbnails"
COLUMNS = (
    "image_id", "sensor", "source", "level", "place", "timestamp", "labels", "split", "group",
    "crs", "minx", "miny", "maxx", "maxy", "footprint", "lon", "lat", "evidence",
)  # fmt: skip


class CorpusError(RuntimeError):
    """A corpus folder that cannot be served; the message names the file and the problem."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked_files(root: Path, metadata: pd.DataFrame) -> list[str]:
    thumbs = [f"{THUMBNAILS}/{image_id}.webp" for image_id in metadata["image_id"]]
    return [METADATA, EMBEDDINGS, INDEX_FILE, *thumbs]


def write_manifest(
    root: Path, metadata: pd.DataFrame, encoder: EncoderInfo, build_command: str
) -> dict:
    files = {
        rel: {"sha256": sha256_file(root / rel), "bytes": (root / rel).stat().st_size}
        for rel in _checked_files(root, metadata)
    }
    manifest = {
        "format_version": FORMAT_VERSION,
        "encoder": {"id": encoder.id, "version": encoder.version, "dim": encoder.dim,
                    "name": encoder.name},
        "count": len(metadata),
        "counts_by_sensor": metadata["sensor"].value_counts().sort_index().to_dict(),
        "counts_by_source": {
            f"{src}/{sen}": int(n)
            for (src, sen), n in metadata.groupby(["source", "sensor"]).size().items()
        },
        "labelled": int((metadata["labels"] != "").sum()),
        "build_command": build_command,
        "files": files,
    }  # fmt: skip
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


@dataclass
class Corpus:
    root: Path
    manifest: dict
    metadata: pd.DataFrame
    embeddings: np.ndarray
    index: faiss.Index
    sensor_ranges: dict[str, tuple[int, int]]

    @property
    def encoder_id(self) -> str:
        return self.manifest["encoder"]["id"]

    def __len__(self) -> int:
        return len(self.metadata)

    def thumbnail_path(self, row: int) -> Path:
        return self.root / THUMBNAILS / f"{self.metadata.at[row, 'image_id']}.webp"

    def id_range(self, sensor: str) -> tuple[int, int] | None:
        """Rows of one sensor ("S1"/"S2"), or None for all ("both")."""
        if sensor == "both":
            return None
        return self.sensor_ranges.get(sensor, (0, 0))


def _sensor_ranges(sensors: pd.Series) -> dict[str, tuple[int, int]]:
    values = sensors.to_numpy()
    if len(values) and not all(a <= b for a, b in pairwise(values)):
        raise CorpusError(f"{METADATA}: rows are not sorted by sensor")
    ranges = {}
    for sensor in SENSORS:
        hits = np.flatnonzero(values == sensor)
        ranges[sensor] = (int(hits[0]), int(hits[-1]) + 1) if len(hits) else (0, 0)
    return ranges


def load_corpus(
    root: str | Path, expected_encoder: EncoderInfo | None = None, verify_checksums: bool = True
) -> Corpus:
    """Load and validate a corpus folder; raise `CorpusError` naming what is wrong."""
    root = Path(root)
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise CorpusError(
            f"{manifest_path}: missing; is {root} a built corpus? "
            "(rebuild with python -m closp_demo.build)"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
        enc = manifest["encoder"]
        files = manifest["files"]
        count = int(manifest["count"])
    except (ValueError, KeyError, TypeError) as err:
        raise CorpusError(f"{manifest_path}: unreadable manifest ({err})") from err
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CorpusError(
            f"{manifest_path}: format version {manifest.get('format_version')}, "
            f"this app reads version {FORMAT_VERSION}"
        )
    if expected_encoder is not None and (enc["id"], enc["version"], enc["dim"]) != (
        expected_encoder.id,
        expected_encoder.version,
        expected_encoder.dim,
    ):
        raise CorpusError(
            f"{root}: corpus built with encoder {enc['id']} v{enc['version']} ({enc['dim']}-d), "
            f"but the app loaded {expected_encoder.id} v{expected_encoder.version} "
            f"({expected_encoder.dim}-d); rebuild the corpus or choose the matching model"
        )
    for rel, info in files.items():
        path = root / rel
        if not path.is_file():
            raise CorpusError(f"{path}: listed in the manifest but missing")
        if path.stat().st_size != info["bytes"]:
            raise CorpusError(
                f"{path}: {path.stat().st_size} bytes, manifest says {info['bytes']} "
                "(truncated or replaced)"
            )
        if verify_checksums and sha256_file(path) != info["sha256"]:
            raise CorpusError(f"{path}: checksum mismatch (corrupted or modified)")
    try:
        metadata = pd.read_parquet(root / METADATA)
    except Exception as err:  # pyarrow raises several types for damaged files
        raise CorpusError(f"{root / METADATA}: unreadable ({err})") from err
    missing = [c for c in COLUMNS if c not in metadata.columns]
    if missing:
        raise CorpusError(f"{root / METADATA}: missing columns {missing}")
    try:
        embeddings = np.load(root / EMBEDDINGS, mmap_mode="r")
    except Exception as err:
        raise CorpusError(f"{root / EMBEDDINGS}: unreadable ({err})") from err
    try:
        index = load_index(root / INDEX_FILE)
    except Exception as err:
        raise CorpusError(f"{root / INDEX_FILE}: unreadable FAISS index ({err})") from err
    for name, n in ((METADATA, len(metadata)), (EMBEDDINGS, len(embeddings)),
                    (INDEX_FILE, index.ntotal)):  # fmt: skip
        if n != count:
            raise CorpusError(f"{root / name}: {n} rows, manifest says {count}")
    if embeddings.ndim != 2 or embeddings.shape[1] != enc["dim"] or index.d != enc["dim"]:
        raise CorpusError(
            f"{root / EMBEDDINGS}: dimension {embeddings.shape[1:]} / index {index.d}"
            f", manifest says {enc['dim']}"
        )
    return Corpus(root, manifest, metadata, embeddings, index, _sensor_ranges(metadata["sensor"]))
