"""What the UI's widgets and API clients send, checked before anything is searched or read.

The one place for the shape and value rules of the use cases' parameters (a string where text is
expected, k a whole number from 1 to 100, a choice among its values, true/false, a list of
names): every endpoint and widget goes through `closp_demo.service.Explorer`, which checks with
these, so an API client sending a list, a dict or None gets a message naming the parameter and
what it takes (`InputError`), never a bare server error. Uploads: `upload_paths`, `upload_names`
and the session's byte budget (`session_problem`).
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Sequence
from pathlib import Path

from closp_demo.settings import MB, Limits

MAX_UPLOAD_FILES = 32  # a Sentinel-2 product has 13 band files; Sentinel-1 2
K_MIN, K_MAX = 1, 100  # results per search (README "API reference")


class InputError(ValueError):
    """A parameter of the wrong shape or value; the message names it and says what it takes."""


def shape(value: object) -> str:
    """A value as a message quotes it: its kind and a short excerpt."""
    if value is None:
        return "None (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, numbers.Real):
        return f"the number {value!r}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        keys = ", ".join(repr(str(k)[:20]) for k in list(value)[:3])
        return f"a dict (keys {keys})" if keys else "an empty dict"
    return f"a value of type {type(value).__name__}"


def text(value: object, name: str, what: str = "text") -> str:
    """A string parameter; None (a field left out) is the empty string."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{name} must be {what} (a string); got {shape(value)}.")
    return value


def result_count(value: object, name: str = "k") -> int:
    """How many results: a whole number from K_MIN to K_MAX (12.0 from a slider is 12)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
        or not float(value).is_integer()
        or not K_MIN <= value <= K_MAX
    ):
        raise InputError(
            f"{name} (how many results) must be a whole number from {K_MIN} to {K_MAX}; "
            f"got {shape(value)}."
        )
    return int(value)


def choice(value: object, name: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(f"'{c}'" for c in choices)
        raise InputError(f"{name} must be one of {listed}; got {shape(value)}.")
    return value


def flag(value: object, name: str) -> bool:
    """true or false; None (left out) is false."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false; got {shape(value)}.")
    return value


def names(value: object, name: str) -> list[str] | str | None:
    """Sources or labels: a list of names, or one comma-separated string (None: none)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InputError(
        f"{name} must be a list of names or one comma-separated string; got {shape(value)}."
    )


def check_filter_fields(fields: dict | None) -> dict:
    """The filter fields (`parse_filters`' keyword arguments) checked for shape; their values
    are checked by `parse_filters` itself."""
    fields = dict(fields or {})
    for key in ("sources", "labels"):
        fields[key] = names(fields.get(key), key)
    for key in ("date_from", "date_to", "unlabelled"):
        fields[key] = text(fields.get(key), key) or None
    return fields


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
