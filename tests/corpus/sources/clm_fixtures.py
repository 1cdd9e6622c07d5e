"""Write small CrisisLandMark folders in the layout `sources.crisislandmark` reads (seeded).

    crisislandmark.h5     top-level external links -> shard files in the same folder
    shard_000.h5 ...      one group per key: datasets image (B,120,120), coords (2,120,120); attrs
    metadata.parquet      key, labels, split

`per_key_links=True` links every key on its own ("key" -> shard_k.h5:/key); False links each
shard as a whole ("shard_k" -> shard_k.h5:/), with the keys as its children.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

# (sensor, labels) of every fixture sample, in key order: uneven strata on purpose.
DEFAULT_PLAN: tuple[tuple[str, tuple[str, ...]], ...] = (
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
    labels: tuple[str, ...]
    split: str
    shard: str
    crs: int
    origin: tuple[float, float]  # top-left pixel CENTRE (x, y)
    pixel: float
    timestamp: str


def pixel_centres(origin: tuple[float, float], pixel: float, size: int = 120) -> np.ndarray:
    """(2, size, size) x/y of pixel centres of a north-up grid starting at `origin`."""
    cols = origin[0] + pixel * np.arange(size)
    rows = origin[1] - pixel * np.arange(size)
    xx, yy = np.meshgrid(cols, rows)
    return np.stack([xx, yy]).astype(np.float64)


def sample_image(sensor: str, rng: np.random.Generator) -> np.ndarray:
    if sensor == "S1":
        return rng.uniform(-25.0, -5.0, (2, 120, 120)).astype(np.float32)
    return rng.uniform(100.0, 3500.0, (12, 120, 120)).astype(np.float32)


def write_clm(
    root: Path,
    plan: tuple[tuple[str, tuple[str, ...]], ...] = DEFAULT_PLAN,
    shards: int = 3,
    seed: int = 0,
    per_key_links: bool = True,
    label_format: str = "list",  # "list", "pipe" or "comma"
) -> list[ClmSample]:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    samples = []
    for i, (sensor, labels) in enumerate(plan):
        samples.append(
            ClmSample(
                key=f"{sensor.lower()}_{i:04d}",
                sensor=sensor,
                labels=labels,
                split="test" if i % 4 else "train",
                shard=f"shard_{i % shards:03d}.h5",
                crs=32633 if i % 2 else 32632,
                origin=(400_000.0 + 1_200.0 * i, 5_000_000.0 - 1_200.0 * i),
                pixel=10.0,
                timestamp=f"2021-0{1 + i % 9}-1{i % 10}T10:20:30",
            )
        )
    for shard in sorted({s.shard for s in samples}):
        with h5py.File(root / shard, "w") as h5:
            for s in (s for s in samples if s.shard == shard):
                group = h5.create_group(s.key)
                group.create_dataset("image", data=sample_image(s.sensor, rng))
                group.create_dataset("coords", data=pixel_centres(s.origin, s.pixel))
                group.attrs["crs"] = s.crs
                group.attrs["timestamp"] = s.timestamp
    with h5py.File(root / "crisislandmark.h5", "w") as h5:
        if per_key_links:
            for s in samples:
                h5[s.key] = h5py.ExternalLink(s.shard, f"/{s.key}")
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
