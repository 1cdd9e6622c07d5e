"""The app's own browser code in assets/: it parses, it can be embedded safely, it is read once.

ESLint and stylelint (tools/lint, run by `run.sh test`) check the code itself; the parse check
here makes a syntax error fail pytest too, wherever node is installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from closp_demo.views import assets
from closp_demo.views.assets import ASSETS_DIR, INLINE, AssetMode, raw_text_safe, read_asset
from closp_demo.views.map import MapItem, map_document

NODE = shutil.which("node")
OWN_JS = sorted((ASSETS_DIR / "js").glob("*.js"))
OWN_CSS = sorted((ASSETS_DIR / "css").glob("*.css"))
# Gradio runs an event's `js` as one expression: `return (\n<code>\n);` (trailing ";" dropped)
EXPRESSION_JS = {"place-mode.js", "share-link.js", "present.js"}
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def node_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [NODE, "--check", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_own_code_is_where_the_app_expects_it():
    names = {p.name for p in OWN_JS} | {p.name for p in OWN_CSS}
    assert {"result-map.js", "place-from-map.js", "place-mode.js", "result-map.css"} <= names


@needs_node
@pytest.mark.parametrize("path", OWN_JS, ids=lambda p: p.name)
def test_each_asset_script_parses(path):
    result = node_check(path)
    assert result.returncode == 0, result.stderr


@needs_node
@pytest.mark.parametrize("name", sorted(EXPRESSION_JS))
def test_event_scripts_are_one_expression_as_gradio_runs_them(name, tmp_path):
    code = (ASSETS_DIR / "js" / name).read_text(encoding="utf-8").strip().rstrip(";")
    wrapped = tmp_path / name
    wrapped.write_text(f"(function () {{ return (\n{code}\n); }});\n", encoding="utf-8")
    result = node_check(wrapped)
    assert result.returncode == 0, result.stderr


@needs_node
def test_a_syntax_error_is_caught(tmp_path):
    broken = tmp_path / "broken.js"
    broken.write_text("window.f = function () { return [1, 2; };\n", encoding="utf-8")
    assert node_check(broken).returncode != 0


@pytest.mark.parametrize("path", OWN_JS + OWN_CSS, ids=lambda p: p.name)
def test_own_code_can_be_embedded_in_raw_text_elements(path):
    text = path.read_text(encoding="utf-8")
    raw_text_safe(text, "script" if path.suffix == ".js" else "style")


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("a = '</script>';", "script"),
        ("a = '</SCRIPT ';", "script"),
        ("a = 1; <!-- b", "script"),
        ("p::after { content: '</style>'; }", "style"),
    ],
)
def test_code_that_would_end_its_element_is_refused(text, tag):
    with pytest.raises(ValueError, match="cannot be inlined"):
        raw_text_safe(text, tag)


def test_files_are_read_once_per_process():
    served = AssetMode.from_prefix("/static/")
    for mode in (INLINE, served):
        map_document([], mode)
    before = read_asset.cache_info().misses
    for mode in (INLINE, served, INLINE, served):
        map_document([MapItem("a", "S2", [(0, 0), (1, 0), (1, 1)], "a")], mode)
    assert read_asset.cache_info().misses == before


def test_a_missing_asset_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(assets, "ASSETS_DIR", tmp_path)
    read_asset.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match=r"js/nope\.js is missing$"):
            read_asset("js/nope.js")
        with pytest.raises(FileNotFoundError, match="tools/vendor_assets.sh"):
            read_asset("vendor/leaflet/leaflet.js")
    finally:
        read_asset.cache_clear()
