"""The precomputed corpus on disk: embeddings + FAISS index + metadata + thumbnails + manifest.

Layout of a corpus folder (e.g. `precomputed/`):
    manifest.json       encoder id/version/dim, counts by sensor and source, sha256 + size of
                        every file below and of the thumbnail digest, the build command
    metadata.parquet    one row per image, rows sorted by sensor (S1 first), see `COLUMNS`
                        (and the optional `REFERENCE_COLUMNS`)
    embeddings.npy      (N, dim) float32, L2-normalised, same row order
    index.faiss         FAISS index over the same rows
    thumbnails.sha256   sha256 of every thumbnail, `sha256sum -c` format (one line per image)
    thumbnails/<image_id>.webp
    ATTRIBUTION.md      origin and licence of every source
    bands.zip           optional: compact band arrays, one member per row (corpus.bands)

Manifests written before the digest file list each thumbnail in "files" instead; both load.

Integrity at start-up, cheap at any size. `load_corpus` refuses with `CorpusError`, naming the
file, anything it finds wrong before it returns: a missing or unreadable manifest, a listed file
missing or of the wrong size, row counts or dimensions that disagree, and a checksum mismatch of
any file it hashes at start: the manifest's files up to `HASH_AT_START_BYTES` each (metadata,
the digest; embeddings and index of small corpora) and, for corpora of up to
`THUMBNAILS_AT_START` images, every thumbnail. What is left (larger files, and the thumbnails
of a large corpus: at 650k images 2 GB of embeddings + index and 650k files, ~40 s of one core)
is verified by a background thread after `load_corpus` returns, paced to half a core so queries
keep the rest; a damaged file there cannot stop the server any more, so it is reported: logged
as an error and recorded in `Corpus.integrity` (`state` "failed", `problems` naming each file),
which the UI can show. `sha256sum -c
thumbnails.sha256` in the corpus folder checks the thumbnails the same way (CI, after a copy).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from closp_demo.corpus.bands import BANDS_FILE, BandStore
from closp_demo.corpus.index import INDEX_FILE, load_index
from closp_demo.corpus.rows import CorpusRows
from closp_demo.encoders.base import EncoderInfo
from closp_demo.sensors import SENSORS

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # the digest file is an addition readers of version 1 verify like any file
MANIFEST = "manifest.json"
METADATA = "metadata.parquet"
EMBEDDINGS = "embeddings.npy"
THUMBNAILS = "thumbnails"
THUMBNAIL_DIGEST = "thumbnails.sha256"
HASH_AT_START_BYTES = 64 << 20  # ~50 ms of sha256 per file at 1.2 GB/s
THUMBNAILS_AT_START = 5000  # ~35 MB of thumbnails: well under a second, opens included
BACKGROUND_DUTY = 0.5  # share of one core the background check may use
COLUMNS = (
    "image_id", "sensor", "source", "level", "place", "timestamp", "labels", "split", "group",
    "crs", "minx", "miny", "maxx", "maxy", "footprint", "lon", "lat", "evidence",
)  # fmt: skip
# Optional float columns: per-image reference measurements a source supplies in
# `ImageRecord.extra` (Sen1Floods11: shares of the tile its water mask marks as water / as flood
# water). NaN for images without them; a corpus where no image has one lacks the column, so
# corpora built before them load unchanged (they are not in `COLUMNS`).
REFERENCE_COLUMNS = ("water_fraction", "flood_fraction")


class CorpusError(RuntimeError):
    """A corpus folder that cannot be served; the message names the file and the problem."""


def sha256_file(path: Path, after_block: Callable[[], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            if after_block is not None:
                after_block()
    return digest.hexdigest()


class Pacer:
    """Called after each piece of work, sleeps so the work takes at most `duty` of the wall
    time: a background check then leaves most of a core to the queries (2 vCPU)."""

    def __init__(self, duty: float, min_busy_s: float = 0.005) -> None:
        if not 0 < duty <= 1:
            raise ValueError(f"duty must be in (0, 1], got {duty}")
        self.duty = duty
        self.min_busy_s = min_busy_s  # sleep in few, longer naps: time.sleep has ~0.1 ms slack
        self._busy_since = time.perf_counter()

    def __call__(self) -> None:
        busy = time.perf_counter() - self._busy_since
        if self.duty < 1 and busy >= self.min_busy_s:
            time.sleep(busy * (1 - self.duty) / self.duty)
            self._busy_since = time.perf_counter()


def write_thumbnail_digest(root: Path, metadata: pd.DataFrame) -> None:
    """thumbnails.sha256: one `<sha256>  thumbnails/<image_id>.webp` line per row."""
    lines = []
    for image_id in metadata["image_id"]:
        rel = f"{THUMBNAILS}/{image_id}.webp"
        lines.append(f"{sha256_file(root / rel)}  {rel}\n")
    (root / THUMBNAIL_DIGEST).write_text("".join(lines), encoding="utf-8")


def read_thumbnail_digest(path: Path) -> dict[str, str]:
    """relative path -> sha256 from a digest file; CorpusError naming the line if malformed."""
    digests = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        sha, sep, rel = line.partition("  ")
        if not sep or len(sha) != 64 or not rel.startswith(f"{THUMBNAILS}/"):
            raise CorpusError(f"{path}: line {number} is not '<sha256>  {THUMBNAILS}/<name>'")
        digests[rel] = sha
    return digests


def write_manifest(
    root: Path, metadata: pd.DataFrame, encoder: EncoderInfo, build_command: str
) -> dict:
    write_thumbnail_digest(root, metadata)
    optional = tuple(rel for rel in (BANDS_FILE,) if (root / rel).is_file())
    files = {
        rel: {"sha256": sha256_file(root / rel), "bytes": (root / rel).stat().st_size}
        for rel in (METADATA, EMBEDDINGS, INDEX_FILE, THUMBNAIL_DIGEST, *optional)
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
        "thumbnail_digest": THUMBNAIL_DIGEST,
    }  # fmt: skip
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


@dataclass(frozen=True)
class FileCheck:
    """One file to verify: its path relative to the corpus, sha256, and size when recorded."""

    rel: str
    sha256: str
    size: int | None = None


class IntegrityCheck:
    """Checksums `load_corpus` deferred, verified by a background thread after start-up.

    `state`: "ok" (every file verified, at start or since), "checking", "failed" (`problems`
    names each damaged, missing or resized file), or "skipped" (checksums not verified).
    """

    def __init__(
        self,
        root: Path,
        pending: Iterable[FileCheck] = (),
        *,
        digest: str | None = None,
        skipped: bool = False,
        duty: float | None = None,
    ) -> None:
        self.root = root
        self.pacer = Pacer(BACKGROUND_DUTY if duty is None else duty)
        self.pending = list(pending)
        self.digest = digest  # a thumbnail digest whose entries join `pending` in the thread
        self.total = len(self.pending)
        self.checked = 0
        self.problems: list[str] = []
        self._skipped = skipped
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if not self._has_work():
            self._done.set()

    def _has_work(self) -> bool:
        return not self._skipped and bool(self.pending or self.digest)

    @property
    def state(self) -> str:
        if self._skipped:
            return "skipped"
        if self.problems:
            return "failed"  # as soon as one is found, even while the rest is still checked
        return "ok" if self._done.is_set() else "checking"

    def summary(self) -> str:
        """One line for a status display."""
        state = self.state
        if state == "skipped":
            return "corpus checksums not verified"
        if state == "failed":
            with self._lock:
                first, more = self.problems[0], len(self.problems) - 1
            extra = f" (and {more} more)" if more else ""
            return f"corpus integrity check FAILED: {first}{extra}"
        if state == "checking":
            return f"verifying corpus checksums in the background: {self.checked}/{self.total}"
        return "corpus checksums verified"

    def start(self) -> IntegrityCheck:
        """Verify the pending files in a daemon thread (no-op when there is nothing to do)."""
        if self._has_work() and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="corpus-integrity", daemon=True)
            self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every pending file is checked; False if `timeout` ran out first."""
        return self._done.wait(timeout)

    def _report(self, problem: str) -> None:
        log.error("corpus integrity: %s", problem)
        with self._lock:
            self.problems.append(problem)

    def _checks(self) -> Iterator[FileCheck]:
        yield from self.pending  # the digest file among them, before its lines are trusted
        if self.digest is not None:
            thumbs = _digest_checks(self.root, self.digest)
            self.total += len(thumbs)
            yield from thumbs

    def _run(self) -> None:
        t0 = time.perf_counter()
        log.info("verifying %d corpus files in the background", self.total)
        try:
            for check in self._checks():
                problem = _problem(self.root, check, hash_it=True, after_block=self.pacer)
                if problem:
                    self._report(problem)
                self.checked += 1
                self.pacer()
        except Exception as err:  # never die silently: an unchecked corpus is a failure
            self._report(f"integrity check stopped: {err!r}")
        finally:
            self._done.set()
        log.info(
            "corpus integrity %s: %d files in %.1f s",
            self.state, self.total, time.perf_counter() - t0,
        )  # fmt: skip


