"""Sentinel products as users download them, written by code (no blobs): band files, zipped .SAFE.

- `ssl4eo_band_files(samples_dir, kind)`: the real SSL4EO-S12 one-GeoTIFF-per-band folders.
- `write_s2_safe_zip`: a zipped Sentinel-2 L1C/L2A .SAFE holding given band rasters as JPEG 2000
  under GRANULE/<granule>/IMG_DATA (L2A: R10m/R20m/R60m with each band at its native resolution,
  plus the same bands at coarser resolutions, as ESA ships them), with manifest and metadata.
- `write_s1_grd_safe_zip`: a zipped Sentinel-1 GRD .SAFE: uint16 digital numbers in radar geometry
  georeferenced by GCPs, with `annotation/calibration/calibration-*.xml` sigmaNought tables, made
  so that DN^2 / A^2 is the given backscatter (`s1_grd_truth`).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import numpy as np
from rasterio.control import GroundControlPoint
from rasterio.io import MemoryFile
from rasterio.shutil import copy as rio_copy

from tests.helpers.hostile_inputs import s1_db

SSL4EO = {
    "s2a": "ssl4eo_s12/s2a/0000200/20200813T054639_20200813T054952_T43RCP",
    "s2c": "ssl4eo_s12/s2c/0000200/20200604T054639_20200604T054831_T43RCP",
    "s1": "ssl4eo_s12/s1/0000200/"
    "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457",
}
S2_SAFE = "S2A_MSIL2A_20200813T054639_N0214_R048_T43RCP_20200813T083212"
S1_SAFE = "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
_NATIVE_RES = {"B02": 10, "B03": 10, "B04": 10, "B08": 10, "B05": 20, "B06": 20, "B07": 20,
               "B8A": 20, "B11": 20, "B12": 20, "B01": 60, "B09": 60, "B10": 60}  # fmt: skip


def ssl4eo_band_files(samples_dir: Path, kind: str) -> list[Path]:
    """The band GeoTIFFs of one real SSL4EO-S12 product ('s2a' L2A, 's2c' L1C, 's1' GRD dB)."""
    return sorted((samples_dir / SSL4EO[kind]).glob("*.tif"))


def band_of_ssl4eo(path: Path) -> str:
    """'B2.tif' -> 'B02', 'B8A.tif' -> 'B8A', 'VV.tif' -> 'VV'."""
    stem = path.stem.upper()
    return stem if stem in ("B8A", "VV", "VH") else f"B{int(stem[1:]):02d}"


def jp2_bytes(path: Path) -> bytes:
    """A GeoTIFF band converted to lossless JPEG 2000 with rasterio, as bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "band.jp2"
        rio_copy(path, out, driver="JP2OpenJPEG", QUALITY=100, REVERSIBLE=True)
        return out.read_bytes()


def write_s2_safe_zip(
    out: Path, bands: dict[str, Path], level: str = "L2A", granules: int = 1,
    safe: str = S2_SAFE, extra: dict[str, bytes] | None = None,
) -> Path:  # fmt: skip
    """A zipped .SAFE with `bands` (band -> GeoTIFF) as JPEG 2000 members (see the docstring)."""
    safe_dir = f"{safe.replace('MSIL2A', 'MSI' + level)}.SAFE"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{safe_dir}/manifest.safe", "<xfdu:XFDU/>")
        zf.writestr(f"{safe_dir}/MTD_MSI{level}.xml", "<n1:Level-2A_User_Product/>")
        for g in range(granules):
            granule = f"{safe_dir}/GRANULE/{level}_T43RCP_A026842_2020081{g}T055515"
            zf.writestr(f"{granule}/MTD_TL.xml", "<n1:Level-2A_Tile_ID/>")
            for band, path in bands.items():
                data = jp2_bytes(path)
                res = _NATIVE_RES[band]
                stem = f"T43RCP_20200813T054639_{band}"
                if level == "L1C":
                    zf.writestr(f"{granule}/IMG_DATA/{stem}.jp2", data)
                    continue
                zf.writestr(f"{granule}/IMG_DATA/R{res}m/{stem}_{res}m.jp2", data)
                for coarser in (20, 60):  # ESA also ships each band at coarser resolutions
                    if coarser > res:
                        zf.writestr(f"{granule}/IMG_DATA/R{coarser}m/{stem}_{coarser}m.jp2", data)
            if level == "L2A":
                zf.writestr(f"{granule}/IMG_DATA/R10m/T43RCP_20200813T054639_TCI_10m.jp2", b"x")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return out


