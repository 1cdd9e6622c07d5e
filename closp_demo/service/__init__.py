"""The explorer's use cases, UI-free: load model + corpus, answer a text query, an upload, a
detail view. `app.py` wires them to Gradio widgets; benchmarks and tests call them directly."""

from closp_demo.service.explorer import Answer, Explorer, HeatAnswer
from closp_demo.service.inputs import MAX_UPLOAD_FILES, upload_paths

__all__ = ["MAX_UPLOAD_FILES", "Answer", "Explorer", "HeatAnswer", "upload_paths"]
