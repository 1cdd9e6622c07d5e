"""Hostile and odd uploads for `closp_demo.upload.scene.read_upload`, written by code (no blobs).

`write_hostile_inputs(folder)` writes every case and returns a list of
`HostileCase(path, expected, filename)`:
- `expected` is a substring of the `UploadError` message the case must raise, or None for a VALID
  upload that must be read (antimeridian, polar, COG with overviews, odd filenames with good
  content, ...);
- `filename` is the user-facing name to pass when it cannot be a file name on disk (it holds "/").
Run the cases with `HOSTILE_LIMITS` (a small upload limit, so the oversized file stays cheap).
The image writers and synthetic Sentinel-like arrays here are shared with the tests.
"""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import rasterio
from affine import Affine
from PIL import Image
from rasterio.control import GroundControlPoint
from rasterio.errors import NotGeoreferencedWarning
from rasterio.shutil import copy as rio_copy
from rasterio.transform import from_origin
from rasterio.warp import transform as warp_transform

from closp_demo.sensors import S2_BANDS, S2_L1C_BANDS
from closp_demo.settings import MB, Limits

HOSTILE_LIMITS = Limits(max_bytes=4 * MB)
UTM_33N = "EPSG:32633"
UTM_ORIGIN = from_origin(500_000.0, 5_300_000.0, 10.0, 10.0)  # Austria, 10 m pixels

# Typical L2A digital numbers per band (vegetated land), B01..B12 without B10, plus B10 for L1C.
_S2_LEVELS = dict(
    zip(S2_BANDS, (300, 400, 600, 500, 900, 2000, 2500, 2700, 2800, 2900, 1800, 1000), strict=True)
)
_S2_LEVELS["B10"] = 15


class HostileCase(NamedTuple):
    path: Path
    expected: str | None  # substring of the UploadError message; None = must be read
    filename: str | None = None  # user-facing name, when it differs from path.name


# --- synthetic Sentinel-like arrays --------------------------------------------------------------


