"""Strings from data and visitors never run as markup: labels, places, ids, dates, filenames and
query text carrying script payloads reach the captions, table, status line and map popups as text.

The corpus here is built by the real builder (`build.embed_records` + `build.write_corpus`) from
real BigEarthNet patches whose metadata was replaced by payloads. The unit tests check what
`closp_demo.service` / `app.status_md` hand to the widgets; one headless-Chromium test shows that
in the running app the payloads stay text and nothing executes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from app import status_md
from closp_demo.corpus.build import embed_records, write_corpus
from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources import bigearthnet
from closp_demo.encoders import create_encoder
from closp_demo.service import Explorer
from closp_demo.upload.errors import display_name
from tests.helpers.app_server import running_app
from tests.helpers.browser import new_page
from tests.test_isolation import write_patch
from tests.views.test_map import data_block, parse

PWN = "window.__pwned=1;try{parent.__pwned=1}catch(e){}"
IMG = f'<img src=x onerror="{PWN}">'
SCRIPT = f"<script>{PWN}</script>"
IFRAME_BREAK = f"</iframe><script>{PWN}</script>"
QUOTES = f'"\' onmouseover="{PWN}" x=\''
SVG = f"<svg onload={PWN}>"
# Markdown that would load or link something if the status line rendered it.
MARKDOWN = "![t](http://evil.example/t.png) [c](javascript:alert(1)) **b** http://evil.example/a"
HOSTILE_ID = f"ben-'\"><svg onload={PWN}>"  # no '/': it names a thumbnail file
HOSTILE_QUERY = f"lake {IMG} {SCRIPT} {MARKDOWN} $$x$$"
EVIL_HOST = "evil.example"

N_RECORDS = 8


def hostile(records: list[ImageRecord]) -> list[ImageRecord]:
    """The same real images, with metadata replaced by payloads (one kind per field)."""
    out = []
    fields = [
        {"labels": (IMG, "Water"), "place": SCRIPT},
        {"labels": (QUOTES,), "place": IFRAME_BREAK, "image_id": HOSTILE_ID},
        {"labels": (SVG, MARKDOWN), "place": QUOTES, "timestamp": IMG},
        {"labels": (SCRIPT,), "place": SVG},
    ]
    for i, record in enumerate(records):
        out.append(dataclasses.replace(record, **fields[i % len(fields)]))
    return out


@pytest.fixture(scope="module")
def hostile_corpus(samples_dir, tmp_path_factory) -> Path:
    records = hostile(list(bigearthnet.iter_records(samples_dir))[:N_RECORDS])
    encoder = create_encoder("physics-minilm")
    root = tmp_path_factory.mktemp("hostile")
    thumbs = root / "staged-thumbnails"
    thumbs.mkdir()
    rows, vectors = embed_records(records, encoder, thumbs)
    write_corpus(root / "precomputed", rows, vectors, encoder, "pytest hostile corpus", thumbs)
    return root / "precomputed"


@pytest.fixture(scope="module")
def explorer(hostile_corpus) -> Explorer:
    return Explorer(hostile_corpus)


# --- unit level: what the service and the status line hand to the widgets ---------------------
def map_document(map_html: str) -> str:
    """The srcdoc document of the map iframe, after checking the outer markup is one iframe."""
    tags = parse(map_html)
    assert [t for t, _ in tags] == ["iframe"], "the outer map markup must be a single iframe"
    assert set(tags[0][1]) == {"title", "srcdoc", "style", "loading"}
    return tags[0][1]["srcdoc"]


def assert_inert(document: str, payloads: list[str]) -> None:
    for payload in payloads:
        assert payload not in document
    tags = parse(document)
    assert not [(t, a) for t, a in tags if any(k.startswith("on") for k in a)]
    assert not [t for t, _ in tags if t in ("img", "svg", "iframe", "b", "a")]
    # Scripts are the map's own: a payload never opens or closes one.
    assert document.count("<script") == len([t for t, _ in tags if t == "script"])


def popup_strings(document: str) -> set[str]:
    data = data_block(document)
    out = set()
    for item in data["items"]:
        out |= {item["title"], item["id"], *(v for pair in item["details"] for v in pair)}
    return out


def test_text_search_map_keeps_data_payloads_inert_and_intact(explorer):
    answer = explorer.text_search(HOSTILE_QUERY, "both", 50)
    assert answer.ok, answer.message
    assert len(answer.table) == N_RECORDS
    document = map_document(answer.map_html)
    assert_inert(document, [IMG, SCRIPT, IFRAME_BREAK, QUOTES, SVG, HOSTILE_ID])
    # The payloads did reach the map, as data shown with textContent (test_map_browser.py).
    shown = popup_strings(document)
    for payload in (SCRIPT, IFRAME_BREAK, QUOTES, SVG, HOSTILE_ID):
        assert payload in shown
    assert any(IMG in s for s in shown) and any(MARKDOWN in s for s in shown)


def test_captions_and_table_carry_data_as_plain_text(explorer):
    # Gallery captions and Dataframe cells are text widgets: the exact strings, not entities.
    answer = explorer.text_search("water", "both", 50)
    captions = " ".join(caption for _, caption in answer.gallery)
    for payload in (IMG, SCRIPT, QUOTES, SVG, IFRAME_BREAK):
        assert payload in captions
    assert "&lt;" not in captions and "&quot;" not in captions
    cells = set(answer.table["place"]) | set(answer.table["id"])
    assert {SCRIPT, IFRAME_BREAK, QUOTES, SVG, HOSTILE_ID} <= cells
    assert any(IMG in labels for labels in answer.table["labels"])


def test_upload_with_hostile_filename_gives_inert_map(explorer, samples_dir, tmp_path):
    record = next(r for r in bigearthnet.iter_records(samples_dir) if r.sensor == "S2")
    name = f"{SVG}.tif"
    path = write_patch(tmp_path / name, record)
    answer = explorer.upload_search(path, "both", 5, filename=name)
    assert answer.ok, answer.message
    document = map_document(answer.map_html)
    assert_inert(document, [SVG, IMG, SCRIPT])
    shown = display_name(name)  # shortened in the middle, the markup kept
    assert shown.startswith("<svg onload=") and f"Your upload: {shown}" in popup_strings(document)


class TextAndTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def rendered(markdown: str) -> TextAndTags:
    """Markdown -> HTML as a CommonMark renderer with raw HTML on would show it -> tags, text."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    parser = TextAndTags()
    parser.feed(md.render(markdown))
    parser.close()
    return parser


