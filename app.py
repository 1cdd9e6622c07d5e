"""CLOSP Explorer: a Gradio app. This file only builds the UI and wires callbacks; the logic
lives in `closp_demo.service`.

    python app.py [--corpus precomputed] [--encoder physics-minilm] [--port 7860]
    python app.py --encoder list     # the registered encoders
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import gradio as gr

from closp_demo.corpus.store import CorpusError
from closp_demo.encoders.registry import add_encoder_argument
from closp_demo.geo.place import DEFAULT_RADIUS_KM, DEFAULT_WEIGHT
from closp_demo.search.engine import Overlay, QueryError
from closp_demo.service import Answer, Explorer
from closp_demo.settings import Settings
from closp_demo.views.assets import read_text_asset
from closp_demo.views.escape import escape_markdown
from closp_demo.views.reading import reading_html

EXAMPLES = [
    "a lake surrounded by forest",
    "river",
    "dense coniferous forest",
    "farmland with crop fields",
    "a town with buildings and roads",
    "snow covered land",
    "the sea",
    "wetland",
]
SENSOR_CHOICES = [("Both sensors", "both"), ("Sentinel-1 SAR", "S1"), ("Sentinel-2 optical", "S2")]
LIKE_CHOICES = [("In both", "both"), ("In SAR (S1)", "S1"), ("In optical (S2)", "S2")]
PLACE_MODES = [("Anywhere", "off"), ("Prefer nearby", "prefer"), ("Only within radius", "within")]
# The page's browser code (assets/js): a click on the result map fills the place fields, and a
# place given switches "Anywhere" to "Prefer nearby".
PLACE_FROM_MAP_JS = read_text_asset("js/place-from-map.js")
PLACE_MODE_JS = read_text_asset("js/place-mode.js")
MAP_VIEW_BOX_JS = read_text_asset("js/map-view-box.js")
QUERY_READING_CSS = read_text_asset("css/query-reading.css")


def status_md(answer: Answer) -> str:
    """Status line; messages quote filenames and queries, so they are shown as plain text."""
    icon = "✅" if answer.ok else "⚠️"
    return f"{icon} {escape_markdown(answer.message)}"


def build_ui(explorer: Explorer) -> gr.Blocks:
    with gr.Blocks(title="CLOSP Explorer") as demo:
        # One per session, never shared: Gradio deep-copies a State's value for each session (a
        # callable value would instead add a public "/lambda" load endpoint to the API).
        overlay = gr.State(Overlay())
        gr.Markdown(
            "# 🛰️ CLOSP Explorer\nText-to-image retrieval over **Sentinel-1 SAR** and "
            "**Sentinel-2 multispectral** images in one embedding space "
            "([CLOSP, arXiv 2507.10403](https://arxiv.org/abs/2507.10403))."
        )
        gr.Markdown(f"**Model:** {explorer.model_line()}  \n**Corpus:** {explorer.corpus_line()}")
        with gr.Tab("Text search"):
            with gr.Row():
                query = gr.Textbox(
                    label="Describe what you are looking for",
                    scale=4,
                    placeholder="e.g. a lake surrounded by forest",
                    max_lines=1,
                )
                sensor = gr.Radio(SENSOR_CHOICES, value="both", label="Sensor", scale=2)
                k = gr.Slider(1, 50, value=12, step=1, label="Results", scale=1)
            with gr.Accordion(
                "Near a place (optional): click the result map, or type",
                open=False,
                elem_id="place-box",
            ):
                with gr.Row():
                    place_mode = gr.Radio(
                        PLACE_MODES, value="off", label="Place", elem_id="place-mode", scale=2
                    )
                    lat = gr.Number(label="Latitude (°)", elem_id="place-lat", scale=1)
                    lon = gr.Number(label="Longitude (°)", elem_id="place-lon", scale=1)
                    radius = gr.Number(
                        DEFAULT_RADIUS_KM, label="Radius (km)", minimum=0, scale=1,
                        elem_id="place-radius",
                    )  # fmt: skip
                    weight = gr.Slider(
                        0, 1, value=DEFAULT_WEIGHT, step=0.05, scale=2, elem_id="place-weight",
                        label="Place weight (Prefer nearby)",
                    )  # fmt: skip
                gr.Markdown(place_help(explorer))
            with gr.Accordion("Filters (optional)", open=False, elem_id="filter-box"):
                with gr.Row():
                    f_sources = gr.CheckboxGroup(
                        explorer.source_names(), label="Sources (none = all)", elem_id="f-sources"
                    )
                    f_from = gr.Textbox(label="From (YYYY-MM-DD)", max_lines=1, elem_id="f-from")
                    f_to = gr.Textbox(label="To (YYYY-MM-DD)", max_lines=1, elem_id="f-to")
                with gr.Row():
                    f_labels = gr.CheckboxGroup(
                        explorer.label_names(), label="Labels (any of; none = all)", scale=3,
                        elem_id="f-labels",
                    )  # fmt: skip
                    f_unlabelled = gr.Radio(
                        [("Keep unlabelled images", "keep"), ("Drop them", "drop")],
                        value="keep", label="Unlabelled images", scale=1, elem_id="f-unlabelled",
                    )  # fmt: skip
                with gr.Row():
                    f_box = gr.Textbox(
                        label="Only in this box: west, south, east, north (°)", max_lines=1,
                        scale=3, elem_id="f-box",
                    )  # fmt: skip
                    box_btn = gr.Button("Use the current map view", scale=1, elem_id="f-box-btn")
            with gr.Row():
                search_btn = gr.Button("Search", variant="primary", scale=4)
                group = gr.Checkbox(
                    True, label="One result per scene (uncheck: every tile)", scale=1,
                    elem_id="group-scenes",
                )  # fmt: skip
            gr.Examples(EXAMPLES, inputs=query)
            status = gr.Markdown()
            reading = gr.HTML(css_template=QUERY_READING_CSS, elem_id="query-reading")
            with gr.Row():
                gallery = gr.Gallery(
                    label="Results (SAR false colour / optical true colour)",
                    columns=4,
                    height=520,
                    scale=1,
                )
                map_html = gr.HTML(label="Map", js_on_load=PLACE_FROM_MAP_JS, elem_id="result-map")
            with gr.Row():
                like_id = gr.Textbox(
                    label="More like this: click a result (or paste an image id)", max_lines=1,
                    scale=3, elem_id="like-id",
                )  # fmt: skip
                like_sensor = gr.Radio(LIKE_CHOICES, value="both", label="Find in", scale=2)
                like_btn = gr.Button("More like this", scale=1, elem_id="like-btn")
            table = gr.Dataframe(label="Ranked results", interactive=False, wrap=True)
            shown_ids = gr.State([])  # the ids in the gallery, for a click on one of them

        with gr.Tab("Upload a GeoTIFF"):
            gr.Markdown(
                "Upload a Sentinel-1 (2 bands: VV, VH in dB or linear power) or Sentinel-2 "
                "(12 bands L2A or 13 bands L1C) GeoTIFF, any size and CRS. Larger rasters are "
                "embedded as the mean of up to 64 tiles of 120×120 px read on an even grid. "
                "Your upload stays in your session only."
            )
            with gr.Row():
                upload = gr.File(label="GeoTIFF", file_types=[".tif", ".tiff"], type="filepath")
                up_sensor = gr.Radio(SENSOR_CHOICES, value="both", label="Find neighbours in")
                up_k = gr.Slider(1, 50, value=12, step=1, label="Results")
            up_status = gr.Markdown()
            with gr.Row():
                up_preview = gr.Image(label="Your image", height=260, interactive=False)
                up_notes = gr.Markdown()
            with gr.Row():
                up_gallery = gr.Gallery(label="Nearest corpus images", columns=4, height=520)
                up_map = gr.HTML()
            up_table = gr.Dataframe(interactive=False, wrap=True)

        with gr.Tab("About / Evaluation"):
            gr.Markdown(about_md(explorer))
            gr.Markdown(
                "## How far to trust the results\nRetrieval quality of the loaded model on the "
                "labelled images of the loaded corpus, per sensor, computed live (labels: CORINE "
                "mapped to Dynamic World). Queries: the Dynamic World class names."
            )
            eval_btn = gr.Button("Evaluate this model on this corpus")
            eval_plot = gr.Plot(label="nDCG@10 per query")
            eval_md = gr.Markdown()
            eval_btn.click(explorer.evaluation, None, [eval_md, eval_plot], api_name=False)

        def on_search(q, s, n, ov, mode, la, lo, r, w, g, src, d0, d1, lab, unl, box):
            fields = filter_fields(src, d0, d1, lab, unl, box)
            a = explorer.text_search_near(q, s, int(n), ov, mode, la, lo, r, w, True, fields, g)
            shown = reading_html(a.reading)
            return status_md(a), shown, a.gallery, a.map_html, a.table, list(a.table["id"])

        def on_like(image_id, s, n, ov, g, src, d0, d1, lab, unl, box):
            fields = filter_fields(src, d0, d1, lab, unl, box)
            a = explorer.more_like_this(image_id, s, int(n), ov, fields, g)
            return status_md(a), "", a.gallery, a.map_html, a.table, list(a.table["id"])

        def on_pick(ids: list[str], evt: gr.SelectData) -> str:
            return ids[evt.index] if isinstance(evt.index, int) and evt.index < len(ids) else ""

        def on_upload(f, s, n, ov):
            a = explorer.upload_search(f, s, int(n), ov)
            notes = "\n".join(f"- {escape_markdown(note)}" for note in a.notes)
            return status_md(a), a.preview, notes, a.gallery, a.map_html, a.table, ov

        outputs = [status, reading, gallery, map_html, table, shown_ids]
        place_inputs = [place_mode, lat, lon, radius, weight]
        search_inputs = [query, sensor, k, overlay, *place_inputs, group,
                         f_sources, f_from, f_to, f_labels, f_unlabelled, f_box]  # fmt: skip
        # Giving a place (map click or typing) switches "Anywhere" on to "Prefer nearby"; in the
        # browser, through Gradio's own state (a DOM click on the radio was lost under load).
        for field in (lat, lon):
            field.change(None, [place_mode, field], [place_mode], api_name=False, js=PLACE_MODE_JS)
        for trigger in (search_btn.click, query.submit, group.input):
            trigger(on_search, search_inputs, outputs, api_name=False)
        gallery.select(on_pick, [shown_ids], [like_id], api_name=False)
        like_inputs = [like_id, like_sensor, k, overlay, group, *search_inputs[-6:]]
        like_btn.click(on_like, like_inputs, outputs, api_name=False)
        gr.api(more_like_this_api(explorer), api_name="more_like_this")
        box_btn.click(None, [f_box], [f_box], js=MAP_VIEW_BOX_JS, api_name=False).then(
            on_search, search_inputs, outputs, api_name=False
        )
        gr.api(explorer_api(explorer), api_name="search")
        gr.api(read_query_api(explorer), api_name="read_query")
        # The same search including this session's uploads (its Overlay), for API clients.
        session_rows = gr.JSON(visible=False)
        session_btn = gr.Button(visible=False)
        session_btn.click(
            lambda q, s, n, ov: _rows(explorer.text_search(q, s, int(n), ov)),
            [query, sensor, k, overlay],
            session_rows,
            api_name="search_session",
        )
        upload.upload(
            on_upload,
            [upload, up_sensor, up_k, overlay],
            [up_status, up_preview, up_notes, up_gallery, up_map, up_table, overlay],
            api_name="upload",
        )
    return demo


def filter_fields(sources, date_from, date_to, labels, unlabelled, box) -> dict:
    """The filter widgets' values as `parse_filters` keyword arguments."""
    return {"sources": sources, "date_from": date_from, "date_to": date_to, "labels": labels,
            "unlabelled": unlabelled, "box": box}  # fmt: skip


