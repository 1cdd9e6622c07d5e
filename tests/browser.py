"""Shared headless-Chromium setup for the browser tests (and tools/screenshot.py).

Uses Debian's chromium (`apt-get install -y chromium`) through playwright's Python API, so no
browser download is needed. Every request that leaves this machine is blocked and recorded.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM: str | None = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and Path(p).exists()), None
)
CHROMIUM_MISSING = "chromium not found (install it with: apt-get install -y chromium)"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LOCAL_SCHEMES = {"data", "about", "blob", "file"}


def launch(playwright):
    """Debian's headless chromium via a `sync_playwright()` handle."""
    if CHROMIUM is None:
        raise RuntimeError(CHROMIUM_MISSING)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


class Recorder:
    """Blocks every request that is not local; remembers what was blocked and any dialogs."""

    def __init__(self) -> None:
        self.blocked: list[str] = []
        self.allowed: list[str] = []
        self.dialogs: list[str] = []

    def route(self, route) -> None:
        url = urlparse(route.request.url)
        if url.scheme in LOCAL_SCHEMES or url.hostname in LOCAL_HOSTS:
            self.allowed.append(route.request.url)
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def attach(self, page) -> None:
        """Route all of `page`'s requests (its iframes' too) and catch its dialogs."""
        page.route("**/*", self.route)
        page.on("dialog", self.dialog)
