"""The upload use case (`Explorer.upload_search`) for the new layouts: several files, ZIPs, no
georeferencing, single polarisation and the encoder capability, wrong shapes from API clients."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from closp_demo.search.engine import Overlay
from closp_demo.service import MAX_UPLOAD_FILES, Explorer, upload_paths
from closp_demo.upload.scene import NOT_PLACED_NOTE
from tests.helpers.hostile_inputs import s1_db, s2_dn, write_tif
from tests.helpers.products import ssl4eo_band_files


@pytest.fixture(scope="module")
def explorer(small_corpus):
    return Explorer(small_corpus)


def test_band_files_search_like_a_stack(explorer, samples_dir):
    files = [str(p) for p in ssl4eo_band_files(samples_dir, "s2a")]
    a = explorer.upload_search(files, "both", 5)
    assert a.ok and len(a.table) == 5, a.message
    assert a.notes[0].startswith("12 bands from 12 files")
    assert "iframe" in a.map_html


def test_an_unplaced_raster_is_searched_but_not_mapped(explorer, tmp_path):
    path = write_tif(tmp_path / "no_crs.tif", s2_dn(240, 240, seed=50), crs=None, transform=None)
    overlay = Overlay()
    a = explorer.upload_search(str(path), "both", 5, overlay)
    assert a.ok and len(a.table) == 5, a.message
    assert "not on the map" in a.message and NOT_PLACED_NOTE in a.notes
    assert "Your upload" not in a.map_html  # no invented footprint
    upload = overlay.items[0].result
    assert upload.footprint == [] and upload.facts["CRS"].startswith("none")
    # Later searches of the session: ranked without a place; dropped by a place filter.
    near = explorer.text_search_near("forest", "both", 50, overlay, "within", 48.2, 16.4, 20000)
    assert near.ok and not near.table["id"].str.startswith("upload:").any()
    anywhere = explorer.text_search("forest", "S2", 100, overlay)  # every S2 image
    assert anywhere.ok and anywhere.table["id"].str.startswith("upload:").any()


def test_single_polarisation_needs_an_encoder_that_can_embed_it(explorer, tmp_path):
    path = write_tif(tmp_path / "VV.tif", s1_db(200, 200, seed=51)[:1])
    a = explorer.upload_search(str(path), "both", 5)
    assert a.ok, a.message
    assert any("degraded" in n for n in a.notes)
    both = explorer.upload_search(
        [str(path), str(write_tif(tmp_path / "VH.tif", s1_db(200, 200, seed=51)[1:]))], "both", 5
    )
    assert both.ok
    # An encoder without the capability (CLOSP's 2-channel input) refuses, naming why.
    info = explorer.encoder.info
    explorer.encoder.info = dataclasses.replace(info, partial_s1=False, name="CLOSP-RN")
    try:
        refused = explorer.upload_search(str(path), "both", 5)
    finally:
        explorer.encoder.info = info
    assert not refused.ok
    assert "cannot be embedded by CLOSP-RN" in refused.message and "VV and VH" in refused.message


def test_physics_vv_only_skips_the_vh_rules(explorer):
    images = np.stack([s1_db(120, 120, seed=52)] * 2)
    images[1, 1] = np.nan  # the second image has no VH
    fractions, measures = explorer.encoder.class_fractions(images, "S1")
    names = list(explorer.encoder.classes)
    for cls in ("Trees", "Shrub and Scrub", "Bare", "Flooded Vegetation"):
        assert fractions[1, names.index(cls)] == 0
    assert np.isfinite(fractions).all()
    assert np.isnan(measures["VH median dB"][1]) and np.isfinite(measures["VV median dB"][1])
    # The full image is unchanged by the single-polarisation path.
    alone, _ = explorer.encoder.class_fractions(images[:1], "S1")
    np.testing.assert_array_equal(alone[0], fractions[0])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "Choose a GeoTIFF"),
        ([], "Choose a GeoTIFF"),
        (42, "got int"),
        ([{"url": "x"}], "needs its 'path'"),
        (["a.tif", 3.5], "got float"),
        (["x.tif"] * (MAX_UPLOAD_FILES + 1), f"at most {MAX_UPLOAD_FILES} files"),
    ],
)
def test_wrong_shapes_from_api_clients_get_a_message(explorer, value, message):
    paths, problem = upload_paths(value)
    assert paths == [] and message in problem
    a = explorer.upload_search(value, "both", 5)
    assert not a.ok and message in a.message


def test_gradio_file_dicts_are_accepted():
    assert upload_paths([{"path": "/tmp/a.tif"}, "/tmp/b.tif"]) == (
        ["/tmp/a.tif", "/tmp/b.tif"],
        "",
    )


def test_one_session_may_upload_so_much_in_all(small_corpus, tmp_path):
    """Every upload of a session counts against CLOSP_MAX_SESSION_MB, read or refused; another
    session is not affected."""
    from closp_demo.settings import Settings

    path = write_tif(tmp_path / "s2.tif", s2_dn(240, 240, seed=52))
    size = path.stat().st_size
    settings = Settings.from_env(
        {
            "CLOSP_MAX_SESSION_MB": str(2.5 * size / 1e6),
            "CLOSP_MAX_UPLOAD_MB": str(1.5 * size / 1e6),
        }
    )
    explorer = Explorer(small_corpus, settings=settings)
    mine, other = Overlay(), Overlay()
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a tiff".ljust(size, b" "))  # same size, not a raster
    assert explorer.upload_search(str(path), "both", 3, mine).ok
    assert not explorer.upload_search(str(junk), "both", 3, mine).ok  # refused, still counted
    refused = explorer.upload_search(str(path), "both", 3, mine)
    assert not refused.ok and "limit of" in refused.message and "per session" in refused.message
    assert len(mine.items) == 1 and mine.uploaded_bytes == 2 * size
    assert explorer.upload_search(str(path), "both", 3, other).ok


def test_upload_previews_go_when_their_upload_leaves_the_session(small_corpus, samples_dir):
    explorer = Explorer(small_corpus)  # its own scratch folder: other tests' previews not counted
    scene = str(samples_dir / "sen1floods11" / "Spain_7370579_S1Hand.tif")
    overlay = Overlay(max_items=2)
    for _ in range(3):
        assert explorer.upload_search(scene, "both", 3, overlay).ok
    kept = {it.result.thumbnail for it in overlay.items}
    previews = {str(p) for p in explorer.scratch.uploads.iterdir()}
    assert len(overlay.items) == 2 and previews == kept  # the first upload's preview went
    explorer.forget_uploads(overlay)  # as Gradio calls it when it drops the session's state
    assert not any(explorer.scratch.uploads.iterdir())


def test_an_explorer_leaves_no_folders_behind(repo_root):
    """Its uploads and exports live in one scratch folder, removed when the explorer goes."""
    import gc

    explorer = Explorer(repo_root / "precomputed")
    scratch = explorer.scratch.root
    assert explorer.scratch.uploads.parent == scratch and scratch.is_dir()
    (explorer.scratch.uploads / "preview.webp").write_bytes(b"x")
    (explorer.scratch.fresh_folder("exports") / "results.csv").write_text("id\n")
    del explorer
    gc.collect()
    assert not scratch.exists()


def test_a_session_limit_below_the_upload_limit_still_allows_one_upload(tmp_path):
    from closp_demo.service.inputs import session_problem
    from closp_demo.settings import MB, Limits

    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (3 * MB))
    limits = Limits(max_bytes=4 * MB, max_session_bytes=1 * MB)
    assert session_problem([str(big)], 0, limits) == (3 * MB, "")
    size, problem = session_problem([str(big)], 3 * MB, limits)
    assert size == 3 * MB and "limit of 4 MB per session" in problem