def _rows(answer: Answer) -> list[dict]:
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
        return _rows(answer)

    return search


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


def more_like_this_api(explorer: Explorer):
    def more_like_this(
        image_id: str, sensor: str = "both", k: int = 12, group: bool = False
    ) -> list[dict]:
        """Corpus images ranked by the embedding of the corpus image `image_id` (a result's
        "id"), in "both", "S1" or "S2": an S1 image finds similar S2 images too. For an upload,
        use /upload, which ranks by the upload's embedding."""
        return _rows(explorer.more_like_this(image_id, sensor, int(k), group=bool(group),
                                             render=False))  # fmt: skip

    return more_like_this


def place_help(explorer: Explorer) -> str:
    blend = (
        "this model embeds places, so the query becomes (1 − w) · text + w · place"
        if explorer.encoder.info.location
        else "score = (1 − w) · similarity + w · exp(−distance / radius)"
    )
    return (
        "**Prefer nearby** re-ranks by distance to the place: " + blend + ". **Only within "
        "radius** keeps the images whose centre lies within the radius (great-circle distance), "
        "ranked by similarity. A click on the result map fills latitude and longitude; then "
        "press Search."
    )


def about_md(explorer: Explorer) -> str:
    m = explorer.corpus.manifest
    sources = "\n".join(f"| {k} | {v} |" for k, v in sorted(m["counts_by_source"].items()))
    return (
        "## What you are looking at\n"
        f"{explorer.model_line()}\n\n"
        "The paper's CLOSP models learn this space from millions of paired images and texts; "
        "the offline baseline instead measures land-cover evidence with physical rules and mixes "
        "the text embeddings of the classes it finds. It is a transparent baseline, not CLOSP.\n\n"
        "## Corpus\n| source/sensor | images |\n|---|---|\n" + sources + "\n\n"
        f"Built with `{m['build_command']}`. See `precomputed/ATTRIBUTION.md` for origins and "
        "licences (Copernicus Sentinel data; BigEarthNet CDLA-Permissive-1.0; Major-TOM "
        "CC-BY-SA-4.0; SSL4EO-S12 CC-BY-4.0).\n\n"
        "## Thumbnails\nSentinel-1 false colour with fixed dB ranges: R = VV, G = VH, B = VV−VH. "
        "Sentinel-2 true colour B4/B3/B2 with a fixed reflectance stretch, so images are "
        "comparable with each other."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="CLOSP Explorer")
    # Flags override the environment (closp_demo/settings.py, README "Configuration").
    parser.add_argument("--corpus", type=Path, help="corpus folder (env CLOSP_CORPUS)")
    add_encoder_argument(parser, None, "encoder name (env CLOSP_ENCODER)")
    parser.add_argument("--host", help="address to listen on (env GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, help="port to listen on (env GRADIO_SERVER_PORT)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        settings = Settings.from_env().override(
            corpus=args.corpus, encoder=args.encoder, host=args.host, port=args.port
        )
        explorer = Explorer(settings=settings)
    except (CorpusError, ValueError, KeyError, PermissionError) as err:
        # A bad setting, a corpus that fails its manifest, or a model that cannot load: say
        # which, no traceback.
        raise SystemExit(f"CLOSP Explorer cannot start: {err}") from None
    gr.set_static_paths([str(p) for p in explorer.static_paths])
    demo = build_ui(explorer)
    # Events run at once per handler. 1 measured best on 2 vCPU: the work is CPU-bound, more only
    # adds contention (BENCHMARKS.md, load test).
    demo.queue(default_concurrency_limit=settings.concurrency).launch(
        server_name=settings.host,
        server_port=settings.port,
        allowed_paths=[str(explorer.upload_dir)],
        show_error=False,
        max_file_size=settings.limits.max_bytes,  # Gradio refuses larger files before storing
    )


if __name__ == "__main__":
    main()
