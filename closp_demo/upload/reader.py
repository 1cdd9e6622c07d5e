"""The upload reader: any user GeoTIFF -> a validated, sensor-detected scene in the internal layout.

`read_upload` either returns an `UploadedScene` or raises `UploadError`, whose message is the exact
text shown to the user; no other exception escapes it (unexpected ones are logged and wrapped).

What it accepts and how it decides (each decision is recorded in `UploadedScene.notes`):
- Format: a single-image (Big)GeoTIFF, COG included, sniffed by its magic bytes and opened with the
  GTiff driver only (a renamed JPEG/PNG/ZIP/text or a VRT pointing at other files is refused).
- Georeferencing: a CRS and a north-up geotransform (GCP/RPC-only rasters are refused). Pixels are
  used in their native CRS, no reprojection. The footprint is returned in lon/lat (see
  `scene_footprint` for the antimeridian and the poles).
- Sensor, from the band count, the band descriptions, the pixel type and the value range:
  2 bands = Sentinel-1 GRD (VV, VH), 12 = Sentinel-2 L2A order, 13 = Sentinel-2 L1C (B10 dropped).
  Band descriptions ("VV", "Sigma0_VH_db", "B4", "B04", "B8A", ...) reorder the bands when they are
  a permutation, and are refused when they contradict the count or repeat a band. Descriptions
  that name no known band (e.g. "stackstac-...", "Band 1") are ignored.
- Sentinel-1 units: dB when the values are mostly in -50..+20 and mostly negative; linear power
  (sigma0) when non-negative and mostly below 1 -> converted with `sensors.linear_to_db`.
  Amplitude cannot be told from linear power by value, so it is assumed only when a band
  description says "Amplitude" (squared, then converted to dB); integer digital numbers above 20
  (uncalibrated GRD amplitude) are refused, since calibrating them needs the product's LUTs.
- Sentinel-2 units: digital numbers (reflectance x 10000) are kept; floats whose values are mostly
  within 0..1 (reflectance) are multiplied by 10000. A file's own scale/offset tags are applied
  first, so a DN file tagged with scale 1e-4 ends up as digital numbers again.
- Pixel types: 16/32/64-bit integers and 32/64-bit floats; 8-bit (a display rendering) and complex
  (SLC) pixels are refused.
- Size: the file size and the header (side, pixel count, block size) are checked against `Limits`
  before any pixel is read. Rasters larger than 120 x 120 are cut into 120 x 120 tiles read by
  windows on an even grid: tile origins evenly spaced from the first to the last pixel of each
  axis, as many as fit without overlap, reduced to at most `max_tiles` (e.g. 8 x 8 for a square
  scene). Rasters whose short side is 32..119 px are read with square windows of that side,
  upsampled (bilinear) to 120; smaller ones are refused.
- Invalid pixels (nodata, mask, NaN, +-Inf): tiles with less than half valid pixels, and constant
  tiles, are skipped; the remaining invalid pixels are filled with the tile's band medians. A scene
  with no valid pixel, or a constant one, is refused with the reason.
- Preview: the whole scene in the internal layout, nearest-decimated so its long side is at most
  512 px (from overviews when the file has them, else from windows one row of blocks high, see
  `_decimated`); NaN where invalid. The full raster is never in memory.
"""

from __future__ import annotations

import logging
import math
import os
import re
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Interleaving, MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds

from closp_demo.corpus.records import ImageRecord, footprint_lonlat
from closp_demo.sensors import (
    PATCH_SIZE,
    S1_BANDS,
    S2_BANDS,
    S2_L1C_BANDS,
    S2_SCALE,
    Sensor,
    drop_b10,
    linear_to_db,
)
from closp_demo.upload.limits import (
    ENV_MAX_PIXELS,
    ENV_MAX_SIDE,
    ENV_MAX_UPLOAD_MB,
    MAX_BLOCK_BYTES,
    MB,
    Limits,
)

logger = logging.getLogger(__name__)

PREVIEW_SIDE = 512  # long side of `UploadedScene.preview`, pixels
MIN_SIDE = 32  # smallest side accepted; 32..119 px are upsampled to 120
MIN_VALID_FRACTION = 0.5  # a tile needs at least this share of valid pixels
MAX_NAME_CHARS = 60  # filenames in messages are shortened to this
GDAL_CACHE_MB = 128  # bounds GDAL's block cache (its default is 5 % of the machine's RAM)
PREVIEW_CHUNK_BYTES = 32 * 1024 * 1024  # one window of the block-row preview read

ACCEPTED_DTYPES = ("uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64")
_FLOAT_DTYPES = ("float32", "float64")

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # TIFF and BigTIFF
_OTHER_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image (like a band file of a .SAFE product)"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 codestream"),
    (b"PK\x03\x04", "a ZIP archive (e.g. a zipped .SAFE product)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"BZh", "a bzip2 archive"),
    (b"%PDF", "a PDF document"),
    (b"\x89HDF", "an HDF5 / NetCDF-4 file"),
    (b"CDF\x01", "a NetCDF file"),
    (b"CDF\x02", "a NetCDF file"),
)

