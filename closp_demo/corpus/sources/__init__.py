"""Readers that turn the shared real Sentinel samples into `ImageRecord`s.

Each source module exposes `SOURCE` (short id), `ATTRIBUTION` (origin and licence) and
`iter_records(root)`, a generator over the sentinel-samples folder `root`. Order and ids are
deterministic; images are float32 (B, 120, 120) in the internal layout (`corpus.records`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources import bigearthnet, hydro, majortom, sen1floods11, ssl4eo

SOURCES: dict[str, ModuleType] = {
    m.SOURCE: m for m in (bigearthnet, majortom, ssl4eo, hydro, sen1floods11)
}


def iter_all(root: Path, only: Sequence[str] | None = None) -> Iterator[ImageRecord]:
    """Records of every source (or of the sources named in `only`), in registry order."""
    if isinstance(only, str):
        only = [only]
    names = list(SOURCES) if only is None else list(only)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise ValueError(
            f"unknown source(s) {', '.join(map(repr, unknown))}; known: {', '.join(SOURCES)}"
        )
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"samples folder {root} not found")
    for name in SOURCES:  # registry order, whatever the order of `only`
        if name in names:
            yield from SOURCES[name].iter_records(root)


def attributions(only: Sequence[str] | None = None) -> dict[str, str]:
    """Source id -> attribution line (what must ship with any corpus built from the samples)."""
    return {n: m.ATTRIBUTION for n, m in SOURCES.items() if only is None or n in only}
