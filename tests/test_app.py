"""The running Gradio app, driven through gradio_client on localhost (no mocks)."""

from pathlib import Path

import pytest
import rasterio
from gradio_client import Client, handle_file
from rasterio.transform import from_bounds

from closp_demo.corpus.sources import bigearthnet

pytestmark = pytest.mark.slow


def test_text_query_returns_ranked_s1_and_s2(app_url):
    client = Client(app_url, verbose=False)
    rows = client.predict("a lake", "both", 10, api_name="/search")
    assert len(rows) == 10
    assert [r["rank"] for r in rows] == list(range(1, 11))
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert "Water" in rows[0]["labels"]
    s1 = client.predict("a lake", "S1", 5, api_name="/search")
    assert {r["sensor"] for r in s1} == {"S1"}


def test_empty_query_is_a_clear_error_and_app_keeps_serving(app_url):
    client = Client(app_url, verbose=False)
    with pytest.raises(Exception, match="Type a description"):
        client.predict("   ", "both", 5, api_name="/search")
    assert len(client.predict("forest", "S2", 3, api_name="/search")) == 3


def _write_patch(path, record):
    minx, miny, maxx, maxy = record.bounds
    with rasterio.open(
        path, "w", driver="GTiff", width=120, height=120, count=record.image.shape[0],
        dtype="float32", crs=record.crs, transform=from_bounds(minx, miny, maxx, maxy, 120, 120),
    ) as dst:  # fmt: skip
        dst.write(record.image)


@pytest.mark.parametrize("sensor", ["S2", "S1"])
def test_upload_a_real_patch_finds_its_neighbours(app_url, samples_dir, tmp_path, sensor):
    record = next(
        r
        for r in bigearthnet.iter_records(samples_dir)
        if r.sensor == sensor and "Water" in r.labels
    )
    path = tmp_path / f"{record.image_id}.tif"
    _write_patch(path, record)
    client = Client(app_url, verbose=False)
    status, _preview, _notes, gallery, map_html, table = client.predict(
        handle_file(str(path)), "both", 8, api_name="/upload"
    )
    assert "✅" in status and sensor in status
    # plain text for API clients: the (shortened) file name as it is, no Markdown escapes
    assert path.name[:20] in status and "\\" not in status
    assert len(gallery) == 8
    ids = [row[-1] for row in table["data"]]
    assert record.image_id in ids[:3]  # the patch itself is in the corpus: it must come back first
    assert "iframe" in map_html and "srcdoc" in map_html


def test_band_files_upload_as_a_list_and_a_wrong_mix_gets_a_message(app_url, samples_dir):
    from tests.helpers.products import ssl4eo_band_files

    files = ssl4eo_band_files(samples_dir, "s2a")
    client = Client(app_url, verbose=False)
    status, _preview, notes, gallery, _map, _table = client.predict(
        [handle_file(str(f)) for f in files], "both", 4, api_name="/upload"
    )
    assert "✅" in status and "S2 L2A" in status and "12 bands from 12 files" in notes
    assert "\\" not in status + notes
    assert len(gallery) == 4
    with pytest.raises(Exception, match="is missing"):  # refused as every endpoint refuses
        client.predict([handle_file(str(f)) for f in files[:-1]], "both", 4, api_name="/upload")


@pytest.mark.parametrize(
    ("value", "what"),
    [("/etc/passwd", "a bare string"), (42, "type int"), ([{"x": 1}], "not an uploaded file")],
)
def test_wrong_upload_shapes_from_api_clients_get_a_message(app_url, value, what):
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    with pytest.raises(AppError, match="must be a file or a list of files") as err:
        client.predict(value, "both", 3, api_name="/upload")
    assert what in str(err.value)


def test_a_bad_upload_gets_a_message_and_the_app_keeps_serving(app_url, tmp_path):
    bad = tmp_path / "notes.tif"
    bad.write_text("this is not a GeoTIFF")
    client = Client(app_url, verbose=False)
    with pytest.raises(Exception, match="TIFF"):
        client.predict(handle_file(str(bad)), "both", 5, api_name="/upload")
    assert len(client.predict("river", "both", 3, api_name="/search")) == 3


def test_app_refuses_a_corpus_built_with_another_encoder(small_corpus, tmp_path):
    import json
    import shutil
    import subprocess
    import sys

    from tests.helpers.app_server import REPO_ROOT

    corpus = tmp_path / "other"
    shutil.copytree(small_corpus, corpus)
    manifest = json.loads((corpus / "manifest.json").read_text())
    manifest["encoder"]["version"] = "0-other"
    (corpus / "manifest.json").write_text(json.dumps(manifest))
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py"), "--corpus", str(corpus),
         "--encoder", "physics-minilm"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode != 0
    assert "cannot start" in out.stderr and "rebuild the corpus" in out.stderr
    assert "Traceback" not in out.stderr


def test_api_search_near_a_place(app_url):
    client = Client(app_url, verbose=False)
    rows = client.predict("forest", "both", 8, "within", 61.0, 25.0, 500, 0.5, api_name="/search")
    assert rows and all(r["km from place"] <= 500 for r in rows)
    assert {r["place"] for r in rows} == {"Finland"}
    with pytest.raises(Exception, match="Latitude must be between"):
        client.predict("forest", "both", 8, "within", 99.0, 25.0, 500, 0.5, api_name="/search")


