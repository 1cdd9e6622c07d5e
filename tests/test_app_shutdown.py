"""The app stopped as a Space stops it (SIGTERM) leaves nothing in the temporary folder."""

from __future__ import annotations

import pytest

from tests.helpers.app_server import running_app

pytestmark = pytest.mark.slow


def test_sigterm_removes_the_scratch_folder(small_corpus, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with running_app(small_corpus, env={"TMPDIR": str(tmp)}):
        scratch = list(tmp.glob("closp-explorer-*"))
        assert len(scratch) == 1 and (scratch[0] / "uploads").is_dir()
    # running_app sent SIGTERM and waited for the process to end.
    assert not scratch[0].exists()
