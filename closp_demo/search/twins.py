"""The other-sensor counterpart of a corpus image: what a detail view shows side by side.

In order: the corpus twin (a row of the other sensor with the same non-empty `group`: the
BigEarthNet S1/S2 pairs, SSL4EO's co-registered tiles, Sen1Floods11 chips), the closest in date
when several; else the other-sensor image whose footprint overlaps most (closest date on ties);
else none, said plainly. Overlap is measured on the footprints' lon/lat bounding boxes (patches
are ~1.2 km: the boxes are the footprints to within a fraction of a pixel at these latitudes),
and only rows whose centre lies within `NEAR_DEG` are looked at, so a lookup decodes a handful of
footprints whatever the corpus size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from closp_demo.corpus.store import Corpus
from closp_demo.sensors import SENSOR_NAMES

NEAR_DEG = 0.2  # candidate centres within this many degrees (a patch spans ~0.01-0.05 degrees)


@dataclass(frozen=True)
class Counterpart:
    row: int | None  # corpus row of the counterpart, None when there is none
    how: str  # "twin", "overlap", "embedding" or "none"
    note: str  # one line for the view, e.g. "corpus twin (same BigEarthNet pair)"
    overlap: float = 0.0  # share of this image's footprint box the counterpart covers


def other_sensor(sensor: str) -> str:
    return "S2" if sensor == "S1" else "S1"


def _when(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None
    except ValueError:
        return None


def _days_apart(a: str, b: str) -> float:
    da, db = _when(a), _when(b)
    if da is None or db is None:
        return float("inf")
    if (da.tzinfo is None) != (db.tzinfo is None):
        da, db = da.replace(tzinfo=None), db.replace(tzinfo=None)
    return abs((da - db).total_seconds()) / 86400.0


def _box(ring: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    lons, lats = zip(*ring, strict=True)
    return min(lons), min(lats), max(lons), max(lats)


def box_overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Share of box `a` (minlon, minlat, maxlon, maxlat) covered by box `b`, in [0, 1]."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    area = (a[2] - a[0]) * (a[3] - a[1])
    return float(max(w, 0.0) * max(h, 0.0) / area) if area > 0 else 0.0


def counterpart(corpus: Corpus, row: int) -> Counterpart:
    """The other-sensor image to show beside corpus row `row` (module docstring)."""
    rows = corpus.rows
    sensor = str(rows.value("sensor", row))
    other = other_sensor(sensor)
    lo, hi = corpus.sensor_ranges.get(other, (0, 0))
    ts = str(rows.value("timestamp", row))
    groups = rows.groups()
    group = str(groups[row])
    if group and hi > lo:
        same = lo + np.flatnonzero(groups[lo:hi] == group)
        if len(same):
            best = min(same, key=lambda r: _days_apart(ts, str(rows.value("timestamp", r))))
            source = str(rows.value("source", row))
            return Counterpart(int(best), "twin", f"corpus twin (same {source} group)", 1.0)
    if hi > lo:
        centres = rows.centres()
        here = centres[row]
        near = lo + np.flatnonzero(np.abs(centres[lo:hi] - here).max(axis=1) <= NEAR_DEG)
        box = _box(rows.footprint(row))
        scored = [(box_overlap(box, _box(rows.footprint(r))), int(r)) for r in near]
        scored = [(o, r) for o, r in scored if o > 0]
        if scored:
            # most overlap first; among equal overlaps (to 1 %), the closest date
            def order(o_r: tuple[float, int]) -> tuple[float, float]:
                return -round(o_r[0], 2), _days_apart(ts, str(rows.value("timestamp", o_r[1])))

            best = min(scored, key=order)
            return Counterpart(best[1], "overlap",
                               f"the {SENSOR_NAMES[other]} image overlapping most "
                               f"({best[0]:.0%} of this footprint)", best[0])  # fmt: skip
    return Counterpart(None, "none", f"no {SENSOR_NAMES[other]} image of this place in the corpus")
