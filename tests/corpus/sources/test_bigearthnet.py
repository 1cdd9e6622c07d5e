"""BigEarthNet reader on the real shared samples (npz + csv)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources import bigearthnet

# Rough lon/lat boxes of the countries in the CSV: every patch centre must land in its country's.
COUNTRY_BOXES: dict[str, tuple[float, float, float, float]] = {
    "Austria": (9.5, 46.3, 17.2, 49.1),
    "Ireland": (-10.7, 51.3, -5.9, 55.5),
    "Portugal": (-9.6, 36.9, -6.1, 42.2),
    "Switzerland": (5.9, 45.8, 10.5, 47.9),
    "Finland": (19.0, 59.7, 31.6, 70.1),
    "Serbia": (18.8, 42.2, 23.1, 46.2),
    "Lithuania": (20.9, 53.8, 26.9, 56.5),
}


@pytest.fixture(scope="module")
def records(samples_dir: Path) -> list[ImageRecord]:
    return list(bigearthnet.iter_records(samples_dir))


@pytest.fixture(scope="module")
def table(samples_dir: Path) -> pd.DataFrame:
    return pd.read_csv(samples_dir / "bigearthnet" / "ben_patches.csv")


def _by_sensor(records, sensor):
    return [r for r in records if r.sensor == sensor]


def test_counts_follow_the_readme_and_csv_flags(records, table):
    # README: 60 patches with S1+S2, 5 S1-only, 1 S2-only; one S1+S2 row has no georeferencing
    geo = table["crs"].notna()
    assert len(_by_sensor(records, "S2")) == int((table["has_s2"] & geo).sum()) == 60
    assert len(_by_sensor(records, "S1")) == int((table["has_s1"] & geo).sum()) == 64


def test_records_have_the_internal_layout(records):
    for r in records:
        bands = 12 if r.sensor == "S2" else 2
        assert r.image.shape == (bands, 120, 120) and r.image.dtype == np.float32
        assert r.source == "bigearthnet"
        assert r.level == ("L2A" if r.sensor == "S2" else "GRD")
        assert r.split in {"train", "validation", "test"}


def test_ids_unique_and_filesystem_safe(records):
    ids = [r.image_id for r in records]
    assert len(ids) == len(set(ids))
    for i in ids:
        assert all(c.isalnum() or c in "_.-" for c in i), i
        assert i.startswith(("ben-s1-", "ben-s2-"))


def test_s1_and_s2_are_separate_records_sharing_the_patch_group(records, table):
    s2_groups = {r.group for r in _by_sensor(records, "S2")}
    s1_groups = {r.group for r in _by_sensor(records, "S1")}
    both = table[table["has_s1"] & table["has_s2"] & table["crs"].notna()]["patch_id"]
    assert set(both) == s2_groups & s1_groups
    assert len(s2_groups - s1_groups) == 1  # the S2-only patch
    assert len(s1_groups - s2_groups) == 5  # the S1-only patches
    assert (s1_groups | s2_groups) <= set(table["patch_id"])


def test_the_unreferenced_row_is_skipped(records, table):
    unreferenced = set(table.loc[table["crs"].isna(), "patch_id"])
    assert unreferenced  # the shipped CSV has one such row
    assert not unreferenced & {r.group for r in records}


def test_labels_of_known_patches(records):
    by_id = {r.image_id: r for r in records}
    austria = by_id["ben-s2-S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57"]
    # Arable land|Broad-leaved forest|Mixed forest|Pastures
    assert austria.labels == ("Trees", "Grass", "Crops")
    marine = by_id["ben-s2-S2A_MSIL2A_20180419T101031_N9999_R022_T34VDN_63_45"]
    assert marine.labels == ("Water",)  # Marine waters
    wet = by_id["ben-s2-S2B_MSIL2A_20170906T101019_N9999_R022_T34WFS_74_19"]
    # Arable land|Inland wetlands|Mixed forest|Transitional woodland, shrub
    assert wet.labels == ("Trees", "Flooded Vegetation", "Crops", "Shrub and Scrub")
    urban = by_id["ben-s2-S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_38_87"]
    assert "Built" in urban.labels and "Water" in urban.labels
    s1 = by_id["ben-s1-S1B_IW_GRDH_1SDV_20170612T165809_33UUP_26_57"]
    assert s1.labels == austria.labels and s1.group == austria.group


def test_timestamps_from_product_names(records):
    by_id = {r.image_id: r for r in records}
    assert by_id["ben-s2-S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57"].timestamp == (
        "2017-06-13T10:10:31Z"
    )
    assert by_id["ben-s1-S1B_IW_GRDH_1SDV_20170612T165809_33UUP_26_57"].timestamp == (
        "2017-06-12T16:58:09Z"
    )
    years = {r.timestamp[:4] for r in records}
    assert years <= {"2017", "2018"}  # README: acquisitions 2017-2018


def test_bounds_are_120_px_at_10_m_and_centres_match_the_csv(records, table):
    lonlat = table.set_index("patch_id")[["lon", "lat"]]
    for r in records:
        minx, miny, maxx, maxy = r.bounds
        assert (maxx - minx, maxy - miny) == (1200.0, 1200.0)
        assert r.crs.startswith("EPSG:326")  # UTM north
        lon, lat = r.centre_lonlat()
        want_lon, want_lat = lonlat.loc[r.group]
        # 0.001 deg ~ 100 m: the CSV centre and the bounds describe the same patch
        assert abs(lat - want_lat) < 1e-3 and abs(lon - want_lon) < 2e-3


def test_centres_land_in_their_country(records):
    for r in records:
        lon, lat = r.centre_lonlat()
        w, s, e, n = COUNTRY_BOXES[r.place]
        assert w <= lon <= e and s <= lat <= n, (r.image_id, r.place, lon, lat)
    austria_t33uup = [r for r in records if "T33UUP" in r.group]
    assert austria_t33uup and all(r.place == "Austria" for r in austria_t33uup)


def test_bounds_agree_with_the_reference_map_geotiff(records, samples_dir):
    ref = next((samples_dir / "bigearthnet" / "reference_map").glob("*_26_57_reference_map.tif"))
    with rasterio.open(ref) as src:
        ref_bounds, ref_crs = tuple(src.bounds), src.crs.to_string()
    patch = [r for r in records if r.group.endswith("T33UUP_26_57")]
    assert len(patch) == 2
    for r in patch:
        assert r.crs == ref_crs and r.bounds == pytest.approx(ref_bounds)


def test_values_are_physical(records):
    for r in _by_sensor(records, "S2"):
        assert np.isfinite(r.image).all() and r.image.min() >= 0
        assert r.image.max() <= 20_000
        assert ((r.image <= 12_000).mean()) > 0.99
    for r in _by_sensor(records, "S1"):
        values = r.image[np.isfinite(r.image)]
        assert values.size > 0.99 * r.image.size
        assert ((values >= -35) & (values <= 5)).mean() > 0.9
        vv, vh = np.nanmedian(r.image[0]), np.nanmedian(r.image[1])
        # cross-pol returns less than co-pol, except near the noise floor (calm water)
        assert -30 < vv < 0 and vh < vv + 2


def test_water_patches_look_like_water(records):
    water = [r for r in records if r.labels == ("Water",)]
    assert len(water) >= 8
    for r in water:
        if r.sensor == "S2":
            b03, b08 = np.median(r.image[2]), np.median(r.image[7])
            assert b08 < 300 and b03 > b08  # dark NIR, positive NDWI
        else:
            assert np.nanmedian(r.image[1]) < -24  # calm water: very low VH


def test_extra_keeps_the_original_labels_and_georef_source(records):
    for r in records:
        assert r.extra["patch_id"] == r.group
        assert r.extra["labels_clc19"]
        assert r.extra["georef_source"] in {
            "geotiff",
            "ben-v1-spatial-parquet",
            "derived-from-MGRS-tile(±40m)",
        }
        if r.sensor == "S1":
            assert r.extra["nan_fraction"] == 0.0


def _fake_root(tmp_path: Path, samples_dir: Path, table: pd.DataFrame) -> Path:
    folder = tmp_path / "bigearthnet"
    folder.mkdir()
    os.symlink(samples_dir / "bigearthnet" / "ben_patches.npz", folder / "ben_patches.npz")
    table.to_csv(folder / "ben_patches.csv", index=False)
    return tmp_path


def test_csv_out_of_order_is_a_clear_error(tmp_path, samples_dir, table):
    root = _fake_root(tmp_path, samples_dir, table.iloc[::-1])
    with pytest.raises(ValueError, match="same order"):
        next(bigearthnet.iter_records(root))


def test_rows_without_bounds_are_skipped_not_invented(tmp_path, samples_dir, table):
    broken = table.copy()
    broken.loc[0, "minx"] = math.nan
    broken.loc[1, "crs"] = ""
    root = _fake_root(tmp_path, samples_dir, broken)
    groups = {r.group for r in bigearthnet.iter_records(root)}
    assert table.loc[0, "patch_id"] not in groups and table.loc[1, "patch_id"] not in groups
    assert table.loc[2, "patch_id"] in groups


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ben_patches\.npz"):
        next(bigearthnet.iter_records(tmp_path))
