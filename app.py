"""CLOSP Explorer: a Gradio app. This file only builds the UI and wires callbacks; the logic
lives in `closp_demo.service`.

    python app.py [--corpus precomputed] [--encoder physics-minilm] [--port 7860]
    python app.py --encoder list     # the registered encoders
"""

from __future__ import annotations

import argparse
import logging
from functools import partial
from pathlib import Path

from closp_demo.gradio_compat import patch_gradio_startup

patch_gradio_startup()  # before gradio is imported: closp_demo/gradio_compat.py says why

import gradio as gr

from closp_demo.corpus.store import CorpusError
from closp_demo.encoders.bert_onnx import OnnxExportError
from closp_demo.encoders.registry import add_encoder_argument
from closp_demo.geo.place import DEFAULT_RADIUS_KM, DEFAULT_WEIGHT
from closp_demo.search.engine import Overlay
from closp_demo.service import Answer, Explorer
from closp_demo.settings import Settings
from closp_demo.ui.api import (
    detail_api,
    explorer_api,
    export_api,
    filter_fields,
    more_like_this_api,
    raw_input,
    read_query_api,
    refuse,
    session_search_api,
)
from closp_demo.ui.detail import build_detail, picked_id, wire_results
from closp_demo.ui.export import export_row
from closp_demo.ui.heat import build_heat
from closp_demo.ui.lifecycle import remove_gradio_files, stop_on_sigterm
from closp_demo.ui.share import link_values, search_link, with_present
from closp_demo.ui.teach import build_teach
from closp_demo.ui.upload_box import UploadFiles
from closp_demo.views.assets import ASSETS_DIR, read_text_asset
from closp_demo.views.escape import escape_markdown
from closp_demo.views.reading import reading_html
from closp_demo.views.results import empty_table
from closp_demo.views.share import read_link

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
UPLOAD_LABEL = "GeoTIFF, band files or one ZIP"
SENSOR_CHOICES = [("Both sensors", "both"), ("Sentinel-1 SAR", "S1"), ("Sentinel-2 optical", "S2")]
LIKE_CHOICES = [("In both", "both"), ("In SAR (S1)", "S1"), ("In optical (S2)", "S2")]
PLACE_MODES = [("Anywhere", "off"), ("Prefer nearby", "prefer"), ("Only within radius", "within")]
# The page's browser code (assets/js): a click on the result map fills the place fields, and a
# place given switches "Anywhere" to "Prefer nearby".
PLACE_FROM_MAP_JS = read_text_asset("js/place-from-map.js")
PLACE_MODE_JS = read_text_asset("js/place-mode.js")
MAP_VIEW_BOX_JS = read_text_asset("js/map-view-box.js")
SHARE_LINK_JS = read_text_asset("js/share-link.js")  # "Copy link": the page's full URL
PRESENT_JS = read_text_asset("js/present.js")  # the presentation switch toggles a class
LAYOUT_CSS = ASSETS_DIR / "css" / "layout.css"  # phone layout, presentation mode
QUERY_READING_CSS = read_text_asset("css/query-reading.css")


def status_md(answer: Answer, plain: bool = False) -> str:
    """Status line; messages quote filenames and queries, so the UI's Markdown gets them escaped
    (`plain`: as they are, for API clients, who read text)."""
    icon = "✅" if answer.ok else "⚠️"
    return f"{icon} {answer.message if plain else escape_markdown(answer.message)}"


