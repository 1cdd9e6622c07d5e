"""What an upload widget or an API client sends, checked before anything is read."""

from __future__ import annotations

from pathlib import Path

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
