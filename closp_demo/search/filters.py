"""Metadata filters applied inside the search: source, date range, labels, a map-bounds box.

A filter is a boolean mask over corpus rows, computed before ranking, and the index search is
restricted to the rows it keeps (`closp_demo.search.candidates`): k results come back whenever
k rows pass, instead of cutting a top-k list afterwards. The mask is built from compact columns
decoded once per corpus (`FilterColumns`: source codes, UTC day numbers, a bit per label, the
footprint centres), so a filter costs a few numpy passes over N values, not N Python objects.

Rules (documented in the README):
- sources: any of the chosen; none chosen = every source.
- date range: inclusive UTC calendar days; an image of unknown date is dropped when a bound is set.
- labels: an image carrying any chosen label passes. Unlabelled images (no label at all) are
  kept or dropped by `unlabelled` ("keep"/"drop"), with or without chosen labels.
- box (west, south, east, north), degrees: the image's footprint centre lies inside; west > east
  is a box across the antimeridian (what a Leaflet map panned over 180° shows).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UNLABELLED_CHOICES = ("keep", "drop")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NO_DAY = np.iinfo(np.int32).min  # an unknown date: below every bound


class FilterError(ValueError):
    """A filter the app cannot use; the message is shown to the visitor."""


@dataclass(frozen=True)
class Filters:
    sources: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    labels: tuple[str, ...] = ()
    unlabelled: str = "keep"
    box: tuple[float, float, float, float] | None = None  # west, south, east, north

    def active(self) -> bool:
        return self != Filters()

    def describe(self) -> str:
        """The filter in words, for the status line."""
        parts = []
        if self.sources:
            parts.append("source " + " or ".join(self.sources))
        if self.date_from or self.date_to:
            parts.append(f"dated {self.date_from or '…'} to {self.date_to or '…'}")
        if self.labels:
            parts.append("labelled " + " or ".join(self.labels))
        if self.unlabelled == "drop":
            parts.append("labelled images only")
        if self.box:
            parts.append("in the box W {:g} S {:g} E {:g} N {:g}".format(*self.box))
        return "; ".join(parts)


def _names(value: object, what: str) -> tuple[str, ...]:
    """A list of names from a list or a comma-separated string; blanks dropped."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise FilterError(f"{what} must be a list of names, got {str(value)[:40]!r}")
    names = tuple(dict.fromkeys(str(x).strip() for x in items if str(x).strip()))
    if any(len(n) > 100 for n in names):
        raise FilterError(f"{what}: a name longer than 100 characters")
    return names


def _day(value: object, what: str) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if not _DAY.match(text):
        raise FilterError(f"{what} must be a date as YYYY-MM-DD, got {text[:40]!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{what} is not a calendar date: {text!r}") from None


def _box(value: object) -> tuple[float, float, float, float] | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    parts = value.split(",") if isinstance(value, str) else value
    try:
        west, south, east, north = (float(x) for x in parts)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise FilterError(
            f"the map box must be four numbers west, south, east, north; got {str(value)[:60]!r}"
        ) from None
    if not all(math.isfinite(x) for x in (west, south, east, north)):
        raise FilterError("the map box must be finite numbers")
    if not -90 <= south <= north <= 90:
        raise FilterError(f"the map box needs -90 <= south <= north <= 90, got {south}, {north}")
    if east - west >= 360:  # a zoomed-out map shows every longitude
        return -180.0, south, 180.0, north
    if west > east and not (east >= -180 and west <= 180):
        raise FilterError(f"the map box has west {west} > east {east} outside -180..180")
    # Leaflet reports a view panned past 180° as e.g. 170..200: wrap to -180..180, keeping 180
    west = (west + 180.0) % 360.0 - 180.0
    east = east if east == 180.0 else (east + 180.0) % 360.0 - 180.0
    return west, south, east, north


def parse_filters(
    sources: object = None, date_from: object = None, date_to: object = None,
    labels: object = None, unlabelled: object = "keep", box: object = None,
) -> Filters:  # fmt: skip
    """Filters from the UI's or API's raw fields; FilterError says what is wrong."""
    unlabelled = str(unlabelled or "keep").strip().lower()
    if unlabelled not in UNLABELLED_CHOICES:
        raise FilterError(f"unlabelled must be 'keep' or 'drop', got {unlabelled[:20]!r}")
    start, end = _day(date_from, "the start date"), _day(date_to, "the end date")
    if start and end and start > end:
        raise FilterError(f"the start date {start} is after the end date {end}")
    return Filters(
        _names(sources, "sources"), start, end, _names(labels, "labels"), unlabelled, _box(box)
    )


