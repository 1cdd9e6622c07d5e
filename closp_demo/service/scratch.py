"""The explorer's scratch folder: previews of sessions' uploads, removed with their session, and
the files it sends (exports, detail composites, heat maps), one folder per answer, of which only
the newest stay.

Gradio copies every file it sends into its own cache (swept by age: `Limits.file_sweep`), so an
answer's folder is no longer needed once sent; keeping a bounded number of them bounds the disk a
long-running Space uses, however many answers it gives."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path

KEEP = 64  # answers' folders kept per kind: far more than are in flight at once


class Scratch:
    def __init__(self, keep: int = KEEP) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        # Removed when the process exits or the explorer goes.
        self._dir = tempfile.TemporaryDirectory(prefix="closp-explorer-")
        self.root = Path(self._dir.name)
        self.keep = keep
        # Upload previews: a session's results may show its upload again later, so they stay
        # until the session goes (`forget_previews`). Not publicly served.
        self.uploads = self.root / "uploads"
        self.uploads.mkdir()

    def fresh_folder(self, kind: str) -> Path:
        """A new empty folder for one answer's files under `kind` ("exports", "detail", ...);
        the oldest beyond `keep` of that kind are removed."""
        parent = self.root / kind
        parent.mkdir(exist_ok=True)
        folder = parent / uuid.uuid4().hex
        folder.mkdir()
        # The new folder is never a candidate: a coarse clock can give it its elders' mtime.
        older = sorted((p for p in parent.iterdir() if p != folder), key=_mtime)
        for old in older[: max(0, len(older) - (self.keep - 1))]:
            shutil.rmtree(old, ignore_errors=True)
        return folder

    def forget_previews(self, paths: Iterable[str]) -> None:
        """Remove these upload previews (files of `uploads` only; any other path is left)."""
        for name in paths:
            path = Path(name)
            if path.parent == self.uploads:
                path.unlink(missing_ok=True)

    def cleanup(self) -> None:
        self._dir.cleanup()


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:  # removed meanwhile by another answer
        return 0
