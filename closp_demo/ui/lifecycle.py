"""How the app stops: SIGTERM (how a Space or a test stops it) as Ctrl-C, and Gradio's copies of
uploads and of the files it sent removed, so nothing of a session outlives the app on disk."""

from __future__ import annotations

import signal

import gradio as gr
from gradio.route_utils import delete_files_created_by_app


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Gradio then closes its server and `launch()` returns; Python exits normally, which removes
    the explorer's scratch folder (an unhandled SIGTERM ends the process on the spot)."""
    signal.signal(signal.SIGTERM, _interrupt)


def remove_gradio_files(demo: gr.Blocks) -> None:
    """Gradio removes them itself (with `delete_cache` set) only when its server shuts down
    cleanly, which an open browser session's connection delays past the 5 s Gradio waits."""
    delete_files_created_by_app(demo, age=None)
