"""Rebuild the embedded default corpus from the shared real Sentinel samples.

    python -m closp_demo.corpus.build --samples ../shared/data/sentinel-samples --out precomputed

Reads every source (`corpus.sources`), embeds each image with the chosen encoder, renders its
thumbnail, and writes the corpus folder described in `closp_demo.corpus.store` (built in a temporary
folder first, so a failed build never damages the previous corpus).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from closp_demo.corpus import sources, thumbnails
from closp_demo.corpus.index import INDEX_FILE, build_index, save_index
from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.store import (
    EMBEDDINGS,
    METADATA,
    REFERENCE_COLUMNS,
    THUMBNAILS,
    write_manifest,
)
from closp_demo.encoders import Encoder, create_encoder
from closp_demo.encoders.registry import add_encoder_argument
from closp_demo.sensors import SENSORS

BATCH = 64
COPERNICUS = (
    "Contains modified Copernicus Sentinel data (2017-2022), processed by the dataset authors "
    "named below. Copernicus Sentinel data terms apply: free, full and open access."
)


def record_row(record: ImageRecord, evidence_json: str) -> dict:
    ring = record.footprint_lonlat()
    lon, lat = record.centre_lonlat()
    minx, miny, maxx, maxy = record.bounds
    return {
        "image_id": record.image_id, "sensor": record.sensor, "source": record.source,
        "level": record.level, "place": record.place, "timestamp": record.timestamp or "",
        "labels": "|".join(record.labels), "split": record.split, "group": record.group,
        "crs": record.crs, "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy,
        "footprint": json.dumps([[round(x, 6), round(y, 6)] for x, y in ring]),
        "lon": lon, "lat": lat, "evidence": evidence_json,
        **{c: float(record.extra[c]) for c in REFERENCE_COLUMNS if c in record.extra},
    }  # fmt: skip


def _batches(records: Iterable[ImageRecord], size: int) -> Iterator[list[ImageRecord]]:
    batch: list[ImageRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def embed_records(
    records: Iterable[ImageRecord], encoder: Encoder, thumb_dir: Path, total: int | None = None,
    batch: int = BATCH, progress: bool = True,
) -> tuple[list[dict], np.ndarray]:  # fmt: skip
    """Embed + thumbnail records batch-wise per sensor; rows come back sorted by sensor."""
    rows: dict[str, list[dict]] = {s: [] for s in SENSORS}
    vectors: dict[str, list[np.ndarray]] = {s: [] for s in SENSORS}
    pending: dict[str, list[ImageRecord]] = {s: [] for s in SENSORS}

    def flush(sensor: str) -> None:
        batch = pending[sensor]
        if not batch:
            return
        stack = np.stack([r.image for r in batch])
        vectors[sensor].append(encoder.encode_images(stack, sensor))
        evidence = encoder.explain(stack, sensor) or [None] * len(batch)
        for record, ev in zip(batch, evidence, strict=True):
            ev_json = json.dumps(
                {"measurements": ev.measurements, "class_weights": ev.class_weights} if ev else {}
            )
            rows[sensor].append(record_row(record, ev_json))
            rgb = thumbnails.render(record.image, record.sensor)
            (thumb_dir / f"{record.image_id}.webp").write_bytes(thumbnails.to_webp_bytes(rgb))
        pending[sensor] = []

    bar = tqdm(records, total=total, desc="embedding", unit="img", disable=not progress)
    for record in bar:
        pending[record.sensor].append(record)
        if len(pending[record.sensor]) >= batch:
            flush(record.sensor)
    for sensor in SENSORS:
        flush(sensor)
    ordered = [row for s in SENSORS for row in rows[s]]
    dim = encoder.info.dim
    matrix = np.concatenate([v for s in SENSORS for v in vectors[s]] or [np.zeros((0, dim))])
    return ordered, matrix.astype(np.float32)


def attribution_text(used_sources: Iterable[str], attributions: dict[str, str]) -> str:
    lines = ["# Attribution of the embedded corpus", "", COPERNICUS, ""]
    for name in sorted(set(used_sources)):
        if name not in attributions:
            raise ValueError(f"no attribution (origin and licence) for source {name!r}")
        lines.append(f"- **{name}**: {attributions[name]}")
    lines += ["", "Thumbnails and embeddings are derived from these images by this project's code."]
    return "\n".join(lines) + "\n"


def write_corpus(
    out: Path, rows: list[dict], vectors: np.ndarray, encoder: Encoder, command: str,
    staged_thumbs: Path, attributions: dict[str, str] | None = None,
) -> dict:  # fmt: skip
    """Write every artefact into a fresh folder next to `out`, then swap it in.

    `attributions` maps each row's source to its origin + licence line (default: the bundled
    sample sources)."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".build-", dir=out.parent))
    try:
        shutil.move(str(staged_thumbs), stage / THUMBNAILS)
        metadata = pd.DataFrame(rows)
        metadata.to_parquet(stage / METADATA, index=False)
        np.save(stage / EMBEDDINGS, vectors)
        save_index(build_index(vectors), stage / INDEX_FILE)
        credits = attribution_text(metadata["source"], attributions or sources.attributions())
        (stage / "ATTRIBUTION.md").write_text(credits)
        manifest = write_manifest(stage, metadata, encoder.info, command)
        if out.exists():
            shutil.rmtree(out)
        stage.rename(out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return manifest


def build(
    samples: Path, out: Path, encoder_name: str, only: list[str] | None, command: str
) -> dict:
    encoder = create_encoder(encoder_name)
    with tempfile.TemporaryDirectory() as tmp:
        thumb_dir = Path(tmp) / THUMBNAILS
        thumb_dir.mkdir()
        rows, vectors = embed_records(sources.iter_all(samples, only), encoder, thumb_dir)
        if not rows:
            raise SystemExit(f"no images found under {samples}")
        return write_corpus(out, rows, vectors, encoder, command, thumb_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=Path, default=Path("../shared/data/sentinel-samples"))
    parser.add_argument("--out", type=Path, default=Path("precomputed"))
    add_encoder_argument(parser, "physics-minilm", "encoder to embed with")
    parser.add_argument("--only", help="comma-separated source ids (default: all)")
    args = parser.parse_args(argv)
    only = args.only.split(",") if args.only else None
    args_text = " ".join(argv if argv is not None else sys.argv[1:])
    command = "python -m closp_demo.corpus.build " + args_text
    manifest = build(args.samples, args.out, args.encoder, only, command.strip())
    print(json.dumps({k: manifest[k] for k in ("count", "counts_by_sensor", "counts_by_source")},
                     indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