def test_detail_api_returns_twin_breakdown_and_composite_files(app_url):
    client = Client(app_url, verbose=False)
    rows = client.predict("a lake", "S2", 20, api_name="/search")
    for row in rows:  # the first S2 result that has an S1 twin in the corpus
        info, files = client.predict(row["id"], "a lake", api_name="/detail")
        if info["twin_how"] == "twin":
            break
    assert info["image_id"] == row["id"] and info["twin_id"].startswith("ben-s1-")
    parts = info["evidence_breakdown"]["classes"]
    total = sum(c["contribution"] for c in parts)
    # 10 contributions rounded to 1e-6 each
    assert total == pytest.approx(info["evidence_breakdown"]["score"], abs=1e-5)
    assert len(files) == len(info["composites"]) == 6 + 4  # S2 + S1 composites
    assert all(Path(f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in files)


@pytest.mark.parametrize("image_id", ["nope", "<script>alert(1)</script>", "x" * 400])
def test_detail_api_hostile_ids_get_a_clear_message(app_url, image_id):
    client = Client(app_url, verbose=False)
    with pytest.raises(Exception, match="image id|No image with id"):
        client.predict(image_id, "", api_name="/detail")


# Every public endpoint, documented in the README's API reference; nothing unnamed or stray.
PUBLIC_ENDPOINTS = {"/search", "/search_session", "/upload", "/more_like_this", "/detail",
                    "/heatmap", "/export", "/read_query"}  # fmt: skip


def test_api_lists_only_the_documented_endpoints(app_url):
    api = Client(app_url, verbose=False).view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == PUBLIC_ENDPOINTS
    assert not api["unnamed_endpoints"]


def test_search_api_filters_and_groups(app_url):
    client = Client(app_url, verbose=False)
    rows = client.predict(
        "forest", "both", 8, "off", None, None, 250, 0.5, "bigearthnet", "2017-06-01",
        "2017-08-31", "Water", "drop", "", False, api_name="/search",
    )  # fmt: skip
    assert len(rows) == 8
    assert all("Water" in r["labels"] and "2017-06-01" <= r["date"] <= "2017-08-31" for r in rows)
    grouped = client.predict("forest", "both", 8, group=True, api_name="/search")
    assert len(grouped) == 8 and "more from this scene" in grouped[0]
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        client.predict("forest", "both", 8, date_from="<b>x</b>", api_name="/search")


def test_more_like_this_crosses_sensors(app_url):
    client = Client(app_url, verbose=False)
    seed = client.predict("a lake", "S1", 1, api_name="/search")[0]
    rows = client.predict(seed["id"], "S2", 5, api_name="/more_like_this")
    assert len(rows) == 5 and {r["sensor"] for r in rows} == {"S2"}
    same = client.predict(seed["id"], "both", 5, api_name="/more_like_this")
    assert seed["id"] not in [r["id"] for r in same]
    with pytest.raises(Exception, match="no image"):
        client.predict("<img src=x>", "both", 5, api_name="/more_like_this")


def test_heatmap_api_scores_each_window_of_a_real_scene(app_url, samples_dir, tmp_path):
    client = Client(app_url, verbose=False)
    scene = samples_dir / "sen1floods11" / "Spain_7370579_S1Hand.tif"  # 512 x 512 px
    info, png = client.predict(handle_file(str(scene)), "flooded area", api_name="/heatmap")
    assert info["grid"] == [4, 4] and len(info["windows"]) == 16 and info["sensor"] == "S1"
    assert all(isinstance(v, float) for row in info["scores"] for v in row)
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = tmp_path / "x.tif"
    bad.write_text("<script>alert(1)</script>")
    with pytest.raises(Exception, match="TIFF"):
        client.predict(handle_file(str(bad)), "a lake", api_name="/heatmap")


def test_export_api_writes_csv_geojson_and_zip(app_url):
    import csv
    import json
    import zipfile
    from pathlib import Path

    from tests.helpers.geojson_check import check_feature_collection

    client = Client(app_url, verbose=False)
    rows = client.predict("a lake", "both", 5, api_name="/search")
    search = ("a lake", "both", 5, "off", None, None, 250, 0.5, False, [], "", "", [], "keep", "")
    with open(client.predict(*search, "csv", api_name="/export"), newline="") as f:
        exported = list(csv.DictReader(f))
    assert [r["id"] for r in exported] == [r["id"] for r in rows]
    doc = json.loads(Path(client.predict(*search, "geojson", api_name="/export")).read_text())
    assert check_feature_collection(doc) == [] and len(doc["features"]) == 5
    with zipfile.ZipFile(client.predict(*search, "zip", api_name="/export")) as zf:
        assert sum(n.startswith("thumbnails/") for n in zf.namelist()) == 5
    with pytest.raises(Exception, match="Unknown export format"):
        client.predict(*search, "<b>xlsx</b>", api_name="/export")


def test_read_query_says_how_the_model_read_it(app_url):
    client = Client(app_url, verbose=False)
    lake = client.predict("a lake", api_name="/read_query")
    assert lake["in_scope"] is True and max(lake["classes"], key=lake["classes"].get) == "Water"
    assert lake["message"].startswith("Read as") and len(lake["nearest_terms"]) == 3
    odd = client.predict("airport runway", api_name="/read_query")
    assert odd["in_scope"] is False and odd["scope_score"] < odd["threshold"]
    assert "outside what the model can see" in odd["message"]
    with pytest.raises(Exception, match="Type a description"):
        client.predict("  ", api_name="/read_query")
    assert len(client.predict("forest", "S2", 3, api_name="/search")) == 3  # /search unchanged
