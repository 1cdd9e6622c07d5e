"""Search: a text query or an uploaded scene -> ranked corpus images (+ the session's uploads).

The shared corpus index is read-only. A visitor's uploads live in their own `Overlay` (held in the
Gradio session state), so one visitor's upload never appears in another's results.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from closp_demo.corpus import Corpus
from closp_demo.encoders.base import Encoder, l2_normalise
from closp_demo.index import search as index_search
from closp_demo.upload import UploadedScene

MAX_QUERY_CHARS = 300
SENSOR_CHOICES = ("both", "S1", "S2")


class QueryError(ValueError):
    """A query the app cannot run; the message is shown to the visitor."""


@dataclass
class Result:
    rank: int
    score: float
    image_id: str
    sensor: str
    source: str
    labels: tuple[str, ...]
    place: str
    timestamp: str
    footprint: list[tuple[float, float]]
    thumbnail: str  # file path (corpus) or data: URI (uploads)
    evidence: dict = field(default_factory=dict)
    origin: str = "corpus"  # "corpus" or "your upload"


@dataclass
class OverlayItem:
    vector: np.ndarray
    result: Result  # rank/score filled in per query


@dataclass
class Overlay:
    """One session's uploaded images, searchable alongside the corpus, never shared."""

    items: list[OverlayItem] = field(default_factory=list)
    max_items: int = 20

    def add(self, item: OverlayItem) -> None:
        self.items.append(item)
        del self.items[: -self.max_items]  # bounded memory per session

    def search(self, query: np.ndarray, sensor: str, k: int) -> list[tuple[float, Result]]:
        pool = [it for it in self.items if sensor == "both" or it.result.sensor == sensor]
        scored = [(float(it.vector @ query), it.result) for it in pool]
        return sorted(scored, key=lambda sr: -sr[0])[:k]


def check_sensor(sensor: str) -> str:
    if sensor not in SENSOR_CHOICES:
        raise QueryError(f"unknown sensor filter {sensor!r}: choose one of {SENSOR_CHOICES}")
    return sensor


def clean_query(text: str | None) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise QueryError("Type a description to search for, e.g. 'a lake surrounded by forest'.")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"The query is {len(text)} characters long; keep it under {MAX_QUERY_CHARS}."
        )
    return text


class SearchEngine:
    def __init__(self, corpus: Corpus, encoder: Encoder) -> None:
        self.corpus = corpus
        self.encoder = encoder
        meta = corpus.metadata
        # Pre-split per-row fields once: the hot path only indexes lists.
        self._labels = [tuple(x for x in s.split("|") if x) for s in meta["labels"]]
        self._footprints = [[tuple(p) for p in json.loads(s)] for s in meta["footprint"]]
        self._evidence = [json.loads(s) if s else {} for s in meta["evidence"]]
        self._cols = {c: meta[c].tolist() for c in ("image_id", "sensor", "source", "place",
                                                    "timestamp")}  # fmt: skip

    def corpus_result(self, row: int, rank: int, score: float) -> Result:
        c = self._cols
        return Result(
            rank=rank, score=score, image_id=c["image_id"][row], sensor=c["sensor"][row],
            source=c["source"][row], labels=self._labels[row], place=c["place"][row],
            timestamp=c["timestamp"][row], footprint=self._footprints[row],
            thumbnail=str(self.corpus.thumbnail_path(row)), evidence=self._evidence[row],
        )  # fmt: skip

    def search_vector(
        self, query: np.ndarray, sensor: str = "both", k: int = 12, overlay: Overlay | None = None
    ) -> list[Result]:
        sensor = check_sensor(sensor)
        k = max(1, min(int(k), 100))
        hits = [
            (h.score, self.corpus_result(h.row, 0, h.score))
            for h in index_search(self.corpus.index, query, k, self.corpus.id_range(sensor))
        ]
        if overlay is not None and overlay.items:
            hits += overlay.search(query, sensor, k)
            hits.sort(key=lambda sr: -sr[0])
        results = []
        for rank, (score, res) in enumerate(hits[:k], start=1):
            res.rank, res.score = rank, score
            results.append(res)
        return results

    def search_text(
        self, text: str, sensor: str = "both", k: int = 12, overlay: Overlay | None = None
    ) -> tuple[list[Result], dict[str, float]]:
        text = clean_query(text)
        t0 = time.perf_counter()
        query = self.encoder.encode_text([text])[0]
        t1 = time.perf_counter()
        results = self.search_vector(query, sensor, k, overlay)
        t2 = time.perf_counter()
        return results, {"encode_ms": (t1 - t0) * 1e3, "search_ms": (t2 - t1) * 1e3}

    def embed_scene(self, scene: UploadedScene) -> np.ndarray:
        """One vector for a whole upload: the mean of its tiles' embeddings, re-normalised."""
        stack = np.stack([t.image for t in scene.tiles])
        return l2_normalise(self.encoder.encode_images(stack, scene.sensor).mean(axis=0))