def _problem(
    root: Path, check: FileCheck, hash_it: bool, after_block: Callable[[], None] | None = None
) -> str | None:
    """What is wrong with one file (a message naming it), or None."""
    path = root / check.rel
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"{path}: listed in the manifest but missing"
    if not path.is_file():
        return f"{path}: listed in the manifest but not a file"
    if check.size is not None and size != check.size:
        return f"{path}: {size} bytes, manifest says {check.size} (truncated or replaced)"
    if hash_it and sha256_file(path, after_block) != check.sha256:
        return f"{path}: checksum mismatch (corrupted or modified)"
    return None


@dataclass
class Corpus:
    root: Path
    manifest: dict
    metadata: pd.DataFrame
    embeddings: np.ndarray
    index: faiss.Index
    sensor_ranges: dict[str, tuple[int, int]]
    integrity: IntegrityCheck = field(default=None)  # type: ignore[assignment]
    rows: CorpusRows = field(init=False, repr=False)
    bands: BandStore = field(init=False, repr=False)  # optional bands.zip (corpus.bands)

    def __post_init__(self) -> None:
        if self.integrity is None:
            self.integrity = IntegrityCheck(self.root, skipped=True)
        self.rows = CorpusRows(self.metadata)  # cheap: no per-row objects
        self.bands = BandStore(self.root)
        self._thumbnails = str(self.root / THUMBNAILS)

    @property
    def encoder_id(self) -> str:
        return self.manifest["encoder"]["id"]

    def __len__(self) -> int:
        return len(self.metadata)

    def thumbnail_path(self, row: int) -> Path:
        return self.root / THUMBNAILS / f"{self.rows.value('image_id', row)}.webp"

    def thumbnail_file(self, image_id: str) -> str:
        """`str(thumbnail_path(row))` of the row with this id, joined as text: a query decodes
        dozens of rows, and two pathlib joins were a third of decoding one."""
        if "/" in image_id:  # pathlib would fold repeated slashes; keep its exact answer
            return str(self.root / THUMBNAILS / f"{image_id}.webp")
        return f"{self._thumbnails}/{image_id}.webp"

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


