"""Write small CrisisLandMark folders in the layout `sources.crisislandmark` reads (seeded).

    crisislandmark.h5     top-level external links -> shard files in the same folder
    shard_000.h5 ...      one group per key: datasets image (B,120,120), coords (2,120,120); attrs
    metadata.parquet      key, labels, split

`per_key_links=True` links every key on its own ("key" -> shard_k.h5:/key); False links each
shard as a whole ("shard_k" -> shard_k.h5:/), with the keys as its children.

A plan entry is (sensor, labels) or (sensor, labels, overrides); labels are written as given
(any spelling). Overrides of one sample:
- "key": its key (default "<sensor>_<index>"); "bands": its band count (default 2 / 12);
- "crs", "timestamp": the attribute values written (any type; `MISSING` leaves one out);
- "compression": "zstd" writes the image with hdf5plugin's Zstd filter;
- "damage": "pixels" (the image's compressed chunk overwritten with garbage after writing:
  shapes read, pixels do not), "no-image" (no image dataset), "dangling-link" (its top-level
  link points at a path its shard lacks; needs per_key_links).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

MISSING = "<missing>"  # an override value that leaves the attribute out

# (sensor, labels) of every fixture sample, in key order: uneven strata on purpose.
DEFAULT_PLAN: tuple[tuple, ...] = (
    *[("S2", ("Trees",))] * 8,
    *[("S2", ("Crops", "Trees"))] * 4,
    *[("S2", ("Water", "Flooded Area"))] * 2,
    ("S2", ("Burned Area",)),
    *[("S1", ("Water",))] * 5,
    *[("S1", ("Built", "Crops"))] * 3,
    ("S1", ("Earthquake Damage", "Built")),
)


@dataclass(frozen=True)
class ClmSample:
    key: str
    sensor: str
    labels: tuple[str, ...]  # as written in metadata.parquet
    split: str
    shard: str
    crs: object  # as written; int by default
    origin: tuple[float, float]  # top-left pixel CENTRE (x, y)
    pixel: float
    timestamp: object  # as written; ISO text by default
    bands: int
    overrides: dict = field(default_factory=dict)


def pixel_centres(origin: tuple[float, float], pixel: float, size: int = 120) -> np.ndarray:
    """(2, size, size) x/y of pixel centres of a north-up grid starting at `origin`."""
    cols = origin[0] + pixel * np.arange(size)
    rows = origin[1] - pixel * np.arange(size)
    xx, yy = np.meshgrid(cols, rows)
    return np.stack([xx, yy]).astype(np.float64)


def sample_image(sensor: str, rng: np.random.Generator, bands: int | None = None) -> np.ndarray:
    bands = bands or (2 if sensor == "S1" else 12)
    if sensor == "S1":
        return rng.uniform(-25.0, -5.0, (bands, 120, 120)).astype(np.float32)
    return rng.uniform(100.0, 3500.0, (bands, 120, 120)).astype(np.float32)


def _samples(plan: tuple[tuple, ...], shards: int) -> list[ClmSample]:
    samples = []
    for i, (sensor, labels, *rest) in enumerate(plan):
        over = dict(rest[0]) if rest else {}
        samples.append(
            ClmSample(
                key=over.get("key", f"{sensor.lower()}_{i:04d}"),
                sensor=sensor,
                labels=tuple(labels),
                split="test" if i % 4 else "train",
                shard=f"shard_{i % shards:03d}.h5",
                crs=over.get("crs", 32633 if i % 2 else 32632),
                origin=(400_000.0 + 1_200.0 * i, 5_000_000.0 - 1_200.0 * i),
                pixel=10.0,
                timestamp=over.get("timestamp", f"2021-0{1 + i % 9}-1{i % 10}T10:20:30"),
                bands=over.get("bands", 2 if sensor == "S1" else 12),
                overrides=over,
            )
        )
    return samples


def _write_sample(h5: h5py.File, s: ClmSample, rng: np.random.Generator) -> None:
    group = h5.create_group(s.key)
    image = sample_image(s.sensor, rng, s.bands)
    damage = s.overrides.get("damage")
    if s.overrides.get("compression") == "zstd":
        import hdf5plugin

        group.create_dataset("image", data=image, chunks=image.shape, **hdf5plugin.Zstd())
    elif damage == "pixels":
        group.create_dataset("image", data=image, chunks=image.shape, compression="gzip")
    elif damage != "no-image":
        group.create_dataset("image", data=image)
    group.create_dataset("coords", data=pixel_centres(s.origin, s.pixel))
    for name in ("crs", "timestamp"):
        value = getattr(s, name)
        if not (isinstance(value, str) and value == MISSING):
            group.attrs[name] = value


def _garble_chunk(path: Path, key: str) -> None:
    """Overwrite the stored (compressed) bytes of `key`'s image: its shape still reads."""
    with h5py.File(path, "r") as h5:
        info = h5[key]["image"].id.get_chunk_info(0)
        offset, size = info.byte_offset, info.size
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xff" * size)


def write_clm(
    root: Path,
    plan: tuple[tuple, ...] = DEFAULT_PLAN,
    shards: int = 3,
    seed: int = 0,
    per_key_links: bool = True,
    label_format: str = "list",  # "list", "pipe" or "comma"
) -> list[ClmSample]:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    samples = _samples(plan, shards)
    for shard in sorted({s.shard for s in samples}):
        with h5py.File(root / shard, "w") as h5:
            for s in (s for s in samples if s.shard == shard):
                _write_sample(h5, s, rng)
        for s in samples:
            if s.shard == shard and s.overrides.get("damage") == "pixels":
                _garble_chunk(root / shard, s.key)
    with h5py.File(root / "crisislandmark.h5", "w") as h5:
        if per_key_links:
            for s in samples:
                dangling = s.overrides.get("damage") == "dangling-link"
                h5[s.key] = h5py.ExternalLink(s.shard, f"/{s.key}" + ("_gone" if dangling else ""))
        else:
            for shard in sorted({s.shard for s in samples}):
                h5[shard.removesuffix(".h5")] = h5py.ExternalLink(shard, "/")
    formats = {"list": list, "pipe": "|".join, "comma": ", ".join}
    pd.DataFrame(
        {
            "key": [s.key for s in samples],
            "labels": [formats[label_format](s.labels) for s in samples],
            "split": [s.split for s in samples],
        }
    ).to_parquet(root / "metadata.parquet", index=False)
    return samples


class Interrupted(RuntimeError):
    pass


class CountingEncoder:
    """The real encoder, counting image batches and failing after `fail_after` of them."""

    def __init__(self, inner, fail_after: int | None = None) -> None:
        self.inner, self.info, self.fail_after, self.calls = inner, inner.info, fail_after, 0

    def encode_text(self, texts):
        return self.inner.encode_text(texts)

    def encode_images(self, images, sensor):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise Interrupted("simulated interruption")
        self.calls += 1
        return self.inner.encode_images(images, sensor)

    def explain(self, images, sensor):
        return self.inner.explain(images, sensor)
