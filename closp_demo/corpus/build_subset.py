"""Build a corpus from a stratified subset of CrisisLandMark (same format as `corpus.build`).

    python -m closp_demo.corpus.build_subset --clm DIR --out DIR --size N [--per-sensor] [--seed 0]
        [--encoder physics-minilm] [--batch 64] [--device auto] [--split test] [--work DIR]
    python -m closp_demo.corpus.build_subset --hub-repo REPO --revision REV --shards a.h5,b.h5 ...

Sampling: images are stratified by sensor x primary label, where the primary label of a
multi-label image is its RAREST label within the candidate pool of its sensor (ties: the
`labels.ALL_CLASSES` order), so rare classes (crisis classes above all) are not swamped by the
common ones they co-occur with; unlabelled images form their own stratum. Every non-empty stratum
gets one image when the size allows, the rest is shared in proportion to what each stratum holds
beyond that one (largest remainders); below one per stratum, the largest strata win. Within a
stratum the images are drawn with `--seed`. `--per-sensor` makes `--size` a per-sensor count.

Resuming: progress goes to a work folder (default `.<out>.work` beside `--out`) in chunks of
`--batch` images, each chunk's vectors and rows in one file written atomically after its
thumbnails. A rerun with the same plan skips finished chunks; the folder is removed on success.

Report: samples that cannot be read are refused one by one (the rest is built), and listed with
their reasons in `build_report.json` beside the corpus, with the labels no class matched
("unmapped: NAME", counted, never relevant to a class), the images of unknown date and the band
choices made (`build_report`); the CLI prints a summary. Each image's h5 key is kept in the
corpus's `source_key` column (qrels name images by it), its unmapped labels in
`unmapped_labels` (JSON list).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from closp_demo.corpus.build import embed_records, write_corpus
from closp_demo.corpus.labels import ALL_CLASSES
from closp_demo.corpus.sources import crisislandmark
from closp_demo.corpus.sources.crisislandmark import H5_FILE, METADATA_FILE
from closp_demo.corpus.store import THUMBNAILS
from closp_demo.encoders import Encoder, create_encoder
from closp_demo.encoders.registry import add_encoder_argument
from closp_demo.sensors import SENSORS
from closp_demo.settings import Settings

UNLABELLED = "(unlabelled)"
PLAN_FILE = "plan.json"
REPORT_FILE = "build_report.json"


class SubsetError(ValueError):
    """A subset that cannot be built as asked; the message says what to change."""


def primary_labels(cat: pd.DataFrame) -> list[str]:
    """Rarest label of every row within its sensor's rows (ties: `ALL_CLASSES` order)."""
    freq = {
        sensor: pd.Series([lab for labs in group["labels"] for lab in labs]).value_counts()
        for sensor, group in cat.groupby("sensor")
    }
    out = []
    for sensor, labels in zip(cat["sensor"], cat["labels"], strict=True):
        if not labels:
            out.append(UNLABELLED)
            continue
        counts = freq[sensor]
        out.append(min(labels, key=lambda lab: (counts[lab], ALL_CLASSES.index(lab))))
    return out


def allocate(counts: dict[str, int], size: int) -> dict[str, int]:
    """Images per stratum: one each, the rest proportional to what is left (largest remainder)."""
    total = sum(counts.values())
    if size >= total:
        return dict(counts)
    names = sorted(counts)
    if size < len(names):
        biggest = sorted(names, key=lambda s: (-counts[s], s))[:size]
        return {s: int(s in biggest) for s in names}
    spare = {s: counts[s] - 1 for s in names}
    rest = size - len(names)
    quotas = {s: rest * spare[s] / max(sum(spare.values()), 1) for s in names}
    alloc = {s: 1 + int(quotas[s]) for s in names}
    left = size - sum(alloc.values())
    by_remainder = sorted(names, key=lambda s: (-(quotas[s] - int(quotas[s])), -counts[s], s))
    for s in by_remainder[:left]:
        alloc[s] += 1
    return alloc


