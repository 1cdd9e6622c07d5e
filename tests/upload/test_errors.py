"""How uploads are named in messages (`closp_demo.upload.errors.display_name`)."""

from __future__ import annotations

from closp_demo.upload.errors import display_name


def test_display_name_strips_paths_controls_and_long_names():
    assert display_name("../../etc/passwd.tif") == "passwd.tif"
    assert display_name("C:\\Users\\me\\scene.tif") == "scene.tif"
    assert display_name("a\u202egnp.tif\x00\n") == "agnp.tif"
    assert display_name("") == display_name("///") == "upload"
    long = display_name("y" * 300 + ".tif")
    assert len(long) == 60 and long.endswith(".tif") and "…" in long
    assert display_name("<b>'x'</b>.tif") == "b>.tif"  # raw, no escaping here