@pytest.mark.parametrize(
    "query",
    [
        HOSTILE_QUERY, QUOTES, "# heading | a | b |", "1. item", "> quote `code` ~~s~~",
        "see www.evil.example or me@evil.example", "a$$x$$b &amp; &lt;b&gt; \\(y\\)",
    ],
)  # fmt: skip
def test_status_line_shows_the_query_as_typed(explorer, query):
    answer = explorer.text_search(query, "both", 3)
    assert answer.ok, answer.message
    assert " ".join(query.split()) in answer.message
    source = status_md(answer)
    out = rendered(source)
    assert out.tags == ["p"], out.tags  # one paragraph: no image, link, heading, list, code
    assert "".join(out.text).strip() == f"✅ {answer.message}"  # exactly what was typed
    # Gradio's Markdown also autolinks bare URLs (GFM) and typesets $$...$$ (KaTeX): neither
    # may find its trigger in the source.
    for trigger in ("://", "www.", "$$"):
        assert trigger not in source


def test_status_line_shows_a_hostile_upload_name_as_typed(explorer, tmp_path):
    name = "<img src=x onerror=alert(1)> ![t](t.png) **b** `c`.tif"  # no '/': a file name
    bad = tmp_path / "upload.tif"
    bad.write_text("not a GeoTIFF")
    answer = explorer.upload_search(bad, "both", 3, filename=name)
    assert not answer.ok
    out = rendered(status_md(answer))
    assert out.tags == ["p"], out.tags
    text = "".join(out.text).strip()
    assert text == f"⚠️ {answer.message}" and name in text  # the visible text, not elements


