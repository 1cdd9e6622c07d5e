"""The upload reader: any user GeoTIFF -> a validated, sensor-detected scene in the internal layout.

`read_upload` either returns an `UploadedScene` or raises `UploadError`, whose message is the exact
text shown to the user; no other exception escapes it (unexpected ones are logged and wrapped).
Each decision is recorded in `UploadedScene.notes`. The steps, and where each is decided:
- `checks`: a single-image (Big)GeoTIFF, COG included, sniffed by its magic bytes and opened with
  the GTiff driver only (a renamed JPEG/PNG/ZIP/text or a VRT pointing at other files is refused);
  file size and header (side, pixel count, band count, pixel type, block size) against `Limits`
  before any pixel is read; a CRS and a north-up geotransform (GCP/RPC-only rasters are refused).
  Pixel types: 16/32/64-bit integers and 32/64-bit floats; 8-bit (a display rendering) and
  complex (SLC) pixels are refused. A scene with no valid pixel, or a constant one, is refused.
- `bands`: the sensor (2 bands = Sentinel-1 GRD, 12 = Sentinel-2 L2A, 13 = L1C with B10 dropped),
  band order from band descriptions, and units (dB / linear / amplitude, DN / reflectance).
- `windows`: 120 x 120 tiles read by windows on an even grid (at most `max_tiles`), small scenes
  upsampled, invalid pixels skipped or filled; the preview, nearest-decimated to a long side of at
  most 512 px. The full raster is never in memory.
- here: the footprint in lon/lat (`scene_footprint`: antimeridian and poles), the acquisition time
  from the filename, the pixel-size note. Pixels are used in their native CRS, no reprojection.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader
from rasterio.warp import transform as warp_transform

from closp_demo.corpus.records import ImageRecord, footprint_lonlat
from closp_demo.encoders.base import Encoder
from closp_demo.geo.place import great_circle_km
from closp_demo.sensors import PATCH_SIZE, Sensor
from closp_demo.settings import Limits
from closp_demo.upload.archive import is_zip, product_name, read_zip
from closp_demo.upload.bands import (
    BandLayout,
    decide_units,
    detect_layout,
    stack_layout_of,
    to_internal,
)
from closp_demo.upload.checks import (
    JP2_MAGIC,
    check_content,
    check_extent,
    check_file,
    check_header,
    check_min_side,
    check_tiff_magic,
)
from closp_demo.upload.errors import UploadError, display_name
from closp_demo.upload.names import band_of_name, product_key
from closp_demo.upload.sar import Calibrator, warp_gcps
from closp_demo.upload.stack import BandFile, BandStack, assemble
from closp_demo.upload.windows import (
    TileGrid,
    normalised_bounds,
    read_preview,
    read_tiles,
    tile_grid,
)

logger = logging.getLogger(__name__)

GDAL_CACHE_MB = 128  # bounds GDAL's block cache (its default is 5 % of the machine's RAM)

_TIMESTAMP = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?!\d)")

NOT_PLACED_NOTE = (
    "no georeferencing (no CRS or geotransform): the scene is searched by its pixels, but it "
    "cannot be placed on the map and has no location for place filters"
)

__all__ = [
    "UploadError", "UploadedScene", "display_name", "read_upload", "read_uploads",
    "scene_footprint",
]  # fmt: skip


@dataclass
class UploadedScene:
    sensor: Sensor  # "S1" or "S2"
    level: str  # "GRD", "L1C" or "L2A"
    filename: str  # display name, shortened (see `errors.display_name`)
    crs: str  # e.g. "EPSG:32633"
    bounds: tuple[float, float, float, float]  # (minx, miny, maxx, maxy) in `crs`
    width: int  # pixels of the uploaded raster
    height: int
    footprint: list[tuple[float, float]]  # closed lon/lat ring, see `scene_footprint`
    notes: list[str]  # every detection and conversion made, human-readable
    tiles: list[ImageRecord]  # 120 x 120 tiles in the internal layout
    preview: np.ndarray  # float32 (B, h, w), internal layout, long side <= 512, NaN where invalid
    timestamp: str | None = None  # acquisition time found in the filename, ISO 8601 UTC
    # Sentinel-1 polarisations in the file, ("VV", "VH") for a full scene; ("VV",), ("HH",) or
    # ("HH", "HV") for a single/other-polarisation scene (see `bands.BandLayout.pols`).
    polarisations: tuple[str, ...] = ()

    @property
    def placed(self) -> bool:
        """False for a raster without georeferencing: searchable, but not drawn on the map."""
        return bool(self.footprint)

    @property
    def full_polarisation(self) -> bool:
        return self.sensor != "S1" or tuple(self.polarisations) == ("VV", "VH")


def read_upload(
    path: str | Path, limits: Limits | None = None, filename: str | None = None
) -> UploadedScene:
    """Read one uploaded GeoTIFF (or band file, or ZIP); raise `UploadError` (user-facing message)
    on any problem.

    `filename` is the name the user gave the file (default: the name of `path`); it is only shown,
    shortened, in notes and messages. `limits`: default `Limits()`; the app passes its settings'.
    """
    names = None if filename is None else [filename]
    return read_uploads([path], limits, names)


def read_uploads(
    paths: Sequence[str | Path], limits: Limits | None = None,
    filenames: Sequence[str] | None = None, grid: TileGrid = tile_grid,
) -> UploadedScene:  # fmt: skip
    """Read one upload: a band-stack GeoTIFF, several band files, or one ZIP (band files or a
    zipped .SAFE product) -> one scene; `UploadError` on any problem (see `read_upload`).
    `grid` lays out its tiles (the heat map's: `window_scores.centred_grid`)."""
    limits = limits or Limits()
    paths = [Path(p) for p in paths]
    given = list(filenames) if filenames is not None else [p.name for p in paths]
    names = [display_name(n) for n in given]
    label = names[0] if len(names) == 1 else f"{len(names)} files"
    try:
        with (
            rasterio.Env(
                GDAL_CACHEMAX=GDAL_CACHE_MB * 1024 * 1024,  # rasterio passes bytes to GDAL
                GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR",  # no sidecar .ovr/.aux.xml/.msk
                GDAL_PAM_ENABLED="NO",  # never write .aux.xml next to the upload
                CPL_VSIL_CURL_ALLOWED_EXTENSIONS=".none",  # no network reads, ever
            ),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return _dispatch(paths, names, limits, grid)
    except UploadError as exc:
        logger.info("upload %r refused: %s", label, exc)
        raise
    except MemoryError:
        logger.exception("upload %r: out of memory", label)
        raise UploadError(
            f"'{label}' is too large to process on this server (it ran out of memory)"
        ) from None
    except Exception as exc:
        logger.exception("upload %r: unexpected error", label)
        raise UploadError(
            f"'{label}' could not be read: unexpected error ({type(exc).__name__}). The file may "
            "be damaged or use a GeoTIFF variant this demo does not support."
        ) from exc


def _dispatch(paths: list[Path], names: list[str], limits: Limits, grid: TileGrid) -> UploadedScene:
    if not paths:
        raise UploadError("no file was uploaded: choose a GeoTIFF, band files or one ZIP")
    sizes = [check_file(p, limits, n) for p, n in zip(paths, names, strict=True)]
    zips = [n for p, n in zip(paths, names, strict=True) if is_zip(p)]
    if zips and len(paths) > 1:
        raise UploadError(
            f"{', '.join(repr(z) for z in zips)}: upload one ZIP on its own, or band files "
            "without a ZIP"
        )
    if zips:
        stack = read_zip(paths[0], names[0], limits)
        return _read_stack(stack, limits, product_name(names[0]), grid)
    if len(paths) == 1 and not _one_band_file(paths[0], names[0]):
        return _read(paths[0], limits, names[0], sizes[0], grid)
    files = [BandFile(str(p), n, size) for p, n, size in zip(paths, names, sizes, strict=True)]
    stack = assemble(files, limits)
    return _read_stack(stack, limits, _stack_name(stack), grid)


def _one_band_file(path: Path, name: str) -> bool:
    """A single upload whose name names a band (e.g. 'VV.tif', '..._B04.jp2') and that holds
    one band: read as a band file (a single-polarisation scene, or a missing-bands refusal)."""
    if band_of_name(name) is None:
        return False
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(JP2_MAGIC):
        return True
    try:
        with rasterio.open(path, driver="GTiff", sharing=False) as src:
            return src.count == 1
    except RasterioError:
        return False


def _stack_name(stack: BandStack) -> str:
    if len(stack.files) == 1:
        return stack.files[0].name
    keys = {product_key(f.name) for f in stack.files} - {""}
    if len(keys) == 1:
        return display_name(keys.pop())
    return f"{len(stack.files)} band files"


def _read(path: Path, limits: Limits, name: str, size: int, grid: TileGrid) -> UploadedScene:
    check_tiff_magic(path, name)
    try:
        src = rasterio.open(path, driver="GTiff", sharing=False)
    except RasterioError as exc:
        logger.info("upload %r: GDAL could not open it: %s", name, exc)
        raise UploadError(
            f"'{name}' is a damaged or truncated TIFF: it could not be opened as a GeoTIFF"
        ) from None
    with src:
        notes: list[str] = []
        georef = check_header(src, limits, name, size)
        layout = detect_layout(src, name, notes)
        if georef == "gcps":
            return _warped_scene(src, layout, limits, name, notes, {}, grid)
        return _scene(src, layout, limits, name, notes, grid)


def _warped_scene(
    src: DatasetReader, layout: BandLayout, limits: Limits, name: str, notes: list[str],
    tables: dict, grid: TileGrid,
) -> UploadedScene:  # fmt: skip
    """A raster placed by ground control points, warped (and calibrated with `tables`, band ->
    `sar.CalibrationTable`, when there is one for each band)."""
    warped, gcp, gcp_crs, note = warp_gcps(src, name)
    with warped:
        notes.append(note)
        check_extent(warped.width, warped.height, limits, name)
        if tables and all(b in tables for b in layout.pols):
            layout.calibrate = Calibrator([tables[b] for b in layout.pols], warped, gcp, gcp_crs)
        return _scene(warped, layout, limits, name, notes, grid)


def _read_stack(stack: BandStack, limits: Limits, name: str, grid: TileGrid) -> UploadedScene:
    """A band stack (several files or ZIP members) through the same steps as one file."""
    notes = list(stack.notes)
    try:
        src = rasterio.open(stack.vrt, driver="VRT", sharing=False)
    except RasterioError as exc:
        logger.info("upload %r: the band stack could not be opened: %s", name, exc)
        raise UploadError(f"'{name}': its band files could not be read together") from None
    with src:
        check_extent(src.width, src.height, limits, name)
        check_min_side(src.width, src.height, name)
        layout = stack_layout_of(stack, name, notes)
        layout.scales = np.array([src.scales[i - 1] for i in layout.indexes], dtype=np.float64)
        layout.offsets = np.array([src.offsets[i - 1] for i in layout.indexes], dtype=np.float64)
        if stack.gcps:
            return _warped_scene(src, layout, limits, name, notes, stack.calibration, grid)
        return _scene(src, layout, limits, name, notes, grid)


def _scene(
    src: DatasetReader, layout: BandLayout, limits: Limits, name: str, notes: list[str],
    grid: TileGrid,
) -> UploadedScene:  # fmt: skip
    placed = src.crs is not None and not src.transform.is_identity
    if placed:
        crs = src.crs.to_string()
        bounds = normalised_bounds(src.bounds)
        try:
            footprint, geo_notes = scene_footprint(crs, bounds)
        except _GeoError as exc:
            raise UploadError(f"'{name}' cannot be placed on the map: {exc}") from None
        notes += geo_notes
    else:
        crs, bounds, footprint = "", (0.0, 0.0, float(src.width), float(src.height)), []
        notes.append(NOT_PLACED_NOTE)
    timestamp = _timestamp_from_name(name, notes)
    preview = _preview(src, layout, name, notes)
    if placed:
        _note_pixel_size(src, notes)
    tiles = read_tiles(src, layout, limits, name, notes, crs, timestamp, grid)
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
        polarisations=layout.pols if layout.sensor == "S1" else (),
    )


def _preview(src: DatasetReader, layout: BandLayout, name: str, notes: list[str]) -> np.ndarray:
    """The decimated scene, which also decides the units (and refuses an empty or flat scene)."""
    raw, valid, how = read_preview(src, layout, name)
    check_content(raw, valid, src.nodata, name)
    decide_units(layout, raw[:, valid], src.dtypes[0], name, notes)
    preview = to_internal(raw, valid, layout)
    if how is not None:
        notes.append(how)
    return preview


# --- where and when ----------------------------------------------------------------------------


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


def _note_pixel_size(src: DatasetReader, notes: list[str]) -> None:
    """Note when pixels are far from the 10 m the models were trained on."""
    t = src.transform
    col, row = src.width / 2, src.height / 2
    pts = [t @ (col, row), t @ (col + 1, row), t @ (col, row + 1)]
    try:
        lons, lats = warp_transform(src.crs, "EPSG:4326", [p[0] for p in pts], [p[1] for p in pts])
    except Exception:  # footprint already succeeded; this note is optional
        return
    sizes = great_circle_km(lons[0], lats[0], lons[1:], lats[1:]) * 1000.0
    if not np.isfinite(sizes).all():
        return
    metres = math.sqrt(sizes[0] * sizes[1])
    if not 5.0 <= metres <= 20.0:
        notes.append(
            f"pixels are about {metres:.3g} m wide; the models expect 10 m pixels (a tile "
            f"covers {metres * PATCH_SIZE / 1000:.3g} km instead of 1.2 km)"
        )


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


def _fmt_bounds(b: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in b) + ")"


def check_encoder_can_embed(scene: UploadedScene, encoder: Encoder) -> None:
    """A single/other-polarisation Sentinel-1 scene needs an encoder that can embed it."""
    if scene.full_polarisation or encoder.info.partial_s1:
        return
    pols = " + ".join(scene.polarisations)
    raise UploadError(
        f"{scene.filename}: Sentinel-1 {pols} cannot be embedded by {encoder.info.name}: "
        "it takes exactly two channels, VV and VH, as it was trained on, and inventing the "
        "missing or different polarisation would give misleading results. Upload a VV + VH "
        "scene, or run the demo with the physics baseline (--encoder physics-minilm), which "
        "embeds it with the rules that need VH skipped"
    )
