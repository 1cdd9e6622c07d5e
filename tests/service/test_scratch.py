"""The scratch folder keeps only the newest answers' folders of each kind (bounded disk)."""

from __future__ import annotations

import os

from closp_demo.service.scratch import Scratch


def test_only_the_newest_folders_of_a_kind_stay():
    scratch = Scratch(keep=3)
    made = []
    for i in range(7):
        folder = scratch.fresh_folder("detail")
        (folder / "image.png").write_bytes(b"png")
        os.utime(folder, ns=(i * 10**9, i * 10**9))  # distinct ages whatever the clock's grain
        made.append(folder)
    other = scratch.fresh_folder("exports")  # another kind is counted apart
    assert sorted(p.name for p in (scratch.root / "detail").iterdir()) == sorted(
        p.name for p in made[-3:]
    )
    assert [p.exists() for p in made] == [False] * 4 + [True] * 3
    assert other.is_dir() and scratch.uploads.is_dir()
    scratch.cleanup()
    assert not scratch.root.exists()


def test_a_fresh_folder_is_never_the_one_removed_even_when_its_elders_look_as_new():
    scratch = Scratch(keep=1)
    future = 4 * 10**18  # elders with a later mtime than the new folder's
    for _ in range(5):
        folder = scratch.fresh_folder("heat")
        assert folder.is_dir() and list((scratch.root / "heat").iterdir()) == [folder]
        os.utime(folder, ns=(future, future))
    scratch.cleanup()


def test_forgetting_previews_removes_only_upload_previews(tmp_path):
    scratch = Scratch()
    mine = scratch.uploads / "a.webp"
    mine.write_bytes(b"webp")
    answer = scratch.fresh_folder("exports") / "a.webp"
    answer.write_bytes(b"zip")
    elsewhere = tmp_path / "a.webp"
    elsewhere.write_bytes(b"corpus thumbnail")
    scratch.forget_previews([str(mine), str(answer), str(elsewhere), str(scratch.uploads / "x")])
    assert not mine.exists() and answer.exists() and elsewhere.exists()
    scratch.cleanup()
