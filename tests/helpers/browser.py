"""Headless Chromium for the browser tests and tools/screenshot.py: launch, block the network,
and find the app's widgets.

Uses Debian's chromium (`apt-get install -y chromium`) through playwright's Python API, so no
browser download is needed. Every request that leaves this machine is blocked and recorded.
The widget helpers look inside the visible tab only: Gradio keeps a visited tab in the page
(hidden), so both tabs hold a gallery and a map iframe once both were used.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM: str | None = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and Path(p).exists()), None
)
CHROMIUM_MISSING = "chromium not found (install it with: apt-get install -y chromium)"
LINK_FIELD = "#share-link textarea, #share-link input"  # the share link's text field


def browser_module(slow: bool = True) -> list:
    """The marks of a browser test module (`pytestmark = browser_module()`); skips the whole
    module where Chromium or playwright is missing."""
    import pytest

    if CHROMIUM is None:
        pytest.skip(CHROMIUM_MISSING, allow_module_level=True)
    pytest.importorskip("playwright.sync_api")
    return [pytest.mark.browser, pytest.mark.slow] if slow else [pytest.mark.browser]


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


def new_page(browser, viewport: dict, timeout_ms: int | None = None, url: str | None = None):
    """A page in a fresh context, every request routed through a `Recorder` (`page.recorder`).
    Close it with `page.context.close()`."""
    context = browser.new_context(viewport=viewport)
    if timeout_ms is not None:
        context.set_default_timeout(timeout_ms)
    page = context.new_page()
    page.recorder = Recorder()
    page.recorder.attach(page)
    if url is not None:
        page.goto(url)
    return page


# --- the app's widgets (app.py), always inside the visible tab ----------------------------------
QUERY_LABEL = "Describe what you are looking for"
THUMB = ".gallery-container .gallery-item img"
CAPTION = ".gallery-container .gallery-item .caption-label"
IMG_LOADED_JS = "img => img.complete && img.naturalWidth > 0"
_GALLERY_LOADED_JS = """([sel, n]) => {
  const tab = [...document.querySelectorAll('[role=tabpanel]')].find(p => p.offsetParent);
  const imgs = tab ? [...tab.querySelectorAll(sel)] : [];
  return imgs.length >= n && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""
_MAP_DRAWN_JS = """n => window.L && document.querySelectorAll('path.closp-footprint').length === n
  && document.querySelectorAll('path.closp-basemap').length > 50"""


def panel(page):
    return page.locator("[role=tabpanel]:visible")


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    panel(page).wait_for()


def block_labelled(label: str) -> str:
    """CSS for the Gradio block whose label reads `label`."""
    return f".block:has([data-testid=block-label]:text-is({label!r}))"


def markdown_with(page, text: str):
    """The visible tab's Markdown block whose text contains `text` (waits for it)."""
    block = panel(page).locator("[data-testid=markdown]", has_text=text)
    block.wait_for()
    return block


def search(page, text: str) -> None:
    panel(page).get_by_label(QUERY_LABEL).fill(text)
    panel(page).get_by_role("button", name="Search", exact=True).click()


def upload(page, path: Path) -> None:
    """Give `path` to the upload tab's GeoTIFF input (the tab must be open)."""
    panel(page).locator("input[type=file][accept*='.tif']").set_input_files(path)


def wait_for_gallery(page, minimum: int) -> list[str]:
    """Wait until >= `minimum` thumbnails show, every one loaded; return their captions."""
    page.wait_for_function(_GALLERY_LOADED_JS, arg=[THUMB, minimum])
    return panel(page).locator(CAPTION).all_inner_texts()


def map_frame(page, n_footprints: int):
    """The visible tab's map iframe once Leaflet drew `n_footprints` footprints and the basemap."""
    frame = panel(page).locator("iframe").element_handle().content_frame()
    frame.wait_for_function(_MAP_DRAWN_JS, arg=n_footprints)
    return frame


def count(frame, selector: str) -> int:
    return frame.evaluate("s => document.querySelectorAll(s).length", selector)
