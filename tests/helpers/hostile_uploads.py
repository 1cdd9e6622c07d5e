"""Hostile and odd multi-file and ZIP uploads for `read_uploads`, written by code (no blobs).

`write_hostile_uploads(folder)` returns `HostileUpload(paths, expected, label)` cases: `expected`
is a substring of the `UploadError` message, or None for a valid upload that must be read. Run
them with `UPLOAD_LIMITS` (small upload and unzipped limits, so the oversized cases stay cheap).
These complement `hostile_inputs` (single GeoTIFFs) for the band-file and ZIP paths.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
from rasterio.transform import from_origin

from closp_demo.sensors import S2_BANDS
from closp_demo.settings import MB, Limits
from tests.helpers.hostile_inputs import UTM_ORIGIN, s1_db, s2_dn, write_tif
from tests.helpers.products import calibration_xml, write_s1_grd_safe_zip, write_s2_safe_zip

UPLOAD_LIMITS = Limits(max_bytes=4 * MB, max_unzipped_bytes=int(2.5 * MB), max_zip_ratio=100)
_S2_RES = {"B01": 60, "B09": 60, "B05": 20, "B06": 20, "B07": 20, "B8A": 20, "B11": 20, "B12": 20}


class HostileUpload(NamedTuple):
    paths: list[Path]
    expected: str | None  # substring of the UploadError message; None = must be read
    label: str


def write_band_set(folder: Path, seed: int = 0, prefix: str = "", side: int = 240) -> dict:
    """12 Sentinel-2 L2A band GeoTIFFs at their native 10/20/60 m (band -> path)."""
    folder.mkdir(parents=True, exist_ok=True)
    stack = s2_dn(side, side, seed=seed)
    out = {}
    for i, band in enumerate(S2_BANDS):
        res = _S2_RES.get(band, 10)
        k = res // 10
        data = stack[i : i + 1, ::k, ::k].copy()
        transform = from_origin(UTM_ORIGIN.c, UTM_ORIGIN.f, res, res)
        out[band] = write_tif(folder / f"{prefix}{band}.tif", data, transform=transform)
    return out


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _patch_declared_size(path: Path, size: int) -> None:
    """Make every member of a ZIP declare `size` uncompressed bytes (headers only)."""
    data = bytearray(path.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            data[i + offset : i + offset + 4] = size.to_bytes(4, "little")
            start = i + 4
    path.write_bytes(bytes(data))


def _patch_flags(path: Path, bits: int) -> None:
    """Set general-purpose flag bits of every member (local and central headers)."""
    data = bytearray(path.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            flags = int.from_bytes(data[i + offset : i + offset + 2], "little") | bits
            data[i + offset : i + offset + 2] = flags.to_bytes(2, "little")
            start = i + 4
    path.write_bytes(bytes(data))


def write_hostile_uploads(folder: Path) -> list[HostileUpload]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[HostileUpload] = []

    def add(paths: list[Path], expected: str | None, label: str) -> None:
        cases.append(HostileUpload(list(paths), expected, label))

    for sub in ("s1", "zero", "crs", "shift", "three", "jp2tif", "png", "big", "p2"):
        (folder / sub).mkdir()
    good = write_band_set(folder / "good", seed=1)
    paths = list(good.values())
    good_bytes = {b: p.read_bytes() for b, p in good.items()}
    s1 = s1_db(200, 200, seed=2)
    vv = write_tif(folder / "s1" / "VV.tif", s1[:1])
    vh = write_tif(folder / "s1" / "VH.tif", s1[1:])

    # --- several band files ---------------------------------------------------------------------
    add(paths, None, "12 band files at 10/20/60 m")
    add(paths[:-1], "B12 is missing", "a missing band")
    zero = folder / "zero" / "B04.tif"
    zero.write_bytes(b"")
    add([*[p for b, p in good.items() if b != "B04"], zero], "is empty (0 bytes)", "0-byte band")
    dup = write_tif(folder / "dup_B04.tif", s2_dn(240, 240, seed=3)[3:4])
    add([*paths, dup], "band given more than once: B04", "duplicate band names")
    other = write_band_set(folder / "other", seed=4, prefix="T33UUP_20200101T101031_")
    stray = folder / "p2" / "T33UUP_20200202T101031_B03.tif"
    stray.write_bytes(other["B03"].read_bytes())
    add(
        [*[p for b, p in other.items() if b != "B03"], stray],
        "come from different products",
        "mixed products",
    )
    moved = write_tif(
        folder / "crs" / "B05.tif",
        s2_dn(120, 120, seed=5)[4:5],
        crs="EPSG:32632",
        transform=from_origin(UTM_ORIGIN.c, UTM_ORIGIN.f, 20, 20),
    )
    add([*[p for b, p in good.items() if b != "B05"], moved], "different CRS", "bands of 2 CRS")
    shifted = write_tif(
        folder / "shift" / "B06.tif",
        s2_dn(120, 120, seed=6)[5:6],
        transform=from_origin(UTM_ORIGIN.c + 5000, UTM_ORIGIN.f, 20, 20),
    )
    add(
        [*[p for b, p in good.items() if b != "B06"], shifted],
        "do not cover the same area",
        "a band elsewhere",
    )
    add([*paths, vv], "mix Sentinel-1", "S1 and S2 files together")
    floats = write_tif(
        folder / "B07.tif",
        s2_dn(120, 120, seed=7)[6:7].astype(np.float32),
        transform=from_origin(UTM_ORIGIN.c, UTM_ORIGIN.f, 20, 20),
    )
    add(
        [*[p for b, p in good.items() if b != "B07"], floats],
        "different pixel types",
        "mixed pixel types",
    )
    notes = folder / "notes.tif"
    notes.write_bytes(good_bytes["B02"])
    add([*paths, notes], "the name does not say which band", "a file without a band name")
    two = folder / "B02_B03.tif"
    two.write_bytes(good_bytes["B02"])
    add([two, *paths[3:]], "names several bands", "a name with two bands")
    three = write_tif(folder / "three" / "B04.tif", s2_dn(240, 240, seed=8)[:3])
    add(
        [*[p for b, p in good.items() if b != "B04"], three],
        "a band file holds one band",
        "3 bands in a band file",
    )
    jp2_named_tif = folder / "jp2tif" / "B08.tif"
    jp2_named_tif.write_bytes(b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(300))
    add(
        [*[p for b, p in good.items() if b != "B08"], jp2_named_tif],
        "JPEG 2000 image named as a TIFF",
        "a JP2 renamed TIFF",
    )
    tif_named_jp2 = folder / "B8A.jp2"
    tif_named_jp2.write_bytes(good_bytes["B8A"])
    add(
        [*[p for b, p in good.items() if b != "B8A"], tif_named_jp2],
        "TIFF named as a JPEG 2000",
        "a TIFF renamed .jp2",
    )
    png = folder / "png" / "B11.tif"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    add([*[p for b, p in good.items() if b != "B11"], png], "is a PNG image", "a PNG band")
    add([vh], "only the cross-polarised band VH", "VH alone")
    hh = folder / "s1" / "HH.tif"
    hh.write_bytes(vv.read_bytes())
    add([vv, hh], "do not form one product", "VV with HH")
    add([vv], None, "VV alone (single polarisation)")
    hv = folder / "s1" / "HV.tif"
    hv.write_bytes(vh.read_bytes())
    add([hh, hv], None, "HH + HV")
    big = [
        write_tif(folder / "big" / f"{p}.tif", s1_db(800, 800, seed=9)[:1]) for p in ("VV", "VH")
    ]
    add(big, "the 2 files total", "the sum of the files above the limit")
    zip_ok = _zip(folder / "bands.zip", {f"{b}.tif": d for b, d in good_bytes.items()})
    add([zip_ok, vv], "upload one ZIP on its own", "a ZIP with other files")

    # --- ZIP archives --------------------------------------------------------------------------
    add([zip_ok], None, "flat ZIP of band files")
    bomb = folder / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("B02.tif", bytes(2 * MB))
    add([bomb], "looks like a ZIP bomb", "ZIP bomb (ratio)")
    declared = _zip(folder / "declared.zip", {"B02.tif": good_bytes["B02"]}, zipfile.ZIP_STORED)
    _patch_declared_size(declared, 4_000_000_000)
    add([declared], "declares 4,000 MB uncompressed", "huge declared size")
    noise = np.random.default_rng(10).bytes(int(1.3 * MB))
    total = _zip(folder / "total.zip", {"B02.tif": noise, "B03.tif": noise}, zipfile.ZIP_STORED)
    add([total], "expands to more than 2 MB in all", "total unzipped size")
    add(
        [_zip(folder / "trav.zip", {"../B02.tif": good_bytes["B02"]})],
        "leaves the archive",
        "path traversal ..",
    )
    add(
        [_zip(folder / "trav2.zip", {"a/../../B02.tif": good_bytes["B02"]})],
        "leaves the archive",
        "nested path traversal",
    )
    add(
        [_zip(folder / "abs.zip", {"/etc/B02.tif": good_bytes["B02"]})],
        "absolute path",
        "absolute member name",
    )
    add(
        [_zip(folder / "drive.zip", {"C:\\temp\\B02.tif": good_bytes["B02"]})],
        "absolute path",
        "Windows drive member name",
    )
    link = folder / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("B02.tif")
        info.external_attr = (0o120777 << 16) | 0x20
        zf.writestr(info, "/etc/passwd")
    add([link], "symbolic link", "symlink member")
    add(
        [_zip(folder / "nested.zip", {"inner.zip": zip_ok.read_bytes()})],
        "nested archives",
        "nested archive",
    )
    enc = _zip(folder / "enc.zip", {"B02.tif": good_bytes["B02"]})
    _patch_flags(enc, 0x1)  # the "encrypted" bit (zipfile cannot write encrypted members)
    add([enc], "encrypted member", "encrypted member")
    add(
        [_zip(folder / "bz2.zip", {"B02.tif": good_bytes["B02"]}, zipfile.ZIP_BZIP2)],
        "cannot be read in place",
        "bzip2-compressed member",
    )
    cut = folder / "cut.zip"
    cut.write_bytes(zip_ok.read_bytes()[: zip_ok.stat().st_size // 2])
    add([cut], "damaged ZIP archive", "truncated ZIP")
    empty = folder / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    add([empty], "empty ZIP archive", "empty ZIP")
    add(
        [_zip(folder / "readme.zip", {"README.txt": b"hello"})],
        "holds no band file",
        "ZIP without bands",
    )
    many = folder / "many.zip"
    with zipfile.ZipFile(many, "w", zipfile.ZIP_STORED) as zf:
        for i in range(5001):
            zf.writestr(f"f{i}.txt", b"")
    add([many], "holds 5,001 files", "too many members")
    mixed_zip = {f"T33UUP_20200101T101031_{b}.tif": d for b, d in good_bytes.items()}
    del mixed_zip["T33UUP_20200101T101031_B03.tif"]
    mixed_zip["T34UUP_20200303T101031_B03.tif"] = good_bytes["B03"]
    add(
        [_zip(folder / "mixed.zip", mixed_zip)],
        "come from different products",
        "ZIP mixing two products",
    )
    add(
        [
            _zip(
                folder / "missing.zip", {f"{b}.tif": d for b, d in good_bytes.items() if b != "B09"}
            )
        ],
        "B09 is missing",
        "ZIP missing a band",
    )
    jp2_in_zip = {f"{b}.tif": d for b, d in good_bytes.items() if b != "B02"}
    jp2_in_zip["B02.tif"] = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(300)
    add(
        [_zip(folder / "jp2tif.zip", jp2_in_zip)],
        "JPEG 2000 image named as a TIFF",
        "ZIP with a JP2 renamed TIFF",
    )
    two_granules = write_s2_safe_zip(folder / "granules.zip", {"B02": good["B02"]}, granules=2)
    add([two_granules], "granules", "SAFE with two granules")
    add(
        [write_s1_grd_safe_zip(folder / "grd_nocal.zip", calibration=False)],
        "uncalibrated Sentinel-1 digital numbers",
        "GRD .SAFE without calibration",
    )
    evil = calibration_xml("VV").replace(
        b"<calibration>", b'<!DOCTYPE c [<!ENTITY a "aaaa">]><calibration>&a;'
    )
    add(
        [write_s1_grd_safe_zip(folder / "grd_xxe.zip", calibration_override=evil)],
        "declares XML entities",
        "calibration XML with entities",
    )
    return cases
