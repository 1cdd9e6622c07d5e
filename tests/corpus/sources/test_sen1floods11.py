"""Sen1Floods11 reader: the real shared chip (Spain_7370579), and chips written by rasterio with
known water masks for the label rule."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources import sen1floods11
from closp_demo.corpus.sources.sen1floods11 import broad_water, labels_for
from tests.corpus.sources.test_tiling import write_tif

CHIP = "Spain_7370579"
EDGE = (512 - 4 * 120) // 2  # 4 x 4 centred tiles: 16 px dropped on each side


@pytest.fixture(scope="module")
def records(samples_dir: Path) -> list[ImageRecord]:
    return list(sen1floods11.iter_records(samples_dir))


@pytest.fixture(scope="module")
def raw(samples_dir: Path) -> dict[str, np.ndarray]:
    folder = samples_dir / sen1floods11.FOLDER
    out = {}
    for key in ("S1Hand", "S2Hand", "LabelHand"):
        with rasterio.open(folder / f"{CHIP}_{key}.tif") as src:
            out[key] = src.read()
    return out


def _window(r: ImageRecord) -> tuple[slice, slice]:
    row, col = r.extra["tile_row"], r.extra["tile_col"]
    return (slice(EDGE + 120 * row, EDGE + 120 * (row + 1)),
            slice(EDGE + 120 * col, EDGE + 120 * (col + 1)))  # fmt: skip


def _tile(records: list[ImageRecord], sensor: str, name: str) -> ImageRecord:
    return next(r for r in records if r.sensor == sensor and r.image_id.endswith(name))


def test_sixteen_twin_pairs_on_the_same_ground(records):
    assert Counter((r.sensor, r.level) for r in records) == {("S1", "GRD"): 16, ("S2", "L1C"): 16}
    groups: dict[str, list[ImageRecord]] = {}
    for r in records:
        groups.setdefault(r.group, []).append(r)
    assert len(groups) == 16
    for pair in groups.values():
        s1, s2 = sorted(pair, key=lambda r: r.sensor)
        assert (s1.sensor, s2.sensor) == ("S1", "S2")
        assert s1.bounds == s2.bounds and s1.labels == s2.labels
        assert s1.extra["water_fraction"] == s2.extra["water_fraction"]
    ids = [r.image_id for r in records]
    assert len(set(ids)) == 32 and f"sen1floods11-{CHIP}-s2-r3c3" in ids


def test_place_dates_and_shapes(records):
    for r in records:
        assert r.image.shape == ((2,) if r.sensor == "S1" else (12,)) + (120, 120)
        assert r.image.dtype == np.float32 and r.crs == "EPSG:4326"
        assert r.timestamp == ("2019-09-17" if r.sensor == "S1" else "2019-09-18")
        lon, lat = r.centre_lonlat()
        assert abs(lat - 38.1) < 0.05 and abs(lon + 0.76) < 0.05  # README: 38.1 N 0.76 W
        assert "Vega Baja del Segura" in r.place


def test_pixels_are_the_files_with_b10_dropped(records, raw):
    for name in ("r0c0", "r1c2", "r3c3"):
        s1, s2 = _tile(records, "S1", name), _tile(records, "S2", name)
        rows, cols = _window(s1)
        np.testing.assert_array_equal(s1.image, raw["S1Hand"][:, rows, cols])
        want = np.delete(raw["S2Hand"][:, rows, cols], 10, axis=0).astype(np.float32)  # B10
        np.testing.assert_array_equal(s2.image, want)
    assert all(r.extra["s1_units"] == "dB" for r in records if r.sensor == "S1")


def test_water_fraction_is_the_masks(records, raw):
    mask = raw["LabelHand"][0]
    assert set(np.unique(mask)) == {-1, 0, 1}  # README: 1 water, 0 not water, -1 no data
    for r in records:
        tile = mask[_window(r)]
        valid = tile != -1
        assert r.extra["water_fraction"] == (tile == 1).sum() / valid.sum()
        assert r.extra["mask_valid_fraction"] == valid.mean()
        assert 0 <= r.extra["flood_fraction"] <= r.extra["water_fraction"]


def test_label_rule_on_known_tiles(records):
    # North-east: flooded fields, two thirds of the tile under water.
    ne = _tile(records, "S2", "r1c3")
    assert ne.labels == ("Water", "Flooded Area") and ne.extra["flood_fraction"] > 0.5
    # South-east: only the Segura's channel (a few % water), which is not flood.
    se = _tile(records, "S1", "r3c3")
    assert se.labels == ("Water",)
    assert se.extra["water_fraction"] >= 0.01 > se.extra["flood_fraction"]
    flooded = sum("Flooded Area" in r.labels for r in records if r.sensor == "S2")
    assert flooded == 13  # all but the three river-only tiles of the southern row
    assert all("Water" in r.labels for r in records)


# ---- the rule on written masks with known values -------------------------------------------


def test_broad_water_removes_channels_narrower_than_the_square():
    water = np.zeros((40, 40), bool)
    water[5:11, :] = True  # 6 px wide channel
    water[20:27, 0:30] = True  # 7 px wide band, touching the left border
    broad = broad_water(water, 7)
    assert not broad[5:11].any()
    np.testing.assert_array_equal(broad[20:27, 0:30], True)
    assert broad.sum() == 7 * 30
    np.testing.assert_array_equal(broad_water(water, 1), water)
    with pytest.raises(ValueError, match="width"):
        broad_water(water, 0)


def test_labels_threshold_and_no_data():
    assert labels_for(0.01, 0.01) == ("Water", "Flooded Area")
    assert labels_for(0.0099, 0.0) == ()
    assert labels_for(0.5, 0.009) == ("Water",)
    assert labels_for(float("nan"), float("nan")) == ()


def _write_chip(folder: Path, mask: np.ndarray, chip: str = "Test_1") -> None:
    transform = from_origin(-0.78, 38.13, 1e-4, 1e-4)
    h, w = mask.shape
    s1 = np.full((2, h, w), -12.0, np.float32)
    s2 = np.tile(np.arange(1, 14, dtype=np.int16)[:, None, None] * 100, (1, h, w))
    write_tif(folder / f"{chip}_S1Hand.tif", s1, transform, "EPSG:4326")
    write_tif(folder / f"{chip}_S2Hand.tif", s2, transform, "EPSG:4326")
    write_tif(folder / f"{chip}_LabelHand.tif", mask.astype(np.int16), transform, "EPSG:4326")


def test_known_mask_end_to_end(tmp_path):
    mask = np.zeros((256, 256), np.int16)  # 2 x 2 tiles, 8 px dropped on each side
    t = {(r, c): (slice(8 + 120 * r, 128 + 120 * r), slice(8 + 120 * c, 128 + 120 * c))
         for r in (0, 1) for c in (0, 1)}  # fmt: skip
    mask[20:60, 20:60] = 1  # r0c0: a 40 x 40 flooded field
    mask[t[0, 1]] = -1  # r0c1: no data at all
    mask[180:183, :128] = 1  # r1c0: a 3 px channel across the tile (and the dropped border)
    sub = mask[t[1, 1]]
    sub[:60, :] = -1  # r1c1: half no data, 100 isolated water pixels in the other half
    sub[70:120:5, 0:100:10] = 1
    _write_chip(tmp_path / sen1floods11.FOLDER, mask)
    recs = {r.image_id.rsplit("-", 1)[1]: r for r in sen1floods11.iter_records(tmp_path)
            if r.sensor == "S2"}  # fmt: skip
    field = recs["r0c0"].extra
    assert field["water_fraction"] == field["flood_fraction"] == 1600 / 14400
    assert recs["r0c0"].labels == ("Water", "Flooded Area")
    assert np.isnan(recs["r0c1"].extra["water_fraction"]) and recs["r0c1"].labels == ()
    assert recs["r0c1"].extra["mask_valid_fraction"] == 0.0
    assert recs["r1c0"].extra["water_fraction"] == 360 / 14400
    assert recs["r1c0"].extra["flood_fraction"] == 0.0 and recs["r1c0"].labels == ("Water",)
    assert recs["r1c1"].extra["water_fraction"] == 100 / 7200  # no-data is not in the share
    assert recs["r1c1"].labels == ("Water",)
    # unknown chips: no invented date, the id as place; B10 (the 11th band, 1100) dropped
    assert recs["r0c0"].timestamp is None and "Test_1" in recs["r0c0"].place
    assert recs["r0c0"].image[:, 0, 0].tolist() == [100 * b for b in range(1, 14) if b != 11]


def test_bad_chips_are_named(tmp_path):
    folder = tmp_path / sen1floods11.FOLDER
    mask = np.zeros((128, 128), np.int16)
    mask[0, 0] = 2
    _write_chip(folder, mask)
    with pytest.raises(ValueError, match=r"unexpected mask values \[2\]"):
        list(sen1floods11.iter_records(tmp_path))
    (folder / "Test_1_S2Hand.tif").unlink()
    with pytest.raises(FileNotFoundError, match="Test_1_S2Hand.tif"):
        list(sen1floods11.iter_records(tmp_path))
    other = tmp_path / "other"
    _write_chip(other / sen1floods11.FOLDER, np.zeros((128, 128), np.int16))
    with rasterio.open(other / sen1floods11.FOLDER / "Test_1_LabelHand.tif", "r+") as dst:
        dst.transform = from_origin(-0.7, 38.13, 1e-4, 1e-4)
    with pytest.raises(ValueError, match="not on the grid"):
        list(sen1floods11.iter_records(other))
    with pytest.raises(FileNotFoundError, match="Sen1Floods11 samples"):
        list(sen1floods11.iter_records(tmp_path / "nowhere"))