def plan_subset(
    cat: pd.DataFrame, size: int, per_sensor: bool = False, seed: int = 0
) -> pd.DataFrame:
    """Stratified, seeded choice of catalogue rows; sorted by sensor then key (embedding order)."""
    if size < 1:
        raise SubsetError(f"--size must be at least 1, got {size}")
    cat = cat.sort_values("key").reset_index(drop=True)
    cat["stratum"] = [f"{s}/{p}" for s, p in zip(cat["sensor"], primary_labels(cat), strict=True)]
    pools = [cat[cat["sensor"] == s] for s in SENSORS] if per_sensor else [cat]
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for pool in pools:
        groups = {name: g.index.to_numpy() for name, g in pool.groupby("stratum")}
        alloc = allocate({name: len(idx) for name, idx in groups.items()}, size)
        for name in sorted(groups):
            chosen.extend(rng.choice(groups[name], alloc[name], replace=False).tolist())
    plan = cat.loc[sorted(chosen)]
    return plan.sort_values(["sensor", "key"]).reset_index(drop=True)


def _chunks(plan: pd.DataFrame, batch: int) -> list[pd.DataFrame]:
    """Consecutive single-sensor slices of at most `batch` rows (the unit of progress)."""
    out = []
    for _, rows in plan.groupby("sensor", sort=True):
        out += [rows.iloc[i : i + batch] for i in range(0, len(rows), batch)]
    return out


def _check_work(work: Path, identity: dict) -> None:
    path = work / PLAN_FILE
    if path.is_file():
        if json.loads(path.read_text()) != identity:
            raise SubsetError(
                f"{work} holds the progress of a different subset (other data, plan, encoder or "
                "--batch); delete it or pass another --work folder"
            )
        return
    work.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(identity))


def embed_resumable(
    clm: Path, plan: pd.DataFrame, encoder: Encoder, work: Path, batch: int
) -> tuple[list[dict], np.ndarray, list[tuple[str, str]]]:
    """Embed the plan chunk by chunk, keeping every finished chunk in `work`; skip finished ones.

    Returns the rows, the vectors and [(key, reason)] of planned samples that could not be read
    (each chunk keeps its own, so a resumed build refuses the same keys)."""
    info = encoder.info
    identity = {
        "clm": str(Path(clm).resolve()),
        "keys": plan["key"].tolist(),
        "encoder": [info.id, info.version, info.dim],
        "batch": batch,
    }
    _check_work(work, identity)
    thumbs = work / THUMBNAILS
    thumbs.mkdir(exist_ok=True)
    chunks = _chunks(plan, batch)
    paths = [work / f"chunk-{i:05d}.npz" for i in range(len(chunks))]
    done = sum(len(c) for c, p in zip(chunks, paths, strict=True) if p.is_file())
    with (
        crisislandmark.open_h5(clm) as h5,
        tqdm(total=len(plan), initial=done, desc="subset", unit="img") as bar,
    ):
        for rows, path in zip(chunks, paths, strict=True):
            if path.is_file():
                continue
            records, refused = crisislandmark.read_records(h5, rows)
            meta, vectors = embed_records(
                records, encoder, thumbs, total=len(records), batch=batch, progress=False
            )
            tmp = path.with_name(path.stem + ".partial.npz")
            np.savez(tmp, vectors=vectors, rows=json.dumps(meta), refused=json.dumps(refused))
            os.replace(tmp, path)  # a chunk exists only once complete
            bar.update(len(rows))
    all_rows: list[dict] = []
    all_vectors = []
    all_refused: list[tuple[str, str]] = []
    for rows, path in zip(chunks, paths, strict=True):
        with np.load(path) as saved:
            meta = json.loads(str(saved["rows"]))
            refused = [tuple(r) for r in json.loads(str(saved["refused"]))]
            all_vectors.append(saved["vectors"])
        skipped = {key for key, _ in refused}
        kept = rows[~rows["key"].isin(skipped)]
        ids = zip(kept["key"], kept["sensor"], strict=True)
        want = [crisislandmark.image_id(k, s) for k, s in ids]
        if [m["image_id"] for m in meta] != want:
            raise SubsetError(f"{path}: does not hold the planned images; delete {work}")
        for m, key, unmapped in zip(meta, kept["key"], kept["unmapped"], strict=True):
            m["source_key"] = key  # qrels name images by their h5 key
            m["unmapped_labels"] = json.dumps(list(unmapped))
        all_rows += meta
        all_refused += refused
    dim = encoder.info.dim
    matrix = np.concatenate(all_vectors) if all_vectors else np.zeros((0, dim))
    return all_rows, matrix.astype(np.float32), all_refused


