"""What a visitor waits for: Enter in the query box -> every result thumbnail loaded, in a browser.

    python -m bench.browser_latency          # 20 distinct queries, table into BENCHMARKS.md

Starts the real app (`python app.py`, tests/helpers/app_server.py) on a temporary copy of the
embedded corpus and drives Debian's headless Chromium (tests/helpers/browser.py: every request off
this machine is blocked). Per query, the page itself timestamps the Enter keydown and the first
animation frame at which the status line names the new query and every gallery thumbnail has
loaded; the Resource Timing entries of that interval split the wait into Gradio's queue join, the
event stream that carries the answer, and the thumbnail fetches. The server's own work is timed
by the app (`Answer.timings`, in the status line) and by `python -m bench.query_latency`.
Browser and server share this machine's CPUs, so the figures are for the machine as a whole.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.common import (  # noqa: E402
    CORPUS_DIR,
    add_output_argument,
    command_line,
    md_table,
    p50_p95,
    write_section,
)
from bench.workload import distinct_queries  # noqa: E402

SECTION = "browser-latency"
TARGET_MS = 200.0
VIEWPORT = {"width": 1280, "height": 900}

# Stamps the Enter keydown (capture phase: before Gradio's own handler runs).
_STAMP_ENTER_JS = """() => {
  window.__clospEnter = null;
  if (!window.__clospHooked) {
    document.addEventListener('keydown', e => {
      if (e.key === 'Enter') window.__clospEnter = performance.now();
    }, true);
    window.__clospHooked = true;
  }
}"""
# True (as the frame's time) once the status names `query` and every thumbnail of a gallery that
# differs from `before` has loaded.
_DONE_JS = """([query, before]) => {
  const tab = [...document.querySelectorAll('[role=tabpanel]')].find(p => p.offsetParent);
  if (!tab) return false;
  const md = [...tab.querySelectorAll('[data-testid=markdown]')].map(m => m.innerText).join(' ');
  if (!md.includes(query)) return false;
  const imgs = [...tab.querySelectorAll('.gallery-container .gallery-item img')];
  if (!imgs.length || !imgs.every(i => i.complete && i.naturalWidth > 0)) return false;
  if (imgs.map(i => i.src).join(' ') === before) return false;
  return performance.now();
}"""
_GALLERY_SRCS_JS = """() => {
  const tab = [...document.querySelectorAll('[role=tabpanel]')].find(p => p.offsetParent);
  if (!tab) return '';
  return [...tab.querySelectorAll('.gallery-container .gallery-item img')].map(i => i.src)
    .join(' ');
}"""
# Resource Timing entries that started after the Enter, relative to it.
_ENTRIES_JS = """t0 => performance.getEntriesByType('resource')
  .filter(e => e.startTime >= t0 - 1)
  .map(e => ({name: e.name, start: e.startTime - t0, end: e.responseEnd - t0,
              size: e.transferSize || e.encodedBodySize || 0}))"""


@dataclass
class Visit:
    query: str
    total_ms: float  # Enter -> every thumbnail loaded (frame time)
    join_ms: float  # Enter -> queue/join answered (nan: the search skips the queue)
    answer_ms: float  # Enter -> answer delivered (event stream closed, or the /run/ POST answered)
    asked_ms: float  # Enter -> first thumbnail requested (the answer is on the page)
    thumbs_ms: float  # Enter -> last thumbnail fetched (nan when all came from the cache)
    thumb_fetches: int
    kb: float  # bytes moved in the interval
    map_kb: float  # size of the map document (iframe srcdoc)


def _phase(entries: list[dict], part: str, last: bool = True) -> float:
    ends = [e["end"] for e in entries if part in e["name"]]
    if not ends:
        return float("nan")
    return max(ends) if last else min(ends)


def _known(ms: float) -> float:
    return ms if ms == ms else float("inf")  # nan last


def visit(page, query: str, timeout_ms: float) -> Visit:
    from tests.helpers.browser import QUERY_LABEL, panel

    box = panel(page).get_by_label(QUERY_LABEL)
    box.wait_for()
    before = page.evaluate(_GALLERY_SRCS_JS)
    box.fill(query)
    page.evaluate(_STAMP_ENTER_JS)
    box.press("Enter")
    done = page.wait_for_function(_DONE_JS, arg=[query, before], polling="raf",
                                  timeout=timeout_ms).json_value()  # fmt: skip
    t0 = page.evaluate("() => window.__clospEnter")
    entries = page.evaluate(_ENTRIES_JS, t0)
    thumbs = [e for e in entries if "/file=" in e["name"] or "gradio_api/file" in e["name"]]
    srcdoc = page.evaluate(
        "() => { const f = document.querySelector('#result-map iframe');"
        " return f ? (f.getAttribute('srcdoc') || '').length : 0; }"
    )
    return Visit(
        query=query,
        total_ms=float(done) - t0,
        join_ms=_phase(entries, "queue/join"),
        answer_ms=min(_phase(entries, "queue/data"), _phase(entries, "/run/"), key=_known),
        asked_ms=min((e["start"] for e in thumbs), default=float("nan")),
        thumbs_ms=max((e["end"] for e in thumbs), default=float("nan")),
        thumb_fetches=len(thumbs),
        kb=sum(e["size"] for e in entries) / 1024,
        map_kb=srcdoc / 1024,
    )


def run(queries: list[str], warmup: int, corpus: Path, timeout_ms: float) -> list[Visit]:
    from playwright.sync_api import sync_playwright

    from tests.helpers.app_server import running_app
    from tests.helpers.browser import launch, new_page

    with tempfile.TemporaryDirectory(prefix="closp-browser-") as tmp:
        copy = Path(tmp) / "precomputed"
        shutil.copytree(corpus, copy)
        with running_app(copy) as url, sync_playwright() as pw:
            browser = launch(pw)
            page = new_page(browser, VIEWPORT, timeout_ms=int(timeout_ms), url=url)
            for q in [f"warm up {i}: forest by a lake" for i in range(warmup)]:
                visit(page, q, timeout_ms)
            visits = [visit(page, q, timeout_ms) for q in queries]
            browser.close()
    return visits


def report(visits: list[Visit]) -> str:
    def row(name: str, values: list[float]) -> list[object]:
        vals = [v for v in values if v == v]
        p50, p95 = p50_p95(vals)
        return [name, p50, p95, len(vals)]

    rows = [
        row("Enter → queue join answered", [v.join_ms for v in visits]),
        row(
            "Enter → answer delivered (event stream closed, or direct POST answered)",
            [v.answer_ms for v in visits],
        ),
        row("Enter → first thumbnail requested", [v.asked_ms for v in visits]),
        row("Enter → last thumbnail fetched", [v.thumbs_ms for v in visits]),
        row("**Enter → every thumbnail loaded**", [v.total_ms for v in visits]),
    ]
    p50 = p50_p95([v.total_ms for v in visits])[0]
    verdict = "met" if p50 <= TARGET_MS else "not met"
    fetches = p50_p95([float(v.thumb_fetches) for v in visits])[0]
    kb = p50_p95([v.kb for v in visits])[0]
    map_kb = p50_p95([v.map_kb for v in visits])[0]
    return (
        md_table(["interval (ms, per query)", "p50", "p95", "n"], rows)
        + f"\n\nPer query (median): {fetches:.0f} thumbnail fetches, {kb:.0f} kB moved, map "
        f"document {map_kb:.0f} kB. Target Enter → thumbnails p50 ≤ {TARGET_MS:.0f} ms: "
        f"**{verdict}** ({p50:.0f} ms).\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--timeout-ms", type=float, default=60_000)
    add_output_argument(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    visits = run(distinct_queries(args.queries, seed=7), args.warmup, args.corpus,
                 args.timeout_ms)  # fmt: skip
    body = report(visits)
    print(body)
    write_section(args.benchmarks, SECTION, "Browser: Enter to thumbnails",
                  command_line("bench.browser_latency", argv), body, started)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
