"""The detail view's matplotlib figures, drawn (Agg) and measured: no tick labels on top of each
other, every text inside the figure (no cut titles), legends off the data."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from closp_demo.views.figures import (
    CLASS_COLOURS,
    backscatter_histogram,
    class_breakdown,
    spectral_profile,
)

CLASSES = list(CLASS_COLOURS)


def drawn(fig):
    """The figure drawn once (constrained layout runs on draw) and its renderer."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def boxes(texts, renderer) -> list[tuple[str, object]]:
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts
            if t.get_visible() and t.get_text().strip()]  # fmt: skip


def tick_labels(axis) -> list[Text]:
    """The tick labels drawn: major and minor, at locations inside the view."""
    lo, hi = sorted(axis.get_view_interval())
    pairs = [
        *zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=True),
        *zip(axis.get_minorticklocs(), axis.get_minorticklabels(), strict=True),
    ]
    return [label for loc, label in pairs if lo <= loc <= hi]


def drawn_texts(fig) -> list[Text]:
    """Every text the figure draws: titles, axis labels, drawn tick labels, legends."""
    texts = list(fig.texts)
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label,
                  *tick_labels(ax.xaxis), *tick_labels(ax.yaxis)]  # fmt: skip
        if ax.get_legend():
            texts += ax.get_legend().get_texts()
    for legend in fig.legends:
        texts += legend.get_texts()
    return texts


def assert_tick_labels_apart(ax, renderer) -> None:
    for axis in (ax.xaxis, ax.yaxis):
        shown = boxes(tick_labels(axis), renderer)
        for (a, box_a), (b, box_b) in itertools.combinations(shown, 2):
            assert not box_a.overlaps(box_b), f"tick labels {a!r} and {b!r} overlap"


def assert_texts_inside(fig, renderer) -> None:
    frame = fig.bbox
    for text, box in boxes(drawn_texts(fig), renderer):
        assert box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1, f"{text!r} cut at a side"
        assert box.y0 >= frame.y0 - 1 and box.y1 <= frame.y1 + 1, f"{text!r} cut at top/bottom"


def assert_legend_off_the_axes(fig, ax, renderer) -> None:
    legends = [*fig.legends, *([ax.get_legend()] if ax.get_legend() else [])]
    assert legends, "no legend"
    for legend in legends:
        assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


def profiles() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A water-like image profile over ten class medians spread like real reflectances."""
    rng = np.random.default_rng(0)
    base = np.array([0.03, 0.04, 0.06, 0.05, 0.10, 0.20, 0.25, 0.27, 0.28, 0.29, 0.20, 0.12])
    classes = {c: np.clip(base * rng.uniform(0.3, 1.5) + rng.normal(0, 0.01, 12), 0, 1)
               for c in CLASSES}  # fmt: skip
    return np.array([0.03, 0.03, 0.02, 0.01] + [0.005] * 8), classes


def test_spectral_profile_names_bands_without_colliding_labels_and_legend_below():
    fig = spectral_profile(*profiles())
    renderer = drawn(fig)
    ax = fig.axes[0]
    assert_tick_labels_apart(ax, renderer)
    shown = [t for t, _ in boxes(tick_labels(ax.xaxis), renderer)]
    assert shown == ["B02", "B04", "B08", "B11", "B12"]  # no "6×10²" beside them
    assert_texts_inside(fig, renderer)
    assert_legend_off_the_axes(fig, ax, renderer)


def test_why_it_matched_title_and_legend_fit():
    rng = np.random.default_rng(1)
    classes = [*CLASSES, "Cloud/haze (view obscured)"]
    p = rng.dirichlet(np.ones(len(classes)))
    s = rng.uniform(0, 1, len(classes))
    contributions = p * s / (p * s).sum() * 0.303
    fig = class_breakdown(classes, p, s, contributions, 0.303)
    renderer = drawn(fig)
    ax = fig.axes[0]
    assert "score = " in ax.get_title()
    assert_texts_inside(fig, renderer)
    assert_tick_labels_apart(ax, renderer)
    assert_legend_off_the_axes(fig, ax, renderer)


@pytest.mark.parametrize("title", ["", "Sentinel-1 backscatter histogram of a long scene name"])
def test_backscatter_histogram_texts_fit(title):
    rng = np.random.default_rng(2)
    image = np.stack([rng.normal(-10, 3, (120, 120)), rng.normal(-17, 3, (120, 120))])
    fig = backscatter_histogram(image.astype(np.float32), title)
    renderer = drawn(fig)
    assert_texts_inside(fig, renderer)
    assert_tick_labels_apart(fig.axes[0], renderer)