# --- the running app in headless Chromium ------------------------------------------------------
TIMEOUT_MS = 60_000
THUMB = ".gallery-container .gallery-item img"


@pytest.fixture(scope="module")
def page(browser, hostile_corpus) -> Iterator[object]:
    with running_app(hostile_corpus) as url:
        page = new_page(browser, {"width": 1400, "height": 1600}, TIMEOUT_MS, url)
        yield page
        page.context.close()


def not_pwned(page) -> None:
    for frame in page.frames:
        assert frame.evaluate("typeof window.__pwned") == "undefined", frame.url
        count = frame.evaluate("document.querySelectorAll('img[src=\"x\"], svg[onload]').length")
        assert count == 0, frame.url
    assert page.recorder.dialogs == []
    assert not [u for u in page.recorder.blocked + page.recorder.allowed if EVIL_HOST in u]


@pytest.mark.browser
@pytest.mark.slow
def test_payloads_stay_text_in_the_running_app(page):
    tab = page.locator("[role=tabpanel]:visible")
    # every record on screen: some of them are tiles of one scene, which grouping would fold
    tab.locator("#group-scenes input").uncheck()
    tab.get_by_label("Describe what you are looking for").fill(HOSTILE_QUERY)
    tab.get_by_role("button", name="Search", exact=True).click()

    # Status line: the query as typed, and no element made from it.
    status = tab.locator("[data-testid=markdown]", has_text="results for")
    status.wait_for()
    assert " ".join(HOSTILE_QUERY.split()) in status.inner_text()
    assert status.locator("img, a, script, svg, strong, code, .katex").count() == 0

    # Gallery captions and table cells show the labels, places and ids literally.
    page.wait_for_function(
        "([sel, n]) => { const imgs = [...document.querySelectorAll(sel)];"
        " return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0); }",
        arg=[THUMB, N_RECORDS],
    )
    captions = " ".join(tab.locator(".gallery-item .caption-label").all_inner_texts())
    for payload in (IMG, SCRIPT, SVG, IFRAME_BREAK):
        assert payload in captions
    grid = tab.locator("[role=grid]").inner_text()
    for payload in (SCRIPT, SVG, HOSTILE_ID):
        assert payload in grid

    # Map: open every marker's popup (and tooltip); each shows its strings as text.
    frame = tab.locator("iframe").element_handle().content_frame()
    frame.wait_for_function(
        "n => window.L && document.querySelectorAll('.closp-marker').length === n", arg=N_RECORDS
    )
    popups = []
    for i in range(N_RECORDS):
        marker = frame.locator(".closp-marker").nth(i)
        # Events on the element itself: S1/S2 pairs share a footprint, so markers overlap.
        marker.dispatch_event("mouseover")
        marker.dispatch_event("click")
        popup = frame.locator(".leaflet-popup .closp-popup")
        popup.wait_for()
        popups.append(popup.inner_text())
        assert popup.locator("script, svg, iframe").count() == 0
        thumb = popup.locator("img")
        assert thumb.count() == 1  # the thumbnail only, and it loads (ids name the files)
        frame.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=thumb.element_handle())
        frame.evaluate("() => { map_closp.closePopup(); }")  # returns nothing to serialise
        frame.wait_for_function("() => !document.querySelector('.leaflet-popup')")  # faded out
    text = "\n".join(popups)
    for payload in (SCRIPT, IFRAME_BREAK, QUOTES, SVG, HOSTILE_ID):
        assert payload in text
    page.wait_for_timeout(300)  # give any injected handler the chance to run before checking
    not_pwned(page)
