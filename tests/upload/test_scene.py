"""The upload reader's contract (`closp_demo.upload.scene.read_upload`): a scene or an `UploadError`
with the user-facing message, never another exception; footprints; hostile inputs; real data."""

from __future__ import annotations

import logging
import resource
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_bounds, from_origin
from rasterio.warp import transform as warp_transform

from closp_demo.corpus.records import footprint_lonlat
from closp_demo.upload import scene as scene_module
from closp_demo.upload.errors import display_name
from closp_demo.upload.scene import UploadError, read_upload, scene_footprint
from tests.helpers.hostile_inputs import (
    HOSTILE_LIMITS,
    s1_db,
    s2_dn,
    write_hostile_inputs,
    write_tif,
)

# --- footprints --------------------------------------------------------------------------------


def test_footprint_across_the_antimeridian_is_unwrapped(tmp_path: Path):
    (x180,), (y,) = warp_transform("EPSG:4326", "EPSG:32601", [-180.0], [-17.0])
    transform = from_origin(x180 - 1500.0, y, 10.0, 10.0)
    path = write_tif(tmp_path / "fiji.tif", s2_dn(200, 300, seed=21), "EPSG:32601", transform)
    scene = read_upload(path)
    lons = [p[0] for p in scene.footprint]
    assert max(lons) - min(lons) < 0.1  # not a ring around the world
    assert min(lons) < 180.0 < max(lons)
    assert -180.0 <= lons[0] < 180.0
    assert any("antimeridian" in n for n in scene.notes)
    raw = footprint_lonlat(scene.crs, scene.bounds)
    np.testing.assert_allclose(np.mod(lons, 360), np.mod([p[0] for p in raw], 360), atol=1e-9)


@pytest.mark.parametrize(("crs", "pole"), [("EPSG:3031", -90.0), ("EPSG:3413", 90.0)])
def test_footprint_around_a_pole_is_closed_along_it(tmp_path: Path, crs: str, pole: float):
    path = write_tif(
        tmp_path / "pole.tif", s1_db(240, 240, seed=22), crs, from_origin(-1200, 1200, 10, 10)
    )
    scene = read_upload(path)
    assert scene.footprint[0] == scene.footprint[-1]
    lats = [p[1] for p in scene.footprint]
    assert lats.count(pole) == 2
    lons = [p[0] for p in scene.footprint]
    assert max(lons) - min(lons) == pytest.approx(360.0)
    assert any("Pole" in n for n in scene.notes)


def test_ordinary_footprint_is_the_records_ring():
    bounds = (331200.0, 5330400.0, 332400.0, 5331600.0)
    ring, notes = scene_footprint("EPSG:32633", bounds)
    assert ring == footprint_lonlat("EPSG:32633", bounds) and notes == []


# --- messages and robustness -------------------------------------------------------------------


def test_filename_in_messages_is_the_display_name(tmp_path: Path):
    path = tmp_path / "upload.bin"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    with pytest.raises(UploadError) as err:
        read_upload(path, filename="../" + "z" * 100 + "<i>.tif")
    message = str(err.value)
    assert message.startswith("'" + display_name("z" * 100 + "<i>.tif") + "' is a JPEG image")
    assert "../" not in message


@pytest.mark.parametrize(
    ("error", "message"),
    [(RuntimeError("boom"), "unexpected error (RuntimeError)"), (MemoryError(), "out of memory")],
)
def test_unexpected_errors_are_wrapped_and_logged(tmp_path, monkeypatch, caplog, error, message):
    path = write_tif(tmp_path / "ok.tif", s1_db(seed=25))

    def explode(*args, **kwargs):
        raise error

    monkeypatch.setattr(scene_module, "read_tiles", explode)
    with (
        caplog.at_level(logging.ERROR, logger="closp_demo.upload.scene"),
        pytest.raises(UploadError) as e,
    ):
        read_upload(path)
    assert message in str(e.value) and "'ok.tif'" in str(e.value)
    assert any(r.exc_info for r in caplog.records)


def test_hostile_inputs_each_give_their_message_and_memory_stays_bounded(tmp_path: Path):
    cases = write_hostile_inputs(tmp_path / "hostile")
    assert len(cases) >= 40
    assert sum(c.expected is None for c in cases) >= 10  # valid odd inputs are part of the set
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    failures = []
    for case in cases:
        try:
            scene = read_upload(case.path, HOSTILE_LIMITS, filename=case.filename)
        except UploadError as exc:
            if case.expected is None or case.expected not in str(exc):
                failures.append(f"{case.path.name}: want {case.expected!r}, got {exc}")
            continue
        except Exception as exc:  # a raw exception escaping is the worst failure
            failures.append(f"{case.path.name}: raw {type(exc).__name__}: {exc}")
            continue
        if case.expected is not None:
            failures.append(f"{case.path.name}: want {case.expected!r}, but it was read")
            continue
        assert scene.tiles and all(t.image.shape[1:] == (120, 120) for t in scene.tiles)
        assert "/" not in scene.filename and "\\" not in scene.filename
        assert len(scene.filename) <= 60
    assert not failures, "\n".join(failures)
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert growth < 1.5e9, f"peak RSS grew by {growth / 1e9:.2f} GB"
    # The reader still works after all of them.
    dn = s2_dn(seed=26)
    scene = read_upload(write_tif(tmp_path / "after.tif", dn), HOSTILE_LIMITS)
    np.testing.assert_array_equal(scene.tiles[0].image, dn)


# --- real data ---------------------------------------------------------------------------------


def test_bigearthnet_patches_round_trip_through_geotiff(samples_dir: Path, tmp_path: Path):
    ben = samples_dir / "bigearthnet"
    arrays = np.load(ben / "ben_patches.npz")
    meta = pd.read_csv(ben / "ben_patches.csv")
    s2_row = int(np.flatnonzero(meta["has_s2"].to_numpy())[0])
    s1_row = int(np.flatnonzero(meta["has_s1"].to_numpy())[0])
    for sensor, row, image in [
        ("S2", s2_row, arrays["s2"][s2_row]),
        ("S1", s1_row, arrays["s1"][s1_row]),
    ]:
        rec = meta.iloc[row]
        bounds = (rec.minx, rec.miny, rec.maxx, rec.maxy)
        transform = from_bounds(*bounds, 120, 120)
        path = write_tif(tmp_path / f"{rec.patch_id}_{sensor}.tif", image, rec.crs, transform)
        scene = read_upload(path)
        assert scene.sensor == sensor and scene.level == ("L2A" if sensor == "S2" else "GRD")
        assert len(scene.tiles) == 1
        np.testing.assert_array_equal(scene.tiles[0].image, image.astype(np.float32))
        np.testing.assert_allclose(scene.bounds, bounds)
        lon, lat = scene.tiles[0].centre_lonlat()
        assert lon == pytest.approx(rec.lon, abs=0.01) and lat == pytest.approx(rec.lat, abs=0.01)


def test_real_hydro_s2_geotiff_is_read_as_an_upload(samples_dir: Path):
    path = sorted((samples_dir / "hydro_s2").glob("*.tif"))[0]
    scene = read_upload(path)
    assert (scene.sensor, scene.level, len(scene.tiles)) == ("S2", "L2A", 4)
    with rasterio.open(path) as src:
        data = src.read()
        assert scene.crs == src.crs.to_string()
    for tile in scene.tiles:
        col, row, _, _ = tile.extra["window"]
        np.testing.assert_array_equal(tile.image, data[:, row : row + 120, col : col + 120])
