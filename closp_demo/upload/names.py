"""Which band a file holds, read from its name: Sentinel-2 B01..B12 / B8A, Sentinel-1 VV/VH/HH/HV.

Names are split into words at `_`, `-`, `.`, spaces and path separators; exactly one word must name
a band ("B04", "B4", "T33UUP_20200101T101031_B8A_20m", "s1a-iw-grd-vv-2020...-001",
"Sigma0_VV_db"). Words in a SAFE product's own naming that are not bands (tile ids "T33UUP",
resolutions "10m", "R20m", orbit numbers) never match. `product_key` is the name with its band and
resolution words removed, so band files of one product share it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from closp_demo.sensors import S1_BANDS, S2_BANDS, S2_L1C_BANDS

_WORD_SPLIT = re.compile(r"[_\-.\s/\\]+")
_S2_WORD = re.compile(r"^B0?([1-9]|1[0-2]|8A)$")
_RESOLUTION_WORD = re.compile(r"^R?\d{2}M$")
POLARISATIONS = ("VV", "VH", "HH", "HV")
BAND_EXTENSIONS = (".tif", ".tiff", ".jp2")
ALL_S2 = S2_L1C_BANDS  # B01..B12 with B8A and B10, canonical order


def _words(name: str) -> list[str]:
    stem = PurePosixPath(name.replace("\\", "/")).name
    for ext in BAND_EXTENSIONS:
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    return [w for w in _WORD_SPLIT.split(stem.upper()) if w]


def band_of_name(name: str) -> str | None:
    """ "B04", "B8A", "VV", ... when the file name names exactly one band, else None."""
    found = set()
    for w in _words(name):
        if w in POLARISATIONS:
            found.add(w)
        elif m := _S2_WORD.match(w):
            found.add("B8A" if m.group(1) == "8A" else f"B{int(m.group(1)):02d}")
    return found.pop() if len(found) == 1 else None


def names_several_bands(name: str) -> list[str]:
    """The bands a name names when it names more than one (an ambiguous name), else []."""
    found = []
    for w in _words(name):
        if w in POLARISATIONS:
            found.append(w)
        elif m := _S2_WORD.match(w):
            found.append("B8A" if m.group(1) == "8A" else f"B{int(m.group(1)):02d}")
    return sorted(set(found)) if len(set(found)) > 1 else []


def product_key(name: str) -> str:
    """The name without its band and resolution words: equal for band files of one product."""
    keep = [
        w
        for w in _words(name)
        if w not in POLARISATIONS and not _S2_WORD.match(w) and not _RESOLUTION_WORD.match(w)
    ]
    return "_".join(keep)


def sensor_of_band(band: str) -> str:
    return "S1" if band in POLARISATIONS else "S2"


def canonical_order(bands: Sequence[str]) -> list[str]:
    order = {b: i for i, b in enumerate((*ALL_S2, *POLARISATIONS))}
    return sorted(bands, key=lambda b: order[b])


def band_runs(bands: Sequence[str]) -> str:
    """ "B01, B05..B07, B8A..B12" for bands in canonical order (runs of 3+ shortened)."""
    ref = list(ALL_S2) if bands and bands[0] not in POLARISATIONS else list(POLARISATIONS)
    idx = [ref.index(b) for b in bands if b in ref]
    parts: list[str] = []
    start = 0
    for i in range(1, len(idx) + 1):
        if i == len(idx) or idx[i] != idx[i - 1] + 1:
            run = [ref[j] for j in idx[start:i]]
            parts.append(f"{run[0]}..{run[-1]}" if len(run) >= 3 else ", ".join(run))
            start = i
    return ", ".join(parts)


S2_REQUIRED_L2A = S2_BANDS  # 12 bands: B01..B12 with B8A, without B10
S2_REQUIRED_L1C = S2_L1C_BANDS
S1_REQUIRED = S1_BANDS
