"""Checks of one uploaded file (`closp_demo.upload.checks`): before opening, and on their own.
The hostile-input suite (test_scene.py) runs every check through `read_upload`."""

from __future__ import annotations

from pathlib import Path

import pytest

from closp_demo.settings import Limits
from closp_demo.upload import scene as scene_module
from closp_demo.upload.checks import check_band_count, check_tiff_magic
from closp_demo.upload.errors import UploadError
from closp_demo.upload.scene import read_upload
from tests.helpers.hostile_inputs import s2_dn, write_tif


def test_size_limit_is_checked_before_opening(tmp_path: Path, monkeypatch):
    path = write_tif(tmp_path / "s2.tif", s2_dn(seed=24))
    opened = []
    monkeypatch.setattr(scene_module.rasterio, "open", lambda *a, **k: opened.append(a))
    with pytest.raises(UploadError, match=r"file is 0\.3 MB, above the 0\.1 MB limit"):
        read_upload(path, Limits(max_bytes=100_000))
    assert opened == []


def test_missing_file_and_directory_are_refused(tmp_path: Path):
    with pytest.raises(UploadError, match="'gone.tif' was not found.* kept 6 hours .*upload it"):
        read_upload(tmp_path / "gone.tif")
    # The time said is the one configured (CLOSP_FILE_HOURS), in words.
    for hours, said in ((0.5, "30 minutes"), (1.0, "1 hour"), (0.001, "4 seconds")):
        with pytest.raises(UploadError, match=f"kept {said} \\(CLOSP_FILE_HOURS\\)"):
            read_upload(tmp_path / "gone.tif", Limits(file_hours=hours))
    with pytest.raises(UploadError, match="is not a file"):
        read_upload(tmp_path)


@pytest.mark.parametrize(
    ("count", "hint"),
    [
        (1, "(one band, e.g. VV alone or a single Sentinel-2 band, is not enough)"),
        (3, "(an RGB / RGB-NIR composite is not enough)"),
        (11, "(all 12 Sentinel-2 L2A bands B01..B12 without B10 are needed)"),
        (14, "(Sentinel-2)"),
    ],
)
def test_band_count_is_a_whole_stack(count: int, hint: str):
    for ok in (2, 12, 13):
        check_band_count(ok, "x.tif")
    with pytest.raises(UploadError) as err:
        check_band_count(count, "x.tif")
    assert str(err.value).startswith(f"'x.tif' has {count} band") and str(err.value).endswith(hint)


def test_tiff_magic_names_what_the_file_is(tmp_path: Path):
    cases = {
        b"\x89PNG\r\n\x1a\n" + bytes(40): "'f' is a PNG image, not a GeoTIFF",
        b"PK\x03\x04" + bytes(40): "'f' is a ZIP archive (e.g. a zipped .SAFE product)",
        b"<?xml version='1.0'?><VRTDataset>": "'f' is an XML/HTML text file, not a GeoTIFF",
        b"II*\x00" + bytes(4): "'f' is a damaged or truncated TIFF: only 8 bytes",
        bytes(range(256)) * 2: "'f' is not a TIFF file (its content is not recognised)",
    }
    path = tmp_path / "f"
    for head, message in cases.items():
        path.write_bytes(head)
        with pytest.raises(UploadError) as err:
            check_tiff_magic(path, "f")
        assert str(err.value).startswith(message)
    path.write_bytes(b"II*\x00" + bytes(100))
    check_tiff_magic(path, "f")  # a TIFF header passes; GDAL judges the rest