def smooth_field(shape: tuple[int, int], rng: np.random.Generator, cell: int = 16) -> np.ndarray:
    """Spatially correlated noise in about -1..1 (blocky low-resolution noise, upsampled)."""
    h, w = shape
    coarse = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2))
    up = np.kron(coarse, np.ones((cell, cell)))[:h, :w]
    return (up + np.roll(up, cell // 2, 0) + np.roll(up, cell // 2, 1)) / 3


def s2_dn(height: int = 120, width: int = 120, seed: int = 0, bands: int = 12) -> np.ndarray:
    """uint16 (bands, h, w) Sentinel-2-like digital numbers (L2A order, or L1C order for 13)."""
    rng = np.random.default_rng(seed)
    names = S2_L1C_BANDS if bands == 13 else S2_BANDS
    field = smooth_field((height, width), rng)
    out = np.empty((bands, height, width), dtype=np.uint16)
    for i, band in enumerate(names):
        level = _S2_LEVELS[band]
        noise = rng.normal(0, 0.05, (height, width))
        out[i] = np.clip(level * (1 + 0.4 * field + noise), 1, 20000).astype(np.uint16)
    return out


def s1_db(height: int = 120, width: int = 120, seed: int = 0) -> np.ndarray:
    """float32 (2, h, w) Sentinel-1-like VV, VH backscatter in dB, with 4-look speckle."""
    rng = np.random.default_rng(seed)
    field = 3.0 * smooth_field((height, width), rng)
    speckle = 10 * np.log10(rng.gamma(4.0, 1 / 4.0, (2, height, width)))
    return (np.stack([-10.0 + field, -17.0 + field]) + speckle).astype(np.float32)


def write_tif(
    path: Path,
    data: np.ndarray,
    crs: str | None = UTM_33N,
    transform: Affine | None = UTM_ORIGIN,
    nodata: float | None = None,
    descriptions: list[str] | None = None,
    **profile: object,
) -> Path:
    """Write a (bands, h, w) array as a GeoTIFF with rasterio; returns `path`."""
    count, height, width = data.shape
    kwargs: dict = {"driver": "GTiff", "width": width, "height": height, "count": count}
    kwargs["dtype"] = profile.pop("dtype", data.dtype.name)
    if crs is not None:
        kwargs["crs"] = crs
    if transform is not None:
        kwargs["transform"] = transform
    if nodata is not None:
        kwargs["nodata"] = nodata
    kwargs.update(profile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the no-georeferencing cases
        dst = rasterio.open(path, "w", **kwargs)
    with dst:
        dst.write(data)
        for i, text in enumerate(descriptions or [], start=1):
            dst.set_band_description(i, text)
    return path


# --- the cases ----------------------------------------------------------------------------------


def write_hostile_inputs(folder: Path, limits: Limits = HOSTILE_LIMITS) -> list[HostileCase]:
    """Write >= 40 hostile or odd uploads into `folder`; see the module docstring."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[HostileCase] = []

    def add(name: str, expected: str | None, filename: str | None = None) -> Path:
        path = folder / name
        cases.append(HostileCase(path, expected, filename))
        return path

    s2 = s2_dn(seed=1)
    s1 = s1_db(seed=2)
    good_tif = write_tif(folder / "_good_s2_300.tif", s2_dn(300, 300, seed=3))
    good_bytes = good_tif.read_bytes()
    good_tif.unlink()
    damaged = "damaged or truncated"

    # Not a TIFF at all, or a broken one.
    add("zero_bytes.tif", "is empty (0 bytes)").write_bytes(b"")
    add("truncated_half.tif", damaged).write_bytes(good_bytes[: len(good_bytes) // 2])
    add("truncated_header.tif", damaged).write_bytes(good_bytes[:100])
    add("truncated_8_bytes.tif", damaged).write_bytes(good_bytes[:8])
    tiled = write_tif(
        folder / "_tiled.tif",
        s2_dn(256, 256, seed=4),
        tiled=True,
        blockxsize=128,
        blockysize=128,
        compress="deflate",
    )
    tiled_bytes = tiled.read_bytes()
    tiled.unlink()
    add("truncated_tiled.tif", damaged).write_bytes(tiled_bytes[: int(len(tiled_bytes) * 0.6)])
    corrupt = bytearray(tiled_bytes)
    start = len(corrupt) // 3
    corrupt[start : start + len(corrupt) // 3] = np.random.default_rng(5).bytes(len(corrupt) // 3)
    add("corrupt_deflate_tiles.tif", damaged).write_bytes(bytes(corrupt))
    add("ifd_loop.tif", damaged).write_bytes(_ifd_loop_tiff())
    rgb = np.random.default_rng(6).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    _save_pil(add("jpeg_renamed.tif", "is a JPEG image"), rgb, "JPEG")
    _save_pil(add("png_renamed.tif", "is a PNG image"), rgb, "PNG")
    _save_pil(add("gif_renamed.tif", "is a GIF image"), rgb, "GIF")
    add("text_renamed.tif", "is a text file").write_text("VV VH\n-10.5 -17.2\n" * 20)
    add("html_renamed.tif", "XML/HTML text file").write_text(
        "<html><script>alert('x')</script></html>"
    )
    add("vrt_renamed.tif", "XML/HTML text file").write_text(
        '<VRTDataset rasterXSize="120" rasterYSize="120"><VRTRasterBand dataType="Byte" band="1">'
        "<SimpleSource><SourceFilename>/etc/passwd</SourceFilename></SimpleSource>"
        "</VRTRasterBand></VRTDataset>"
    )
    add("zip_renamed.tif", "is a ZIP archive").write_bytes(_zip_of({"band.tif": good_bytes}))
    add("jp2_renamed.tif", "is a JPEG 2000 image").write_bytes(
        b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(200)
    )
    add("random_bytes.tif", "is not a TIFF file").write_bytes(np.random.default_rng(7).bytes(4096))
    _save_pil(add("multi_page.tif", "multi-page TIFF"), rgb[..., 0], "TIFF", pages=3)

    # Band count and band meaning.
    for n in (1, 3, 4, 5, 11, 14, 20):
        data = np.resize(s2, (n, 120, 120))
        write_tif(add(f"bands_{n}.tif", f"has {n} band"), data)
    write_tif(add("s1_named_b04.tif", "are Sentinel-2 band names"), s1, descriptions=["B04", "B03"])
    write_tif(add("s2_named_vv.tif", "(Sentinel-1 polarisations)"), s2, descriptions=["VV"] * 12)
    write_tif(add("s2_names_mixed.tif", "mix Sentinel-1"), s2, descriptions=[*S2_BANDS[:11], "VH"])
    write_tif(
        add("s2_b10_in_12_bands.tif", "do not belong in a 12-band stack"),
        s2,
        descriptions=[*S2_BANDS[:8], "B10", *S2_BANDS[9:]],
    )
    l1c_names = list(S2_L1C_BANDS)
    l1c_names[10] = "B8A"  # B8A twice, no B10
    write_tif(
        add("s2_l1c_duplicate_names.tif", "names band B8A more than once"),
        s2_dn(seed=8, bands=13),
        descriptions=l1c_names,
    )
    write_tif(add("s1_hh_hv.tif", "HH/HV is the polar"), s1, descriptions=["HH", "HV"])
    write_tif(add("s1_vv_vv.tif", "names band VV more than once"), s1, descriptions=["VV", "VV"])

    # Georeferencing.
    write_tif(add("no_crs.tif", "no georeferencing (CRS or geotransform)"), s1, crs=None)
    no_georef = "no georeferencing (CRS or geotransform)"
    write_tif(add("no_transform.tif", no_georef), s1, transform=None)
    write_tif(add("no_georef.tif", "no georeferencing (CRS or geotransform)"), s1, None, None)
    gcp_path = write_tif(add("gcps_only.tif", "ground control points"), s1, None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        gcp_dst = rasterio.open(gcp_path, "r+")
    with gcp_dst:
        gcp_dst.gcps = (
            [
                GroundControlPoint(0, 0, 12.0, 47.0),
                GroundControlPoint(0, 120, 12.0, 46.99),
                GroundControlPoint(120, 0, 12.02, 47.0),
            ],
            "EPSG:4326",
        )
    rotated = Affine(10.0, 3.0, 500_000.0, 3.0, -10.0, 5_300_000.0)
    write_tif(add("rotated_grid.tif", "rotated pixel grid"), s1, transform=rotated)
    write_tif(
        add("off_the_earth.tif", "outside the Earth"),
        s1,
        crs="EPSG:4326",
        transform=from_origin(10.0, 95.0, 0.0001, 0.0001),
    )

    # Pixel content.
    nan = np.full((2, 120, 120), np.nan, dtype=np.float32)
    write_tif(add("all_nan.tif", "all pixels are NaN"), nan)
    write_tif(add("all_inf.tif", "all pixels are infinite"), np.full_like(nan, np.inf))
    write_tif(
        add("all_nodata.tif", "all pixels are nodata (nodata value 0)"), np.zeros_like(s2), nodata=0
    )
    mixed = np.full((2, 120, 120), -9999.0, dtype=np.float32)
    mixed[:, :60] = np.nan
    write_tif(add("nan_and_nodata.tif", "every pixel is nodata, NaN or Inf"), mixed, nodata=-9999)
    write_tif(add("constant.tif", "has the same value (1234)"), np.full_like(s2, 1234))
    per_band = np.broadcast_to(np.arange(1, 13, dtype=np.uint16)[:, None, None] * 500, s2.shape)
    write_tif(add("constant_bands.tif", "every band of"), np.ascontiguousarray(per_band))
    striped = s2_dn(360, 360, seed=9)
    striped[:, :, np.arange(360) % 3 != 0] = 0  # one valid column in three: no tile is half valid
    write_tif(add("mostly_nodata_tiles.tif", "none of its 9 tile(s)"), striped, nodata=0)

    # Pixel types.
    write_tif(add("int8.tif", "8-bit pixels (int8)"), np.clip(s1, -128, 127).astype(np.int8))
    write_tif(add("uint8_s2.tif", "8-bit pixels (uint8)"), (s2 // 80).astype(np.uint8))
    write_tif(add("complex64.tif", "complex pixels (complex64)"), s1.astype(np.complex64))
    write_tif(
        add("complex_int16.tif", "complex pixels (complex_int16)"),
        s1.astype(np.complex64),
        dtype="complex_int16",
    )
    write_tif(add("float64_s2_sane.tif", None), s2.astype(np.float64))
    write_tif(
        add("float64_s2_garbage.tif", "do not look like reflectance"),
        np.full(s2.shape, 1e30) * np.random.default_rng(10).random(s2.shape),
    )
    write_tif(add("int16_s2_negative.tif", "do not look like reflectance"), -s2.astype(np.int16))
    write_tif(
        add("s1_uint16_dn.tif", "uncalibrated Sentinel-1 digital numbers"),
        (10 ** (s1 / 20) * 1000).astype(np.uint16),
    )
    write_tif(
        add("s1_positive_junk.tif", "do not look like Sentinel-1 backscatter"),
        (s1 + 60).astype(np.float32),
    )
    write_tif(
        add("s1_amplitude_negative.tif", "described as amplitude"),
        s1,
        descriptions=["Amplitude_VV", "Amplitude_VH"],
    )

    # Size.
    _sparse(add("header_100000x100000.tif", "100000 x 100000 px"), 100_000, 100_000, blocks=4096)
    _sparse(add("long_strip.tif", "CLOSP_MAX_SIDE"), limits.max_side + 10, 64, blocks=512)
    side = int(np.sqrt(limits.max_pixels)) + 100
    _sparse(add("too_many_pixels.tif", "CLOSP_MAX_PIXELS"), side, side, blocks=4096)
    _sparse(add("one_giant_strip.tif", "blocks of 8000 x 8000 px"), 8000, 8000, strip=True)
    write_tif(
        add("beyond_size_limit.tif", f"above the {limits.max_upload_mb:g} MB limit"),
        s2_dn(limits.max_bytes // (12 * 2 * 500) + 20, 500, seed=11),  # 12 x uint16 x 500 px
    )
    write_tif(add("tiny_16px.tif", "too small"), s2[:, :16, :16])
    write_tif(add("thin_31px.tif", "too small"), s1_db(31, 400, seed=12))

    # VALID uploads: must be read.
    write_tif(add("small_40px.tif", None), s1_db(40, 40, seed=13))
    cog_src = write_tif(folder / "_cog_src.tif", s1_db(600, 600, seed=14).round(1))
    rio_copy(
        cog_src,
        add("cog_with_overviews.tif", None),
        driver="COG",
        compress="deflate",
        blocksize=256,
    )
    cog_src.unlink()
    write_tif(add("bigtiff.tif", None), s2, BIGTIFF="YES")
    # UTM zone 1 scene straddling 180 degrees (Fiji, 17 S), 3 km wide around the antimeridian.
    (x180,), (y17,) = warp_transform("EPSG:4326", "EPSG:32601", [-180.0], [-17.0])
    write_tif(
        add("antimeridian_utm1.tif", None),
        s2_dn(200, 300, seed=15),
        crs="EPSG:32601",
        transform=from_origin(x180 - 1500.0, y17, 10.0, 10.0),
    )
    write_tif(
        add("antimeridian_4326.tif", None),
        s1,
        crs="EPSG:4326",
        transform=from_origin(179.995, -17.0, 0.0001, 0.0001),
    )
    write_tif(
        add("polar_3031_south_pole.tif", None),
        s1_db(240, 240, seed=16),
        crs="EPSG:3031",
        transform=from_origin(-1200.0, 1200.0, 10.0, 10.0),
    )
    write_tif(
        add("polar_3413_greenland.tif", None),
        s2_dn(240, 240, seed=17),
        crs="EPSG:3413",
        transform=from_origin(-200_000.0, -2_000_000.0, 10.0, 10.0),
    )
    good = s2_dn(seed=18)
    write_tif(add("<svg onload=alert(1)>.tif", None), good)
    write_tif(add("script_name.tif", None, filename="<script>alert('xss')</script>.tif"), good)
    write_tif(add("<img src=x onerror=alert(1)>.tif", None), good)
    write_tif(add('it\'s "quoted" & <b>bold<b>.tif', None), good)
    write_tif(add("..\\..\\windows\\system32\\evil.tif", None), good)
    write_tif(add("Überschwemmung_洪水_наводнение_🌊.tif", None), good)
    write_tif(add("report\u202efit.exe.tif", None), good)  # right-to-left override
    write_tif(add("x" * 200 + ".tif", None), good)
    write_tif(add("plain_name.tif", None, filename="../../etc/passwd.tif"), good)
    write_tif(add("s1_vh_vv_named.tif", None), s1[::-1].copy(), descriptions=["VH", "VV"])
    write_tif(add("s2_13_band_l1c.tif", None), s2_dn(seed=19, bands=13))
    return cases


def _save_pil(path: Path, array: np.ndarray, fmt: str, pages: int = 1) -> None:
    images = [Image.fromarray(np.roll(array, i, axis=0)) for i in range(pages)]
    images[0].save(path, format=fmt, save_all=pages > 1, append_images=images[1:])


def _zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _ifd_loop_tiff() -> bytes:
    """A little-endian TIFF whose only IFD (one ImageWidth entry) points back to itself."""
    entry = struct.pack("<HHII", 256, 3, 1, 120)
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + entry + struct.pack("<I", 8)


def _sparse(path: Path, width: int, height: int, blocks: int = 512, strip: bool = False) -> None:
    """A GeoTIFF whose header claims width x height px but stores no block (a few KB on disk)."""
    layout = (
        {"blockysize": height}
        if strip
        else {"tiled": True, "blockxsize": blocks, "blockysize": blocks}
    )
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=2,
        dtype="float32",
        crs=UTM_33N,
        transform=UTM_ORIGIN,
        sparse_ok=True,
        compress="deflate",
        **layout,
    ):
        pass