def _day_numbers(timestamps: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Days since 1970-01-01 (UTC) of ISO timestamps; NO_DAY where unknown or unreadable."""
    days = pc.strptime(
        pc.utf8_slice_codeunits(timestamps, 0, 10), format="%Y-%m-%d", unit="s",
        error_is_null=True,
    )  # fmt: skip
    days = pc.cast(pc.cast(days, pa.date32()), pa.int32())
    return pc.fill_null(days, NO_DAY).to_numpy(zero_copy_only=False).astype(np.int32)


@dataclass(frozen=True)
class FilterColumns:
    """The per-row values filters read, in compact arrays (one entry per corpus row)."""

    source_names: tuple[str, ...]
    source_codes: np.ndarray  # int32 index into source_names
    days: np.ndarray  # int32 days since the epoch, NO_DAY if unknown
    label_names: tuple[str, ...]
    label_bits: np.ndarray  # uint64, bit i = label_names[i]
    lon: np.ndarray
    lat: np.ndarray

    @classmethod
    def build(
        cls, sources: Sequence[str] | pa.ChunkedArray, timestamps: Sequence[str] | pa.ChunkedArray,
        labels: Sequence[str] | pa.ChunkedArray, lon: np.ndarray, lat: np.ndarray,
    ) -> FilterColumns:  # fmt: skip
        """`labels`: "|"-joined per row, as stored. Strings are dictionary-encoded: labels and
        sources repeat, so each distinct value is parsed once."""
        src = pc.dictionary_encode(
            pa.chunked_array([pa.array(sources, pa.string())])
            if not isinstance(sources, pa.ChunkedArray)
            else sources
        )
        src = src.combine_chunks()
        lab = pc.dictionary_encode(
            pa.chunked_array([pa.array(labels, pa.string())])
            if not isinstance(labels, pa.ChunkedArray)
            else labels
        )
        lab = lab.combine_chunks()  # fmt: skip
        combos = [str(x) if x is not None else "" for x in lab.dictionary.to_pylist()]
        label_names = tuple(sorted({n for c in combos for n in c.split("|") if n}))
        if len(label_names) > 64:
            raise ValueError(f"{len(label_names)} distinct labels: at most 64 fit a filter mask")
        bit = {n: np.uint64(1) << np.uint64(i) for i, n in enumerate(label_names)}
        combo_bits = np.array(
            [sum((bit[n] for n in c.split("|") if n), np.uint64(0)) for c in combos] or [0],
            dtype=np.uint64,
        )
        ts = (
            timestamps
            if isinstance(timestamps, pa.ChunkedArray)
            else pa.array(timestamps, pa.string())
        )
        return cls(
            source_names=tuple(str(x) for x in src.dictionary.to_pylist()),
            source_codes=src.indices.to_numpy(zero_copy_only=False).astype(np.int32),
            days=_day_numbers(ts),
            label_names=label_names,
            label_bits=combo_bits[lab.indices.to_numpy(zero_copy_only=False)],
            lon=np.asarray(lon, dtype=np.float64),
            lat=np.asarray(lat, dtype=np.float64),
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.source_codes)

    def mask(self, filters: Filters) -> np.ndarray:
        """Boolean (N,): the rows `filters` keeps."""
        keep = np.ones(len(self), dtype=bool)
        if filters.sources:
            codes = [i for i, n in enumerate(self.source_names) if n in filters.sources]
            keep &= np.isin(self.source_codes, codes)
        if filters.date_from is not None:
            keep &= self.days >= (filters.date_from - date(1970, 1, 1)).days
        if filters.date_to is not None:
            keep &= (self.days <= (filters.date_to - date(1970, 1, 1)).days) & (self.days != NO_DAY)
        unlabelled = self.label_bits == 0
        if filters.labels:
            want = np.uint64(0)
            for i, name in enumerate(self.label_names):
                if name in filters.labels:
                    want |= np.uint64(1) << np.uint64(i)
            keep &= ((self.label_bits & want) != 0) | (unlabelled & (filters.unlabelled == "keep"))
        elif filters.unlabelled == "drop":
            keep &= ~unlabelled
        if filters.box is not None:
            west, south, east, north = filters.box
            across = west > east  # the box spans the antimeridian
            in_lon = (self.lon >= west) | (self.lon <= east) if across else (
                (self.lon >= west) & (self.lon <= east))  # fmt: skip
            keep &= in_lon & (self.lat >= south) & (self.lat <= north)  # NaN centres drop out
        return keep
