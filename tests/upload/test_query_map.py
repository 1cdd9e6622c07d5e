"""Where in my scene: a text query's heat map over real uploads larger than 120 x 120 px (a mosaic
of real BigEarthNet patches written by rasterio, and the real Sen1Floods11 scene), drawn on the
preview and the map; refusals say why."""

from __future__ import annotations

import re

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from closp_demo.service import Explorer
from closp_demo.upload import query_map as qm_module
from closp_demo.upload.errors import UploadError
from closp_demo.upload.query_map import query_map
from closp_demo.views.heat import map_cells
from tests.helpers.mosaics import real_patches, side_by_side
from tests.helpers.tolerances import SCORE_ATOL

W = 120


@pytest.fixture(scope="module")
def explorer(small_corpus):
    return Explorer(small_corpus)


@pytest.fixture(scope="module")
def mosaic(samples_dir, tmp_path_factory):
    """5 x 3 real BigEarthNet S2 patches side by side as one 600 x 360 px uint16 GeoTIFF: the
    upload's even window grid (origins 0, 120, ... ) falls exactly on the patches."""
    patches = real_patches(samples_dir, "S2", 15)
    data = side_by_side(patches.astype(np.uint16), 3, 5)
    path = tmp_path_factory.mktemp("mosaic") / "mosaic.tif"
    profile = {"driver": "GTiff", "width": 600, "height": 360, "count": 12, "dtype": "uint16",
               "crs": "EPSG:32633", "transform": from_origin(500000, 5200000, 10, 10)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path, patches


def test_each_window_scores_as_its_patch_alone(explorer, mosaic):
    path, patches = mosaic
    enc = explorer.encoder
    q = enc.encode_text(["dense coniferous forest"])[0]
    qm = query_map(path, enc, q)
    assert qm.shape == (3, 5) and not qm.sampled
    expected = (enc.encode_images(patches, "S2") @ q).reshape(3, 5)
    np.testing.assert_allclose(qm.scores, expected, atol=SCORE_ATOL)
    assert len(qm.rings) == 15 and all(len(ring) == 5 for ring in qm.rings)


def test_drawn_on_the_preview_and_the_map_with_progress(explorer, mosaic):
    steps = []
    answer = explorer.heat_map(mosaic[0], "a lake", progress=lambda f, what: steps.append(f))
    assert answer.ok, answer.message
    assert "15 windows" in answer.message and "3×5 grid" in answer.message
    preview = answer.result.scene.preview
    assert answer.image.shape[1] > preview.shape[1] and answer.image.shape[2] == 3  # legend beside
    cells = map_cells(answer.result)  # one tinted footprint per window, in the map's data
    assert len(cells) == 15 and all(c["colour"] in answer.map_html for c in cells)
    assert steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)


def test_takes_what_the_upload_box_holds(explorer, mosaic, tmp_path):
    """The box sends a list (one file, band files or a ZIP); a copy without georeferencing is
    scored the same and drawn on no map."""
    listed = explorer.heat_map([str(mosaic[0])], "a lake", filename=["mine.tif"])
    assert listed.ok and "mine.tif" in listed.message, listed.message
    bare = tmp_path / "bare.tif"
    with rasterio.open(mosaic[0]) as src:
        profile = {k: v for k, v in src.profile.items() if k not in ("crs", "transform")}
        with rasterio.open(bare, "w", **profile) as dst:
            dst.write(src.read())
    unplaced = explorer.heat_map(str(bare), "a lake")
    assert unplaced.ok, unplaced.message
    np.testing.assert_allclose(unplaced.result.scores, listed.result.scores, atol=SCORE_ATOL)
    assert map_cells(unplaced.result) == []  # no window has a place on the map


def test_a_large_scene_is_sampled_evenly(explorer, mosaic, monkeypatch):
    monkeypatch.setattr(qm_module, "MAX_WINDOWS", 6)
    enc = explorer.encoder
    qm = query_map(mosaic[0], enc, enc.encode_text(["river"])[0])
    assert qm.sampled and qm.scores.size <= 6 and np.isfinite(qm.scores).all()


def test_real_sen1floods11_scene(explorer, samples_dir):
    path = samples_dir / "sen1floods11" / "Spain_7370579_S1Hand.tif"  # 512 x 512, VV/VH dB
    answer = explorer.heat_map(path, "flooded area")
    assert answer.ok, answer.message
    assert answer.result.shape == (4, 4) and np.isfinite(answer.result.scores).all()


@pytest.mark.parametrize(
    ("make", "query", "message"),
    [
        ("small", "a lake", "larger than one 120×120 px window"),
        ("text", "a lake", "TIFF|GeoTIFF"),
        ("mosaic", "", "Type a description"),
        ("mosaic", "<script>" * 200, "characters|long"),
        (None, "a lake", "Upload a GeoTIFF.* first"),
        ([], "a lake", "Upload a GeoTIFF.* first"),
    ],
)
def test_hostile_inputs_get_messages(explorer, mosaic, tmp_path, make, query, message):
    path = make if make in (None, []) else None
    if make == "small":
        path = tmp_path / "one.tif"
        with rasterio.open(path, "w", driver="GTiff", width=W, height=W, count=12,
                           dtype="uint16", crs="EPSG:32633",
                           transform=from_origin(500000, 5200000, 10, 10)) as dst:  # fmt: skip
            dst.write(mosaic[1][0].astype(np.uint16))
    elif make == "text":
        path = tmp_path / "x.tif"
        path.write_text("not a tiff")
    elif make == "mosaic":
        path = mosaic[0]
    answer = explorer.heat_map(path, query)
    assert not answer.ok and answer.image is None
    assert re.search(message, answer.message), answer.message


def test_query_vector_of_the_wrong_size_is_refused(explorer, mosaic):
    with pytest.raises(UploadError, match="query vector has 3 values"):
        query_map(mosaic[0], explorer.encoder, np.ones(3, np.float32))


def test_an_encoder_that_needs_vv_and_vh_refuses_vv_alone_before_embedding(explorer, tmp_path,
                                                                          monkeypatch):  # fmt: skip
    import dataclasses

    from tests.helpers.hostile_inputs import s1_db, write_tif

    path = write_tif(tmp_path / "VV.tif", s1_db(360, 360, seed=53)[:1])
    info = dataclasses.replace(explorer.encoder.info, partial_s1=False, name="CLOSP-RN")
    monkeypatch.setattr(explorer.encoder, "info", info)
    for method in ("encode_images", "class_fractions"):  # never reached
        monkeypatch.setattr(explorer.encoder, method, None)
    answer = explorer.heat_map(str(path), "a lake")
    assert not answer.ok and "cannot be embedded by CLOSP-RN" in answer.message, answer.message