def make_encoder(name: str, device: str | None = None) -> Encoder:
    """Encoder by registry name, configured by the environment's settings; `device` overrides
    CLOSP_DEVICE."""
    return create_encoder(name, Settings.from_env().override(device=device))


def fetch_from_hub(
    repo: str, revision: str, shards: Sequence[str], cache_dir: Path | None = None
) -> Path:
    """Download crisislandmark.h5, metadata.parquet and the chosen shards (a dataset repo, files
    at its root) into the huggingface_hub cache; returns the snapshot folder holding them."""
    from huggingface_hub import hf_hub_download

    if not shards:
        raise SubsetError("--shards: name at least one shard file, e.g. shard_000.h5")
    folders = set()
    for name in (H5_FILE, METADATA_FILE, *shards):
        try:
            path = hf_hub_download(
                repo, name, repo_type="dataset", revision=revision, cache_dir=cache_dir
            )
        except Exception as err:  # hub errors come in many types; the message is what matters
            raise SubsetError(f"cannot fetch {name} from {repo}@{revision}: {err}") from err
        folders.add(Path(path).parent)
    if len(folders) != 1:
        raise SubsetError(f"{repo}: shards must sit beside {H5_FILE} at the repository root")
    return folders.pop()


def build_subset(
    clm: Path,
    out: Path,
    size: int,
    *,
    per_sensor: bool = False,
    seed: int = 0,
    encoder: str | Encoder = "physics-minilm",
    batch: int = 64,
    device: str | None = None,
    split: str | None = "test",
    work: Path | None = None,
    command: str = "",
) -> dict:
    """Plan, embed (resumably) and write the corpus folder `out`; returns its manifest."""
    if batch < 1:
        raise SubsetError(f"--batch must be at least 1, got {batch}")
    clm, out = Path(clm), Path(out)
    cat = crisislandmark.catalogue(clm, split or None)
    where = f" in split {split!r}" if split else ""
    if cat.empty:
        raise SubsetError(f"{clm}: no readable samples{where}{_refusal_hint(cat.attrs)}")
    plan = plan_subset(cat, size, per_sensor, seed)
    enc = make_encoder(encoder, device) if isinstance(encoder, str) else encoder
    work = Path(work) if work else out.parent / f".{out.name}.work"
    rows, vectors, refused = embed_resumable(clm, plan, enc, work, batch)
    if not rows:
        key, reason = refused[0]
        raise SubsetError(
            f"{clm}: none of the {len(plan)} planned samples{where} could be read (first: "
            f"{key}: {reason}); nothing written"
        )
    report = build_report(cat, rows, refused)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        staged = shutil.copytree(work / THUMBNAILS, Path(tmp) / THUMBNAILS)
        credits = {crisislandmark.SOURCE: crisislandmark.ATTRIBUTION}
        manifest = write_corpus(out, rows, vectors, enc, command, staged, credits)
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    shutil.rmtree(work)
    return {**manifest, "report": report}


def _refusal_hint(attrs: dict) -> str:
    refused = attrs.get("refused", [])
    return f"; {len(refused)} refused, first {refused[0][0]}: {refused[0][1]}" if refused else ""


