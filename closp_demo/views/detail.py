"""The detail view's content: one image (corpus row or a session's upload) and its other-sensor
counterpart, each with its facts, pixels (when stored) and composites.

Markdown built here quotes data (ids, places, filenames) through `escape_markdown`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from closp_demo.corpus import sources
from closp_demo.corpus.bands import BandsMissing
from closp_demo.corpus.store import Corpus
from closp_demo.search.engine import OverlayItem
from closp_demo.search.twins import Counterpart
from closp_demo.sensors import SENSOR_NAMES
from closp_demo.views.composites import for_sensor
from closp_demo.views.escape import escape_markdown

MAX_ID_CHARS = 300


class DetailError(ValueError):
    """An id the detail view cannot open; the message is shown to the visitor."""


@dataclass
class Side:
    """One image of the detail view."""

    image_id: str
    sensor: str
    row: int | None  # corpus row; None for an upload
    facts: dict[str, str]
    footprint: list[tuple[float, float]]
    thumbnail: str
    pixels: np.ndarray | None = None  # internal layout, None when the bands are not stored
    pixels_note: str = ""  # why there are no pixels
    vector: np.ndarray | None = None
    composites: list[str] = field(default_factory=list)  # keys of `views.composites`
    timestamp: str = ""  # ISO 8601 acquisition time, "" when unknown

    @property
    def title(self) -> str:
        return f"{SENSOR_NAMES.get(self.sensor, self.sensor)} · {self.image_id}"

    def facts_markdown(self) -> str:
        lines = [f"**{escape_markdown(self.title)}**"]
        lines += [f"- {k}: {escape_markdown(v)}" for k, v in self.facts.items()]
        if self.pixels_note:
            lines.append(f"- ⚠️ {escape_markdown(self.pixels_note)}")
        return "\n".join(lines)


def check_id(image_id: object) -> str:
    """A clean id or `DetailError` naming the problem (hostile input gets a plain message)."""
    if not isinstance(image_id, str) or not image_id.strip():
        raise DetailError("Give an image id (the table's id column), e.g. from a search result.")
    image_id = image_id.strip()
    if len(image_id) > MAX_ID_CHARS:
        raise DetailError(f"That image id is {len(image_id)} characters long; ids are at most "
                          f"{MAX_ID_CHARS}.")  # fmt: skip
    if any(ord(ch) < 32 for ch in image_id):
        raise DetailError("That image id contains control characters; no image has such an id.")
    return image_id


def corpus_side(corpus: Corpus, row: int) -> Side:
    r = corpus.rows.row(row)
    labels = ", ".join(r.labels) if r.labels else "unlabelled"
    facts = {
        "date": r.timestamp[:10] if r.timestamp else "unknown date",
        "place": r.place or "unknown",
        "centre": f"{r.lat:.4f}°, {r.lon:.4f}°",
        "labels": labels,
        # origin and licence as the corpus's ATTRIBUTION.md states them
        "source": sources.attributions().get(r.source, r.source),
        "size": "120 × 120 px at 10 m (1.2 km)",
    }
    side = Side(r.image_id, r.sensor, row, facts, r.footprint, str(corpus.thumbnail_path(row)),
                vector=np.asarray(corpus.embeddings[row]), timestamp=r.timestamp or "")  # fmt: skip
    try:
        side.pixels = corpus.bands.image(row, r.sensor)
    except BandsMissing as err:
        side.pixels_note = str(err)
    side.composites = [c.key for c in for_sensor(r.sensor)] if side.pixels is not None else []
    return side


def upload_side(item: OverlayItem) -> Side:
    res = item.result
    facts = {"date": res.timestamp[:10] if res.timestamp else "unknown date",
             "file": res.place, **res.facts, "labels": "unlabelled (your upload)",
             "source": "your upload (kept in your session only)"}  # fmt: skip
    side = Side(res.image_id, res.sensor, None, facts, list(res.footprint), res.thumbnail,
                pixels=item.pixels, vector=item.vector, timestamp=res.timestamp)  # fmt: skip
    if item.pixels is None:
        side.pixels_note = "The upload's bands were not kept."
    side.composites = [c.key for c in for_sensor(res.sensor)] if item.pixels is not None else []
    return side


@dataclass
class Detail:
    """What the detail view shows; `message` is plain text for its status line."""

    main: Side
    twin: Side | None
    counterpart: Counterpart
    breakdown: dict | None = None  # classes, p, s, contributions, score (physics only)
    message: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)

    def twin_markdown(self) -> str:
        head = f"**Other sensor:** {escape_markdown(self.counterpart.note)}"
        return head + ("\n\n" + self.twin.facts_markdown() if self.twin else "")

    def summary(self) -> dict:
        """Plain data for API clients."""
        out = {
            "image_id": self.main.image_id, "sensor": self.main.sensor, "facts": self.main.facts,
            "twin_id": self.twin.image_id if self.twin else None,
            "twin_how": self.counterpart.how, "twin_note": self.counterpart.note,
            "bands": self.main.pixels is not None,
        }  # fmt: skip
        if self.breakdown is not None:
            b = self.breakdown
            out["evidence_breakdown"] = {
                "query": b["query"], "score": round(float(b["score"]), 6),
                "classes": [
                    {"class": c, "p_query": round(float(p), 6), "s_image": round(float(s), 6),
                     "contribution": round(float(x), 6)}
                    for c, p, s, x in zip(b["classes"], b["p"], b["s"], b["contributions"],
                                          strict=True)
                ],
            }  # fmt: skip
        return out
