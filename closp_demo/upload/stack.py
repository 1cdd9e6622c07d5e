"""Band files -> one virtual band stack: several uploaded files, or the band members of a ZIP.

Each file holds one band, named in its file name (`names.band_of_name`). The files are checked
one by one (`checks`: size, content type by magic bytes, header, georeferencing, blocks), then
together: one sensor, one product, no band twice, no band missing, one CRS, one pixel type, the
same area. They are stacked in a GDAL VRT (an XML text held in memory, written here with every
value escaped) on the finest band's grid: coarser bands (Sentinel-2's 20 m and 60 m) are
resampled bilinearly when read, by windows like any other raster, so nothing is decoded whole.
Sources are plain paths or `/vsizip/` members of an uploaded ZIP (`archive`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from closp_demo.settings import ENV_MAX_UPLOAD_MB, MB, Limits
from closp_demo.upload.checks import (
    check_band_magic,
    check_blocks,
    check_extent,
    check_pixel_type,
)
from closp_demo.upload.errors import UploadError
from closp_demo.upload.names import (
    S2_REQUIRED_L1C,
    S2_REQUIRED_L2A,
    band_of_name,
    band_runs,
    canonical_order,
    names_several_bands,
    product_key,
    sensor_of_band,
)

logger = logging.getLogger(__name__)

_GDAL_TYPES = {
    "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32", "int32": "Int32",
    "uint64": "UInt64", "int64": "Int64", "float32": "Float32", "float64": "Float64",
}  # fmt: skip
# Accepted Sentinel-1 sets (item: single polarisation is a degraded scene, see `polarisations`).
S1_SETS = (("VV", "VH"), ("VV",), ("HH",), ("HH", "HV"))


@dataclass
class BandFile:
    """One band file: where GDAL reads it (a path or a /vsizip/ member) and how it is shown."""

    gdal_path: str
    name: str  # display name
    size: int  # bytes (uncompressed size for a ZIP member)
    head: bytes = b""  # its first bytes (read here when empty: a plain file)
    product: str | None = None  # its product, when known (a .SAFE member); else from its name
    band: str = ""  # set by `recognise`
    driver: str = "GTiff"
    # Filled by `_inspect`:
    crs: CRS | None = None
    transform: object = None
    width: int = 0
    height: int = 0
    dtype: str = ""
    nodata: float | None = None
    scale: float = 1.0
    offset: float = 0.0
    gcps: tuple = ()
    gcps_crs: CRS | None = None


@dataclass
class BandStack:
    """The assembled stack: its VRT text and what was recognised."""

    vrt: str
    sensor: str  # "S1" or "S2"
    bands: list[str]  # band names in VRT order
    files: list[BandFile]
    notes: list[str] = field(default_factory=list)
    gcps: bool = False  # georeferenced by ground control points only (warp before use)
    calibration: dict = field(default_factory=dict)  # band -> sar.CalibrationTable (a GRD .SAFE)


def recognise(files: list[BandFile]) -> list[BandFile]:
    """Give each file its band from its name; refuse unnamed, ambiguous, mixed and duplicates."""
    unnamed = [f.name for f in files if band_of_name(f.name) is None]
    for f in files:
        several = names_several_bands(f.name)
        if several:
            raise UploadError(
                f"'{f.name}' names several bands ({', '.join(several)}): a band file's name must "
                "name exactly one band"
            )
    if unnamed:
        listed = ", ".join(f"'{n}'" for n in unnamed[:5]) + (" ..." if len(unnamed) > 5 else "")
        raise UploadError(
            f"{listed}: the name does not say which band the file holds. With several files, "
            "each file holds one band named in its file name (Sentinel-2 B01..B12, B8A, e.g. "
            "'T33UUP_20200101T101031_B04_10m.jp2' or 'B04.tif'; Sentinel-1 VV, VH)"
        )
    for f in files:
        f.band = band_of_name(f.name) or ""
    sensors = {sensor_of_band(f.band) for f in files}
    if len(sensors) > 1:
        s1 = [f.name for f in files if sensor_of_band(f.band) == "S1"]
        s2 = [f.name for f in files if sensor_of_band(f.band) == "S2"]
        raise UploadError(
            f"the files mix Sentinel-1 ({_list(s1)}) and Sentinel-2 ({_list(s2)}) bands: "
            "upload one scene at a time"
        )
    by_band: dict[str, list[str]] = {}
    for f in files:
        by_band.setdefault(f.band, []).append(f.name)
    dup = {b: ns for b, ns in by_band.items() if len(ns) > 1}
    if dup:
        parts = "; ".join(f"{b} by {_list(ns)}" for b, ns in sorted(dup.items()))
        raise UploadError(f"band given more than once: {parts}; upload each band once")
    keys: dict[str, list[str]] = {}
    for f in files:
        if key := (f.product if f.product is not None else product_key(f.name)):
            keys.setdefault(key, []).append(f.band)
    if len(keys) > 1:
        parts = "; ".join(f"'{k}' ({', '.join(canonical_order(bs))})" for k, bs in keys.items())
        raise UploadError(
            f"the files come from different products: {parts}. Upload the bands of one product"
        )
    return files


def required_bands(files: list[BandFile]) -> tuple[str, list[str]]:
    """(sensor, bands in stack order); refuses missing bands naming them."""
    have = {f.band for f in files}
    if sensor_of_band(next(iter(have))) == "S1":
        for s in S1_SETS:
            if have == set(s):
                return "S1", list(s)
        got = ", ".join(canonical_order(list(have)))
        if have == {"VH"} or have == {"HV"}:
            raise UploadError(
                f"only the cross-polarised band {got} was given: add "
                f"{'VV' if 'VH' in have else 'HH'} (the co-polarised band)"
            )
        raise UploadError(
            f"Sentinel-1 bands {got} do not form one product: expected VV + VH, VV alone, HH "
            "alone or HH + HV"
        )
    required = S2_REQUIRED_L1C if "B10" in have else S2_REQUIRED_L2A
    missing = [b for b in required if b not in have]
    if missing:
        raise UploadError(
            f"Sentinel-2 band{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} missing: got {len(have)} band files "
            f"({band_runs(canonical_order(list(have)))}); a scene needs the 12 bands B01..B12 "
            "with B8A (B10 optional)"
        )
    return "S2", list(required)


def assemble(files: list[BandFile], limits: Limits, total_limit: int | None = -1) -> BandStack:
    """Recognise, check and stack band files (see the module docstring). `total_limit`: most
    bytes of all files together (-1: `limits.max_bytes`; None: not checked, a ZIP's members)."""
    files = recognise(files)
    sensor, order = required_bands(files)
    total = sum(f.size for f in files)
    limit = limits.max_bytes if total_limit == -1 else total_limit
    if limit is not None and total > limit:
        raise UploadError(
            f"the {len(files)} files total {total / MB:,.1f} MB, above the "
            f"{limits.max_upload_mb:g} MB limit for one upload ({ENV_MAX_UPLOAD_MB})"
        )
    by_band = {f.band: f for f in files}
    files = [by_band[b] for b in order]
    for f in files:
        _inspect(f, limits)
    _check_together(files)
    fine = min(files, key=lambda f: abs(f.transform.a * f.transform.e) if f.transform else 1)
    n = len(files)
    notes = [
        f"{n} band{'s' if n > 1 else ''} from {n} file{'s' if n > 1 else ''}: {band_runs(order)}"
    ]
    coarse = [f.band for f in files if (f.width, f.height) != (fine.width, fine.height)]
    if coarse:
        notes[0] += f"; resampled {band_runs(coarse)} (bilinear) to {_grid_words(fine)}"
    return BandStack(_vrt(files, fine), sensor, order, files, notes, gcps=bool(fine.gcps))


def _inspect(f: BandFile, limits: Limits) -> None:
    if not f.head:
        with open(f.gdal_path, "rb") as fh:
            f.head = fh.read(512)
    f.driver = check_band_magic(f.head, f.name)
    try:
        src = rasterio.open(f.gdal_path, driver=f.driver, sharing=False)
    except RasterioError as exc:
        logger.info("band file %r: GDAL could not open it: %s", f.name, exc)
        raise UploadError(f"'{f.name}' is damaged or truncated: it could not be opened") from None
    with src:
        if src.count != 1:
            raise UploadError(
                f"'{f.name}' has {src.count} bands: a band file holds one band (its name says "
                f"{f.band})"
            )
        check_extent(src.width, src.height, limits, f.name)
        check_pixel_type(src.dtypes[0], f.name)
        if f.driver == "GTiff":
            check_blocks(src, f.name, f.size)
        f.crs, f.width, f.height, f.dtype = src.crs, src.width, src.height, src.dtypes[0]
        f.transform = None if src.transform.is_identity else src.transform
        f.nodata, f.scale, f.offset = src.nodata, src.scales[0], src.offsets[0]
        f.gcps, f.gcps_crs = src.gcps
        if f.transform is not None and (f.transform.b or f.transform.d):
            raise UploadError(
                f"'{f.name}' has a rotated pixel grid: warp it to a north-up grid first"
            )


def _check_together(files: list[BandFile]) -> None:
    dtypes = {f.dtype for f in files}
    if len(dtypes) > 1:
        raise UploadError(
            "the band files have different pixel types ("
            + ", ".join(f"{f.band} {f.dtype}" for f in files)
            + "): bands of one product share one"
        )
    georef = {(f.transform is not None, bool(f.gcps)) for f in files}
    if len(georef) > 1:
        raise UploadError(
            "some band files have a geotransform and others not ("
            + ", ".join(f"{f.band} {'yes' if f.transform else 'no'}" for f in files)
            + "): bands of one product are georeferenced alike"
        )
    crss = {f.crs.to_string() if f.crs else "none" for f in files}
    if len(crss) > 1:
        raise UploadError(
            "the band files are in different CRS ("
            + ", ".join(f"{f.band} {f.crs.to_string() if f.crs else 'none'}" for f in files)
            + "): bands of one scene share one grid"
        )
    if files[0].transform is None:  # GCP-only or ungeoreferenced: pixel grids must be equal
        sizes = {(f.width, f.height) for f in files}
        if len(sizes) > 1:
            raise UploadError(
                "the band files have no geotransform and different sizes ("
                + ", ".join(f"{f.band} {f.width}x{f.height}" for f in files)
                + "): they cannot be stacked"
            )
        return
    ref = files[0]
    rb = _bounds(ref)
    for f in files[1:]:
        b = _bounds(f)
        tol = max(abs(f.transform.a), abs(ref.transform.a), abs(f.transform.e))
        if max(abs(x - y) for x, y in zip(b, rb, strict=True)) > tol:
            raise UploadError(
                f"'{f.name}' ({f.band}) and '{ref.name}' ({ref.band}) do not cover the same area "
                f"(bounds differ by more than a pixel): bands of one scene share one footprint"
            )


def _bounds(f: BandFile) -> tuple[float, float, float, float]:
    t = f.transform
    x0, y0 = t.c, t.f
    x1, y1 = t.c + t.a * f.width, t.f + t.e * f.height
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _grid_words(fine: BandFile) -> str:
    res = abs(fine.transform.a) if fine.transform else None
    if res and fine.crs is not None and fine.crs.is_projected and 5 <= res <= 20:
        return f"{res:g} m ({fine.band}'s grid, {fine.width}x{fine.height} px)"
    return f"{fine.band}'s grid ({fine.width}x{fine.height} px)"


def _vrt(files: list[BandFile], fine: BandFile) -> str:
    """The VRT stacking `files` on `fine`'s grid; every value escaped."""
    head = f'<VRTDataset rasterXSize="{fine.width}" rasterYSize="{fine.height}">'
    parts = [head]
    if fine.crs is not None:
        parts.append(f"<SRS>{escape(fine.crs.to_wkt())}</SRS>")
    if fine.transform is not None:
        t = fine.transform
        parts.append(
            f"<GeoTransform>{t.c!r},{t.a!r},{t.b!r},{t.f!r},{t.d!r},{t.e!r}</GeoTransform>"
        )
    elif fine.gcps:
        srs = (
            f' Projection="{escape(fine.gcps_crs.to_wkt(), {chr(34): "&quot;"})}"'
            if (fine.gcps_crs)
            else ""
        )
        gcps = "".join(
            f'<GCP Id="{i}" Pixel="{g.col!r}" Line="{g.row!r}" X="{g.x!r}" Y="{g.y!r}" '
            f'Z="{(g.z or 0.0)!r}"/>'
            for i, g in enumerate(fine.gcps)
        )
        parts.append(f"<GCPList{srs}>{gcps}</GCPList>")
    for i, f in enumerate(files, start=1):
        parts.append(f'<VRTRasterBand dataType="{_GDAL_TYPES[f.dtype]}" band="{i}">')
        parts.append(f"<Description>{f.band}</Description>")
        nodata = ""
        if f.nodata is not None and not math.isnan(f.nodata):
            parts.append(f"<NoDataValue>{f.nodata!r}</NoDataValue>")
            nodata = f"<NODATA>{f.nodata!r}</NODATA>"
        if f.scale != 1.0 or f.offset != 0.0:
            parts.append(f"<Offset>{f.offset!r}</Offset><Scale>{f.scale!r}</Scale>")
        dst = _dst_rect(f, fine)
        parts.append(
            '<ComplexSource resampling="bilinear">'
            f'<SourceFilename relativeToVRT="0">{escape(f.gdal_path)}</SourceFilename>'
            f"<SourceBand>1</SourceBand>"
            f'<SrcRect xOff="0" yOff="0" xSize="{f.width}" ySize="{f.height}"/>'
            f'<DstRect xOff="{dst[0]!r}" yOff="{dst[1]!r}" xSize="{dst[2]!r}" '
            f'ySize="{dst[3]!r}"/>{nodata}</ComplexSource>'
        )
        parts.append("</VRTRasterBand>")
    parts.append("</VRTDataset>")
    return "".join(parts)


def _dst_rect(f: BandFile, fine: BandFile) -> tuple[float, float, float, float]:
    if f.transform is None or fine.transform is None:
        return 0.0, 0.0, float(fine.width), float(fine.height)
    ft, t = fine.transform, f.transform
    x_off = (t.c - ft.c) / ft.a
    y_off = (t.f - ft.f) / ft.e
    return x_off, y_off, f.width * t.a / ft.a, f.height * t.e / ft.e


def _list(names: list[str], most: int = 4) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
