"""Every benchmark runs at a tiny size and writes its section (no timing assertions: benchmarks
are scripts, their figures live in BENCHMARKS.md)."""

from __future__ import annotations

import re

import pytest

from bench import run_all
from bench.common import md_table, p50_p95, percentile
from bench.workload import distinct_captions, distinct_queries


def _section(path, name: str) -> str:
    text = path.read_text()
    m = re.search(rf"<!-- {name}:start -->(.*?)<!-- {name}:end -->", text, re.S)
    assert m, f"section {name} missing from {path}"
    return m.group(1)


def _run(name: str, tmp_path) -> str:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\nHand-written intro stays.\n")
    assert run_all.main(["--tiny", "--only", name, "--benchmarks", str(out),
                         "--cache", str(tmp_path / "cache")]) == 0  # fmt: skip
    assert "Hand-written intro stays." in out.read_text()
    body = _section(out, name.replace("_", "-"))
    assert f"python -m bench.{name} " in body  # the exact command is recorded
    assert "CPUs" in body  # machine line
    return body


def test_workloads_are_distinct_and_deterministic():
    queries = distinct_queries(300)
    assert len({q.lower() for q in queries}) == 300
    assert queries == distinct_queries(300)
    captions = distinct_captions(500)
    assert len(set(captions)) == 500
    assert not set(captions) & set(queries)
    with pytest.raises(ValueError, match="distinct queries"):
        distinct_queries(10**7)


def test_percentiles_and_tables():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert p50_p95(list(range(101))) == (50, 95)
    table = md_table(["a", "b"], [[1, 0.5], ["x", float("nan")]])
    assert table.splitlines()[2] == "| 1 | 0.5 |"
    assert "–" in table


def test_query_latency_smoke(tmp_path):
    body = _run("query_latency", tmp_path)
    for part in ("tokenise + encode", "search", "map HTML", "total server-side"):
        assert part in body
    assert "peak RSS" in body


@pytest.mark.slow
def test_index_scale_smoke(tmp_path):
    body = _run("index_scale", tmp_path)
    main_table = body.split("Server-side query at N")[0]
    rows = [ln for ln in main_table.splitlines() if ln.startswith(("| physics", "| generic"))]
    assert any("Flat (exact)" in r for r in rows)
    assert any("IVF-Flat" in r for r in rows) and any("HNSW-Flat" in r for r in rows)
    # exact search has recall 1 against exact search (ties counted), whatever the machine
    flat = [r for r in rows if "Flat (exact)" in r and "| 1,500 |" in r]
    assert flat and all("| 1.000 | 1.000 | 1.000 / 1.000 |" in r for r in flat)
    assert "Server-side query at N" in body and "Probe-breadth sweep" in body


@pytest.mark.slow
@pytest.mark.browser
def test_browser_latency_smoke(tmp_path):
    pytest.importorskip("playwright")
    from tests.helpers.browser import CHROMIUM, CHROMIUM_MISSING

    if CHROMIUM is None:
        pytest.skip(CHROMIUM_MISSING)
    body = _run("browser_latency", tmp_path)
    for part in ("queue join", "answer delivered", "every thumbnail loaded", "thumbnail fetches"):
        assert part in body
    assert "| **Enter → every thumbnail loaded** |" in body and "| 2 |" in body


@pytest.mark.slow
def test_upload_latency_smoke(tmp_path):
    body = _run("upload_latency", tmp_path)
    assert "| 120 x 120 |" in body and "| 300 x 300 |" in body
    assert "S2 L2A" in body


@pytest.mark.slow
def test_tile_raster_smoke(tmp_path):
    body = _run("tile_raster", tmp_path)
    assert "500 x 500 x 12" in body
    assert "4 x 4" in body  # 500 px -> 4 windows of 120 per side


@pytest.mark.slow
def test_cold_start_smoke(tmp_path):
    body = _run("cold_start", tmp_path)
    for phase in (
        "import gradio",
        "Explorer()",
        "class prototypes (MiniLM load)",
        "first text_search",
        "http_200_s",
        "first_search_s",
        "build_ui (Blocks)",
        "launch (server up)",
    ):
        assert phase in body


@pytest.mark.slow
def test_text_backends_smoke(tmp_path):
    body = _run("text_backends", tmp_path)
    rows = {ln.split("|")[1].strip().split(",")[0]: ln for ln in body.splitlines()
            if ln.startswith("| ")}  # fmt: skip
    assert set(rows) >= {"onnx", "torch"}
    # which modules each backend imports is a fact, not a timing
    assert ") | – |" in rows["onnx"] and "torch, transformers" in rows["torch"]
    assert "| 1.0x |" in rows["onnx"]  # ratios are to onnx


def test_export_bench_smoke(tmp_path):
    body = _run("export", tmp_path)
    assert "| zip | 5 |" in body


def test_disk_smoke(tmp_path):
    body = _run("disk", tmp_path)
    assert "| heat | 3 |" in body and "| upload previews (one session) | 1 |" in body


def test_query_reading_smoke(tmp_path):
    assert "read_and_embed - encode_text" in _run("query_reading", tmp_path)


@pytest.mark.slow
def test_grouping_smoke(tmp_path):
    body = _run("grouping", tmp_path)
    assert "Distinct source scenes in the top 12" in body
    assert "| grouped + filtered (labelled) |" in body


def test_grouping_at_scale_smoke(tmp_path):
    from bench import grouping

    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n")
    args = ["--vectors", "3000", "--augment", "1", "--cache", str(tmp_path / "cache")]
    assert grouping.main([*args, "--benchmarks", str(out)]) == 0
    body = _section(out, "grouping-scale-3000")
    assert "python -m bench.grouping --vectors 3000" in body and "3,000 vectors" in body
    main_table = body.split("IVF lists probed")[0]
    rows = [
        ln for ln in main_table.splitlines() if ln.startswith(("| plain", "| grouped", "| filt"))
    ]
    assert len(rows) == 8 and all(r.endswith("| 0 / 71 |") for r in rows)  # k results each


def test_grouping_at_scale_on_the_generic_set_smoke(tmp_path):
    from bench import grouping

    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n")
    args = ["--vectors", "2000", "--set", "generic", "--anchors", "40", "--cache",
            str(tmp_path / "cache")]  # fmt: skip
    assert grouping.main([*args, "--benchmarks", str(out)]) == 0
    body = _section(out, "grouping-scale-2000-generic")
    assert "(generic set)" in out.read_text() and "2,000 vectors (generic set" in body
    assert "| plain | 2,000 |" in body


@pytest.mark.slow
def test_detail_budgets_smoke(tmp_path):
    body = _run("detail_budgets", tmp_path)
    steps = ("| open a detail view", "| occlusion map, one 120×120 S1", "| heat map, 2000×2000")
    for step in steps:
        assert step in body


@pytest.mark.slow
def test_upload_layouts_smoke(tmp_path):
    body = _run("upload_layouts", tmp_path)
    for case in ("| 12 band files", "| zipped S2 L2A .SAFE", "| zipped S1 GRD .SAFE"):
        assert case in body
