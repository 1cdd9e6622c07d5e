"""How a refused upload is reported: `UploadError` and the file's name as shown in messages."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 60  # filenames in messages are shortened to this


class UploadError(ValueError):
    """A refused upload; the message is the exact user-facing text."""


def display_name(name: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """The user's filename as shown in messages: last path component, no control or bidi
    characters, shortened in the middle (keeping the extension) beyond `max_chars`."""
    parts = [p for p in re.split(r"[\\/]", str(name)) if p.strip()]
    base = parts[-1] if parts else ""
    base = "".join(ch for ch in base if not unicodedata.category(ch).startswith("C")).strip()
    if not base:
        return "upload"
    if len(base) > max_chars:
        tail = min(12, max_chars // 3)
        base = base[: max_chars - tail - 1] + "…" + base[-tail:]
    return base
