"""CLOSP Explorer: a Gradio app. This file only builds the UI and wires callbacks; the logic
lives in `closp_demo.service`.

    python app.py [--corpus precomputed] [--encoder physics-minilm] [--port 7860]
"""

from __future__ import annotations

import argparse
import logging
import os

import gradio as gr

from closp_demo.corpus.store import CorpusError
from closp_demo.geo.place import DEFAULT_RADIUS_KM, DEFAULT_WEIGHT
from closp_demo.search.engine import Overlay, QueryError
from closp_demo.service import Answer, Explorer
from closp_demo.ui.detail import build_detail, wire_results
from closp_demo.upload.limits import Limits
from closp_demo.views.assets import read_text_asset
from closp_demo.views.detail import DetailError
from closp_demo.views.escape import escape_markdown

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
PLACE_MODES = [("Anywhere", "off"), ("Prefer nearby", "prefer"), ("Only within radius", "within")]
# The page's browser code (assets/js): a click on the result map fills the place fields, and a
# place given switches "Anywhere" to "Prefer nearby".
PLACE_FROM_MAP_JS = read_text_asset("js/place-from-map.js")
PLACE_MODE_JS = read_text_asset("js/place-mode.js")


def status_md(answer: Answer) -> str:
    """Status line; messages quote filenames and queries, so they are shown as plain text."""
    icon = "✅" if answer.ok else "⚠️"
    return f"{icon} {escape_markdown(answer.message)}"


def build_ui(explorer: Explorer) -> gr.Blocks:
    with gr.Blocks(title="CLOSP Explorer") as demo:
        overlay = gr.State(lambda: Overlay())  # one per session, never shared
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
            search_btn = gr.Button("Search", variant="primary")
            gr.Examples(EXAMPLES, inputs=query)
            status = gr.Markdown()
            with gr.Row():
                gallery = gr.Gallery(
                    label="Results (SAR false colour / optical true colour)",
                    columns=4,
                    height=520,
                    scale=1,
                )
                map_html = gr.HTML(label="Map", js_on_load=PLACE_FROM_MAP_JS)
            table = gr.Dataframe(label="Ranked results", interactive=False, wrap=True)

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
            up_open = gr.Button("Open your upload in the detail view")

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

        def on_search(q, s, n, ov, mode, la, lo, r, w):
            a = explorer.text_search_near(q, s, int(n), ov, mode, la, lo, r, w)
            return status_md(a), a.gallery, a.map_html, a.table

        def on_upload(f, s, n, ov):
            a = explorer.upload_search(f, s, int(n), ov)
            notes = "\n".join(f"- {escape_markdown(note)}" for note in a.notes)
            return status_md(a), a.preview, notes, a.gallery, a.map_html, a.table, ov

        outputs = [status, gallery, map_html, table]
        place_inputs = [place_mode, lat, lon, radius, weight]
        # Giving a place (map click or typing) switches "Anywhere" on to "Prefer nearby"; in the
        # browser, through Gradio's own state (a DOM click on the radio was lost under load).
        for field in (lat, lon):
            field.change(None, [place_mode, field], [place_mode], api_name=False, js=PLACE_MODE_JS)
        for trigger in (search_btn.click, query.submit):
            trigger(on_search, [query, sensor, k, overlay, *place_inputs], outputs, api_name=False)
        gr.api(explorer_api(explorer), api_name="search")
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
        # Below the tabs: opening an image keeps the result list where it is.
        view = build_detail(explorer, query, overlay)
        wire_results(view, gallery, table)
        wire_results(view, up_gallery, up_table)
        last_upload = lambda ov: ov.items[-1].result.image_id if ov and ov.items else ""  # noqa: E731
        view.open_from(up_open.click(last_upload, [overlay], [view.image_id], api_name=False))
        # /detail for API clients: (facts, twin id, evidence breakdown) and composite PNG files.
        api_id, api_query = gr.Textbox(visible=False), gr.Textbox(visible=False)
        api_btn = gr.Button(visible=False)
        api_out = [gr.JSON(visible=False), gr.File(file_count="multiple", visible=False)]
        api_btn.click(detail_api(explorer), [api_id, api_query], api_out, api_name="detail")
    return demo


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
    ) -> list[dict]:
        """Ranked corpus results as plain data (for gradio_client and benchmarks). place_mode:
        "off", "prefer" (distance prior, or GeoCLOSP's location embedding) or "within"."""
        answer = explorer.text_search_near(
            query, sensor, int(k), None, place_mode, lat, lon, radius_km, place_weight,
            render=False,
        )  # fmt: skip
        return _rows(answer)

    return search


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


def main() -> None:
    parser = argparse.ArgumentParser(description="CLOSP Explorer")
    parser.add_argument("--corpus", default=None, help="corpus folder (env CLOSP_CORPUS)")
    parser.add_argument("--encoder", default=None, help="encoder name (env CLOSP_ENCODER)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    try:
        explorer = Explorer(args.corpus, args.encoder)
    except (CorpusError, ValueError, KeyError, PermissionError) as err:
        # A corpus that fails its manifest, or a model that cannot load: say which, no traceback.
        raise SystemExit(f"CLOSP Explorer cannot start: {err}") from None
    gr.set_static_paths([str(p) for p in explorer.static_paths])
    demo = build_ui(explorer)
    # Events run at once per handler. 1 measured best on 2 vCPU: the work is CPU-bound, more only
    # adds contention (BENCHMARKS.md, load test).
    raw = os.environ.get("CLOSP_CONCURRENCY", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"CLOSP_CONCURRENCY must be a whole number >= 1, got {raw!r}")
    concurrency = int(raw)
    demo.queue(default_concurrency_limit=concurrency).launch(
        server_name=args.host,
        server_port=args.port,
        allowed_paths=[str(explorer.upload_dir)],
        show_error=False,
        max_file_size=Limits.from_env().max_bytes,  # Gradio refuses larger files before storing
    )


if __name__ == "__main__":
    main()
