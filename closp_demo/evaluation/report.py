"""Write generated tables into a Markdown file between named markers, leaving the rest alone."""

from __future__ import annotations

import platform
import re
from pathlib import Path


def machine_line() -> str:
    import os

    return f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}"


def replace_section(path: str | Path, name: str, body: str) -> None:
    """Replace `<!-- name:start -->...<!-- name:end -->` in `path` (appended if absent)."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + ("\n\n" if text else "") + block + "\n"
    path.write_text(text)
