"""What an upload widget or an API client sends, checked before anything is read."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from closp_demo.settings import MB, Limits

MAX_UPLOAD_FILES = 32  # a Sentinel-2 product has 13 band files; Sentinel-1 2


def upload_paths(value: object) -> tuple[list[str], str]:
    """What an upload widget or API client sent -> (paths, "") or ([], a message saying what is
    wrong). Accepted: a path, a list of paths, or Gradio file dicts ({"path": ...}) of either."""
    if value is None or value == "" or value == []:
        return [], "Choose a GeoTIFF, several band files or one ZIP to upload."
    items = value if isinstance(value, (list, tuple)) else [value]
    paths: list[str] = []
    for item in items:
        if isinstance(item, dict):
            if not isinstance(item.get("path"), str):
                return [], (
                    "A file given as a dict needs its 'path' (what gradio_client's handle_file "
                    f"sends); got keys {sorted(map(str, item))[:5]}."
                )
            item = item["path"]
        if hasattr(item, "path") and not isinstance(item, (str, Path)):
            item = item.path
        if not isinstance(item, (str, Path)) or not str(item):
            return [], (
                f"The upload must be a file or a list of files; got {type(item).__name__}. API "
                "clients: send handle_file(path) or a list of them."
            )
        paths.append(str(item))
    if len(paths) > MAX_UPLOAD_FILES:
        return [], f"{len(paths)} files: upload at most {MAX_UPLOAD_FILES} files at once."
    return paths, ""


def upload_names(
    paths: Sequence[str], filename: str | Sequence[str] | None
) -> tuple[list[str], str]:
    """The names the user gave the files (default: the paths' names) -> (names, "") or ([], a
    message when their count does not match the files')."""
    given = [filename] if isinstance(filename, str) else list(filename or [])
    names = given or [Path(p).name for p in paths]
    if len(names) != len(paths):
        return [], f"{len(paths)} files but {len(names)} file names were given."
    return names, ""


def session_problem(paths: Sequence[str], uploaded_bytes: int, limits: Limits) -> tuple[int, str]:
    """(the files' bytes, "") or (bytes, a message) when they would take the session past
    `limits.max_session_bytes` (or one upload's limit, when larger). Every upload counts, read
    or refused: its files arrived."""
    size = 0
    for path in paths:
        with contextlib.suppress(OSError):  # the reader names a missing file
            size += Path(path).stat().st_size
    # A session may always make one upload as large as one upload may be.
    limit = max(limits.max_session_bytes, limits.max_bytes)
    if uploaded_bytes + size <= limit:
        return size, ""
    return size, (
        f"This session has uploaded {uploaded_bytes / MB:.1f} MB; with these files "
        f"({size / MB:.1f} MB) it would pass its limit of {limit / MB:g} MB per session "
        "(CLOSP_MAX_SESSION_MB). Reload the page to start a new session."
    )
