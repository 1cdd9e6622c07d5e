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


# Short licence of each source's images, for exports (the full lines: the corpus's ATTRIBUTION.md
# and each module's ATTRIBUTION). Copernicus Sentinel data terms apply to all of them.
LICENCES: dict[str, str] = {
    "bigearthnet": "CDLA-Permissive-1.0",
    "hydro": "MIT",
    "majortom": "CC-BY-SA-4.0",
    "sen1floods11": "no licence given; cite Bonafilia et al., CVPRW 2020",
    "ssl4eo": "CC-BY-4.0",
    "crisislandmark": "CC-BY-NC-4.0",
}
UNKNOWN_LICENCE = "see the corpus's ATTRIBUTION.md"


def licence(source: str) -> str:
    """The licence of a source's images (`Result.source`), with the Copernicus terms."""
    short = LICENCES.get(source, UNKNOWN_LICENCE)
    return f"{short}; contains modified Copernicus Sentinel data"
