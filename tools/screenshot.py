"""README screenshots of the real app: a text search with its map, and a GeoTIFF upload.

    python tools/screenshot.py [--corpus precomputed] [--out docs]

Starts `python app.py` on a temporary copy of the corpus (the app's log goes next to it, not
into the repository), drives it in headless Chromium at 1400x1000 with every request off this
machine blocked (so the map shows its offline outlines, as on an offline server), and writes
docs/screenshot.png and docs/screenshot-upload.png. The upload is a real BigEarthNet Sentinel-2
patch from the shared samples, written as a GeoTIFF with its own CRS and bounds.
Needs Debian's chromium and, for the title and status icons, an emoji font
(`apt-get install -y chromium fonts-noto-color-emoji`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: reuse the tests' app launcher and helpers

from playwright.sync_api import sync_playwright  # noqa: E402
from rasterio.transform import from_bounds  # noqa: E402

from app import UPLOAD_LABEL  # noqa: E402
from closp_demo.corpus.sources import bigearthnet  # noqa: E402
from tests.conftest import samples_root  # noqa: E402
from tests.helpers.app_server import running_app  # noqa: E402
from tests.helpers.browser import (  # noqa: E402
    Recorder,
    block_labelled,
    launch,
    map_frame,
    markdown_with,
    open_tab,
    panel,
    search,
    upload,
    wait_for_gallery,
)
from tests.helpers.hostile_inputs import write_tif  # noqa: E402

VIEWPORT = {"width": 1400, "height": 1000}
QUERY = "a lake surrounded by forest"
K = 12
# A Finnish lake in forest (BigEarthNet, 2017-07-01): the query's theme, pleasing to look at.
UPLOAD_ID = "ben-s2-S2A_MSIL2A_20170701T093031_N9999_R136_T35VPK_63_35"
TIMEOUT_MS = 120_000


def upload_file(folder: Path, samples: Path) -> Path:
    record = next(r for r in bigearthnet.iter_records(samples) if r.image_id == UPLOAD_ID)
    name = record.image_id.removeprefix("ben-s2-") + ".tif"  # a Sentinel-style filename
    transform = from_bounds(*record.bounds, 120, 120)
    return write_tif(folder / name, record.image, record.crs, transform)


def settle(page, n_footprints: int) -> None:
    """Wait until the map is drawn with its offline background and fonts are in."""
    frame = map_frame(page, n_footprints)
    frame.wait_for_selector(".closp-offline-note")
    page.evaluate("document.fonts.ready")
    page.wait_for_timeout(500)  # Leaflet's fit and fade animations


def scroll_to(page, css: str, margin: int = 8) -> None:
    """Scroll so the first element matching `css` sits `margin` px below the top."""
    page.locator(css).first.evaluate(
        "(el, m) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - m)",
        margin,
    )
    page.wait_for_timeout(400)  # lazy images in the new view start loading


def take(url: str, out: Path, tif: Path) -> list[Path]:
    with sync_playwright() as pw:
        browser = launch(pw)
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        Recorder().attach(page)
        page.goto(url)

        search(page, QUERY)
        settle(page, len(wait_for_gallery(page, K)))
        scroll_to(page, "[role=tablist]:visible")  # query box, results and map in one view
        text_shot = out / "screenshot.png"
        page.screenshot(path=str(text_shot))

        open_tab(page, "Upload a GeoTIFF")
        upload(page, tif)
        markdown_with(page, "nearest images")
        panel(page).locator(f"{block_labelled('Your image')} img").wait_for()
        settle(page, len(wait_for_gallery(page, K)) + 1)
        scroll_to(page, f"[role=tabpanel]:visible {block_labelled(UPLOAD_LABEL)}")
        upload_shot = out / "screenshot-upload.png"
        page.screenshot(path=str(upload_shot))
        browser.close()
    return [text_shot, upload_shot]


def shot_arguments(description: str, out: Path, argv: list[str] | None = None):
    """The screenshot tools' shared flags: --corpus (default precomputed) and --out (created)."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO_ROOT / "precomputed")
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--samples", type=Path, default=None, help="shared Sentinel samples")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


@contextmanager
def app_on_a_copy(corpus: Path) -> Iterator[tuple[str, Path]]:
    """`python app.py` on a temporary copy of `corpus` (same folder name as shown in the UI, its
    log beside it, not in the repository): (the app's URL, the temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="closp-shots-") as tmp:
        copy = Path(tmp) / corpus.resolve().name
        shutil.copytree(corpus, copy)
        with running_app(copy) as url:
            yield url, Path(tmp)


def main() -> None:
    args = shot_arguments(__doc__, REPO_ROOT / "docs")
    with app_on_a_copy(args.corpus) as (url, tmp):
        tif = upload_file(tmp, args.samples or samples_root())
        for path in take(url, args.out, tif):
            print(path)


if __name__ == "__main__":
    main()
