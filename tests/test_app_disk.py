"""What the running app leaves on disk: Gradio's copies of uploads and of the files it sends are
swept by age (CLOSP_FILE_HOURS), and a stop by SIGTERM (as a Space stops) removes the rest."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from tests.helpers.app_server import running_app

pytestmark = pytest.mark.slow


def files_in(folder: Path) -> list[Path]:
    """Files with content (Gradio leaves one empty temporary file of its own at start-up)."""
    found = []
    for root, _dirs, names in os.walk(folder):  # the sweep may remove a file meanwhile
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                if (path := Path(root) / name).stat().st_size:
                    found.append(path)
    return found


def test_gradio_files_are_swept_by_age_and_the_app_keeps_serving(
    small_corpus, samples_dir, tmp_path
):
    cache = tmp_path / "gradio"
    scene = samples_dir / "sen1floods11" / "Spain_7370579_S1Hand.tif"
    # 0.002 h = 7 s: files older than that go, swept every second.
    env = {"GRADIO_TEMP_DIR": str(cache), "CLOSP_FILE_HOURS": "0.002"}
    with running_app(small_corpus, env=env) as url:
        client = Client(url, verbose=False)
        status, *_, gallery, _map, _table = client.predict(
            handle_file(str(scene)), "both", 4, api_name="/upload"
        )
        assert "✅" in status and len(gallery) == 4
        names = {p.name for p in files_in(cache)}
        assert scene.name in names and any(n.endswith(".webp") for n in names)  # upload, thumbs
        deadline = time.monotonic() + 90
        while files_in(cache) and time.monotonic() < deadline:
            time.sleep(1)
        assert files_in(cache) == []
        assert len(client.predict("a lake", "both", 3, api_name="/search")) == 3


def test_sigterm_removes_the_scratch_folder_and_gradios_files(small_corpus, tmp_path):
    tmp, cache = tmp_path / "tmp", tmp_path / "gradio"
    tmp.mkdir()
    with running_app(small_corpus, env={"TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(cache)}) as url:
        scratch = list(tmp.glob("closp-explorer-*"))
        assert len(scratch) == 1 and (scratch[0] / "uploads").is_dir()
        client = Client(url, verbose=False)
        row = client.predict("a lake", "S2", 1, api_name="/search")[0]
        _info, files = client.predict(row["id"], "a lake", api_name="/detail")
        assert files and len(files_in(cache)) >= len(files)  # Gradio's copies of the composites
        assert files_in(scratch[0] / "detail")  # and the explorer's own
    # running_app sent SIGTERM and waited for the process to end.
    assert not scratch[0].exists()
    assert files_in(cache) == []