def build_report(cat: pd.DataFrame, rows: list[dict], read_refused: list) -> dict:
    """What the build left out or could not map: written beside the corpus as build_report.json.

    `catalogue_unmapped_labels` counts catalogue rows (after the split filter) per unknown label;
    `images_unmapped_labels` / `images_unknown_date` count images of the built corpus."""
    refused = [*cat.attrs.get("refused", []), *read_refused]
    return {
        "catalogue_samples": len(cat),
        "absent_shards": list(cat.attrs.get("absent_shards", [])),
        "metadata_keys_without_sample": int(cat.attrs.get("missing", 0)),
        "refused": [{"key": key, "reason": reason} for key, reason in refused],
        "catalogue_unmapped_labels": crisislandmark.unmapped_counts(cat["unmapped"]),
        "images": len(rows),
        "images_unmapped_labels": sum(r["unmapped_labels"] != "[]" for r in rows),
        "images_unknown_date": sum(not r["timestamp"] for r in rows),
        "notes": list(cat.attrs.get("notes", [])),
    }


def report_lines(report: dict) -> list[str]:
    """The build report in a few lines for the terminal."""
    lines = [f"{report['images']} images written, {len(report['refused'])} samples refused"]
    lines += [f"  refused {r['key']}: {r['reason']}" for r in report["refused"][:20]]
    if len(report["refused"]) > 20:
        lines.append(f"  ... and {len(report['refused']) - 20} more (see {REPORT_FILE})")
    unmapped = report["catalogue_unmapped_labels"]
    if unmapped:
        shown = ", ".join(f"{name!r} x{n}" for name, n in list(unmapped.items())[:10])
        lines.append(f"labels kept out of every class (catalogue rows): {shown}")
        lines.append(f"  {report['images_unmapped_labels']} written images carry one")
    if report["images_unknown_date"]:
        lines.append(f"{report['images_unknown_date']} images have an unknown date")
    if report["absent_shards"]:
        lines.append(f"shards not present: {len(report['absent_shards'])}")
    return lines  # the notes (band choices) are logged when the catalogue is read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--clm", type=Path, help="local folder with crisislandmark.h5 + shards")
    where.add_argument("--hub-repo", help="Hugging Face dataset repo to fetch shards from")
    parser.add_argument("--revision", help="pinned revision (commit hash) of --hub-repo")
    parser.add_argument("--shards", help="comma-separated shard files to fetch from --hub-repo")
    parser.add_argument("--cache-dir", type=Path, help="huggingface_hub cache (default: its own)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--per-sensor", action="store_true", help="--size images per sensor")
    parser.add_argument("--seed", type=int, default=0)
    add_encoder_argument(parser, "physics-minilm", "encoder to embed with")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: CLOSP_DEVICE)")
    parser.add_argument("--split", default="test", help="metadata split ('' = every split)")
    parser.add_argument("--work", type=Path, help="progress folder (default .<out>.work)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = "python -m closp_demo.corpus.build_subset " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    try:
        if args.hub_repo:
            if not args.revision or not args.shards:
                parser.error("--hub-repo needs --revision and --shards")
            shards = [s.strip() for s in args.shards.split(",") if s.strip()]
            clm = fetch_from_hub(args.hub_repo, args.revision, shards, args.cache_dir)
        else:
            clm = args.clm
        manifest = build_subset(
            clm, args.out, args.size, per_sensor=args.per_sensor, seed=args.seed,
            encoder=args.encoder, batch=args.batch, device=args.device, split=args.split,
            work=args.work, command=command.strip(),
        )  # fmt: skip
    # SubsetError, CrisisLandMarkError and SettingsError are ValueErrors with a message for users
    except (ValueError, FileNotFoundError, KeyError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: manifest[k] for k in ("count", "counts_by_sensor")}, indent=2))
    print("\n".join(report_lines(manifest["report"])), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
