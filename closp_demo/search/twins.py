"""The other-sensor counterpart of a corpus image: what a detail view shows side by side.

In order: the corpus twin (a row of the other sensor with the same non-empty `group`: the
BigEarthNet S1/S2 pairs, SSL4EO's co-registered tiles, Sen1Floods11 chips), the closest in date
when several; else the other-sensor image whose footprint overlaps most (closest date on ties);
else none, said plainly. Overlap is measured on the footprints' lon/lat bounding boxes (patches
are ~1.2 km: the boxes are the footprints to within a fraction of a pixel at these latitudes),
and only rows whose centre lies within `NEAR_DEG` of the box are looked at, so a lookup decodes a
handful of footprints whatever the corpus size. `overlapping` does the same for any footprint
(an upload's: the detail view's service, closp_demo/service/detail.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from closp_demo.corpus.store import Corpus
from closp_demo.sensors import SENSOR_NAMES

NEAR_DEG = 0.2  # candidate centres within this many degrees (a patch spans ~0.01-0.05 degrees)
MIN_OVERLAP = 0.01  # boxes overlap when they share 1 % of the smaller one


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


def _utc_day(when: datetime) -> date:
    return (when.astimezone(UTC) if when.tzinfo else when).date()


def date_apart(ts: str, other_ts: str) -> str:
    """How many calendar days (UTC) apart two acquisitions are, in words ("taken 3 days apart");
    unknown dates said so."""
    a, b = _when(ts), _when(other_ts)
    if a is None:
        return (f"your upload's date is unknown (this image: {other_ts[:10]})"
                if b is not None else "both dates unknown")  # fmt: skip
    if b is None:
        return "this image's date is unknown"
    days = abs((_utc_day(a) - _utc_day(b)).days)
    if days == 0:
        return "taken the same day"
    return f"taken {days} day{'s' if days > 1 else ''} apart"


def percent(share: float) -> str:
    """A share in [0, 1] as a whole percentage; a sliver is "<1 %", never "0 %"."""
    return "<1 %" if share < 0.005 else f"{share * 100:.0f} %"


def _box(ring: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    """The lon/lat bounding box of `ring`. A ring whose longitudes jump across +-180 (a corpus
    footprint crossing the antimeridian) is unwrapped to continue beyond 180, not read as a box
    around the globe."""
    lons, lats = zip(*ring, strict=True)
    if max(lons) - min(lons) > 180:
        lons = tuple(lon + 360 if lon < 0 else lon for lon in lons)
    return min(lons), min(lats), max(lons), max(lats)


def box_overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Share of box `a` (minlon, minlat, maxlon, maxlat) covered by box `b`, in [0, 1]."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    area = (a[2] - a[0]) * (a[3] - a[1])
    return float(max(w, 0.0) * max(h, 0.0) / area) if area > 0 else 0.0


def _turns(box: tuple[float, float, float, float]) -> list[tuple[float, float, float, float]]:
    """`box` and its copies a turn of longitude east and west: boxes continuing beyond +-180 (an
    upload's footprint, `upload.scene.scene_footprint`, or a corpus one unwrapped by `_box`)
    meet the boxes on the other side of the antimeridian."""
    return [(box[0] + t, box[1], box[2] + t, box[3]) for t in (0.0, -360.0, 360.0)]


def overlapping(
    corpus: Corpus, ring: list[tuple[float, float]], sensor: str, timestamp: str = "",
    vector: np.ndarray | None = None,
) -> list[tuple[float, int]]:  # fmt: skip
    """Rows of `sensor` whose footprint box overlaps the box of lon/lat `ring` (`MIN_OVERLAP`),
    as (share of `ring`'s box they cover, row): most overlap first; among equal overlaps (to
    1 %), the closest date to `timestamp`, then (with `vector`) the most similar embedding."""
    lo, hi = corpus.sensor_ranges.get(sensor, (0, 0))
    if hi <= lo or not ring:
        return []
    rows = corpus.rows
    lon, lat = rows.centres()[lo:hi].T
    box = _box(ring)
    near = np.zeros(hi - lo, dtype=bool)
    for west, _, east, _ in _turns(box):
        near |= (lon >= west - NEAR_DEG) & (lon <= east + NEAR_DEG)
    near &= (lat >= box[1] - NEAR_DEG) & (lat <= box[3] + NEAR_DEG)
    shares: dict[int, float] = {}
    for r in (lo + np.flatnonzero(near)).tolist():
        other = _box(rows.footprint(r))
        share, of_other = max((box_overlap(box, b), box_overlap(b, box)) for b in _turns(other))
        # a sliver along a shared edge (rounding in the reprojected corners) is no overlap
        if max(share, of_other) >= MIN_OVERLAP:
            shares[r] = share
    scored = [(o, r) for r, o in shares.items()]

    def order(o_r: tuple[float, int]) -> tuple[float, float, float]:
        days = _days_apart(timestamp, str(rows.value("timestamp", o_r[1])))
        similar = float(corpus.embeddings[o_r[1]] @ vector) if vector is not None else 0.0
        return -round(o_r[0], 2), days, -similar

    return sorted(scored, key=order)


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
    found = overlapping(corpus, rows.footprint(row), other, ts)
    if found:
        share, best = found[0]
        return Counterpart(best, "overlap",
                           f"the {SENSOR_NAMES[other]} image overlapping most "
                           f"({share:.0%} of this footprint)", share)  # fmt: skip
    return Counterpart(None, "none", f"no {SENSOR_NAMES[other]} image of this place in the corpus")
