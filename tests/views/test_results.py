"""Results -> gallery, table and map items (`closp_demo.views.results`): corpus images and an upload
take the same functions; the upload is converted to a `Result` once."""

from __future__ import annotations

from pathlib import Path

import pytest

from closp_demo.search.engine import Result
from closp_demo.upload.scene import read_upload
from closp_demo.views.results import (
    RADAR_CLOUDS,
    TABLE_COLUMNS,
    UPLOAD_ORIGIN,
    gallery_items,
    map_items,
    results_table,
    static_url,
    upload_result,
)
from tests.helpers.hostile_inputs import s2_dn, write_tif


@pytest.fixture(scope="module")
def upload(tmp_path_factory) -> Result:
    folder = tmp_path_factory.mktemp("upload")
    scene = read_upload(write_tif(folder / "my scene.tif", s2_dn(130, 250, seed=3)))
    return upload_result(scene, str(folder / "thumb.webp"))


def corpus_result(rank: int) -> Result:
    square = [(10.0, 45.0), (10.01, 45.0), (10.01, 45.01), (10.0, 45.01), (10.0, 45.0)]
    return Result(
        rank=rank, score=0.5, image_id=f"ben-{rank}", sensor="S1", source="bigearthnet",
        labels=("Water",), place="Austria", timestamp="2017-06-13T10:10:31Z", footprint=square,
        thumbnail=f"/corpus/{rank}.webp", evidence={"class_weights": {"Water": 0.8}},
    )  # fmt: skip


def test_an_upload_is_one_result_with_its_facts(upload):
    assert (upload.image_id, upload.place, upload.sensor) == ("upload:my scene.tif", "my scene.tif",
                                                              "S2")  # fmt: skip
    assert upload.origin == upload.source == UPLOAD_ORIGIN and upload.labels == ()
    assert upload.facts == {"sensor": "S2 L2A", "size": "250×130 px", "CRS": "EPSG:32633"}


def test_corpus_images_and_uploads_share_gallery_and_table(upload):
    upload.rank, upload.score = 2, 0.25  # as a later search of the session ranks it
    results = [corpus_result(1), upload]
    (_, first), (thumb, second) = gallery_items(results)
    assert thumb == upload.thumbnail
    assert first.startswith("#1 S1 · 0.500 · Water · Austria · 2017-06-13")
    assert second == "#2 S2 · 0.250 · your upload · my scene.tif · unknown date"
    table = results_table(results)
    assert list(table.columns) == TABLE_COLUMNS
    assert table.iloc[1].to_dict() == {
        "rank": 2, "score": 0.25, "sensor": "S2", "labels": "unlabelled",
        "place": "my scene.tif", "date": "unknown date", "source": UPLOAD_ORIGIN, "evidence": "",
        "id": "upload:my scene.tif",
    }  # fmt: skip


def test_the_map_draws_the_query_upload_then_the_ranked_results(upload):
    urls: list[str] = []

    def url(path: str) -> str:
        urls.append(path)
        return f"/files/{Path(path).name}"

    upload.rank, upload.score = 2, 0.25
    query, first, second = map_items([corpus_result(1), upload], url, query=upload)
    assert urls == [upload.thumbnail, "/corpus/1.webp", upload.thumbnail]
    assert (query.item_id, query.sensor, query.rank) == ("upload", "query", None)
    assert query.title == "Your upload: my scene.tif" and query.details == upload.facts
    assert query.thumbnail_url == "/files/thumb.webp"
    assert query.footprint == second.footprint == [tuple(p) for p in upload.footprint[:4]]
    assert (first.title, first.rank, first.details["evidence"]) == ("#1 ben-1", 1, "Water 80%")
    assert (second.item_id, second.sensor, second.rank) == ("upload:my scene.tif", "S2", 2)
    assert second.details["source"] == UPLOAD_ORIGIN and second.details["labels"] == "unlabelled"
    assert map_items([corpus_result(1)], url) == [first]  # no query: the results alone


def test_an_upload_keeps_the_acquisition_date_of_its_filename(tmp_path):
    name = "S2A_MSIL2A_20190915T105021_N0213_R051_T30SXH.tif"
    scene = read_upload(write_tif(tmp_path / name, s2_dn(130, 130, seed=4)))
    result = upload_result(scene, str(tmp_path / "thumb.webp"))
    assert result.timestamp.startswith("2019-09-15")
    ((_, text),) = gallery_items([result])
    assert text.endswith("2019-09-15")


def test_radar_results_say_clouds_do_not_affect_them(upload):
    radar, optical = map_items([corpus_result(1), upload], lambda path: None)
    assert radar.details["clouds"] == RADAR_CLOUDS and "radar sees through" in RADAR_CLOUDS
    assert "clouds" not in optical.details  # an optical image's evidence has its own cloud share


def test_static_urls_are_the_resolved_paths_however_often_asked(tmp_path, monkeypatch):
    """`static_url` caches its answers; they stay what resolving the path each time gives."""
    real = tmp_path / "real"
    (real / "thumbnails").mkdir(parents=True)
    (real / "thumbnails" / "a.webp").write_bytes(b"x")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    paths = ["link/thumbnails/a.webp", Path("link/thumbnails/a.webp"), "real/../link/./a.webp",
             str(tmp_path / "link" / "thumbnails" / "a.webp"), "missing/b.webp"]  # fmt: skip
    want = [f"/gradio_api/file={Path(p).resolve()}" for p in paths]
    for _ in range(2):  # the first call resolves, the second reads the cache
        assert [static_url(p) for p in paths] == want
    assert static_url(paths[0]) == f"/gradio_api/file={real / 'thumbnails' / 'a.webp'}"
    monkeypatch.chdir(real)  # a relative path is resolved against the current directory
    assert static_url("thumbnails/a.webp") == f"/gradio_api/file={real / 'thumbnails' / 'a.webp'}"
    assert static_url("missing/b.webp") == f"/gradio_api/file={real / 'missing' / 'b.webp'}"
