"""The detail view's use cases: one image beside its other-sensor counterpart, its composites,
plots, evidence and occlusion maps, and the query's score by class. A part of `Explorer`."""

from __future__ import annotations

import time

import numpy as np

from closp_demo.corpus import thumbnails
from closp_demo.corpus.store import Corpus
from closp_demo.encoders import Encoder
from closp_demo.encoders.base import explains_pixels
from closp_demo.search.engine import Overlay, SearchEngine, clean_query
from closp_demo.search.occlusion import OcclusionCache
from closp_demo.search.twins import (
    Counterpart,
    counterpart,
    date_apart,
    other_sensor,
    overlapping,
    percent,
)
from closp_demo.sensors import SENSOR_NAMES
from closp_demo.service.scratch import Scratch
from closp_demo.views import figures
from closp_demo.views.composites import default_key
from closp_demo.views.detail import Detail, DetailError, Side, check_id, corpus_side, upload_side


class DetailViews:
    """Mixed into `Explorer`, which sets these attributes."""

    corpus: Corpus
    encoder: Encoder
    engine: SearchEngine
    occlusions: OcclusionCache
    scratch: Scratch
    _class_profiles: dict | None

    def detail(self, image_id: object, query: str | None = None,
               overlay: Overlay | None = None) -> Detail:  # fmt: skip
        """One image (corpus id, or "upload:<name>" of this session) beside its other-sensor
        counterpart; with a query and an encoder that explains itself, the score by class.
        Raises `DetailError` with a visitor-facing message."""
        t0 = time.perf_counter()
        image_id = check_id(image_id)
        row = self.corpus.rows.row_of(image_id)
        if row is not None:
            main = corpus_side(self.corpus, row)
            found = counterpart(self.corpus, row)
        else:
            item = next((it for it in (overlay.items if overlay else [])
                         if it.result.image_id == image_id), None)  # fmt: skip
            if item is None:
                raise DetailError(f"No image with id “{image_id}” in this corpus or among your "
                                  "uploads; copy an id from the results table.")  # fmt: skip
            main = upload_side(item)
            found = self._nearest_other(main)
        twin = corpus_side(self.corpus, found.row) if found.row is not None else None
        t1 = time.perf_counter()
        detail = Detail(main, twin, found, timings_ms={"load_ms": (t1 - t0) * 1e3})
        if query and query.strip():
            detail.breakdown = self.score_breakdown(clean_query(query), main)
        return detail

    def _nearest_other(self, side: Side) -> Counterpart:
        """An upload's other-sensor image: the corpus image at the same place (footprints
        overlapping, most overlap first, `twins.overlapping`); only when none overlaps (or the
        upload has no footprint), the nearest by embedding, said to be only that."""
        other = other_sensor(side.sensor)
        found = overlapping(self.corpus, side.footprint, other, side.timestamp, side.vector)
        if found:
            share, row = found[0]
            when = date_apart(side.timestamp, str(self.corpus.rows.value("timestamp", row)))
            note = (f"same place: this {SENSOR_NAMES[other]} corpus image overlaps "
                    f"{percent(share)} of your upload; {when}")  # fmt: skip
            return Counterpart(row, "overlap", note, share)
        hits = self.engine.search_vector(side.vector, other, 1) if side.vector is not None else []
        if not hits:
            return Counterpart(None, "none", f"no {other} image in the corpus")
        row = self.corpus.rows.row_of(hits[0].image_id)
        if not side.footprint:  # nothing to compare places with
            note = (f"nearest {other} corpus image by embedding (cosine {hits[0].score:.3f}): "
                    "similar; your upload has no georeferencing, so whether it shows the same "
                    "place is unknown")  # fmt: skip
        else:  # checked: no image of that sensor overlaps the upload
            note = (f"nearest {other} corpus image by embedding (cosine {hits[0].score:.3f}): "
                    "similar, not the same place")  # fmt: skip
        return Counterpart(row, "embedding", note)

    def score_breakdown(self, query: str, side: Side) -> dict | None:
        """The query's score on this image, by class (encoders that explain themselves)."""
        if not explains_pixels(self.encoder) or side.vector is None:
            return None
        p, s, contributions = self.encoder.score_contributions(query, side.vector)
        score = float(contributions.sum())  # = cos(query, image) exactly (tests check it)
        return {"query": query, "classes": self.encoder.classes, "p": p, "s": s,
                "contributions": contributions, "score": score}  # fmt: skip

    def composite(self, side: Side, key: str | None = None):
        """One composite of `side` as an RGB array (its default when `key` is None)."""
        if side.pixels is None:
            return None
        key = key if key in side.composites else default_key(side.sensor)
        return figures.composite_image(side.pixels, key)

    def composite_files(self, detail: Detail) -> dict[str, str]:
        """Every composite of both images as PNG files ("<image side>/<key>" -> path), for API
        clients; Gradio serves its copies to the caller only."""
        files = {}
        folder = self.scratch.fresh_folder("detail")
        for name, side in (("image", detail.main), ("twin", detail.twin)):
            for key in side.composites if side is not None else []:
                path = folder / f"{name}-{key}.png"
                figures.image_png(figures.composite_image(side.pixels, key), path)
                files[f"{name}/{key}"] = str(path)
        return files

    def plot(self, side: Side):
        """The sensor's plot: S1 backscatter histogram, S2 spectral profile over class medians."""
        if side.pixels is None:
            return None
        if side.sensor == "S1":
            return figures.backscatter_histogram(side.pixels)
        return figures.spectral_profile(figures.median_profile(side.pixels), self.class_profiles())

    def class_profiles(self) -> dict:
        """Corpus-wide median S2 profile per Dynamic World class of the labelled images (the
        median over the images carrying the class of each image's median profile), cached."""
        if self._class_profiles is None:
            lo, hi = self.corpus.sensor_ranges.get("S2", (0, 0))
            by_class: dict[str, list] = {}
            if self.corpus.bands.available:
                for row in range(lo, hi):
                    labels = self.corpus.rows.labels(row)
                    if labels:
                        prof = figures.median_profile(self.corpus.bands.image(row, "S2"))
                        for label in labels:
                            by_class.setdefault(label, []).append(prof)
            self._class_profiles = {
                c: np.nanmedian(np.stack(v), axis=0)
                for c, v in sorted(by_class.items())
                if len(v) >= 2
            }
        return self._class_profiles

    def evidence(self, side: Side, query: str | None = None):
        """Per-pixel evidence figure: class memberships for the physics baseline, else an
        occlusion map for the query (computed on demand, cached)."""
        if side.pixels is None or not explains_pixels(self.encoder):
            return self.occlusion(side, query or "")
        rgb = thumbnails.render(side.pixels, side.sensor)
        maps = self.encoder.class_memberships(side.pixels, side.sensor)[0]
        return figures.evidence_overlay(rgb, maps, self.encoder.classes)

    def occlusion(self, side: Side, query: str):
        """Occlusion map figure for any encoder (for the physics one too, for comparison)."""
        if side.pixels is None:
            return None
        text = clean_query(query)
        drop = self.occlusions.occlusion(side.pixels, side.sensor,
                                         self.encoder.encode_text([text])[0])  # fmt: skip
        rgb = thumbnails.render(side.pixels, side.sensor)
        return figures.occlusion_figure(rgb, drop, 20, f"Occlusion for “{text}”")
