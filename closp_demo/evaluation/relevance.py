"""Relevance of images to a query, derived from labels (image labels vs the query's class set C;
an image may carry several labels L):
- binary: rel = 1 if L and C intersect (the image carries one of the query's classes);
- graded: g = |L ∩ C| / |L|, the share of the image's labels the query asks for: an image labelled
  only Water gets 1.0 for "water", one labelled Water + Trees + Crops gets 1/3. g > 0 iff rel = 1.
- judged: an image is judged iff it has at least one label. Unlabelled images are unjudged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from closp_demo.corpus.labels import ALL_CLASSES


def _label_sets(image_labels: Sequence[Iterable[str]]) -> list[frozenset[str]]:
    out = []
    for i, labels in enumerate(image_labels):
        if isinstance(labels, str):
            raise ValueError(f"image #{i}: labels must be a collection of class names, not a str")
        labels = frozenset(labels)
        unknown = sorted(labels - set(ALL_CLASSES))
        if unknown:
            raise ValueError(f"image #{i}: unknown label(s) {unknown}; known: {list(ALL_CLASSES)}")
        out.append(labels)
    return out


def _class_set(classes: Iterable[str]) -> frozenset[str]:
    if isinstance(classes, str):
        classes = (classes,)
    wanted = frozenset(classes)
    unknown = sorted(wanted - set(ALL_CLASSES))
    if unknown:
        raise ValueError(f"unknown query class(es) {unknown}; known: {list(ALL_CLASSES)}")
    if not wanted:
        raise ValueError("a query needs at least one class to derive relevance from labels")
    return wanted


def _gains(sets: list[frozenset[str]], wanted: frozenset[str], graded: bool) -> np.ndarray:
    """(N,) float64: the graded share, or 1/0 for binary (the share is > 0 iff relevant)."""
    g = np.array([len(s & wanted) / len(s) if s else 0.0 for s in sets], dtype=np.float64)
    return g if graded else (g > 0).astype(np.float64)


def judged_mask(image_labels: Sequence[Iterable[str]]) -> np.ndarray:
    """(N,) bool: the image has at least one label (it is in the judged pool)."""
    return np.array([bool(s) for s in _label_sets(image_labels)], dtype=bool)


def as_judged(judged: Sequence[bool] | np.ndarray | None, n: int) -> np.ndarray:
    """(n,) bool judged mask; None means every image is judged (unjudged = not relevant, BEIR)."""
    mask = np.ones(n, bool) if judged is None else np.asarray(judged, dtype=bool)
    if mask.shape != (n,):
        raise ValueError(f"judged must be ({n},) bools, got shape {mask.shape}")
    return mask


def binary_relevance(image_labels: Sequence[Iterable[str]], classes: Iterable[str]) -> np.ndarray:
    """(N,) bool: the image carries at least one of `classes`."""
    wanted = _class_set(classes)
    return _gains(_label_sets(image_labels), wanted, graded=False) > 0


def graded_relevance(image_labels: Sequence[Iterable[str]], classes: Iterable[str]) -> np.ndarray:
    """(N,) float in [0, 1]: share of the image's labels in `classes` (0 when unlabelled)."""
    wanted = _class_set(classes)
    return _gains(_label_sets(image_labels), wanted, graded=True)


def relevance_matrix(
    image_labels: Sequence[Iterable[str]],
    query_classes: Sequence[Iterable[str]],
    graded: bool = True,
) -> np.ndarray:
    """(Q, N) float64 gains, one row per query class set (binary rows are 0/1)."""
    sets = _label_sets(image_labels)
    out = np.zeros((len(query_classes), len(sets)), dtype=np.float64)
    for q, classes in enumerate(query_classes):
        out[q] = _gains(sets, _class_set(classes), graded)
    return out
