"""Raw Sentinel-1 GRD: calibration of digital numbers and rasters georeferenced by GCPs.

- Calibration: a GRD .SAFE carries, per polarisation, `annotation/calibration/calibration-*.xml`
  with a sparse grid of sigmaNought values A (calibrationVector: a line, pixels, values). The
  backscatter is sigma0 = DN^2 / A^2 (ESA, "Sentinel-1 Product Specification", radiometric
  calibration), A interpolated bilinearly at each pixel's radar line and pixel. Without the table,
  digital numbers are refused with the steps to calibrate elsewhere
  (`bands.UNCALIBRATED_STEPS`).
- GCPs: the measurement TIFFs are in radar geometry, georeferenced by ground control points.
  They are warped with rasterio (`WarpedVRT`, GCP polynomial) to the UTM zone of their centre,
  on GDAL's default grid (the GRD's ~10 m pixels). Windows of the warped raster map back to
  radar lines/pixels through the GCP transformer, which is how calibration finds A for a warped
  pixel.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from xml.etree import ElementTree

import numpy as np
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.io import DatasetReader
from rasterio.transform import GCPTransformer
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform as warp_transform

from closp_demo.settings import MB
from closp_demo.upload.errors import UploadError, display_name
from closp_demo.upload.names import band_of_name

MAX_CALIBRATION_BYTES = 50 * MB  # a real table is about 1-3 MB


@dataclass
class CalibrationTable:
    """sigmaNought on a grid of radar lines x pixels (one polarisation)."""

    lines: np.ndarray  # (L,) increasing
    pixels: np.ndarray  # (P,) increasing
    values: np.ndarray  # (L, P) A

    def at(self, lines: np.ndarray, pixels: np.ndarray) -> np.ndarray:
        """A at (line, pixel) positions of equal shape, bilinear within the grid, clamped."""
        li = np.clip(np.searchsorted(self.lines, lines) - 1, 0, len(self.lines) - 2)
        pi = np.clip(np.searchsorted(self.pixels, pixels) - 1, 0, len(self.pixels) - 2)
        l0, l1 = self.lines[li], self.lines[li + 1]
        p0, p1 = self.pixels[pi], self.pixels[pi + 1]
        tl = np.clip((lines - l0) / np.maximum(l1 - l0, 1e-9), 0, 1)
        tp = np.clip((pixels - p0) / np.maximum(p1 - p0, 1e-9), 0, 1)
        v = self.values
        top = v[li, pi] * (1 - tp) + v[li, pi + 1] * tp
        bottom = v[li + 1, pi] * (1 - tp) + v[li + 1, pi + 1] * tp
        return top * (1 - tl) + bottom * tl


def parse_calibration(xml: bytes, name: str) -> CalibrationTable:
    """A `calibration-*.xml` of a GRD .SAFE -> its sigmaNought table; UploadError if unusable."""
    if b"<!DOCTYPE" in xml[:4096] or b"<!ENTITY" in xml:
        raise UploadError(f"'{name}': its calibration table declares XML entities: refused")
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise UploadError(f"'{name}': its calibration table is not valid XML ({exc})") from None
    lines, pixels, values = [], None, []
    for vec in root.iter("calibrationVector"):
        try:
            line = int(vec.findtext("line", ""))
            px = np.array(vec.findtext("pixel", "").split(), dtype=np.float64)
            sigma = np.array(vec.findtext("sigmaNought", "").split(), dtype=np.float64)
        except ValueError:
            raise UploadError(f"'{name}': its calibration table has unreadable values") from None
        if px.size < 2 or px.size != sigma.size:
            raise UploadError(f"'{name}': its calibration table has a malformed vector")
        if pixels is None:
            pixels = px
        lines.append(line)
        values.append(np.interp(pixels, px, sigma))
    if pixels is None or len(lines) < 2:
        raise UploadError(f"'{name}': its calibration table has fewer than 2 calibration vectors")
    values_arr = np.array(values)
    if not (np.isfinite(values_arr).all() and (values_arr > 0).all()):
        raise UploadError(f"'{name}': its calibration table has non-positive values")
    order = np.argsort(lines)
    return CalibrationTable(np.array(lines, dtype=np.float64)[order], pixels, values_arr[order])


def calibration_tables(
    zf: zipfile.ZipFile, measurements: list[str], name: str
) -> dict[str, CalibrationTable]:
    """Band -> table for each measurement member of a GRD .SAFE that has one ({} otherwise)."""
    tables: dict[str, CalibrationTable] = {}
    members = {i.filename: i for i in zf.infolist()}
    for m in measurements:
        if "/measurement/" not in f"/{m}":
            continue
        base = PurePosixPath(m).name
        stem = re.sub(r"\.tiff?$", "", base, flags=re.IGNORECASE)
        band = band_of_name(base)
        root = m.split("measurement/")[0]
        want = f"{root}annotation/calibration/calibration-{stem}.xml"
        info = members.get(want)
        if info is None or band is None:
            continue
        if info.file_size > MAX_CALIBRATION_BYTES:
            raise UploadError(
                f"'{name}': calibration table '{display_name(want)}' is too large "
                f"({info.file_size / MB:,.0f} MB)"
            )
        with zf.open(info) as fh:
            tables[band] = parse_calibration(fh.read(MAX_CALIBRATION_BYTES), display_name(want))
    return tables


def warp_gcps(src: DatasetReader, name: str) -> tuple[WarpedVRT, GCPTransformer, CRS, str]:
    """A GCP-georeferenced raster warped to the UTM zone of its centre; the GCP
    transformer (map -> radar) and the GCPs' CRS come with it, and a note."""
    gcps, gcp_crs = src.gcps
    if not gcps or gcp_crs is None:
        raise UploadError(f"'{name}' has ground control points without a CRS: cannot warp it")
    lon = float(np.mean([g.x for g in gcps]))
    lat = float(np.mean([g.y for g in gcps]))
    if gcp_crs.to_epsg() != 4326:
        (lon,), (lat,) = warp_transform(gcp_crs, "EPSG:4326", [lon], [lat])
    zone = int((lon + 180) // 6) % 60 + 1
    utm = CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
    # GDAL's own output grid: with an explicit transform, WarpedVRT (rasterio 1.4) ignores the
    # GCPs of the source (a stretched raster, no empty corners); GRD pixels are ~10 m anyway.
    nodata = src.nodata if src.nodata is not None else 0  # GRD: DN 0 is no data
    vrt = WarpedVRT(src, src_crs=gcp_crs, crs=utm, resampling=Resampling.bilinear,
                    src_nodata=nodata, nodata=nodata)  # fmt: skip
    note = (
        f"georeferenced by {len(gcps)} ground control points (radar geometry): warped with "
        f"rasterio to {utm.to_string()} at {abs(vrt.transform.a):.3g} m "
        f"({vrt.width}x{vrt.height} px)"
    )
    return vrt, GCPTransformer(gcps), gcp_crs, note


class Calibrator:
    """sigma0 = DN^2 / A^2 for pixels of a warped raster (see the module docstring)."""

    def __init__(
        self, tables: list[CalibrationTable], warped: WarpedVRT, gcp: GCPTransformer, gcp_crs: CRS
    ) -> None:
        self.tables, self.warped, self.gcp, self.gcp_crs = tables, warped, gcp, gcp_crs

    def __call__(self, raw: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """`raw` (bands, h, w) DN at warped pixel rows (h,) x cols (w,) -> sigma0 (linear)."""
        cc, rr = np.meshgrid(cols, rows)
        xs, ys = self.warped.transform * (cc.ravel(), rr.ravel())
        lon, lat = warp_transform(self.warped.crs, self.gcp_crs, xs, ys)
        line, pixel = self.gcp.rowcol(lon, lat, op=lambda v: v)  # fractional radar coordinates
        line = np.asarray(line, dtype=np.float64).reshape(rr.shape)
        pixel = np.asarray(pixel, dtype=np.float64).reshape(rr.shape)
        out = np.empty_like(raw, dtype=np.float64)
        for b, table in enumerate(self.tables):
            a = table.at(line, pixel)
            out[b] = np.square(raw[b]) / np.square(a)
        return out
