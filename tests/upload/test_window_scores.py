"""The window-scoring core both heat maps share (`closp_demo.upload.window_scores`): where the
windows lie (the corpus convention), and the same scores whichever path reads the pixels: the
app's in-memory `query_map` and the streaming `heatmap.heat_map`, on real BigEarthNet patches
written to GeoTIFFs by rasterio."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from closp_demo.corpus.sources.tiling import tiles
from closp_demo.encoders import create_encoder
from closp_demo.upload.errors import UploadError
from closp_demo.upload.heatmap import heat_map
from closp_demo.upload.query_map import query_map
from closp_demo.upload.window_scores import ScoreGrid, window_layout
from tests.helpers.hostile_inputs import write_tif
from tests.helpers.mosaics import real_patches, side_by_side
from tests.helpers.tolerances import SCORE_ATOL

W = 120
SIZES = [(512, 512), (530, 410), (600, 360), (121, 4000), (10980, 10980), (1000, 239)]


@pytest.fixture(scope="module")
def encoder():
    return create_encoder("physics-minilm")


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_layout_is_the_corpus_tiling(width, height):
    layout = window_layout(width, height)
    corpus = [(int(t.window.col_off), int(t.window.row_off))
              for t in tiles(Affine.identity(), height, width)]  # fmt: skip
    assert layout.origins() == corpus and not layout.sampled
    assert layout.shape == layout.fits == (height // W, width // W)


@pytest.mark.parametrize(("width", "height"), SIZES[:4] + SIZES[5:])
def test_windows_cover_the_scene_but_a_centred_margin_smaller_than_one_window(width, height):
    layout = window_layout(width, height)
    covered = np.zeros((height, width), np.int32)
    for x, y in layout.origins():
        covered[y : y + W, x : x + W] += 1
    assert covered.max() == 1  # no overlap
    for size, axis in ((width, 0), (height, 1)):
        margin = size % W  # < one window, split between the borders, the first gets the floor
        seen = covered.any(axis=axis)
        first = int(np.argmax(seen))
        assert margin < W and first == margin // 2
        assert seen[first : size - (margin - margin // 2)].all() and seen.sum() == size - margin
    assert window_layout(512, 512).xs == (16, 136, 256, 376)  # was 0, 131, 261, 392: gaps


def test_a_sampled_layout_takes_whole_rows_and_columns_evenly():
    full = window_layout(2000, 1300)
    for limit in (6, 40, 64):
        layout = window_layout(2000, 1300, max_windows=limit)
        assert layout.sampled and layout.fits == full.shape == (10, 16)
        assert 1 <= len(layout.origins()) <= limit
        assert set(layout.xs) <= set(full.xs) and set(layout.ys) <= set(full.ys)
        for picked, every in ((layout.xs, full.xs), (layout.ys, full.ys)):
            if len(picked) > 1:  # from the first window to the last, evenly
                assert picked[0] == every[0] and picked[-1] == every[-1]
                assert np.ptp(np.diff(picked)) <= W
    assert window_layout(10980, 10980, max_windows=1).origins() == [(5430, 5430)]
    assert not window_layout(600, 360, max_windows=15).sampled


def test_smaller_than_one_window_is_refused():
    with pytest.raises(UploadError, match="raster of 100 x 500 px is smaller than one 120 px"):
        window_layout(100, 500)


def test_a_score_grid_leaves_cells_never_added_blank(samples_dir, encoder):
    patches = real_patches(samples_dir, "S2", 3)
    query = encoder.encode_text(["a lake"])[0]
    grid = ScoreGrid(encoder, (2, 2), query)
    done = []
    grid.add([0, 1, 1], [1, 0, 1], list(patches), "S2", done.append)
    expected = encoder.encode_images(patches, "S2") @ query
    np.testing.assert_allclose(grid.similarity[[0, 1, 1], [1, 0, 1]], expected, atol=SCORE_ATOL)
    assert np.isnan(grid.similarity[0, 0]) and np.isnan(grid.fractions[0, 0]).all()
    assert done == [3] and grid.embeddings is None
    with pytest.raises(UploadError, match="query vector has 3 values"):
        ScoreGrid(encoder, (2, 2), np.ones(3))


@pytest.mark.parametrize(("sensor", "dtype"), [("S2", "uint16"), ("S1", "float32")])
def test_streaming_and_in_memory_paths_score_alike(samples_dir, tmp_path, encoder, sensor, dtype):
    """A raster whose size is not a multiple of 120 px (a centred margin of 25 px): both paths
    lay the windows out alike, and score each window the same."""
    data = side_by_side(real_patches(samples_dir, sensor, 20), 4, 5)[:, :410, :530].astype(dtype)
    path = write_tif(tmp_path / f"{sensor}.tif", data)
    query = encoder.encode_text(["a river between fields"])[0]
    streamed = heat_map(path, encoder, query, progress=False)
    in_memory = query_map(path, encoder, query)
    assert streamed.shape == in_memory.shape == (3, 4) and not in_memory.sampled
    assert np.isfinite(streamed.similarity).all()
    np.testing.assert_allclose(in_memory.scores, streamed.similarity, atol=SCORE_ATOL)
    lay = streamed.layout
    assert [w[:4] for w in in_memory.windows] == [
        (r, c, lay.xs[c], lay.ys[r]) for r in range(3) for c in range(4)
    ]
    assert lay.xs[0] == lay.ys[0] == 25  # centred: (530 - 480) / 2, (410 - 360) / 2
    for r, c, x, y, w, h in in_memory.windows:  # each score is that of its window's pixels
        if (r, c) in {(0, 0), (2, 3)}:
            patch = data[:, y : y + h, x : x + w].astype(np.float32)[None]
            expected = float(encoder.encode_images(patch, sensor)[0] @ query)
            assert in_memory.scores[r, c] == pytest.approx(expected, abs=SCORE_ATOL)