def build_ui(explorer: Explorer) -> gr.Blocks:
    # Gradio's copies of uploads and of files sent (README "Configuration", CLOSP_FILE_HOURS):
    # swept by age, so a public Space's disk does not fill.
    sweep = explorer.settings.limits.file_sweep
    with gr.Blocks(title="CLOSP Explorer", delete_cache=sweep) as demo:
        # One per session, never shared: Gradio deep-copies a State's value for each session (a
        # callable value would instead add a public "/lambda" load endpoint to the API). When
        # Gradio drops it (an hour after the tab closed), the session's upload previews go.
        overlay = gr.State(Overlay(), delete_callback=explorer.forget_uploads)
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
            examples = gr.Examples(EXAMPLES, inputs=query)
            link_note = gr.Markdown(elem_id="link-note")
            status = gr.Markdown()
            reading = gr.HTML(css_template=QUERY_READING_CSS, elem_id="query-reading")
            with gr.Row(elem_id="results-row"):
                gallery = gr.Gallery(
                    label="Results (SAR false colour / optical true colour)",
                    columns=4,
                    height=520,
                    scale=1,
                    elem_id="results-gallery",
                )
                map_html = gr.HTML(label="Map", js_on_load=PLACE_FROM_MAP_JS, elem_id="result-map")
            with gr.Row():
                like_id = gr.Textbox(
                    label="More like this: click a result (or paste an image id)", max_lines=1,
                    scale=3, elem_id="like-id",
                )  # fmt: skip
                like_sensor = gr.Radio(LIKE_CHOICES, value="both", label="Find in", scale=2)
                like_btn = gr.Button("More like this", scale=1, elem_id="like-btn")
                expand_btn = gr.Button("Open its scene (+N more)", scale=1, elem_id="expand-btn")
            table = gr.Dataframe(
                empty_table(), label="Ranked results", interactive=False, wrap=True,
                elem_id="results-table",
            )  # fmt: skip
            with gr.Row(elem_id="share-row"):
                share_link = gr.Textbox(
                    label="Link to this search", max_lines=1, interactive=False, scale=4,
                    elem_id="share-link",
                )  # fmt: skip
                copy_btn = gr.Button("Copy link", scale=1, elem_id="copy-link")
                present = gr.Checkbox(
                    False, label="Presentation (large text)", scale=1, elem_id="present"
                )
            shown_ids = gr.State([])  # the ids in the gallery, for a click on one of them
            shown = gr.State([])  # the results shown, for an export
            export_btns, export_file, export_note = export_row("results")

        with gr.Tab("Upload a GeoTIFF"):
            gr.Markdown(
                "Upload a Sentinel-1 (2 bands: VV, VH in dB or linear power) or Sentinel-2 "
                "(12 bands L2A or 13 bands L1C) GeoTIFF, any size and CRS; or the band files of "
                "one scene together (`B01.tif` … `B12.tif`, `B8A`, TIFF or JP2, any resolution; "
                "`VV.tif` + `VH.tif`); or one ZIP of them, or a zipped .SAFE product (Sentinel-2 "
                "L1C/L2A, Sentinel-1 GRD). Larger rasters are embedded as the mean of up to 64 "
                "tiles of 120×120 px read on an even grid. Your upload stays in your session only."
            )
            with gr.Row():
                upload = UploadFiles(
                    label=UPLOAD_LABEL, file_count="multiple",
                    file_types=[".tif", ".tiff", ".jp2", ".zip"], type="filepath",
                )  # fmt: skip
                up_sensor = gr.Radio(SENSOR_CHOICES, value="both", label="Find neighbours in")
                up_k = gr.Slider(1, 50, value=12, step=1, label="Results")
            up_status = gr.Markdown()
            with gr.Row():
                up_preview = gr.Image(
                    label="Your image", height=260, interactive=False, elem_id="up-preview"
                )
                up_notes = gr.Markdown()
            with gr.Row(elem_id="upload-results-row"):
                up_gallery = gr.Gallery(
                    label="Nearest corpus images", columns=4, height=520,
                    elem_id="upload-results-gallery",
                )  # fmt: skip
                up_map = gr.HTML()
            up_table = gr.Dataframe(
                empty_table(), interactive=False, wrap=True, elem_id="upload-results-table"
            )
            up_shown = gr.State([])
            up_id = gr.State("")  # the session's upload shown here, for "Find neighbours in"
            up_export_btns, up_export_file, up_export_note = export_row("upload")
            build_heat(explorer, upload, up_preview, up_map)
            up_open = gr.Button("Open your upload in the detail view")

        with gr.Tab("Teach", elem_id="teach-tab"):
            wire_teach = build_teach(explorer)

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

        def kept(a: Answer) -> list:
            """A refused action: its warning; the results, map, table and link shown stay."""
            return [status_md(a)] + [gr.skip()] * (len(outputs) - 1)

        def fresh(a: Answer, reading, link) -> tuple:
            """New results in every view; the previous export's note and file are cleared."""
            ids = list(a.table["id"])
            return (status_md(a), reading, a.gallery, a.map_html, a.table, ids, a.results, link,
                    None, "")  # fmt: skip

        def on_search(q, s, n, ov, mode, la, lo, r, w, g, src, d0, d1, lab, unl, box, pres=False):
            fields = filter_fields(src, d0, d1, lab, unl, box)
            a = explorer.text_search_near(q, s, n, ov, mode, la, lo, r, w, True, fields, g)
            if not a.ok:
                return kept(a)
            link = search_link(q, s, n, mode, la, lo, r, w, g, src, d0, d1, lab, unl, box, pres)
            return fresh(a, reading_html(a.reading), link)

        def on_like(image_id, s, n, ov, g, src, d0, d1, lab, unl, box):
            fields = filter_fields(src, d0, d1, lab, unl, box)
            a = explorer.more_like_this(image_id, s, n, ov, fields, g)
            return fresh(a, "", "") if a.ok else kept(a)

        def on_pick(ids: list[str], evt: gr.SelectData) -> str:
            return ids[evt.index] if isinstance(evt.index, int) and evt.index < len(ids) else ""

        def on_expand(results, image_id):
            a = explorer.expand_scene(results, image_id)
            return fresh(a, gr.skip(), gr.skip()) if a.ok else kept(a)

        def on_upload(f, s, n, ov, strict: bool = False):
            """The upload tab; `strict` (API clients): a refusal raises, as every endpoint's."""
            a = explorer.upload_search(f, s, n, ov)
            if strict and not a.ok:
                refuse(a.message)
            notes = "\n".join(f"- {note if strict else escape_markdown(note)}" for note in a.notes)
            up_id = ov.items[-1].result.image_id if a.ok and ov.items else ""
            return (status_md(a, plain=strict), a.preview, notes, a.gallery, a.map_html, a.table,
                    ov, a.results, up_id)  # fmt: skip

        def on_upload_sensor(up_id, s, n, ov):
            """Another "Find neighbours in": the upload's own embedding, kept in the session,
            ranks again (more like this upload), without reading the file again."""
            if not up_id:
                return [gr.skip()] * 7
            a = explorer.more_like_this(up_id, s, n, ov)
            if not a.ok:
                return [status_md(a)] + [gr.skip()] * 6
            return status_md(a), a.gallery, a.map_html, a.table, a.results, None, ""

        def on_export(results, fmt):
            path, message = explorer.export(results, fmt)
            return (None if path is None else str(path)), escape_markdown(message)

        def on_open(request: gr.Request):
            """A share link: its fields, a note on what was left out, and whether to search."""
            params = dict(request.query_params) if request is not None else {}
            if not params:
                return [gr.skip()] * (len(link_fields) + 1) + [False]
            parsed = read_link(params, tuple(explorer.source_names()),
                               tuple(explorer.label_names()))  # fmt: skip
            note = " ".join(f"⚠️ {escape_markdown(n)}" for n in parsed.notes)
            return [*link_values(parsed.shared), note, parsed.runs]

        def on_open_search(runs: bool, *args):
            return on_search(*args) if runs else [gr.skip()] * len(outputs)

        outputs = [status, reading, gallery, map_html, table, shown_ids, shown, share_link,
                   export_file, export_note]  # fmt: skip
        place_inputs = [place_mode, lat, lon, radius, weight]
        search_inputs = [query, sensor, k, overlay, *place_inputs, group,
                         f_sources, f_from, f_to, f_labels, f_unlabelled, f_box]  # fmt: skip
        ui_search_inputs = [*search_inputs, present]  # the link says presentation mode too
        # Giving a place (map click or typing) switches "Anywhere" on to "Prefer nearby"; in the
        # browser, through Gradio's own state (a DOM click on the radio was lost under load).
        for field in (lat, lon):
            field.change(None, [place_mode, field], [place_mode], api_name=False, js=PLACE_MODE_JS)
        # The UI's own searches skip the queue: a search takes ~7 ms server-side, while the
        # queue's join + event stream added ~45 ms per search (bench.browser_latency).
        for trigger in (search_btn.click, query.submit, group.input):
            trigger(on_search, ui_search_inputs, outputs, api_name=False, queue=False)
        examples.load_input_event.then(on_search, ui_search_inputs, outputs, api_name=False)
        gallery.select(on_pick, [shown_ids], [like_id], api_name=False)
        table.select(picked_id, [table], [like_id], api_name=False)  # a row, as a thumbnail
        like_inputs = [like_id, like_sensor, k, overlay, group, *search_inputs[-6:]]
        like_btn.click(on_like, like_inputs, outputs, api_name=False)
        gr.api(more_like_this_api(explorer), api_name="more_like_this")
        box_btn.click(None, [f_box], [f_box], js=MAP_VIEW_BOX_JS, api_name=False).then(
            on_search, ui_search_inputs, outputs, api_name=False
        )
        gr.api(explorer_api(explorer), api_name="search")
        # Share links: the page's URL parameters fill the fields and run that search on load.
        link_fields = [query, sensor, k, place_mode, lat, lon, radius, weight, group,
                       f_sources, f_from, f_to, f_labels, f_unlabelled, f_box, present]  # fmt: skip
        link_runs = gr.State(False)
        demo.load(on_open, None, [*link_fields, link_note, link_runs], api_name=False).then(
            on_open_search, [link_runs, *ui_search_inputs], outputs, api_name=False
        )
        copy_btn.click(None, [share_link], [share_link], js=SHARE_LINK_JS, api_name=False)
        present.change(None, [present], None, js=PRESENT_JS, api_name=False)
        present.input(with_present, [share_link, present], [share_link], api_name=False)
        gr.api(read_query_api(explorer), api_name="read_query")
        # The same search including this session's uploads (its Overlay), for API clients.
        session_rows = gr.JSON(visible=False)
        session_btn = gr.Button(visible=False)
        # Parameters as sent (preprocess=False): the explorer checks them, naming a wrong one.
        session_btn.click(session_search_api(explorer), [query, sensor, k, overlay],
                          session_rows, api_name="search_session", preprocess=False)  # fmt: skip
        upload_outputs = [up_status, up_preview, up_notes, up_gallery, up_map, up_table, overlay,
                          up_shown, up_id]  # fmt: skip
        upload.upload(
            on_upload, [upload, up_sensor, up_k, overlay], upload_outputs, api_name=False
        ).then(lambda: (None, ""), None, [up_export_file, up_export_note], api_name=False)
        # /upload for API clients: the same, but a refusal raises (gr.Error) as everywhere else.
        api_files = UploadFiles(visible=False)  # checks the files' shape before anything runs
        api_upload = [api_files, raw_input("sensor", "both"), raw_input("k", 12), overlay]
        gr.Button(visible=False).click(
            lambda files, sensor, k, ov: on_upload(files, sensor, k, ov, strict=True),
            api_upload, upload_outputs, api_name="upload",
        )  # fmt: skip
        up_outputs = [up_status, up_gallery, up_map, up_table, up_shown, up_export_file,
                      up_export_note]  # fmt: skip
        up_like_inputs = [up_id, up_sensor, up_k, overlay]
        up_sensor.input(on_upload_sensor, up_like_inputs, up_outputs, api_name=False)
        expand_btn.click(on_expand, [shown, like_id], outputs, api_name=False)
        for btns, results, file, note in ((export_btns, shown, export_file, export_note),
                                          (up_export_btns, up_shown, up_export_file,
                                           up_export_note)):  # fmt: skip
            for fmt, btn in btns.items():
                btn.click(partial(on_export, fmt=fmt), [results], [file, note], api_name=False)
        # The same search as /search, written as a file (CSV, GeoJSON or ZIP), for API clients.
        export_format = gr.Textbox("csv", visible=False, label="format")
        export_api_file = gr.File(visible=False)
        export_api_btn = gr.Button(visible=False)
        export_api_btn.click(
            export_api(explorer), [*search_inputs, export_format], export_api_file,
            api_name="export", preprocess=False,
        )  # fmt: skip
        # Below the tabs: opening an image keeps the result list where it is.
        view = build_detail(explorer, query, overlay)
        wire_results(view, gallery, table)
        wire_results(view, up_gallery, up_table)
        wire_teach(view)
        view.open_from(up_open.click(lambda i: i, [up_id], [view.image_id], api_name=False))
        # /detail for API clients: (facts, twin id, evidence breakdown) and composite PNG files.
        api_id, api_query = gr.Textbox(visible=False), gr.Textbox(visible=False)
        api_btn = gr.Button(visible=False)
        api_out = [gr.JSON(visible=False), gr.File(file_count="multiple", visible=False)]
        api_btn.click(detail_api(explorer), [api_id, api_query], api_out, api_name="detail",
                      preprocess=False)  # fmt: skip
    return demo


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
    except (CorpusError, ValueError, KeyError, PermissionError, OnnxExportError) as err:
        # A bad setting, a corpus that fails its manifest, a model that cannot load, or
        # CLOSP_TEXT_BACKEND=onnx without a usable export (auto falls back to torch): say
        # which, no traceback.
        raise SystemExit(f"CLOSP Explorer cannot start: {err}") from None
    gr.set_static_paths([str(p) for p in explorer.static_paths])
    demo = build_ui(explorer)
    stop_on_sigterm()
    # Events run at once per handler. 1 measured best on 2 vCPU: the work is CPU-bound, more only
    # adds contention (BENCHMARKS.md, load test).
    try:
        demo.queue(default_concurrency_limit=settings.concurrency).launch(
            server_name=settings.host,
            server_port=settings.port,
            allowed_paths=[str(explorer.scratch.root)],
            show_error=False,
            max_file_size=settings.limits.max_bytes,  # Gradio refuses larger files before storing
            css_paths=[LAYOUT_CSS],
        )
    finally:
        remove_gradio_files(demo)


if __name__ == "__main__":
    main()