_S2_NAME = re.compile(r"^B0?([1-9]|1[0-2]|8A)$")
_POLARISATIONS = ("VV", "VH", "HH", "HV")
_AMPLITUDE_WORDS = {"AMPLITUDE", "AMP"}
_TIMESTAMP = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?!\d)")


class UploadError(ValueError):
    """A refused upload; the message is the exact user-facing text."""


@dataclass
class UploadedScene:
    sensor: Sensor  # "S1" or "S2"
    level: str  # "GRD", "L1C" or "L2A"
    filename: str  # display name, shortened (see `display_name`)
    crs: str  # e.g. "EPSG:32633"
    bounds: tuple[float, float, float, float]  # (minx, miny, maxx, maxy) in `crs`
    width: int  # pixels of the uploaded raster
    height: int
    footprint: list[tuple[float, float]]  # closed lon/lat ring, see `scene_footprint`
    notes: list[str]  # every detection and conversion made, human-readable
    tiles: list[ImageRecord]  # 120 x 120 tiles in the internal layout
    preview: np.ndarray  # float32 (B, h, w), internal layout, long side <= 512, NaN where invalid
    timestamp: str | None = None  # acquisition time found in the filename, ISO 8601 UTC


@dataclass
class _Layout:
    """How the file's bands map to the internal layout."""

    sensor: Sensor
    level: str
    indexes: list[int]  # 1-based file bands, in S1_BANDS / S2_BANDS / S2_L1C_BANDS order
    units: str = ""  # "db", "linear", "amplitude", "dn" or "reflectance"
    scales: np.ndarray = field(default_factory=lambda: np.ones(0))  # per band in `indexes`
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    amplitude_named: bool = False

    @property
    def band_names(self) -> tuple[str, ...]:
        if self.sensor == "S1":
            return S1_BANDS
        return S2_L1C_BANDS if len(self.indexes) == 13 else S2_BANDS


