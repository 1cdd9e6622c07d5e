"""Corpus metadata rows, decoded only when asked for.

`metadata.parquet` keeps labels "|"-joined and the footprint and evidence as JSON text. Turning
every row into Python objects up front cost 15-18 s and 2.1 GB at 650k rows (BENCHMARKS.md,
index scale), while a query needs its k hits only. `CorpusRows` keeps the columns as the Arrow
arrays pandas already holds (zero-copy) or as numpy arrays, and decodes one row per call
(~1 µs per field plus the two `json.loads`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

TEXT_COLUMNS = ("image_id", "sensor", "source", "place", "timestamp")
ENCODED_COLUMNS = ("labels", "footprint", "evidence")  # "|"-joined, JSON ring, JSON object
CENTRE_COLUMNS = ("lon", "lat")


@dataclass(frozen=True)
class CorpusRow:
    """One metadata row with its encoded fields decoded; fresh objects on every call."""

    image_id: str
    sensor: str
    source: str
    place: str
    timestamp: str
    labels: tuple[str, ...]
    footprint: list[tuple[float, float]]  # ring of (lon, lat), as stored (closed)
    evidence: dict
    lon: float  # footprint centre
    lat: float


Column = pa.ChunkedArray | np.ndarray


def _column(series: pd.Series) -> Column:
    """The column's values without a Python object per row: Arrow-backed strings stay Arrow
    (the same buffers as the DataFrame); anything else is its numpy array."""
    to_arrow = getattr(series.array, "__arrow_array__", None)
    if to_arrow is not None and not pd.api.types.is_numeric_dtype(series.dtype):
        return pa.chunked_array(to_arrow())
    return series.to_numpy()


def _get(column: Column, row: int) -> object:
    if isinstance(column, pa.ChunkedArray):
        return column[row].as_py()
    return column[row]


def _labels(text: str) -> tuple[str, ...]:
    return tuple(x for x in text.split("|") if x) if text else ()


def _footprint(text: str) -> list[tuple[float, float]]:
    return [tuple(p) for p in json.loads(text)]


def _evidence(text: str) -> dict:
    return json.loads(text) if text else {}


class CorpusRows:
    """Row access to a corpus metadata table (columns as in `closp_demo.corpus.store.COLUMNS`)."""

    def __init__(self, metadata: pd.DataFrame) -> None:
        missing = [
            c for c in (*TEXT_COLUMNS, *ENCODED_COLUMNS, *CENTRE_COLUMNS) if c not in metadata
        ]
        if missing:
            raise ValueError(f"corpus metadata lacks columns {missing}")
        self._n = len(metadata)
        self._columns = {c: _column(metadata[c]) for c in (*TEXT_COLUMNS, *ENCODED_COLUMNS)}
        self._lon = metadata["lon"].to_numpy(dtype=np.float64)
        self._lat = metadata["lat"].to_numpy(dtype=np.float64)
        self._centres: np.ndarray | None = None

    def __len__(self) -> int:
        return self._n

    def _check(self, row: int) -> int:
        row = int(row)
        if not 0 <= row < self._n:
            raise IndexError(f"corpus row {row} out of range 0..{self._n - 1}")
        return row

    def column(self, name: str) -> Column:
        """A whole text or encoded column as stored (Arrow or numpy), for vectorised filters."""
        return self._columns[name]

    def value(self, column: str, row: int) -> object:
        """The stored value of a text or encoded column (labels/footprint/evidence undecoded)."""
        return _get(self._columns[column], self._check(row))

    def labels(self, row: int) -> tuple[str, ...]:
        return _labels(self.value("labels", row))

    def footprint(self, row: int) -> list[tuple[float, float]]:
        return _footprint(self.value("footprint", row))

    def evidence(self, row: int) -> dict:
        return _evidence(self.value("evidence", row))

    def row(self, row: int) -> CorpusRow:
        row = self._check(row)
        get = {c: _get(column, row) for c, column in self._columns.items()}
        return CorpusRow(
            **{c: get[c] for c in TEXT_COLUMNS},
            labels=_labels(get["labels"]),
            footprint=_footprint(get["footprint"]),
            evidence=_evidence(get["evidence"]),
            lon=float(self._lon[row]),
            lat=float(self._lat[row]),
        )

    def centres(self) -> np.ndarray:
        """(N, 2) float64 footprint centres as (lon, lat), read-only, built once."""
        if self._centres is None:
            centres = np.column_stack([self._lon, self._lat])
            centres.flags.writeable = False
            self._centres = centres
        return self._centres
