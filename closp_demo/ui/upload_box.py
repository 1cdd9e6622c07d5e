"""The upload box: several files at once (band files, or one ZIP), and one file from API clients.

A plain `gr.File(file_count="multiple")` validates its API input as a list of files before any
handler runs, so a client sending one `handle_file(path)` (what /upload took before) or a wrong
shape got a bare server error. `UploadFiles` takes one file or a list; anything else is refused
with a message (`gr.Error`, which Gradio passes to API clients). Only files that Gradio itself
received and checked (its FileData, moved into its upload cache) become paths: a bare string is
never read as a server path.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.data_classes import FileData, GradioRootModel

from closp_demo.ui.api import refuse

WRONG_SHAPE = (
    "The upload must be a file or a list of files, sent with gradio_client's handle_file(path) "
    "(e.g. handle_file('scene.tif'), or [handle_file('B02.tif'), ...] for band files); got {}"
)


class OneOrManyFiles(GradioRootModel):
    root: list[FileData] | FileData | Any


class UploadFiles(gr.File):
    """`gr.File(file_count="multiple")` whose API also accepts a single file (see the module)."""

    # A template of gr.File: the browser draws it with File's frontend. Without this Gradio looks
    # for an "uploadfiles" frontend, finds none, and the upload box is silently not drawn.
    is_template = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data_model = OneOrManyFiles  # gr.File sets ListFiles for file_count="multiple"

    def get_config(self, cls: type[gr.blocks.Block] | None = None) -> dict[str, Any]:
        # Gradio reads the props it sends to the browser off the __init__ signature; ours is
        # (*args, **kwargs), so read File's (else label, file_types, file_count are all lost).
        return super().get_config(cls or gr.File)

    def preprocess(self, payload: Any) -> list[str] | None:  # type: ignore[override]
        if payload is None:
            return None
        root = payload.root if isinstance(payload, OneOrManyFiles) else payload
        items = root if isinstance(root, list) else [root]
        paths = []
        for item in items:
            if not isinstance(item, FileData):
                refuse(WRONG_SHAPE.format(describe(item)))
            paths.append(self._process_single_file(item))
        return paths  # type: ignore[return-value]


def describe(value: object) -> str:
    if isinstance(value, str):
        return "a bare string (a server path is never read; upload the file itself)"
    if isinstance(value, dict):
        return "a dict that is not an uploaded file"
    return f"a value of type {type(value).__name__}"