def _file_checks(manifest: dict) -> tuple[list[FileCheck], list[FileCheck]]:
    """(files the manifest lists, thumbnails it lists: manifests from before the digest)."""
    listed, thumbs = [], []
    for rel, info in manifest["files"].items():
        check = FileCheck(rel, str(info["sha256"]), int(info["bytes"]))
        (thumbs if rel.startswith(f"{THUMBNAILS}/") else listed).append(check)
    return listed, thumbs


def _digest_checks(root: Path, digest: str) -> list[FileCheck]:
    try:
        return [FileCheck(rel, sha) for rel, sha in read_thumbnail_digest(root / digest).items()]
    except (OSError, UnicodeDecodeError) as err:
        raise CorpusError(f"{root / digest}: unreadable ({err})") from err


def load_corpus(
    root: str | Path,
    expected_encoder: EncoderInfo | None = None,
    verify_checksums: bool = True,
    *,
    hash_at_start_bytes: int = HASH_AT_START_BYTES,
    thumbnails_at_start: int = THUMBNAILS_AT_START,
) -> Corpus:
    """Load and validate a corpus folder; raise `CorpusError` naming what is wrong.

    Checksums of files above `hash_at_start_bytes`, and every thumbnail's when the corpus has
    more than `thumbnails_at_start` images, are verified in the background afterwards and
    reported in `Corpus.integrity` (module docstring). `verify_checksums=False` hashes nothing:
    sizes of the listed files (and the thumbnails' presence in a small corpus) only."""
    root = Path(root)
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise CorpusError(
            f"{manifest_path}: missing; is {root} a built corpus? "
            "(rebuild with python -m closp_demo.corpus.build)"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
        enc = manifest["encoder"]
        count = int(manifest["count"])
        listed, thumbs = _file_checks(manifest)
        digest = manifest.get("thumbnail_digest")
        if digest is not None and digest not in manifest["files"]:
            raise ValueError(f"thumbnail digest {digest!r} is not among its files")
    except (ValueError, KeyError, TypeError, AttributeError) as err:
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
    deferred: list[FileCheck] = []
    for check in listed:  # every size now; each checksum now or in the background
        hash_now = verify_checksums and (check.size or 0) <= hash_at_start_bytes
        problem = _problem(root, check, hash_it=hash_now)
        if problem:
            raise CorpusError(problem)
        if verify_checksums and not hash_now:
            deferred.append(check)
    # The digest (verified above) has one line per image: `count` says how many without
    # reading it, so a large corpus's digest is only read by the background thread.
    thumbs_now = max(len(thumbs), count if digest else 0) <= thumbnails_at_start
    if thumbs_now:
        for check in thumbs + (_digest_checks(root, digest) if digest else []):
            problem = _problem(root, check, hash_it=verify_checksums)
            if problem:
                raise CorpusError(problem)
    elif verify_checksums:
        deferred += thumbs
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
    integrity = IntegrityCheck(
        root,
        deferred,
        digest=None if thumbs_now else digest,
        skipped=not verify_checksums,
    )
    corpus = Corpus(root, manifest, metadata, embeddings, index,
                    _sensor_ranges(metadata["sensor"]), integrity)  # fmt: skip
    integrity.start()  # only once everything above passed: no thread for a refused corpus
    return corpus
