"""README screenshots of the page's layouts: phone (390x844) and wide screen (1920x1080), each
normal and in presentation mode.

    python tools/screenshot_layouts.py [--corpus precomputed] [--out docs/screenshots]

Starts `python app.py` on a temporary copy of the corpus and opens share links
(`?q=...&k=12`, plus `&present=1`) in headless Chromium with every request off this machine
blocked (the map shows its offline outlines). The phone shots are of the whole page (the map
stacks under the gallery, the table scrolls sideways); the wide ones of the view scrolled to
the search box. Writes phone.png, phone-present.png, wide.png and wide-present.png.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlencode

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: reuse the tests' app launcher and helpers

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.helpers.browser import CAPTION, launch, markdown_with, new_page  # noqa: E402
from tools.screenshot import app_on_a_copy, scroll_to, settle, shot_arguments  # noqa: E402

QUERY = "a lake surrounded by forest"
K = 12
SIZES = {"phone": {"width": 390, "height": 844}, "wide": {"width": 1920, "height": 1080}}
TIMEOUT_MS = 120_000
LOADED_IN_VIEW_JS = """() => {
  const imgs = [...document.querySelectorAll('#results-gallery .gallery-item img')];
  const box = document.querySelector('#results-gallery').getBoundingClientRect();
  const seen = imgs.filter(i => i.getBoundingClientRect().top < Math.min(box.bottom, innerHeight));
  return seen.length >= 2 && seen.every(i => i.complete && i.naturalWidth > 0);
}"""


def take(url: str, out: Path) -> list[Path]:
    shots = []
    with sync_playwright() as pw:
        browser = launch(pw)
        for name, viewport in SIZES.items():
            for present in (False, True):
                params = {"q": QUERY, "k": K, **({"present": 1} if present else {})}
                page = new_page(browser, viewport, TIMEOUT_MS, f"{url}?{urlencode(params)}")
                markdown_with(page, "results for")
                page.locator("#results-gallery").scroll_into_view_if_needed()
                # Thumbnails load lazily: wait for those in view (a large presentation grid
                # scrolls inside the gallery), then for the map of every result.
                page.wait_for_function(LOADED_IN_VIEW_JS)
                settle(page, page.locator(CAPTION).count())
                page.wait_for_timeout(800)  # lazy thumbnails further down the page
                path = out / f"{name}{'-present' if present else ''}.png"
                if name == "phone":
                    page.screenshot(path=str(path), full_page=True)
                else:
                    scroll_to(page, "[role=tablist]:visible")
                    page.screenshot(path=str(path))
                page.context.close()
                shots.append(path)
        browser.close()
    return shots


def main() -> None:
    args = shot_arguments(__doc__, REPO_ROOT / "docs" / "screenshots")
    with app_on_a_copy(args.corpus) as (url, _):
        for path in take(url, args.out):
            print(path)


if __name__ == "__main__":
    main()
