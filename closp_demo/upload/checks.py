"""Checks of one uploaded file, each refusing with an `UploadError` that names the problem.

In the order `scene.read_upload` runs them: the file itself (exists, size limit), its content type
by magic bytes (before GDAL sees it), the TIFF header (one image, extent and pixel limits, band
count, pixel type, georeferencing, block size and truncation; no pixel read), and finally the
pixel content (no valid pixel, constant). Each check is a function of one file or header, so a
scene assembled from several files (one per band) can run the same checks per file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from rasterio.enums import Interleaving
from rasterio.io import DatasetReader

from closp_demo.sensors import PATCH_SIZE
from closp_demo.settings import (
    ENV_FILE_HOURS,
    ENV_MAX_PIXELS,
    ENV_MAX_SIDE,
    ENV_MAX_UPLOAD_MB,
    MB,
    Limits,
)
from closp_demo.upload.errors import UploadError

# One internal TIFF block (strip or tile, all bands when pixel-interleaved) must decode within this
# many bytes: GDAL decodes whole blocks, so a single-strip 10000 x 10000 image would defeat
# windowed reads. Not configurable: legitimate GeoTIFFs use blocks far below it.
MAX_BLOCK_BYTES = 64 * 1024 * 1024
MIN_SIDE = 32  # smallest side accepted; 32..119 px are upsampled to 120
STACK_BAND_COUNTS = (2, 12, 13)  # Sentinel-1 VV+VH, Sentinel-2 L2A order, Sentinel-2 L1C
ACCEPTED_DTYPES = ("uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64")

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


# --- the file, before opening ------------------------------------------------------------------


def check_file(path: Path, limits: Limits, name: str) -> int:
    """The file exists, is not empty and is within the size limit; returns its size in bytes."""
    if not path.exists():
        raise UploadError(
            f"'{name}' was not found on the server: uploads are kept {_fmt_hours(limits)} "
            f"({ENV_FILE_HOURS}); please upload it again"
        )
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


def check_tiff_magic(path: Path, name: str) -> None:
    """Refuse non-TIFF content by its magic bytes, before GDAL sees it."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    _refuse_non_tiff(head, name)


def _refuse_non_tiff(head: bytes, name: str) -> None:
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


JP2_MAGIC = (b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51")


def check_band_magic(head: bytes, name: str) -> str:
    """A band file is a TIFF or a JPEG 2000 image (as in a .SAFE product), and its name's
    extension says which; returns the GDAL driver to open it with (and only it)."""
    lower = name.lower()
    if head.startswith(JP2_MAGIC):
        if lower.endswith((".tif", ".tiff")):
            raise UploadError(
                f"'{name}' is a JPEG 2000 image named as a TIFF: rename it .jp2 (renaming does "
                "not convert a file)"
            )
        return "JP2OpenJPEG"
    if head.startswith(_TIFF_MAGIC) and lower.endswith(".jp2"):
        raise UploadError(f"'{name}' is a TIFF named as a JPEG 2000 (.jp2) file: rename it .tif")
    if not head:
        raise UploadError(f"'{name}' is empty (0 bytes)")
    _refuse_non_tiff(head, name)
    return "GTiff"


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


# --- the TIFF header (no pixel read) -----------------------------------------------------------


def check_header(src: DatasetReader, limits: Limits, name: str, size: int) -> str:
    """Everything about a band-stack GeoTIFF that its header tells (the order picks which of
    several problems is reported); returns how it is georeferenced (`check_georeferencing`)."""
    if src.subdatasets:
        raise UploadError(
            f"'{name}' is a multi-page TIFF ({len(src.subdatasets)} images): upload one "
            "GeoTIFF holding all bands of one scene"
        )
    check_extent(src.width, src.height, limits, name)
    check_band_count(src.count, name)
    check_pixel_type(src.dtypes[0], name)
    check_min_side(src.width, src.height, name)
    georef = check_georeferencing(src, name)
    check_blocks(src, name, size)
    return georef


def check_extent(width: int, height: int, limits: Limits, name: str) -> None:
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


def check_band_count(count: int, name: str) -> None:
    """A single file must hold a whole Sentinel-1 or Sentinel-2 band stack."""
    if count in STACK_BAND_COUNTS:
        return
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


def check_pixel_type(dtype: str, name: str) -> None:
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


def check_min_side(width: int, height: int, name: str) -> None:
    if min(width, height) < MIN_SIDE:
        raise UploadError(
            f"'{name}' is {width} x {height} px: too small (at least {MIN_SIDE} px per side; "
            f"tiles are {PATCH_SIZE} x {PATCH_SIZE})"
        )


def check_georeferencing(src: DatasetReader, name: str) -> str:
    """How the raster is placed: "grid" (a CRS and a north-up geotransform), "gcps" (ground
    control points only: warped by `sar.warp_gcps`) or "none" (no CRS or no geotransform: it is
    searched by its pixels but not placed on the map). RPC-only and rotated grids are refused."""
    t = src.transform
    has_transform = not t.is_identity
    if not has_transform:
        gcps, gcp_crs = src.gcps
        if gcps:
            if gcp_crs is None:
                raise UploadError(
                    f"'{name}' has ground control points without a CRS: they cannot place it"
                )
            return "gcps"
        if src.rpcs:
            raise UploadError(
                f"'{name}' is georeferenced only by RPC coefficients: orthorectify it first"
            )
    if src.crs is None or not has_transform:
        return "none"
    if abs(t.b) > 1e-9 * abs(t.a) or abs(t.d) > 1e-9 * abs(t.e):
        raise UploadError(
            f"'{name}' has a rotated pixel grid (its geotransform has rotation terms): "
            "warp it to a north-up grid first"
        )
    if t.a == 0 or t.e == 0 or not all(math.isfinite(v) for v in t[:6]):
        raise UploadError(f"'{name}' has an invalid geotransform (pixel size {t.a}, {t.e})")
    return "grid"


def check_blocks(src: DatasetReader, name: str, size: int) -> None:
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


# --- the pixels --------------------------------------------------------------------------------


def check_content(raw: np.ndarray, valid: np.ndarray, nodata: float | None, name: str) -> None:
    """Refuse a scene with no valid pixel, or a constant one (judged on the preview).

    `raw`: (bands, h, w) values; `valid`: (h, w) mask; `nodata`: the file's nodata value."""
    if not valid.any():
        if np.isnan(raw).all():
            reason = "all pixels are NaN (not a number)"
        elif np.isinf(raw).all():
            reason = "all pixels are infinite (Inf)"
        elif np.isfinite(raw).all():
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


def _fmt_hours(limits: Limits) -> str:
    """How long Gradio keeps an upload, in words: "6 hours", "30 minutes", "4 seconds"."""
    seconds = limits.file_sweep[1]
    unit, size = next((u, n) for u, n in (("hour", 3600), ("minute", 60), ("second", 1))
                      if seconds >= n)  # fmt: skip
    count = round(seconds / size, 1)
    return f"{count:g} {unit}{'' if count == 1 else 's'}"


def _fmt_mb(mb: float) -> str:
    return f"{mb:.1f}" if mb < 10 else f"{mb:,.0f}"