# --- Sentinel-1 GRD ------------------------------------------------------------------------------

GRD_SHAPE = (300, 360)  # lines, pixels
GRD_STEP = 30  # calibration grid spacing, lines and pixels


def s1_grd_truth(seed: int = 40) -> np.ndarray:
    """The backscatter (dB, VV/VH) a generated GRD product encodes."""
    return s1_db(*GRD_SHAPE, seed=seed)


def calibration_a(lines: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """sigmaNought A on the calibration grid: rising across range, as in real products."""
    return 400.0 + 0.5 * pixels[None, :] + 0.05 * lines[:, None]


def calibration_xml(pol: str) -> bytes:
    lines = np.arange(0, GRD_SHAPE[0] + GRD_STEP, GRD_STEP)
    pixels = np.arange(0, GRD_SHAPE[1] + GRD_STEP, GRD_STEP)
    a = calibration_a(lines, pixels)
    px = " ".join(str(int(p)) for p in pixels)
    vectors = "".join(
        f"<calibrationVector><azimuthTime>2020-06-07T01:08:00</azimuthTime><line>{int(line)}"
        f'</line><pixel count="{len(pixels)}">{px}</pixel><sigmaNought count="{len(pixels)}">'
        + " ".join(f"{v:.6e}" for v in row)
        + "</sigmaNought></calibrationVector>"
        for line, row in zip(lines, a, strict=True)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><calibration><adsHeader><polarisation>{pol}'
        f'</polarisation></adsHeader><calibrationVectorList count="{len(lines)}">{vectors}'
        "</calibrationVectorList></calibration>"
    ).encode()


def grd_gcps() -> list[GroundControlPoint]:
    """A 5 x 5 grid of GCPs: radar geometry, about 10 m pixels, slightly skewed (Austria)."""
    gcps = []
    for row in np.linspace(0, GRD_SHAPE[0], 5):
        for col in np.linspace(0, GRD_SHAPE[1], 5):
            lon = 12.0 + col * 1.3e-4 + row * 1.5e-5
            lat = 47.0 - row * 9.0e-5 + col * 1.0e-5
            gcps.append(GroundControlPoint(row=float(row), col=float(col), x=lon, y=lat, z=500.0))
    return gcps


def grd_measurement(pol_index: int, seed: int = 40) -> bytes:
    """uint16 DN of one polarisation with GCPs: DN = sqrt(sigma0) * A."""
    db = s1_grd_truth(seed)[pol_index]
    lines = np.arange(GRD_SHAPE[0]) + 0.5
    pixels = np.arange(GRD_SHAPE[1]) + 0.5
    a = calibration_a(lines, pixels)
    dn = np.clip(np.round(np.sqrt(10 ** (db / 10)) * a), 1, 65535).astype(np.uint16)
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=GRD_SHAPE[1], height=GRD_SHAPE[0], count=1,
                      dtype="uint16", gcps=grd_gcps(), crs="EPSG:4326") as dst:  # fmt: skip
            dst.write(dn[None])
        return mem.read()


def write_s1_grd_safe_zip(
    out: Path, pols: tuple[str, ...] = ("vv", "vh"), calibration: bool = True,
    safe: str = S1_SAFE, calibration_override: bytes | None = None,
) -> Path:  # fmt: skip
    """A zipped GRD .SAFE (see the module docstring)."""
    safe_dir = f"{safe}.SAFE"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{safe_dir}/manifest.safe", "<xfdu:XFDU/>")
        for i, pol in enumerate(pols):
            stem = f"s1a-iw-grd-{pol}-20200607t010800-20200607t010825-032904-03cfba-00{i + 1}"
            zf.writestr(f"{safe_dir}/measurement/{stem}.tiff", grd_measurement(i))
            zf.writestr(f"{safe_dir}/annotation/{stem}.xml", "<product/>")
            if calibration:
                xml = calibration_override or calibration_xml(pol.upper())
                zf.writestr(f"{safe_dir}/annotation/calibration/calibration-{stem}.xml", xml)
                zf.writestr(f"{safe_dir}/annotation/calibration/noise-{stem}.xml", "<noise/>")
    return out
