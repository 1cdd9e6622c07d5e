"""Session isolation in the running app: one visitor's upload never reaches another's results.

Two gradio_client sessions (two Client objects) talk to one app at the same time. Session A
uploads a real BigEarthNet patch as a GeoTIFF; its later text searches ("/search_session", the
search that includes the session's own uploads) rank the upload as "your upload". Session B,
querying concurrently all along, never sees it, nor does a session opened afterwards or the
public "/search" endpoint; and the shared corpus on disk is byte-for-byte unchanged.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import rasterio
from gradio_client import Client, handle_file
from rasterio.transform import from_bounds

from closp_demo.corpus.records import ImageRecord
from closp_demo.corpus.sources import bigearthnet
from closp_demo.corpus.store import load_corpus, sha256_file
from tests.helpers.app_server import running_app

pytestmark = pytest.mark.slow

UPLOAD_ORIGIN = "your upload"
QUERY = "a lake surrounded by forest"
TIMEOUT_S = 120


def write_patch(path: Path, record: ImageRecord) -> Path:
    minx, miny, maxx, maxy = record.bounds
    bands, height, width = record.image.shape
    with rasterio.open(
        path, "w", driver="GTiff", width=width, height=height, count=bands, dtype="float32",
        crs=record.crs, transform=from_bounds(minx, miny, maxx, maxy, width, height),
    ) as dst:  # fmt: skip
        dst.write(record.image)
    return path


def corpus_snapshot(root: Path) -> dict[str, str]:
    """Every file under the corpus folder -> its sha256 (new, removed or changed files show)."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): sha256_file(p) for p in files}


def client(url: str) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


def markdown_text(source: str) -> str:
    """Markdown source with backslash escapes removed (the status line escapes user text)."""
    return re.sub(r"\\(.)", r"\1", source)


def uploads_in(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["source"] == UPLOAD_ORIGIN]


@pytest.fixture(scope="module")
def corpus_before(small_corpus) -> dict[str, str]:
    return corpus_snapshot(small_corpus)


@pytest.fixture(scope="module")
def app_url(small_corpus, corpus_before):
    with running_app(small_corpus) as url:
        yield url


def test_an_upload_stays_in_its_own_session(
    app_url, small_corpus, corpus_before, samples_dir, tmp_path
):
    k = 12
    a, b = client(app_url), client(app_url)
    assert a.session_hash != b.session_hash
    try:
        # Before any upload, both sessions see the same corpus results.
        before = [s.predict(QUERY, "S2", k, api_name="/search_session") for s in (a, b)]
        assert before[0] == before[1] and len(before[0]) == k and not uploads_in(before[0])
        # A uploads the corpus's best match for the query itself (a real patch, written as a
        # GeoTIFF): with the same embedding it must rank next to its twin, inside A's top k.
        top_id = before[0][0]["id"]
        record = next(r for r in bigearthnet.iter_records(samples_dir) if r.image_id == top_id)
        name = "session-a upload.tif"
        tif = write_patch(tmp_path / name, record)

        # B keeps querying while A uploads and searches.
        b_rows: list[list[dict]] = []
        stop = threading.Event()

        def b_keeps_searching() -> int:
            n = 0
            while not stop.is_set() or n < 3:
                b_rows.append(b.predict(QUERY, "S2", k, api_name="/search_session"))
                n += 1
            return n

        with ThreadPoolExecutor(max_workers=1) as pool:
            b_loop = pool.submit(b_keeps_searching)
            try:
                status, *_ = a.predict(handle_file(str(tif)), "S2", 5, api_name="/upload")
                a_rows = a.predict(QUERY, "S2", k, api_name="/search_session")
            finally:
                stop.set()  # B's loop ends even when A's calls fail
            assert b_loop.result(timeout=TIMEOUT_S) >= 3
        assert status.startswith("✅"), status
        assert name in markdown_text(status)

        # The same request from both sessions at the same moment.
        job_a = a.submit(QUERY, "S2", k, api_name="/search_session")
        job_b = b.submit(QUERY, "S2", k, api_name="/search_session")
        a_again, b_again = job_a.result(timeout=TIMEOUT_S), job_b.result(timeout=TIMEOUT_S)
    finally:
        a.close()
        b.close()

    corpus_ids = [r["id"] for r in before[0]]
    for rows in (a_rows, a_again):
        mine = uploads_in(rows)
        assert len(rows) == k and len(mine) == 1, rows
        assert mine[0]["id"] == f"upload:{name}" and mine[0]["place"] == name
        assert mine[0]["rank"] <= 2  # next to its twin, the corpus's rank 1
        assert mine[0]["score"] == pytest.approx(before[0][0]["score"], abs=1e-3)
        # Otherwise the same ranking, shifted by the one upload.
        assert [r["id"] for r in rows if r not in mine] == corpus_ids[: k - 1]
    for rows in [*b_rows, b_again]:
        assert rows == before[1]  # B's answers never change while A uploads

    # A session opened afterwards, and the public endpoint (no session overlay), see no upload.
    c = client(app_url)
    try:
        assert c.predict(QUERY, "S2", k, api_name="/search_session") == before[0]
        assert c.predict(QUERY, "S2", k, api_name="/search") == before[0]
    finally:
        c.close()

    # The shared corpus is untouched: same files, same bytes, index rows = manifest count.
    assert corpus_snapshot(small_corpus) == corpus_before
    corpus = load_corpus(small_corpus)  # re-verifies every checksum listed in the manifest
    assert corpus.index.ntotal == corpus.manifest["count"] == len(corpus.metadata)
