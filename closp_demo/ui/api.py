"""The app's API endpoints for gradio_client (README "API reference"): plain functions over the
`Explorer`, errors raised as `gr.Error` with the explorer's message."""

from __future__ import annotations

import gradio as gr

from closp_demo.geo.place import DEFAULT_RADIUS_KM, DEFAULT_WEIGHT
from closp_demo.search.engine import QueryError
from closp_demo.service import Answer, Explorer
from closp_demo.views.detail import DetailError


def filter_fields(sources, date_from, date_to, labels, unlabelled, box) -> dict:
    """The filter widgets' values as `parse_filters` keyword arguments."""
    return {"sources": sources, "date_from": date_from, "date_to": date_to, "labels": labels,
            "unlabelled": unlabelled, "box": box}  # fmt: skip


def rows_of(answer: Answer) -> list[dict]:
    if not answer.ok:
        raise gr.Error(answer.message)
    return answer.table.to_dict(orient="records")


def explorer_api(explorer: Explorer):
    def search(
        query: str,
        sensor: str = "both",
        k: int = 12,
        place_mode: str = "off",
        lat: float | None = None,
        lon: float | None = None,
        radius_km: float = DEFAULT_RADIUS_KM,
        place_weight: float = DEFAULT_WEIGHT,
        sources: str = "",
        date_from: str = "",
        date_to: str = "",
        labels: str = "",
        unlabelled: str = "keep",
        box: str = "",
        group: bool = False,
    ) -> list[dict]:
        """Ranked corpus results as plain data (for gradio_client and benchmarks). place_mode:
        "off", "prefer" (distance prior, or GeoCLOSP's location embedding) or "within".
        Filters: sources and labels comma-separated, dates YYYY-MM-DD, unlabelled "keep" or
        "drop", box "west, south, east, north"; group: one result per source scene."""
        fields = filter_fields(sources, date_from, date_to, labels, unlabelled, box)
        answer = explorer.text_search_near(
            query, sensor, int(k), None, place_mode, lat, lon, radius_km, place_weight,
            render=False, filters=fields, group=bool(group),
        )  # fmt: skip
        return rows_of(answer)

    return search


def more_like_this_api(explorer: Explorer):
    def more_like_this(
        image_id: str, sensor: str = "both", k: int = 12, group: bool = False
    ) -> list[dict]:
        """Corpus images ranked by the embedding of the corpus image `image_id` (a result's
        "id"), in "both", "S1" or "S2": an S1 image finds similar S2 images too. For an upload,
        use /upload, which ranks by the upload's embedding."""
        return rows_of(explorer.more_like_this(image_id, sensor, int(k), group=bool(group),
                                             render=False))  # fmt: skip

    return more_like_this


def read_query_api(explorer: Explorer):
    def read_query(query: str) -> dict:
        """How the model reads `query`: in_scope (false when the query lies outside what the
        model can see), scope_score and its calibrated threshold, classes (p(c|q) of the
        physics baseline; empty for other encoders), nearest_terms (vocabulary term, cosine),
        message (one line, as shown above the results) and notes."""
        try:
            return explorer.read_query(query)
        except QueryError as err:
            raise gr.Error(str(err)) from None

    return read_query


def detail_api(explorer: Explorer):
    def detail(image_id: str, query: str = "") -> tuple[dict, list[str]]:
        """One corpus image as the detail view opens it: its facts, the other-sensor
        counterpart's id and how it was chosen, the score by class for `query` (physics
        baseline); and every composite of both images as PNG files (names in "composites")."""
        try:
            d = explorer.detail(image_id, query or None)
        except (DetailError, QueryError) as err:
            raise gr.Error(str(err)) from None
        files = explorer.composite_files(d)
        out = d.summary()
        out["composites"] = list(files)  # "image/<key>" or "twin/<key>", same order as files
        return out, list(files.values())

    return detail


def export_api(explorer: Explorer):
    def export(query, sensor, k, overlay, place_mode, lat, lon, radius_km, place_weight, group,
               sources, date_from, date_to, labels, unlabelled, box, file_format):  # fmt: skip
        """The search's results (with this session's uploads) as a file: file_format "csv",
        "geojson" or "zip" (thumbnails, GeoJSON, CSV, attribution)."""
        fields = filter_fields(sources, date_from, date_to, labels, unlabelled, box)
        a = explorer.text_search_near(query, sensor, int(k), overlay, place_mode, lat, lon,
                                      radius_km, place_weight, False, fields, group)  # fmt: skip
        if not a.ok:
            raise gr.Error(a.message)
        path, message = explorer.export(a.results, file_format)
        if path is None:
            raise gr.Error(message)
        return str(path)

    return export
