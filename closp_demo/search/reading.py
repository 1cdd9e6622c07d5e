"""How the model read a text query, and whether the query lies outside what it can see.

Shown above the results (issue 13, item 2):
- for the physics baseline, the land-cover distribution p(c|q) it ranks by (the query's
  softmax over class prototypes, `PhysicsEncoder.query_classes`), and the nearest of its class
  descriptions in the MiniLM space;
- for any other encoder, the nearest vocabulary terms (`scope_queries.json`, "vocabulary") in
  its own text space.

Out of scope: the query's scope score is its highest cosine to a vocabulary term (in the raw
MiniLM space for the physics baseline: its class mixture always lies among the classes, so only
the raw text says how far the query is from them). Below a threshold the query is flagged. The
threshold is calibrated per encoder, on first use, on the written lists of `scope_queries.json`
("calibration" halves): the midpoint that best separates in-domain from off-domain scores
(Youden's J = detection - false alarms, ties to the lower threshold, fewer false alarms). The
held-out "check" halves report the rates it reaches on queries it was not set on.

Cost per query: one (terms x dim) product and a sort, the text encoded once for both the
reading and the search (`QueryReader.read_and_embed`); BENCHMARKS.md, "Query reading".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from closp_demo.encoders.base import Encoder, l2_normalise, measures_land_cover
from closp_demo.encoders.physics import OBSCURED

TOP_TERMS = 3
TOP_CLASSES = 4  # classes named in the message (the bar shows all above 1 %)
_CALIBRATIONS: dict[str, Calibration] = {}
CALIBRATION_FILE = "scope_calibration.json"
CALIBRATION_ABOUT = (
    "Out-of-scope thresholds per encoder version and query lists (closp_demo/search/reading.py), "
    "written by `python -m closp_demo.evaluation.scope --store`; tests check each against a fresh "
    "calibration."
)


@runtime_checkable
class ClassReadingEncoder(Protocol):
    """An encoder that reads a query as a class distribution (the physics baseline)."""

    classes: tuple[str, ...]
    rules: dict

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray: ...

    def query_classes(self, text_vectors: np.ndarray) -> np.ndarray: ...

    def embed_class_distribution(self, p: np.ndarray) -> np.ndarray: ...


def load_stored_calibrations() -> dict[str, dict[str, float]]:
    path = resources.files("closp_demo.search").joinpath(CALIBRATION_FILE)
    return json.loads(path.read_text())["calibrations"] if path.is_file() else {}


def store_calibration(key: str, calibration: Calibration, path: Path | None = None) -> Path:
    """Record `calibration` under `key` in `path` (default: the package's
    `scope_calibration.json`), keeping the other entries."""
    path = path or Path(__file__).with_name(CALIBRATION_FILE)
    data = json.loads(path.read_text()) if path.exists() else {"about": CALIBRATION_ABOUT}
    data.setdefault("calibrations", {})[key] = asdict(calibration)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def load_scope_queries() -> dict:
    text = resources.files("closp_demo.search").joinpath("scope_queries.json").read_text()
    return json.loads(text)


@dataclass(frozen=True)
class Calibration:
    threshold: float
    false_alarm: float  # in-domain calibration queries flagged
    detection: float  # off-domain calibration queries flagged


def calibrate(in_scores: Sequence[float], off_scores: Sequence[float]) -> Calibration:
    """The threshold (flag below it) with the best detection - false alarm on these scores;
    candidates are midpoints between neighbouring scores; ties go to the lower threshold."""
    ins, offs = np.asarray(in_scores, float), np.asarray(off_scores, float)
    if not len(ins) or not len(offs):
        raise ValueError("calibration needs in-domain and off-domain scores")
    s = np.unique(np.concatenate([ins, offs]))
    candidates = np.concatenate([[s[0] - 1e-6], (s[:-1] + s[1:]) / 2, [s[-1] + 1e-6]])
    best = None
    for t in candidates:  # ascending: a tie keeps the lower threshold
        fa, det = float((ins < t).mean()), float((offs < t).mean())
        if best is None or det - fa > best.detection - best.false_alarm:
            best = Calibration(float(t), fa, det)
    assert best is not None
    return best


@dataclass(frozen=True)
class QueryReading:
    query: str
    scope: float  # highest cosine to a vocabulary term
    threshold: float
    terms: tuple[tuple[str, float], ...]  # nearest vocabulary terms, cosine
    classes: tuple[tuple[str, float], ...] = ()  # p(c|q), descending (class-reading encoders)
    notes: tuple[str, ...] = field(default=())

    @property
    def in_scope(self) -> bool:
        return self.scope >= self.threshold

    def class_summary(self, top: int = TOP_CLASSES) -> str:
        return ", ".join(f"{p:.0%} {c}" for c, p in self.classes[:top] if p >= 0.005)

    def message(self) -> str:
        """One plain-text line: what the model read, and a warning when out of scope."""
        read = self.class_summary() or ", ".join(f"“{t}”" for t, _ in self.terms)
        if self.in_scope:
            what = "Read as " if self.classes else "Nearest terms: "
            return what + read + "."
        knows = "land-cover classes only" if self.classes else "its vocabulary terms only"
        return (
            f"This may be outside what the model can see: it knows {knows}, and “{self.query}” "
            f"is far from all of them (closest: “{self.terms[0][0]}”). It reads as {read}; the "
            "results follow that reading."
        )

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "in_scope": self.in_scope,
            "scope_score": round(self.scope, 4),
            "threshold": round(self.threshold, 4),
            "classes": {c: round(p, 4) for c, p in self.classes},
            "nearest_terms": [{"term": t, "cosine": round(s, 4)} for t, s in self.terms],
            "message": self.message(),
            "notes": list(self.notes),
        }


class QueryReader:
    """Reads queries for one encoder; vocabulary and threshold are computed on first use."""

    def __init__(self, encoder: Encoder, scope_queries: dict | None = None) -> None:
        self.encoder = encoder
        self.scope_queries = scope_queries or load_scope_queries()
        self.reads_classes = measures_land_cover(encoder) and isinstance(
            encoder, ClassReadingEncoder
        )

    # --- the space queries are scored in ---------------------------------------------------
    def _raw(self, texts: Sequence[str]) -> np.ndarray:
        if self.reads_classes:
            return self.encoder.text_vectors(texts)  # type: ignore[attr-defined]
        return self.encoder.encode_text(texts)

    @cached_property
    def vocabulary(self) -> tuple[str, ...]:
        if self.reads_classes:
            descriptions = self.encoder.rules["class_descriptions"]  # type: ignore[attr-defined]
            return tuple(d for c in self.encoder.classes for d in descriptions[c])  # type: ignore[attr-defined]
        return tuple(self.scope_queries["vocabulary"]["terms"])

    @cached_property
    def _vocabulary_vectors(self) -> np.ndarray:
        if self.reads_classes:  # encoded once already, for the class prototypes
            return l2_normalise(self.encoder.description_vectors)  # type: ignore[attr-defined]
        return l2_normalise(self._raw(list(self.vocabulary))).astype(np.float32)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Scope scores of many texts (the highest cosine to a vocabulary term)."""
        return (l2_normalise(self._raw(list(texts))) @ self._vocabulary_vectors.T).max(axis=1)

    def calibrate(self) -> Calibration:
        """A fresh calibration on the lists' "calibration" halves (48 texts encoded)."""
        lists = self.scope_queries
        return calibrate(
            self.scores(lists["in_domain"]["calibration"]),
            self.scores(lists["off_domain"]["calibration"]),
        )

    def stored_key(self) -> str:
        """Where this encoder's calibration is stored: its id and version and the lists'
        SHA-256, so a changed model or list is never read with an old threshold."""
        info = self.encoder.info
        digest = hashlib.sha256(json.dumps(self.scope_queries, sort_keys=True).encode())
        return f"{info.id} v{info.version} lists {digest.hexdigest()[:16]}"

    @cached_property
    def calibration(self) -> Calibration:
        """The stored calibration of this encoder, version and lists (`scope_calibration.json`,
        written by `python -m closp_demo.evaluation.scope --store`), else calibrated here once
        per process (about 0.5-1 s of encoding on a CPU)."""
        key = self.stored_key()
        if key not in _CALIBRATIONS:
            stored = load_stored_calibrations().get(key)
            _CALIBRATIONS[key] = Calibration(**stored) if stored else self.calibrate()
        return _CALIBRATIONS[key]

    # --- one query -----------------------------------------------------------------------------
    def read_and_embed(self, text: str) -> tuple[np.ndarray, QueryReading]:
        """The query's search vector (exactly what `encode_text` gives) and its reading,
        encoding the text once."""
        raw = self._raw([text])
        if not self.reads_classes:
            return raw[0], self._reading(text, raw, None)
        p = self.encoder.query_classes(raw)  # type: ignore[attr-defined]
        vector = self.encoder.embed_class_distribution(p)[0]  # type: ignore[attr-defined]
        return vector, self._reading(text, raw, p[0])

    def reading_from(self, text: str, raw: np.ndarray) -> QueryReading:
        """The reading of `text` from its already encoded (1, dim) vector in the scope space."""
        p = self.encoder.query_classes(raw)[0] if self.reads_classes else None  # type: ignore[attr-defined]
        return self._reading(text, raw, p)

    def _reading(self, text: str, raw: np.ndarray, p: np.ndarray | None) -> QueryReading:
        classes: tuple[tuple[str, float], ...] = ()
        if p is not None:
            names = self.encoder.classes  # type: ignore[attr-defined]
            classes = tuple((names[i], float(p[i])) for i in np.argsort(-p))
        cos = self._vocabulary_vectors @ l2_normalise(raw[0])
        top = np.argsort(-cos)[:TOP_TERMS]
        terms = tuple((self.vocabulary[i], float(cos[i])) for i in top)
        return QueryReading(
            query=text, scope=float(cos[top[0]]), threshold=self.calibration.threshold,
            terms=terms, classes=classes, notes=self._notes(classes),
        )  # fmt: skip

    def read(self, text: str) -> QueryReading:
        return self.read_and_embed(text)[1]

    @staticmethod
    def _notes(classes: tuple[tuple[str, float], ...]) -> tuple[str, ...]:
        if classes and classes[0][0] == OBSCURED:
            return ("Sentinel-1 radar sees through clouds: its images are never read as cloudy, "
                    "so this query finds Sentinel-2 images.",)  # fmt: skip
        return ()
