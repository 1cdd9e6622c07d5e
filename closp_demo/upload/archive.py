"""One uploaded ZIP -> its band members, read in place through GDAL's /vsizip/ (never extracted).

Accepted layouts: a flat ZIP of band files (`B02.tif`, ..., other files ignored and noted), a
zipped Sentinel-2 L1C/L2A .SAFE product (`GRANULE/<one granule>/IMG_DATA/[R10m|R20m|R60m/]*_Bxx
[_10m].jp2`; per band the finest resolution is taken) and a zipped Sentinel-1 GRD .SAFE
(`measurement/*-vv-*.tiff`, `-vh-`; with its `annotation/calibration/calibration-*.xml` tables,
see `sar`). Only the central directory is read to decide; then the first 512 bytes of each chosen
member (content type) and, through GDAL, the windows the scene needs.

Refused, each with its own message: a damaged ZIP, encrypted members, members with absolute paths
or `..` components, symbolic links, nested archives, too many members, a member or a whole ZIP
whose uncompressed size is above `Limits.max_unzipped_bytes`, and members compressed more than
`Limits.max_zip_ratio` times (a ZIP bomb).
"""

from __future__ import annotations

import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from closp_demo.settings import ENV_MAX_UNZIPPED_MB, ENV_MAX_ZIP_RATIO, MB, Limits
from closp_demo.upload.errors import UploadError, display_name
from closp_demo.upload.names import BAND_EXTENSIONS, band_of_name
from closp_demo.upload.sar import calibration_tables
from closp_demo.upload.stack import BandFile, BandStack, assemble

MAX_MEMBERS = 5000  # a Sentinel-2 .SAFE holds about 100 files, a Sentinel-1 GRD about 30
RATIO_FLOOR_BYTES = MB  # members smaller than this are not judged by their compression ratio
_ARCHIVE_EXTS = (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar", ".bz2", ".xz", ".zst", ".jar")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_RES = re.compile(r"(?:^|[_/])R?(10|20|60)M(?:[_./]|$)", re.IGNORECASE)
_READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4).startswith(_ZIP_MAGIC)


def product_name(zip_name: str) -> str:
    """The scene's name from the ZIP's ('S2A_MSIL2A_..._T33UUP_....SAFE.zip' -> without suffix)."""
    base = re.sub(r"(\.SAFE)?\.zip$", "", zip_name, flags=re.IGNORECASE)
    return display_name(base or zip_name)


