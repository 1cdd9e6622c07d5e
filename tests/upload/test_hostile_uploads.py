"""Hostile band-file and ZIP uploads: each refused with its own message, valid ones read, memory
flat over repeated rounds (`tests.helpers.hostile_uploads`)."""

from __future__ import annotations

import resource
from pathlib import Path

from closp_demo.upload.scene import UploadError, read_uploads
from tests.helpers.hostile_uploads import UPLOAD_LIMITS, write_hostile_uploads


def _run(cases) -> list[str]:
    failures = []
    for case in cases:
        try:
            scene = read_uploads(case.paths, UPLOAD_LIMITS)
        except UploadError as exc:
            if case.expected is None or case.expected not in str(exc):
                failures.append(f"{case.label}: want {case.expected!r}, got {exc}")
            continue
        except Exception as exc:  # a raw exception escaping is the worst failure
            failures.append(f"{case.label}: raw {type(exc).__name__}: {exc}")
            continue
        if case.expected is not None:
            failures.append(f"{case.label}: want {case.expected!r}, but it was read")
        elif not (scene.tiles and all(t.image.shape[1:] == (120, 120) for t in scene.tiles)):
            failures.append(f"{case.label}: read without tiles")
    return failures


def test_hostile_uploads_each_give_their_message_and_memory_stays_flat(tmp_path: Path):
    cases = write_hostile_uploads(tmp_path / "hostile")
    refused = [c for c in cases if c.expected is not None]
    assert len(refused) >= 25
    assert len({c.expected for c in refused}) >= 25  # specific messages, not one catch-all
    assert not _run(cases), "\n".join(_run(cases))
    rss = []
    for _ in range(3):  # repeated hostile rounds: the peak must not keep climbing
        assert not _run(refused)
        rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    assert rss[-1] - rss[0] < 100e6, f"peak RSS grew {(rss[-1] - rss[0]) / 1e6:.0f} MB"


def test_no_member_of_a_zip_is_extracted(tmp_path: Path):
    cases = {c.label: c for c in write_hostile_uploads(tmp_path / "h")}
    zip_case = cases["flat ZIP of band files"]
    before = set((tmp_path / "h").rglob("*"))
    read_uploads(zip_case.paths, UPLOAD_LIMITS)
    assert set((tmp_path / "h").rglob("*")) == before
