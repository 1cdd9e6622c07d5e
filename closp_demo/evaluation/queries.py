"""Evaluation queries: the 12 class names and natural-language paraphrases of them.

Every query maps to a SET of relevant classes (usually one): an image is relevant when it carries
any of them (see `relevance.graded_relevance` for the graded share). The class-name queries are the
class names of `labels.ALL_CLASSES` verbatim (9 Dynamic World + 3 crisis classes). The paraphrases
live in `queries.json` beside this module: 3-6 per class, as a user would type them ("lake",
"farmland", "collapsed buildings"), plus a few that name several classes ("savanna" -> Grass or
Shrub and Scrub). The list was written once, before any retrieval result was seen, and must not be
tuned to results: a paraphrase that scores badly is a finding, not a bug.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from closp_demo.corpus.labels import ALL_CLASSES

QueryKind = Literal["class", "paraphrase", "qrels"]
QUERY_KINDS: tuple[str, ...] = ("class", "paraphrase", "qrels")
QUERIES_FILE = Path(__file__).with_name("queries.json")
# Paraphrases per single class, as the list promises (checked on load).
PARAPHRASES_PER_CLASS = (3, 6)


@dataclass(frozen=True)
class Query:
    """One evaluation query.

    `classes` is a set stored as a tuple in `ALL_CLASSES` order (no duplicates); it may be empty
    only for queries read from qrels (their relevance comes from the qrels, not from labels).
    """

    text: str
    classes: tuple[str, ...]
    kind: QueryKind
    query_id: str = ""  # dataset id for qrels queries; empty for the built-in list

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"query text must be a non-empty string, got {self.text!r}")
        if self.kind not in QUERY_KINDS:
            raise ValueError(f"query {self.text!r}: kind {self.kind!r} not one of {QUERY_KINDS}")
        if isinstance(self.classes, str):
            raise ValueError(f"query {self.text!r}: classes must be a collection, not a string")
        unknown = [c for c in self.classes if c not in ALL_CLASSES]
        if unknown:
            raise ValueError(
                f"query {self.text!r}: unknown class(es) {unknown}; known: {list(ALL_CLASSES)}"
            )
        if not self.classes and self.kind != "qrels":
            raise ValueError(f"query {self.text!r}: needs at least one relevant class")
        wanted = set(self.classes)
        object.__setattr__(self, "classes", tuple(c for c in ALL_CLASSES if c in wanted))


def class_queries() -> list[Query]:
    """One query per class, its name verbatim, in `ALL_CLASSES` order."""
    return [Query(name, (name,), "class") for name in ALL_CLASSES]


@cache
def _paraphrases(path: Path) -> tuple[Query, ...]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the query list {path}: {exc}") from exc
    entries = data.get("paraphrases") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected an object with a 'paraphrases' list")
    out: list[Query] = []
    for i, entry in enumerate(entries):
        if not (isinstance(entry, dict) and set(entry) == {"text", "classes"}):
            raise ValueError(f"{path}: paraphrase #{i} must be {{'text': ..., 'classes': [...]}}")
        try:
            out.append(Query(entry["text"], tuple(entry["classes"]), "paraphrase"))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: paraphrase #{i}: {exc}") from exc
    _check_paraphrases(out, path)
    return tuple(out)


def _check_paraphrases(queries: list[Query], path: Path) -> None:
    """The list's promises: no duplicates, no bare class names, 3-6 single-class ones per class."""
    seen: set[str] = {c.lower() for c in ALL_CLASSES}
    for q in queries:
        key = q.text.strip().lower()
        if key in seen:
            raise ValueError(f"{path}: {q.text!r} is duplicated or repeats a class name")
        seen.add(key)
    lo, hi = PARAPHRASES_PER_CLASS
    for name in ALL_CLASSES:
        n = sum(q.classes == (name,) for q in queries)
        if not lo <= n <= hi:
            raise ValueError(f"{path}: {n} single-class paraphrases of {name!r}, want {lo}-{hi}")


def load_queries(
    kind: Literal["classes", "paraphrases", "all"] = "all", path: Path | None = None
) -> list[Query]:
    """The built-in evaluation queries: class names, paraphrases, or both (names first)."""
    if kind not in ("classes", "paraphrases", "all"):
        raise ValueError(f"kind must be 'classes', 'paraphrases' or 'all', got {kind!r}")
    out: list[Query] = []
    if kind in ("classes", "all"):
        out += class_queries()
    if kind in ("paraphrases", "all"):
        out += _paraphrases(path or QUERIES_FILE)
    return out
