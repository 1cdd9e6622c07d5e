"""The upload box is drawn by gr.File's frontend with the props it was built with, and its
preprocess takes one file or a list and refuses anything else with a message."""

from __future__ import annotations

import gradio as gr
import pytest
from gradio.data_classes import FileData

from closp_demo.ui.upload_box import UploadFiles

FILE_TYPES = [".tif", ".tiff", ".jp2", ".zip"]


def _box() -> UploadFiles:
    return UploadFiles(label="GeoTIFF", file_count="multiple", file_types=FILE_TYPES,
                       type="filepath")  # fmt: skip


def test_browser_gets_file_frontend_and_its_props():
    with gr.Blocks() as demo:
        box = _box()
    config = next(c for c in demo.get_config_file()["components"] if c["id"] == box._id)
    assert config["type"] == "file"  # a name with no frontend draws nothing at all
    assert config["props"]["file_types"] == FILE_TYPES
    assert config["props"]["file_count"] == "multiple"
    assert config["props"]["label"] == "GeoTIFF"


def test_one_file_or_a_list_become_paths(tmp_path):
    tif = tmp_path / "a.tif"
    tif.write_bytes(b"II*\x00")
    with gr.Blocks():
        box = _box()
    one = box.preprocess(box.data_model(FileData(path=str(tif))))
    many = box.preprocess(box.data_model([FileData(path=str(tif)), FileData(path=str(tif))]))
    assert len(one) == 1 and len(many) == 2
    assert box.preprocess(None) is None


@pytest.mark.parametrize("payload", ["/etc/passwd", {"name": "x"}, 3, ["ok", 4]])
def test_wrong_shapes_are_refused_with_a_message(payload):
    with gr.Blocks():
        box = _box()
    with pytest.raises(gr.Error, match="must be a file or a list of files"):
        box.preprocess(box.data_model(payload))