def read_zip(path: Path, name: str, limits: Limits) -> BandStack:
    """The band stack of an uploaded ZIP (see the module docstring)."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UploadError(f"'{name}' is a damaged ZIP archive ({exc})") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        check_members(infos, name, limits)
        chosen, notes, product = choose_members(infos, name)
        files = []
        for info in chosen:
            try:
                with zf.open(info) as fh:
                    head = fh.read(512)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
                raise UploadError(
                    f"'{name}': member '{display_name(info.filename)}' is damaged ({exc})"
                ) from None
            files.append(
                BandFile(
                    gdal_path=f"/vsizip/{path.resolve()}/{info.filename}",
                    name=display_name(info.filename),
                    size=info.file_size,
                    head=head,
                    product=product,
                )
            )
        tables = calibration_tables(zf, [i.filename for i in chosen], name)
    stack = assemble(files, limits, total_limit=None)
    stack.notes[:0] = notes
    stack.calibration = tables
    return stack


def check_members(infos: list[zipfile.ZipInfo], name: str, limits: Limits) -> None:
    """Refuse unsafe members before anything is read (see the module docstring)."""
    if not infos:
        raise UploadError(f"'{name}' is an empty ZIP archive")
    if len(infos) > MAX_MEMBERS:
        raise UploadError(
            f"'{name}' holds {len(infos):,} files, more than the {MAX_MEMBERS:,} a Sentinel "
            "product has"
        )
    total = 0
    max_bytes = limits.max_unzipped_bytes
    for info in infos:
        member = display_name(info.filename, 80) if info.filename else "(unnamed)"
        raw = info.filename
        parts = re.split(r"[\\/]", raw)
        if raw.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", raw):
            raise UploadError(
                f"'{name}' holds a member with an absolute path ('{raw[:80]}'): refused"
            )
        if ".." in parts:
            raise UploadError(
                f"'{name}' holds a member whose path leaves the archive ('{raw[:80]}', with "
                "'..'): refused"
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UploadError(f"'{name}' holds a symbolic link ('{member}'): refused")
        if info.flag_bits & 0x1:
            raise UploadError(f"'{name}' holds an encrypted member ('{member}'): refused")
        if raw.lower().endswith(_ARCHIVE_EXTS):
            raise UploadError(
                f"'{name}' holds another archive ('{member}'): nested archives are refused; "
                "upload the inner archive itself"
            )
        if info.compress_type not in _READABLE_METHODS:
            raise UploadError(
                f"'{name}': member '{member}' is compressed with a method that cannot be read in "
                f"place (ZIP method {info.compress_type}): re-zip it with the standard deflate"
            )
        if info.file_size > max_bytes:
            raise UploadError(
                f"'{name}': member '{member}' declares {info.file_size / MB:,.0f} MB "
                f"uncompressed, above the {max_bytes / MB:,.0f} MB limit ({ENV_MAX_UNZIPPED_MB})"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_zip_ratio:
            raise UploadError(
                f"'{name}': member '{member}' expands {ratio:,.0f} times "
                f"({info.compress_size:,} -> {info.file_size:,} bytes), above the "
                f"{limits.max_zip_ratio:g}x limit ({ENV_MAX_ZIP_RATIO}): this looks like a ZIP bomb"
            )
        total += info.file_size
        if total > max_bytes:
            raise UploadError(
                f"'{name}' expands to more than {max_bytes / MB:,.0f} MB in all, the limit for "
                f"one ZIP ({ENV_MAX_UNZIPPED_MB}): a ZIP bomb or not one product"
            )


def choose_members(
    infos: list[zipfile.ZipInfo], name: str
) -> tuple[list[zipfile.ZipInfo], list[str], str | None]:
    """The band members of the archive's layout, notes saying which, and the product name."""
    names = [i.filename for i in infos]
    granule = [
        i for i in infos if "/IMG_DATA/" in f"/{i.filename}" and "/GRANULE/" in f"/{i.filename}"
    ]
    measurement = [i for i in infos if "/measurement/" in f"/{i.filename}"]
    safe = _safe_folder(names)
    if granule:
        granules = sorted({_granule_of(i.filename) for i in granule})
        if len(granules) > 1:
            raise UploadError(
                f"'{name}' holds {len(granules)} granules ({', '.join(granules[:3])}): upload "
                "one granule (one scene) at a time"
            )
        bands = _finest_per_band([i for i in granule if _is_band(i.filename)])
        layout = f"a Sentinel-2 .SAFE product{f' ({safe})' if safe else ''}"
    elif measurement:
        bands = [i for i in measurement if _is_band(i.filename)]
        layout = f"a Sentinel-1 .SAFE product{f' ({safe})' if safe else ''}"
    else:
        bands = [i for i in infos if _is_band(i.filename)]
        layout = "a ZIP of band files"
    if not bands:
        raster = [n for n in names if n.lower().endswith(BAND_EXTENSIONS)]
        hint = (
            f" (rasters found: {', '.join(display_name(n) for n in raster[:4])})" if raster else ""
        )
        raise UploadError(
            f"'{name}' holds no band file: expected a zipped .SAFE product or band files named "
            f"B01..B12, B8A, VV, VH{hint}"
        )
    chosen = {i.filename for i in bands}
    ignored = [display_name(n) for n in names if n not in chosen and not _is_safe_meta(n, safe)]
    notes = [f"{name}: {layout}, {len(bands)} band members read in place (not extracted)"]
    if ignored and not (granule or measurement):
        shown = ", ".join(ignored[:5]) + (
            f" and {len(ignored) - 5} more" if len(ignored) > 5 else ""
        )
        notes.append(f"ignored files without a band name: {shown}")
    # Members of one .SAFE are one product by construction (their names differ, e.g. the S1
    # image numbers -001/-002); a flat ZIP's members are compared by their names like files.
    return bands, notes, (safe or "") if (granule or measurement) else None


def _is_band(member: str) -> bool:
    base = PurePosixPath(member).name
    return base.lower().endswith(BAND_EXTENSIONS) and band_of_name(base) is not None


def _safe_folder(names: list[str]) -> str:
    for n in names:
        for part in n.split("/"):
            if part.upper().endswith(".SAFE"):
                return display_name(part[: -len(".SAFE")])
    return ""


def _is_safe_meta(member: str, safe: str) -> bool:
    """Inside a .SAFE every other file is product metadata: not worth a note."""
    return bool(safe)


def _granule_of(member: str) -> str:
    parts = member.split("/")
    return parts[parts.index("GRANULE") + 1] if "GRANULE" in parts else ""


def _finest_per_band(infos: list[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    """L2A stores bands at several resolutions (R10m/R20m/R60m): keep each band's finest."""
    best: dict[str, tuple[int, zipfile.ZipInfo]] = {}
    for info in infos:
        band = band_of_name(PurePosixPath(info.filename).name) or ""
        m = _RES.search(info.filename)
        res = int(m.group(1)) if m else 0
        if band not in best or res < best[band][0]:
            best[band] = (res, info)
    return [info for _, info in best.values()]