def read_upload(
    path: str | Path, limits: Limits | None = None, filename: str | None = None
) -> UploadedScene:
    """Read one uploaded GeoTIFF; raise `UploadError` (user-facing message) on any problem.

    `filename` is the name the user gave the file (default: the name of `path`); it is only shown,
    shortened, in notes and messages. `limits` defaults to `Limits.from_env()`.
    """
    name = display_name(filename if filename is not None else Path(path).name)
    if limits is None:
        try:
            limits = Limits.from_env()
        except ValueError:
            logger.exception("invalid upload limits in the environment")
            raise UploadError(
                "uploads are unavailable: the server's upload limits are misconfigured "
                "(please tell the maintainers of this demo)"
            ) from None
    try:
        with (
            rasterio.Env(
                GDAL_CACHEMAX=GDAL_CACHE_MB * 1024 * 1024,  # rasterio passes bytes to GDAL
                GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR",  # no sidecar .ovr/.aux.xml/.msk
                GDAL_PAM_ENABLED="NO",  # never write .aux.xml next to the upload
            ),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return _read(Path(path), limits, name)
    except UploadError as exc:
        logger.info("upload %r refused: %s", name, exc)
        raise
    except MemoryError:
        logger.exception("upload %r: out of memory", name)
        raise UploadError(
            f"'{name}' is too large to process on this server (it ran out of memory)"
        ) from None
    except Exception as exc:
        logger.exception("upload %r: unexpected error", name)
        raise UploadError(
            f"'{name}' could not be read: unexpected error ({type(exc).__name__}). The file may "
            "be damaged or use a GeoTIFF variant this demo does not support."
        ) from exc


def display_name(name: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """The user's filename as shown in messages: last path component, no control or bidi
    characters, shortened in the middle (keeping the extension) beyond `max_chars`."""
    parts = [p for p in re.split(r"[\\/]", str(name)) if p.strip()]
    base = parts[-1] if parts else ""
    base = "".join(ch for ch in base if not unicodedata.category(ch).startswith("C")).strip()
    if not base:
        return "upload"
    if len(base) > max_chars:
        tail = min(12, max_chars // 3)
        base = base[: max_chars - tail - 1] + "…" + base[-tail:]
    return base


def scene_footprint(
    crs: str, bounds: tuple[float, float, float, float]
) -> tuple[list[tuple[float, float]], list[str]]:
    """Closed lon/lat ring of `bounds` (corners via `records.footprint_lonlat`), drawable on a map.

    Longitudes are unwrapped so consecutive vertices differ by less than 180 degrees, the first
    vertex lying in [-180, 180): a footprint crossing the antimeridian continues beyond +-180
    (e.g. 179.8 .. 180.3) instead of jumping across the world, which Leaflet/folium draw as one
    shape. A footprint enclosing a pole (e.g. a polar-stereographic scene around it) is closed
    along latitude +-90, so the ring spans 360 degrees of longitude. Returns (ring, notes).
    """
    try:
        corners = footprint_lonlat(crs, bounds)
    except Exception as exc:
        raise _GeoError(f"its CRS cannot be converted to longitude/latitude ({exc})") from exc
    lons = np.array([p[0] for p in corners], dtype=np.float64)
    lats = np.array([p[1] for p in corners], dtype=np.float64)
    if not (np.isfinite(lons).all() and np.isfinite(lats).all()) or np.abs(lats).max() > 90.0001:
        raise _GeoError(f"its bounds {_fmt_bounds(bounds)} lie outside the Earth in its CRS")
    steps = (np.diff(lons) + 180.0) % 360.0 - 180.0
    wraps = np.round((np.diff(lons) - steps) / 360.0)  # whole turns; zero leaves values exact
    lons = lons - 360.0 * np.concatenate([[0.0], np.cumsum(wraps)])
    lons -= 360.0 * math.floor((lons[0] + 180.0) / 360.0)
    ring = [(float(x), float(y)) for x, y in zip(lons, lats, strict=True)]
    notes = []
    winding = lons[-1] - lons[0]
    if abs(winding) > 180.0:  # the corners circle a pole
        pole = 90.0 if lats.mean() > 0 else -90.0
        ring = [*ring, (float(lons[-1]), pole), (float(lons[0]), pole), ring[0]]
        notes.append(
            f"footprint encloses the {'North' if pole > 0 else 'South'} Pole: "
            f"lon/lat ring closed along latitude {pole:+.0f}"
        )
    elif lons.max() > 180.0 or lons.min() < -180.0:
        notes.append(
            "footprint crosses the antimeridian: its longitudes continue beyond ±180 "
            f"({lons.min():.3f} .. {lons.max():.3f}) so a map draws it as one shape"
        )
    return ring, notes


class _GeoError(Exception):
    """Footprint problem; turned into an UploadError naming the file."""


def _read(path: Path, limits: Limits, name: str) -> UploadedScene:
    size = _check_file(path, limits, name)
    _sniff(path, name)
    try:
        src = rasterio.open(path, driver="GTiff", sharing=False)
    except RasterioError as exc:
        logger.info("upload %r: GDAL could not open it: %s", name, exc)
        raise UploadError(
            f"'{name}' is a damaged or truncated TIFF: it could not be opened as a GeoTIFF"
        ) from None
    with src:
        notes: list[str] = []
        _check_header(src, limits, name, size)
        layout = _detect_layout(src, name, notes)
        crs = src.crs.to_string()
        bounds = _normalised(src.bounds)
        try:
            footprint, geo_notes = scene_footprint(crs, bounds)
        except _GeoError as exc:
            raise UploadError(f"'{name}' cannot be placed on the map: {exc}") from None
        notes += geo_notes
        timestamp = _timestamp_from_name(name, notes)
        preview = _read_preview(src, layout, name, notes)
        _note_pixel_size(src, notes)
        tiles = _read_tiles(src, layout, limits, name, notes, crs, timestamp)
    return UploadedScene(
        sensor=layout.sensor,
        level=layout.level,
        filename=name,
        crs=crs,
        bounds=bounds,
        width=src.width,
        height=src.height,
        footprint=footprint,
        notes=notes,
        tiles=tiles,
        preview=preview,
        timestamp=timestamp,
    )


# --- checks before opening ---------------------------------------------------------------------


def _check_file(path: Path, limits: Limits, name: str) -> int:
    if not path.exists():
        raise UploadError(f"'{name}' was not found on the server (the upload may have expired)")
    if not path.is_file():
        raise UploadError(f"'{name}' is not a file")
    size = os.path.getsize(path)
    if size == 0:
        raise UploadError(f"'{name}' is empty (0 bytes)")
    if size > limits.max_bytes:
        raise UploadError(
            f"'{name}': file is {_fmt_mb(size / MB)} MB, above the {limits.max_upload_mb:g} MB "
            f"limit ({ENV_MAX_UPLOAD_MB})"
        )
    return size


def _sniff(path: Path, name: str) -> None:
    """Refuse non-TIFF content by its magic bytes, before GDAL sees it."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(_TIFF_MAGIC):
        if len(head) < 16:
            raise UploadError(f"'{name}' is a damaged or truncated TIFF: only {len(head)} bytes")
        return
    for magic, what in _OTHER_FORMATS:
        if head.startswith(magic):
            raise UploadError(
                f"'{name}' is {what}, not a GeoTIFF (renaming a file does not convert it)"
            )
    if _looks_like_text(head):
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        kind = "an XML/HTML text file" if stripped.startswith(b"<") else "a text file"
        raise UploadError(f"'{name}' is {kind}, not a GeoTIFF")
    raise UploadError(f"'{name}' is not a TIFF file (its content is not recognised)")


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # a multi-byte character cut at the end of the sample is fine
            return False
        text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    return printable >= 0.95 * max(len(text), 1)


# --- header checks (no pixel read) -------------------------------------------------------------


def _check_header(src: DatasetReader, limits: Limits, name: str, size: int) -> None:
    if src.subdatasets:
        raise UploadError(
            f"'{name}' is a multi-page TIFF ({len(src.subdatasets)} images): upload one "
            "GeoTIFF holding all bands of one scene"
        )
    width, height = src.width, src.height
    if max(width, height) > limits.max_side:
        raise UploadError(
            f"'{name}' is {width} x {height} px: a side above the {limits.max_side} px limit "
            f"({ENV_MAX_SIDE})"
        )
    if width * height > limits.max_pixels:
        raise UploadError(
            f"'{name}' is {width} x {height} px ({width * height / 1e6:,.0f} Mpx per band), above "
            f"the {limits.max_pixels / 1e6:,.0f} Mpx limit ({ENV_MAX_PIXELS})"
        )
    count = src.count
    if count not in (2, 12, 13):
        hint = ""
        if count == 1:
            hint = " (one band, e.g. VV alone or a single Sentinel-2 band, is not enough)"
        elif count in (3, 4):
            hint = " (an RGB / RGB-NIR composite is not enough)"
        elif 5 <= count <= 11:
            hint = " (all 12 Sentinel-2 L2A bands B01..B12 without B10 are needed)"
        raise UploadError(
            f"'{name}' has {count} band{'s' if count != 1 else ''}: expected 2 "
            f"(Sentinel-1 VV, VH) or 12/13 (Sentinel-2){hint}"
        )
    dtype = src.dtypes[0]
    if dtype.startswith("complex"):
        raise UploadError(
            f"'{name}' has complex pixels ({dtype}), like a Sentinel-1 SLC product: upload GRD "
            "backscatter (VV, VH as dB or linear power) instead"
        )
    if dtype in ("uint8", "int8"):
        raise UploadError(
            f"'{name}' has 8-bit pixels ({dtype}): that is a display rendering, not sensor data; "
            "upload the original values (Sentinel-1 dB or linear power, Sentinel-2 digital "
            "numbers as 16-bit integers or reflectance as floats)"
        )
    if dtype not in ACCEPTED_DTYPES:
        raise UploadError(f"'{name}' has an unsupported pixel type ({dtype})")
    if min(width, height) < MIN_SIDE:
        raise UploadError(
            f"'{name}' is {width} x {height} px: too small (at least {MIN_SIDE} px per side; "
            f"tiles are {PATCH_SIZE} x {PATCH_SIZE})"
        )
    _check_georeferencing(src, name)
    _check_blocks(src, name, size)


def _check_georeferencing(src: DatasetReader, name: str) -> None:
    t = src.transform
    has_transform = not t.is_identity
    if not has_transform:
        gcps, _ = src.gcps
        if gcps:
            raise UploadError(
                f"'{name}' is georeferenced only by ground control points (like a Sentinel-1 GRD "
                "in radar geometry): terrain-correct or warp it to a map grid first"
            )
        if src.rpcs:
            raise UploadError(
                f"'{name}' is georeferenced only by RPC coefficients: orthorectify it first"
            )
    if src.crs is None or not has_transform:
        missing = (
            "CRS and geotransform"
            if src.crs is None and not has_transform
            else ("CRS" if src.crs is None else "geotransform")
        )
        raise UploadError(
            f"no georeferencing (CRS or geotransform) in '{name}': its {missing} "
            f"{'are' if ' and ' in missing else 'is'} missing"
        )
    if abs(t.b) > 1e-9 * abs(t.a) or abs(t.d) > 1e-9 * abs(t.e):
        raise UploadError(
            f"'{name}' has a rotated pixel grid (its geotransform has rotation terms): "
            "warp it to a north-up grid first"
        )
    if t.a == 0 or t.e == 0 or not all(math.isfinite(v) for v in t[:6]):
        raise UploadError(f"'{name}' has an invalid geotransform (pixel size {t.a}, {t.e})")


def _check_blocks(src: DatasetReader, name: str, size: int) -> None:
    """Refuse blocks too large to decode in pieces, and files truncated before their last block."""
    item = np.dtype(src.dtypes[0]).itemsize
    per_block = src.count if src.interleaving == Interleaving.pixel else 1
    bh, bw = src.block_shapes[0]
    block_bytes = bh * bw * item * per_block
    if block_bytes > MAX_BLOCK_BYTES:
        raise UploadError(
            f"'{name}' stores its pixels in blocks of {bw} x {bh} px ({block_bytes / MB:,.0f} MB "
            "each), too large to read in pieces: re-save it tiled (e.g. as a Cloud-Optimised "
            "GeoTIFF)"
        )
    nbx, nby = math.ceil(src.width / bw), math.ceil(src.height / bh)
    for bidx in sorted({1, src.count}):
        for bx, by in ((0, 0), (nbx - 1, nby - 1)):
            offset = src.get_tag_item(f"BLOCK_OFFSET_{bx}_{by}", "TIFF", bidx=bidx)
            length = src.get_tag_item(f"BLOCK_SIZE_{bx}_{by}", "TIFF", bidx=bidx)
            if offset and length and int(offset) + int(length) > size:
                raise UploadError(
                    f"'{name}' is damaged or truncated: its pixel data runs past the end of the "
                    f"file ({size:,} bytes); was the upload or download interrupted?"
                )


# --- sensor and band layout --------------------------------------------------------------------


def _band_words(src: DatasetReader) -> list[list[str]]:
    words = []
    for i in range(src.count):
        text = " ".join(t for t in (src.descriptions[i], src.units[i]) if t)
        words.append([w for w in re.split(r"[^A-Z0-9]+", text.upper()) if w])
    return words


def _band_name(words: list[str]) -> str | None:
    """The Sentinel band a description names (e.g. "Sigma0_VV_db" -> "VV", "B4" -> "B04")."""
    found = set()
    for w in words:
        if w in _POLARISATIONS:
            found.add(w)
        elif m := _S2_NAME.match(w):
            found.add("B8A" if m.group(1) == "8A" else f"B{int(m.group(1)):02d}")
    return found.pop() if len(found) == 1 else None


def _detect_layout(src: DatasetReader, name: str, notes: list[str]) -> _Layout:
    count = src.count
    words = _band_words(src)
    found = [_band_name(w) for w in words]
    pols = [b for b in found if b in _POLARISATIONS]
    s2 = [b for b in found if b and b not in _POLARISATIONS]
    if pols and s2:
        raise UploadError(
            f"'{name}' has band names that mix Sentinel-1 ({', '.join(pols)}) and Sentinel-2 "
            f"({', '.join(s2)}) bands"
        )
    if count == 2:
        if s2:
            raise UploadError(
                f"'{name}' has 2 bands named {_names(found)}: 2 bands are read as Sentinel-1 "
                "(VV, VH), but these are Sentinel-2 band names"
            )
        if any(p in ("HH", "HV") for p in pols):
            raise UploadError(
                f"'{name}' has bands {_names(found)}: only Sentinel-1 VV + VH dual polarisation "
                "is supported (HH/HV is the polar and extra-wide mode)"
            )
        layout = _Layout("S1", "GRD", _band_order(found, S1_BANDS, name))
        layout.amplitude_named = any(_AMPLITUDE_WORDS & set(w) for w in words)
        notes.append(
            f"2 bands{' named ' + _names(found) if pols else ''} -> Sentinel-1 GRD (VV, VH)"
        )
    else:
        if pols:
            raise UploadError(
                f"'{name}' has {count} bands, read as Sentinel-2, but bands are named "
                f"{', '.join(pols)} (Sentinel-1 polarisations)"
            )
        expected = S2_L1C_BANDS if count == 13 else S2_BANDS
        level = "L1C" if count == 13 else "L2A"
        layout = _Layout("S2", level, _band_order(found, expected, name))
        if count == 13:
            notes.append("13 bands -> Sentinel-2 L1C, B10 dropped")
        else:
            notes.append("12 bands -> Sentinel-2, L2A band order (B01..B12 without B10)")
            if "MSIL1C" in name.upper():
                layout.level = "L1C"
                notes.append("'MSIL1C' in the filename -> processing level L1C")
    if layout.indexes != list(range(1, count + 1)):
        notes.append(f"bands reordered by their descriptions to {', '.join(layout.band_names)}")
    layout.scales = np.array([src.scales[i - 1] for i in layout.indexes], dtype=np.float64)
    layout.offsets = np.array([src.offsets[i - 1] for i in layout.indexes], dtype=np.float64)
    if (layout.scales != 1).any() or (layout.offsets != 0).any():
        notes.append("applied the file's scale/offset tags to the pixel values")
    return layout


def _band_order(found: list[str | None], expected: Sequence[str], name: str) -> list[int]:
    """1-based file band per expected band; unnamed bands fill the unnamed slots in file order."""
    named = [b for b in found if b]
    repeated = sorted({b for b in named if named.count(b) > 1})
    if repeated:
        raise UploadError(f"'{name}' names band {', '.join(repeated)} more than once")
    foreign = [b for b in named if b not in expected]
    if foreign:
        raise UploadError(
            f"'{name}' has bands named {', '.join(foreign)}, which do not belong in a "
            f"{len(expected)}-band stack ({', '.join(expected)})"
        )
    position = {b: i + 1 for i, b in enumerate(found) if b}
    unnamed = iter(i + 1 for i, b in enumerate(found) if not b)
    return [position[b] if b in position else next(unnamed) for b in expected]


def _names(found: list[str | None]) -> str:
    return ", ".join(b or "(unnamed)" for b in found)


# --- pixels ------------------------------------------------------------------------------------


def _read_window(
    src: DatasetReader,
    layout: _Layout,
    name: str,
    window: Window | None,
    out_hw: tuple[int, int] | None,
    resampling: Resampling,
    where: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw values (float64, scale/offset applied) and the valid-pixel mask of one window."""
    kwargs: dict = {"window": window}
    if out_hw is not None:
        kwargs["out_shape"] = (len(layout.indexes), *out_hw)
    try:
        raw = src.read(layout.indexes, resampling=resampling, **kwargs)
        masks = src.read_masks(layout.indexes, resampling=Resampling.nearest, **kwargs)
    except RasterioError as exc:
        logger.info("upload %r: read failed (%s): %s", name, where, exc)
        raise UploadError(
            f"'{name}' is damaged or truncated: reading its pixels failed ({where})"
        ) from None
    return _physical(raw, masks, layout)


def _physical(raw: np.ndarray, masks: np.ndarray, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """Native pixels + GDAL masks -> float64 values with scale/offset applied, valid-pixel mask."""
    raw = raw.astype(np.float64)
    if layout.scales.size and ((layout.scales != 1).any() or (layout.offsets != 0).any()):
        raw = raw * layout.scales[:, None, None] + layout.offsets[:, None, None]
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(raw).all(axis=0) & (masks > 0).all(axis=0)
    return raw, valid


def _decimated(
    src: DatasetReader, layout: _Layout, name: str, out_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The whole raster, nearest-decimated to `out_hw`, with bounded memory.

    With overviews (e.g. a COG) GDAL reads the decimated raster from them (out_shape). Without,
    GDAL's own nearest decimation re-decodes every block once per output row as soon as a row of
    blocks outgrows its cache (a pixel-interleaved 12-band S2 tile: minutes); so the preview is
    assembled from windows spanning one row of blocks and at most PREVIEW_CHUNK_BYTES, each block
    decoded once, keeping only the sampled pixels.
    """
    height, width = src.height, src.width
    factor = max(width / out_hw[1], height / out_hw[0])
    overviews = src.overviews(layout.indexes[0])
    if overviews and max(overviews) >= factor / 2:
        return _read_window(src, layout, name, None, out_hw, Resampling.nearest, "preview")
    rows = np.minimum(((np.arange(out_hw[0]) + 0.5) * height / out_hw[0]).astype(int), height - 1)
    cols = np.minimum(((np.arange(out_hw[1]) + 0.5) * width / out_hw[1]).astype(int), width - 1)
    n = len(layout.indexes)
    raw = np.empty((n, *out_hw), dtype=src.dtypes[0])
    masks = np.full((n, *out_hw), 255, dtype=np.uint8)
    flags = [src.mask_flag_enums[i - 1] for i in layout.indexes]
    read_masks = any(MaskFlags.per_dataset in f or MaskFlags.alpha in f for f in flags)
    nodata = [src.nodatavals[i - 1] if MaskFlags.nodata in f else None
              for i, f in zip(layout.indexes, flags, strict=True)]  # fmt: skip
    bh, bw = src.block_shapes[layout.indexes[0] - 1]
    item = np.dtype(src.dtypes[0]).itemsize
    chunk_cols = max(bw, PREVIEW_CHUNK_BYTES // (min(bh, height) * n * item) // bw * bw)
    try:
        for block_row in np.unique(rows // bh):
            sel_r = np.flatnonzero(rows // bh == block_row)
            r0, r1 = int(rows[sel_r[0]]), int(rows[sel_r[-1]]) + 1
            for c0 in range(0, width, chunk_cols):
                sel_c = np.flatnonzero((cols >= c0) & (cols < c0 + chunk_cols))
                if not sel_c.size:
                    continue
                c1 = int(cols[sel_c[-1]]) + 1
                window = Window(c0, r0, c1 - c0, r1 - r0)
                pick = np.ix_(range(n), rows[sel_r] - r0, cols[sel_c] - c0)
                put = np.ix_(range(n), sel_r, sel_c)
                raw[put] = src.read(layout.indexes, window=window)[pick]
                if read_masks:
                    masks[put] = src.read_masks(layout.indexes, window=window)[pick]
    except RasterioError as exc:
        logger.info("upload %r: read failed (preview): %s", name, exc)
        raise UploadError(
            f"'{name}' is damaged or truncated: reading its pixels failed (preview)"
        ) from None
    for b, value in enumerate(nodata):
        if value is not None and not math.isnan(value):
            masks[b][raw[b] == np.asarray(value).astype(raw.dtype)] = 0
    return _physical(raw, masks, layout)


def _to_internal(raw: np.ndarray, valid: np.ndarray, layout: _Layout) -> np.ndarray:
    """Raw values in file units -> float32 internal layout, NaN where invalid."""
    x = np.where(valid, raw, np.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        if layout.units == "linear":
            x = linear_to_db(x)
        elif layout.units == "amplitude":
            x = linear_to_db(np.square(x))
        elif layout.units == "reflectance":
            x = x * S2_SCALE
        if len(layout.indexes) == 13:
            x = drop_b10(x)
        return x.astype(np.float32)


def _read_preview(src: DatasetReader, layout: _Layout, name: str, notes: list[str]) -> np.ndarray:
    width, height = src.width, src.height
    factor = max(width, height) / PREVIEW_SIDE
    out_hw = None
    if factor > 1:
        out_hw = (max(1, round(height / factor)), max(1, round(width / factor)))
    if out_hw is None:
        raw, valid = _read_window(src, layout, name, None, None, Resampling.nearest, "preview")
    else:
        raw, valid = _decimated(src, layout, name, out_hw)
    _check_content(src, raw, valid, name)
    values = raw[:, valid]
    _decide_units(src, layout, values, name, notes)
    preview = _to_internal(raw, valid, layout)
    if out_hw is not None:
        notes.append(f"preview {out_hw[1]}x{out_hw[0]} px (decimated 1:{factor:.1f})")
    return preview


def _check_content(src: DatasetReader, raw: np.ndarray, valid: np.ndarray, name: str) -> None:
    """Refuse a scene with no valid pixel, or a constant one (judged on the preview)."""
    if not valid.any():
        if np.isnan(raw).all():
            reason = "all pixels are NaN (not a number)"
        elif np.isinf(raw).all():
            reason = "all pixels are infinite (Inf)"
        elif np.isfinite(raw).all():
            nodata = src.nodata
            reason = "all pixels are nodata" + (
                f" (nodata value {nodata:g})" if nodata is not None else " (masked)"
            )
        else:
            reason = "every pixel is nodata, NaN or Inf"
        raise UploadError(f"'{name}' has no valid pixels: {reason}")
    values = raw[:, valid]
    lo, hi = values.min(axis=1), values.max(axis=1)
    if (lo == hi).all():
        if lo.min() == lo.max():
            raise UploadError(
                f"every pixel of '{name}' has the same value ({lo[0]:g}): there is no image "
                "content to search with"
            )
        raise UploadError(
            f"every band of '{name}' is constant (one value per band): there is no image content "
            "to search with"
        )


def _decide_units(
    src: DatasetReader, layout: _Layout, values: np.ndarray, name: str, notes: list[str]
) -> None:
    """Pick the units of the file from its valid values (bands x pixels), or refuse."""
    v = values.ravel()
    p1, p50, p99 = np.percentile(v, [1, 50, 99])
    frac_negative = float(np.mean(v < 0))
    spread = f"1st-99th percentile {p1:.4g} .. {p99:.4g}"
    scaled = bool((layout.scales != 1).any() or (layout.offsets != 0).any())
    is_float = src.dtypes[0] in _FLOAT_DTYPES or scaled  # scale tags make integers fractional
    if layout.sensor == "S1":
        if layout.amplitude_named:
            if frac_negative > 0.01:
                raise UploadError(
                    f"'{name}': bands are described as amplitude, but values are negative "
                    f"({spread})"
                )
            layout.units = "amplitude"
            notes.append("bands described as amplitude -> squared to power, converted to dB")
        elif np.mean((v >= -50) & (v <= 20)) >= 0.95 and frac_negative >= 0.5:
            layout.units = "db"
            notes.append("values look like backscatter in dB (mostly -50..+20, negative) -> kept")
        elif frac_negative <= 0.01 and np.mean(v < 1) >= 0.9:
            layout.units = "linear"
            notes.append(
                "values look like linear power (non-negative, mostly < 1) -> converted to dB"
            )
        elif not is_float and frac_negative <= 0.01 and p50 >= 20:
            raise UploadError(
                f"'{name}' looks like uncalibrated Sentinel-1 digital numbers (integers, "
                f"{spread}): calibrate it to sigma0 (dB or linear power) first, e.g. with SNAP"
            )
        else:
            raise UploadError(
                f"'{name}': the 2 bands do not look like Sentinel-1 backscatter ({spread}): "
                "expected dB (mostly -50..+20, negative) or linear power (non-negative, mostly "
                "below 1)"
            )
        return
    if is_float and p99 <= 2.0 and p1 >= -0.5:
        layout.units = "reflectance"
        notes.append("values look like reflectance 0..1 -> scaled x10000 to digital numbers")
    elif p1 >= -1000 and 2.0 < p99 <= 65535:
        layout.units = "dn"
        notes.append("values look like digital numbers (reflectance x 10000) -> kept")
    else:
        raise UploadError(
            f"'{name}': the Sentinel-2 values do not look like reflectance ({spread}): expected "
            "digital numbers (reflectance x 10000, mostly 0..10000) or reflectance 0..1"
        )


def tile_grid(width: int, height: int, side: int, max_tiles: int) -> list[tuple[int, int]]:
    """Origins (col, row) of side x side windows on an even grid, at most `max_tiles`.

    Per axis, n = size // side windows fit without overlap; when n x m exceeds `max_tiles`, the
    largest grid within it is used, preferring square spacing. Origins are evenly spaced from
    the first to the last pixel (a single window is centred). Row-major order.
    """
    nx, ny = max(1, width // side), max(1, height // side)
    gx, gy = nx, ny
    if nx * ny > max_tiles:
        best: tuple[int, float] | None = None
        for cy in range(1, min(ny, max_tiles) + 1):
            cx = min(nx, max_tiles // cy)
            key = (cx * cy, -abs(math.log((width / cx) / (height / cy))))
            if best is None or key > best:
                best, gx, gy = key, cx, cy

    def axis(size: int, n: int) -> list[int]:
        if n == 1:
            return [(size - side) // 2]
        return [int(v) for v in np.linspace(0, size - side, n).round()]

    return [(x, y) for y in axis(height, gy) for x in axis(width, gx)]


def _read_tiles(
    src: DatasetReader,
    layout: _Layout,
    limits: Limits,
    name: str,
    notes: list[str],
    crs: str,
    timestamp: str | None,
) -> list[ImageRecord]:
    width, height = src.width, src.height
    side = min(PATCH_SIZE, width, height)
    origins = tile_grid(width, height, side, limits.max_tiles)
    upsample = side < PATCH_SIZE
    out_hw = (PATCH_SIZE, PATCH_SIZE) if upsample else None
    resampling = Resampling.bilinear if upsample else Resampling.nearest
    if upsample:
        notes.append(
            f"{width}x{height} px: {side}x{side} px windows upsampled x{PATCH_SIZE / side:.2f} "
            f"(bilinear) to {PATCH_SIZE}x{PATCH_SIZE}: {len(origins)} tile(s)"
        )
    elif len(origins) == 1 and width == height == PATCH_SIZE:
        notes.append(f"{width}x{height} px: one tile")
    else:
        fits = max(1, width // side) * max(1, height // side)
        how = "sampled on a grid" if fits > len(origins) else "on a grid"
        notes.append(f"{width}x{height} px: {len(origins)} tiles of {side}x{side} {how}")
    tiles: list[ImageRecord] = []
    sparse = constant = filled_tiles = 0
    filled_px = 0
    for col, row in origins:
        window = Window(col, row, side, side)
        raw, valid = _read_window(
            src, layout, name, window, out_hw, resampling, f"tile at column {col}, row {row}"
        )
        image = _to_internal(raw, valid, layout)
        valid &= np.isfinite(image).all(axis=0)  # e.g. float64 values beyond float32's range
        if valid.mean() < MIN_VALID_FRACTION:
            sparse += 1
            continue
        values = image[:, valid]
        if (values.min(axis=1) == values.max(axis=1)).all():
            constant += 1
            continue
        if not valid.all():
            filled_tiles += 1
            filled_px += int((~valid).sum())
            medians = np.median(values, axis=1).astype(np.float32)
            image = np.where(valid, image, medians[:, None, None])
        tiles.append(
            ImageRecord(
                image_id=f"upload-{len(tiles)}",
                sensor=layout.sensor,
                image=image,
                crs=crs,
                bounds=_normalised(window_bounds(window, src.transform)),
                timestamp=timestamp,
                source="upload",
                level=layout.level,
                extra={"filename": name, "window": (col, row, side, side)},
            )
        )
    reasons = ", ".join(
        f"{n} {why}" for n, why in ((sparse, "mostly nodata/NaN/Inf"), (constant, "constant")) if n
    )
    if not tiles:
        raise UploadError(
            f"'{name}': none of its {len(origins)} tile(s) of {PATCH_SIZE}x{PATCH_SIZE} px is "
            f"usable ({reasons}; a tile needs {MIN_VALID_FRACTION:.0%} valid pixels)"
        )
    if sparse or constant:
        notes.append(
            f"{sparse + constant} of {len(origins)} tiles skipped ({reasons}; a tile needs "
            f"{MIN_VALID_FRACTION:.0%} valid pixels)"
        )
    if filled_tiles:
        share = filled_px / (filled_tiles * PATCH_SIZE * PATCH_SIZE)
        notes.append(
            f"{share:.0%} of the pixels of {filled_tiles} tile(s) were nodata/NaN/Inf -> filled "
            "with the tile's band medians"
        )
    return tiles


# --- small helpers -----------------------------------------------------------------------------


def _note_pixel_size(src: DatasetReader, notes: list[str]) -> None:
    """Note when pixels are far from the 10 m the models were trained on."""
    t = src.transform
    col, row = src.width / 2, src.height / 2
    pts = [t @ (col, row), t @ (col + 1, row), t @ (col, row + 1)]
    try:
        lons, lats = warp_transform(src.crs, "EPSG:4326", [p[0] for p in pts], [p[1] for p in pts])
    except Exception:  # footprint already succeeded; this note is optional
        return
    sizes = [_haversine_m(lons[0], lats[0], lons[i], lats[i]) for i in (1, 2)]
    if not all(math.isfinite(s) for s in sizes):
        return
    metres = math.sqrt(sizes[0] * sizes[1])
    if not 5.0 <= metres <= 20.0:
        notes.append(
            f"pixels are about {metres:.3g} m wide; the models expect 10 m pixels (a tile "
            f"covers {metres * PATCH_SIZE / 1000:.3g} km instead of 1.2 km)"
        )


def _haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


def _timestamp_from_name(name: str, notes: list[str]) -> str | None:
    """Acquisition time from a Sentinel-style filename (e.g. ..._20170613T101031_...)."""
    m = _TIMESTAMP.search(name)
    if not m:
        return None
    try:
        when = datetime(*(int(g) for g in m.groups()))
    except ValueError:
        return None
    iso = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    notes.append(f"acquisition time {iso} read from the filename")
    return iso


def _normalised(b: Sequence[float]) -> tuple[float, float, float, float]:
    left, bottom, right, top = (float(v) for v in b)
    return min(left, right), min(bottom, top), max(left, right), max(bottom, top)


def _fmt_bounds(b: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in b) + ")"


def _fmt_mb(mb: float) -> str:
    return f"{mb:.1f}" if mb < 10 else f"{mb:,.0f}"
