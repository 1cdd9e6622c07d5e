"""README screenshots of the detail view and two lessons, on a desktop and a phone.

    python tools/teach_screenshots.py [--corpus precomputed] [--out docs/screenshots]

Starts `python app.py` on a temporary copy of the corpus, drives it in headless Chromium with
every request off this machine blocked (tools/screenshot.py's setup), at 1920x1080 and at a
390 px wide phone (390x844, scale 2), and writes detail-{desktop,phone}.png (a BigEarthNet
image beside its Sentinel-1 twin, NDVI selected), lesson-water-*.png and lesson-flood-*.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: reuse the tests' app launcher and helpers

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.helpers.browser import Recorder, launch  # noqa: E402
from tools.screenshot import app_on_a_copy, scroll_to, shot_arguments  # noqa: E402

DEVICES = {
    "desktop": {"viewport": {"width": 1920, "height": 1080}},
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
              "is_mobile": True, "has_touch": True},
}  # fmt: skip
DETAIL_ID = "ben-s2-S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_38_87"  # a town by a lake
LESSONS = {"water": "Water is dark in radar", "flood": "A flood seen by both sensors"}
IMG_SHOWN = "sel => { const i = document.querySelector(sel); return i && i.complete && " \
            "i.naturalWidth > 0; }"  # fmt: skip
TIMEOUT_MS = 120_000


def shoot(page, out: Path, device: str) -> list[Path]:
    shots = []
    page.locator("#detail-id textarea, #detail-id input").first.fill(DETAIL_ID)
    page.locator("#detail-open").click()
    page.locator("#detail-status", has_text="Opened").wait_for()
    page.locator("#detail-main-composite").get_by_label("NDVI").check()
    for side in ("main", "twin"):
        page.wait_for_function(IMG_SHOWN, arg=f"#detail-{side}-image img")
    page.wait_for_selector("#detail-main-plot .js-plotly-plot, #detail-main-plot img",
                           state="attached")  # fmt: skip
    scroll_to(page, "#detail-status")
    shots.append(out / f"detail-{device}.png")
    page.screenshot(path=str(shots[-1]))
    scroll_to(page, "[role=tablist]")
    # On a phone the tabs that do not fit sit in an overflow menu: press its item (the last
    # button so named; the first is Gradio's hidden copy for measuring the tab bar).
    page.evaluate("[...document.querySelectorAll('button')].filter(b => b.textContent.trim() "
                  "=== 'Teach').pop().click()")  # fmt: skip
    page.locator("#teach-pick").wait_for()
    for key, title in LESSONS.items():
        page.locator("#teach-pick label", has_text=title).click()
        page.locator("#teach-text", has_text=title.split(" (")[0]).wait_for()
        for side in ("left", "right"):
            page.wait_for_function(IMG_SHOWN, arg=f"#teach-{side} img")
        scroll_to(page, "#teach-text")
        shots.append(out / f"lesson-{key}-{device}.png")
        page.screenshot(path=str(shots[-1]))
    return shots


def main() -> None:
    args = shot_arguments(__doc__, REPO_ROOT / "docs" / "screenshots")
    with app_on_a_copy(args.corpus) as (url, _), sync_playwright() as pw:
        browser = launch(pw)
        for device, options in DEVICES.items():
            context = browser.new_context(**options)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            Recorder().attach(page)
            page.goto(url)
            for path in shoot(page, args.out, device):
                print(path)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
