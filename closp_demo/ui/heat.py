"""Where in my scene (Gradio blocks): a text query's heat map over the upload, drawn on the
upload's preview and on its map, with a progress bar; and `/heatmap` for API clients."""

from __future__ import annotations

import gradio as gr
import numpy as np

from closp_demo.service import Explorer
from closp_demo.ui.api import raw_input, refuse
from closp_demo.ui.upload_box import UploadFiles
from closp_demo.views.escape import escape_markdown
from closp_demo.views.figures import image_png
from closp_demo.views.heat import on_preview


def build_heat(explorer: Explorer, upload: gr.File, preview: gr.Image, map_html: gr.HTML) -> None:
    """The heat-map row of the upload tab; writes into the tab's preview and map."""
    with gr.Row():
        query = gr.Textbox(label="Where in my scene: describe what to find in your upload",
                           placeholder="e.g. a lake", max_lines=1, scale=4,
                           elem_id="heat-query")  # fmt: skip
        button = gr.Button("Heat map over my scene", scale=1, elem_id="heat-btn")
    status = gr.Markdown(elem_id="heat-status")

    def run(path, text, progress=gr.Progress()):  # noqa: B008 - Gradio's progress injection
        answer = explorer.heat_map(path, text, progress=lambda f, what: progress(f, desc=what))
        icon = "✅" if answer.ok else "⚠️"
        line = f"{icon} {escape_markdown(answer.message)}"
        if not answer.ok:
            return line, gr.update(), gr.update()
        return line, answer.image, answer.map_html

    for trigger in (button.click, query.submit):
        trigger(run, [upload, query], [status, preview, map_html], api_name=False)
    # A new upload: a line about the previous one (or "upload first") no longer applies.
    upload.upload(lambda: "", None, [status], api_name=False)
    # /heatmap for API clients: (summary, the tinted preview as a PNG file). The file's shape is
    # checked by UploadFiles, the query's by the explorer (passed on as sent).
    api_file = UploadFiles(visible=False)
    api_btn = gr.Button(visible=False)
    api_out = [gr.JSON(visible=False), gr.File(visible=False)]
    api_btn.click(heatmap_api(explorer), [api_file, raw_input("query")], api_out,
                  api_name="heatmap")  # fmt: skip


def heatmap_api(explorer: Explorer):
    def heatmap(geotiff: str, query: str) -> tuple[dict, str]:
        """The similarity of `query` to each 120 × 120 px window of an uploaded GeoTIFF larger
        than one window: grid scores (rows of floats, null where not scored), each window's
        pixel box, and the preview with the windows tinted as a PNG file."""
        answer = explorer.heat_map(geotiff, query, render=False)
        if not answer.ok or answer.result is None:
            refuse(answer.message)
        qm = answer.result
        png = explorer.scratch.fresh_folder("heat") / "heat-map.png"
        image_png(on_preview(qm, " ".join(str(query).split())), png)
        scores = [[None if not np.isfinite(v) else round(float(v), 6) for v in row]
                  for row in qm.scores]  # fmt: skip
        summary = {
            "message": answer.message, "sensor": qm.scene.sensor,
            "size_px": [qm.scene.width, qm.scene.height], "grid": list(qm.shape),
            "sampled": qm.sampled, "scores": scores,
            "windows": [{"row": r, "col": c, "x": x, "y": y, "width": w, "height": h,
                         "score": round(float(qm.scores[r, c]), 6)}
                        for r, c, x, y, w, h in qm.windows],
        }  # fmt: skip
        return summary, str(png)

    return heatmap
