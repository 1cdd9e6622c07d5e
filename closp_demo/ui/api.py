"""The app's API endpoints for gradio_client (README "API reference"): plain functions over the
`Explorer`, errors raised as `gr.Error` with the explorer's message (`refuse`).

Every parameter reaches the explorer as the client sent it (gr.api endpoints; `preprocess=False`
or `raw_input` for the others), so the explorer's one set of checks
(`closp_demo.service.inputs`) answers a wrong shape by naming the parameter, instead of Gradio's
widgets turning a list into its text or failing with a bare server error."""

from __future__ import annotations

import logging
from typing import NoReturn

import gradio as gr
from gradio.components.api_component import Api

from closp_demo.geo.place import DEFAULT_RADIUS_KM, DEFAULT_WEIGHT
from closp_demo.search.engine import SENSOR_CHOICES, QueryError
from closp_demo.service import Answer, Explorer
from closp_demo.service.inputs import K_MAX, K_MIN, InputError, text
from closp_demo.views.detail import DetailError

log = logging.getLogger(__name__)
API_TYPES = {
    "sensor": {"type": "string", "enum": list(SENSOR_CHOICES)},
    "k": {"type": "integer", "minimum": K_MIN, "maximum": K_MAX},
    "query": {"type": "string"},
}


def refuse(message: str) -> NoReturn:
    """An expected refusal (bad input): one line in the server log, the message to the client
    (no traceback; unexpected errors keep theirs)."""
    log.info("API request refused: %s", " ".join(message.split())[:300])
    raise gr.Error(message, print_exception=False)


def raw_input(name: str, default: object = None) -> Api:
    """A hidden API parameter passed on as sent (no widget conversion), typed for the API page."""
    return Api(default, API_TYPES[name], label=name)


def filter_fields(sources, date_from, date_to, labels, unlabelled, box) -> dict:
    """The filter widgets' values as `parse_filters` keyword arguments."""
    return {"sources": sources, "date_from": date_from, "date_to": date_to, "labels": labels,
            "unlabelled": unlabelled, "box": box}  # fmt: skip


def rows_of(answer: Answer) -> list[dict]:
    if not answer.ok:
        refuse(answer.message)
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
            query, sensor, k, None, place_mode, lat, lon, radius_km, place_weight,
            render=False, filters=fields, group=group,
        )  # fmt: skip
        return rows_of(answer)

    return search


def session_search_api(explorer: Explorer):
    def search_session(query, sensor, k, overlay) -> list[dict]:
        """/search with this client session's uploads ranked too (query, sensor, k)."""
        return rows_of(explorer.text_search(query, sensor, k, overlay, render=False))

    return search_session


def more_like_this_api(explorer: Explorer):
    def more_like_this(
        image_id: str, sensor: str = "both", k: int = 12, group: bool = False
    ) -> list[dict]:
        """Corpus images ranked by the embedding of the corpus image `image_id` (a result's
        "id"), in "both", "S1" or "S2": an S1 image finds similar S2 images too. For an upload,
        use /upload, which ranks by the upload's embedding."""
        return rows_of(explorer.more_like_this(image_id, sensor, k, group=group, render=False))

    return more_like_this


def read_query_api(explorer: Explorer):
    def read_query(query: str) -> dict:
        """How the model reads `query`: in_scope (false when the query lies outside what the
        model can see), scope_score and its calibrated threshold, classes (p(c|q) of the
        physics baseline; empty for other encoders), nearest_terms (vocabulary term, cosine),
        message (one line, as shown above the results) and notes."""
        try:
            return explorer.read_query(query)
        except (InputError, QueryError) as err:
            refuse(str(err))

    return read_query


def detail_api(explorer: Explorer):
    def detail(image_id: str, query: str = "") -> tuple[dict, list[str]]:
        """One corpus image as the detail view opens it: its facts, the other-sensor
        counterpart's id and how it was chosen, the score by class for `query` (physics
        baseline); and every composite of both images as PNG files (names in "composites")."""
        try:
            image_id = text(image_id, "image_id", "an image id")
            d = explorer.detail(image_id, text(query, "query") or None)
        except (InputError, DetailError, QueryError) as err:
            refuse(str(err))
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
        a = explorer.text_search_near(query, sensor, k, overlay, place_mode, lat, lon,
                                      radius_km, place_weight, False, fields, group)  # fmt: skip
        if not a.ok:
            refuse(a.message)
        path, message = explorer.export(a.results, file_format)
        if path is None:
            refuse(message)
        return str(path)

    return export
