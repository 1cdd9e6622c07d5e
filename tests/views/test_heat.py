"""Drawing a query's heat map (`closp_demo.views.heat`) over the real Sen1Floods11 scene (512 x 512
px, drawn at full resolution): each window's score is tinted exactly over its window, the windows
cover the scene but the centred margin, and each map cell is its window's footprint."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds

from closp_demo.corpus import thumbnails
from closp_demo.encoders import create_encoder
from closp_demo.upload.query_map import query_map
from closp_demo.views.heat import (
    ALPHA,
    SHOWN_HEIGHT_PX,
    SHOWN_WIDTH_PX,
    colours,
    legend_layout,
    map_cells,
    on_preview,
)

SCENE = ("sen1floods11", "Spain_7370579_S1Hand.tif")


@pytest.fixture(scope="module")
def drawn(samples_dir):
    encoder = create_encoder("physics-minilm")
    qm = query_map(samples_dir.joinpath(*SCENE), encoder, encoder.encode_text(["flood"])[0])
    return qm, on_preview(qm, "flood")


def test_each_score_is_tinted_over_its_window_and_nowhere_else(drawn):
    qm, image = drawn
    base = thumbnails.render(qm.scene.preview, qm.scene.sensor).astype(np.float64)
    assert base.shape[:2] == (qm.scene.height, qm.scene.width)  # one preview px = one px
    expected = base.copy()
    alpha = int(255 * ALPHA) / 255
    for (_, _, x, y, w, h), rgb in zip(qm.windows, colours(qm), strict=True):
        box = expected[y : y + h, x : x + w]
        box[:] = box * (1 - alpha) + np.array(rgb) * alpha
    drawn_preview = image[: base.shape[0], : base.shape[1]].astype(np.float64)
    assert np.abs(drawn_preview - expected).max() <= 2  # PIL's integer compositing
    # 16 windows cover all but the 16 px centred margin; scores differ, so do the tints
    assert len(qm.windows) == 16 and len(set(colours(qm))) > 1
    tinted = np.zeros(base.shape[:2], bool)
    for _, _, x, y, w, h in qm.windows:
        tinted[y : y + h, x : x + w] = True
    assert tinted[16:496, 16:496].all() and tinted.sum() == 480 * 480


def test_each_map_cell_is_its_windows_footprint(drawn, samples_dir):
    qm, _ = drawn
    cells = map_cells(qm)
    assert len(cells) == len(qm.windows) == len(qm.rings)
    with rasterio.open(samples_dir.joinpath(*SCENE)) as src:
        for (r, c, x, y, w, h), ring, cell in zip(qm.windows, qm.rings, cells, strict=True):
            lons, lats = zip(*ring, strict=True)
            xs, ys = warp_transform("EPSG:4326", src.crs, lons, lats)
            bounds = window_bounds(Window(x, y, w, h), src.transform)
            np.testing.assert_allclose([min(xs), min(ys), max(xs), max(ys)], bounds, atol=1e-6)
            assert cell["score"] == round(float(qm.scores[r, c]), 4)


def test_legend_beside_the_preview_reads_at_projector_size(drawn):
    """Scaled into the app's preview box at 1920 px, the legend's digits stay >= 8 px tall
    (a 12 px font's), its font >= 12 px; it names what the colours measure and its unit."""
    qm, image = drawn
    size, lines, panel = legend_layout(qm.scene.width, qm.scene.height, "flood")
    assert image.shape[:2] == (qm.scene.height, qm.scene.width + panel)
    shown = min(SHOWN_HEIGHT_PX / image.shape[0], SHOWN_WIDTH_PX / image.shape[1])
    assert size * shown >= 12
    caption = " ".join(lines)
    assert "cosine similarity" in caption and "“flood”" in caption and "no unit" in caption
    # the top value's digits as drawn: the dark rows of the text column's first run
    text = image[:, qm.scene.width + 2 * size :].min(axis=2) < 100
    rows = np.flatnonzero(text.any(axis=1))
    first_run = rows[: np.argmax(np.diff(rows) > 1)] if (np.diff(rows) > 1).any() else rows
    assert (first_run[-1] - first_run[0] + 1) * shown >= 8
