"""One ZIP -> one scene (`closp_demo.upload.archive`): flat band ZIPs and zipped .SAFE products,
read in place; Sentinel-1 GRD digital numbers calibrated and warped (`closp_demo.upload.sar`)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from closp_demo.upload.sar import parse_calibration
from closp_demo.upload.scene import UploadError, read_uploads
from tests.helpers.products import (
    S1_SAFE,
    S2_SAFE,
    band_of_ssl4eo,
    calibration_xml,
    s1_grd_truth,
    ssl4eo_band_files,
    write_s1_grd_safe_zip,
    write_s2_safe_zip,
)

# The warped, calibrated scene against the backscatter the product encodes: bilinear warping of
# speckled amplitudes and the uint16 rounding of DN move the median by < 0.1 dB here.
MEDIAN_DB_ATOL = 0.3


@pytest.mark.parametrize("level", ["L2A", "L1C"])
def test_zipped_s2_safe_equals_its_band_files(samples_dir, tmp_path, level):
    files = ssl4eo_band_files(samples_dir, "s2a" if level == "L2A" else "s2c")
    bands = {band_of_ssl4eo(f): f for f in files}
    z = write_s2_safe_zip(tmp_path / f"{S2_SAFE}.SAFE.zip", bands, level=level)
    scene = read_uploads([z])
    assert scene.level == level and scene.sensor == "S2"
    assert "Sentinel-2 .SAFE product" in scene.notes[0]
    assert scene.timestamp == "2020-08-13T05:46:39Z"
    direct = read_uploads(files)
    for a, b in zip(scene.tiles, direct.tiles, strict=True):
        np.testing.assert_array_equal(a.image, b.image)


def test_flat_zip_of_real_band_files_ignores_other_files(samples_dir, tmp_path):
    files = ssl4eo_band_files(samples_dir, "s1")
    z = tmp_path / "s1.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in files:
            zf.write(f, f"product/{f.name}")
        zf.write(files[0].parent / "metadata.json", "product/metadata.json")
    scene = read_uploads([z])
    assert scene.sensor == "S1" and scene.polarisations == ("VV", "VH")
    assert any("ignored files without a band name: metadata.json" in n for n in scene.notes)


def test_zipped_grd_safe_is_calibrated_and_warped(tmp_path):
    z = write_s1_grd_safe_zip(tmp_path / f"{S1_SAFE}.zip")
    scene = read_uploads([z])
    assert scene.sensor == "S1" and scene.crs == "EPSG:32633" and scene.placed
    assert any("25 ground control points" in n for n in scene.notes)
    assert any("DN^2 / A^2" in n for n in scene.notes)
    got = np.nanmedian(np.stack([t.image for t in scene.tiles]), axis=(0, 2, 3))
    want = np.median(s1_grd_truth(), axis=(1, 2))
    np.testing.assert_allclose(got, want, atol=MEDIAN_DB_ATOL)
    lons = [p[0] for p in scene.footprint]
    assert min(lons) > 11.99 and max(lons) < 12.06


def test_single_polarisation_grd_safe(tmp_path):
    scene = read_uploads([write_s1_grd_safe_zip(tmp_path / "vv.zip", pols=("vv",))])
    assert scene.polarisations == ("VV",)


def test_calibration_table_is_parsed_and_interpolated():
    table = parse_calibration(calibration_xml("VV"), "cal.xml")
    assert table.values.shape == (len(table.lines), len(table.pixels))
    # A = 400 + 0.5 * pixel + 0.05 * line, linear: bilinear interpolation is exact.
    got = table.at(np.array([[45.0]]), np.array([[75.0]]))
    assert got[0, 0] == pytest.approx(400 + 0.5 * 75 + 0.05 * 45)


def test_broken_calibration_tables_are_refused():
    with pytest.raises(UploadError, match="not valid XML"):
        parse_calibration(b"<calibration><oops", "cal.xml")
    with pytest.raises(UploadError, match="fewer than 2"):
        parse_calibration(b"<calibration/>", "cal.xml")


def test_a_zip_read_leaves_no_file_behind(samples_dir, tmp_path):
    files = ssl4eo_band_files(samples_dir, "s2a")
    z = write_s2_safe_zip(tmp_path / "p.zip", {band_of_ssl4eo(f): f for f in files})
    before = sorted(tmp_path.rglob("*"))
    read_uploads([z])
    assert sorted(tmp_path.rglob("*")) == before
