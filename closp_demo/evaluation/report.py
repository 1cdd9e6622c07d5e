"""Write generated tables into a Markdown file between named markers, leaving the rest alone."""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Sequence
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


def publish(
    module: str, argv: Sequence[str] | None, text: str, write: str | Path | None, section: str
) -> None:
    """Print `text` under the command that made it (`python -m module argv`) and the machine;
    with `write`, put the same into that Markdown file's `section`."""
    args = list(argv) if argv is not None else sys.argv[1:]
    command = " ".join(["python -m", module, *args])
    body = f"Command: `{command}` ({machine_line()})\n\n{text}"
    print(body)
    if write:
        replace_section(write, section, body)
