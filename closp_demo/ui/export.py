"""The export row under a results table: a button per format, the file to download, a note."""

from __future__ import annotations

import gradio as gr

EXPORT_LABELS = {"csv": "CSV", "geojson": "GeoJSON", "zip": "ZIP (thumbnails + GeoJSON)"}


def export_row(name: str) -> tuple[dict[str, gr.Button], gr.File, gr.Markdown]:
    """Export buttons (one per format), the file to download and a note."""
    with gr.Row(elem_id=f"export-{name}"):
        btns = {fmt: gr.Button(f"Export {label}", size="sm", elem_id=f"export-{name}-{fmt}")
                for fmt, label in EXPORT_LABELS.items()}  # fmt: skip
        file = gr.File(label="Download", interactive=False, elem_id=f"export-{name}-file")
        note = gr.Markdown()
    return btns, file, note
