"""Optional compact band arrays of every corpus image (`bands.zip`), for views that need pixels.

Thumbnails and embeddings are enough to search; band composites, histograms, spectral profiles,
per-pixel evidence and occlusion maps need the bands. A corpus may carry them in one zip of
`.npy` members, one per image (`<row>.npy`, the metadata row order), so a detail view decodes
one image (~0.1 ms) and never the whole file. A corpus without the file still loads and serves:
the views then say "bands not stored in this corpus" (`BandsMissing`).

Encodings (measured on the embedded corpus, BENCHMARKS.md "Band storage"):
- Sentinel-2: uint8 v = round(255 sqrt(reflectance)), reflectance clipped to [0, 1], decoded
  as (v / 255)^2 x 10000 DN. The square root spends the 256 levels where land and water are
  (step 0.0013 at reflectance 0.03, 0.0043 at 0.3: below the sensor's radiometric noise). DN 0
  (no data) stays 0. Lossy: use the stored embeddings, not re-encoded bands, for scores.
- Sentinel-1: uint16 v = round((dB - S1_DB_MIN) x 10) + 1 (0.1 dB steps), 0 = no data (NaN).
The zip is written with fixed timestamps and member order, so a rebuild is byte-identical.
"""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from closp_demo.sensors import S2_SCALE

BANDS_FILE = "bands.zip"
S1_DB_MIN = -60.0
S1_DB_STEP = 0.1
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # deterministic archives


class BandsMissing(LookupError):
    """This corpus stores no bands (or not for this image); the message says so plainly."""


def encode(image: np.ndarray, sensor: str) -> np.ndarray:
    """Internal float32 layout (records.py) -> the compact stored array."""
    image = np.asarray(image, dtype=np.float32)
    if sensor == "S2":
        refl = np.clip(np.nan_to_num(image, nan=0.0) / S2_SCALE, 0.0, 1.0)
        return np.round(255.0 * np.sqrt(refl)).astype(np.uint8)
    if sensor == "S1":
        finite = np.isfinite(image)
        v = np.round((np.nan_to_num(image, nan=S1_DB_MIN) - S1_DB_MIN) / S1_DB_STEP) + 1
        return np.where(finite, np.clip(v, 1, 65535), 0).astype(np.uint16)
    raise ValueError(f"unknown sensor {sensor!r}")


def decode(stored: np.ndarray, sensor: str) -> np.ndarray:
    """Stored array -> the internal float32 layout (S2 digital numbers, S1 dB with NaN)."""
    if sensor == "S2":
        return ((stored.astype(np.float32) / 255.0) ** 2 * S2_SCALE).astype(np.float32)
    if sensor == "S1":
        db = (stored.astype(np.float32) - 1) * S1_DB_STEP + S1_DB_MIN
        return np.where(stored == 0, np.nan, db).astype(np.float32)
    raise ValueError(f"unknown sensor {sensor!r}")


def member(row: int) -> str:
    return f"{int(row)}.npy"


def write_bands(path: Path, stored: Iterable[np.ndarray]) -> None:
    """`encode`d arrays in metadata row order -> `path`, deterministic bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for row, array in enumerate(stored):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(member(row), date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


class BandStore:
    """Reads one image's bands on demand from a corpus's `bands.zip` (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / BANDS_FILE
        self._zip: zipfile.ZipFile | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.path.is_file()

    def image(self, row: int, sensor: str) -> np.ndarray:
        """Internal float32 layout of corpus row `row`; `BandsMissing` if not stored."""
        if not self.available:
            raise BandsMissing("Bands are not stored in this corpus (no bands.zip): composites, "
                               "plots and pixel evidence need them; thumbnails only.")  # fmt: skip
        with self._lock:  # ZipFile reads share one file handle
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.path)
            try:
                raw = self._zip.read(member(row))
            except KeyError:
                raise BandsMissing(f"Bands of corpus row {row} are not stored.") from None
        return decode(np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False), sensor)
