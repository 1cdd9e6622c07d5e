"""Band names from file names (`closp_demo.upload.names`)."""

from __future__ import annotations

import pytest

from closp_demo.upload.names import band_of_name, band_runs, names_several_bands, product_key


@pytest.mark.parametrize(
    ("name", "band"),
    [
        ("B2.tif", "B02"),
        ("B02.TIF", "B02"),
        ("b8a.tif", "B8A"),
        ("B8A.jp2", "B8A"),
        ("T33UUP_20200101T101031_B04_10m.jp2", "B04"),
        ("T33UUP_20200101T101031_B12.jp2", "B12"),
        ("S2A_MSIL2A_20220706T085611_N0400_R007_T33NZA_20220706T153419_B05.tif", "B05"),
        ("s1a-iw-grd-vv-20200607t010800-20200607t010825-032904-03cfba-001.tiff", "VV"),
        ("Sigma0_VH_db.tif", "VH"),
        ("HH.tif", "HH"),
        ("a/b/B11.tif", "B11"),
        ("notes.tif", None),
        ("B13.tif", None),
        ("B02_B03.tif", None),
        ("T33UUP_20200101T101031_TCI_10m.jp2", None),
    ],
)
def test_band_of_name(name, band):
    assert band_of_name(name) == band


def test_ambiguous_names_and_product_keys():
    assert names_several_bands("B02_B03.tif") == ["B02", "B03"]
    assert names_several_bands("B02.tif") == []
    assert product_key("T33UUP_20200101T101031_B02_10m.jp2") == product_key(
        "T33UUP_20200101T101031_B8A_20m.jp2"
    )
    assert product_key("B02.tif") == ""


def test_band_runs_shorten_consecutive_bands():
    assert band_runs(["B01", "B05", "B06", "B07", "B8A", "B09", "B11", "B12"]) == (
        "B01, B05..B07, B8A, B09, B11, B12"
    )
    assert band_runs(["VV", "VH"]) == "VV, VH"
