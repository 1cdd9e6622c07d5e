"""Exports of real search results, parsed back: CSV (csv module), GeoJSON (RFC 7946 check), ZIP
(thumbnails byte for byte, the GeoJSON naming them); spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from closp_demo.corpus.sources import LICENCES, SOURCES
from closp_demo.search.engine import Overlay
from closp_demo.service import Explorer
from closp_demo.views.export import FORMULA_START, UPLOAD_LICENCE, neutralise, to_csv
from tests.helpers.geojson_check import check_feature_collection
from tests.helpers.hostile_inputs import s2_dn, write_tif

PROPERTIES = ["rank", "score", "sensor", "labels", "date", "place", "source", "id", "licence"]
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A9)",
            "\t=1", "\r=1", "=cmd|' /C calc'!A0"]  # fmt: skip


@pytest.fixture(scope="module")
def explorer(repo_root) -> Explorer:
    return Explorer(repo_root / "precomputed")


@pytest.fixture(scope="module")
def answer(explorer):
    answer = explorer.text_search("a lake surrounded by forest", "both", 12, render=False)
    assert answer.ok and len(answer.results) == 12
    return answer


def exported(explorer, results, fmt: str) -> Path:
    path, message = explorer.export(results, fmt)
    assert path is not None, message
    n = len(results)
    assert f"{n} result{'' if n == 1 else 's'} exported as {fmt.upper()}" in message
    return path


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_csv_parses_back_to_the_ranked_results(explorer, answer):
    rows = read_csv(exported(explorer, answer.results, "csv"))
    assert list(rows[0])[: len(PROPERTIES)] == PROPERTIES
    assert [r["id"] for r in rows] == list(answer.table["id"])
    assert [int(r["rank"]) for r in rows] == list(range(1, 13))
    assert [float(r["score"]) for r in rows] == pytest.approx(list(answer.table["score"]), abs=1e-4)
    for row, result in zip(rows, answer.results, strict=True):
        assert row["labels"].split("|") == (list(result.labels) or [""])
        assert row["licence"].startswith(LICENCES[result.source])
        assert row["date"] == result.timestamp[:10]
        assert row["footprint_wkt"].startswith("POLYGON ((")
        lons = [lon for lon, _ in result.footprint]
        assert min(lons) <= float(row["lon"]) <= max(lons)


def test_geojson_is_rfc7946_with_every_property(explorer, answer):
    doc = json.loads(exported(explorer, answer.results, "geojson").read_text(encoding="utf-8"))
    assert check_feature_collection(doc) == []
    assert [f["id"] for f in doc["features"]] == list(answer.table["id"])
    for feature, result in zip(doc["features"], answer.results, strict=True):
        props = feature["properties"]
        assert list(props)[: len(PROPERTIES)] == PROPERTIES
        assert props["labels"] == list(result.labels) and props["sensor"] == result.sensor
        ring = feature["geometry"]["coordinates"][0]
        assert {tuple(p) for p in ring} == {(round(a, 7), round(b, 7)) for a, b in result.footprint}


def test_zip_holds_the_thumbnails_and_the_geojson_that_names_them(explorer, answer, repo_root):
    path = exported(explorer, answer.results, "zip")
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        doc = json.loads(zf.read("closp-results.geojson"))
        assert check_feature_collection(doc) == []
        assert "Copernicus" in zf.read("ATTRIBUTION.md").decode()
        assert len(list(csv.DictReader(zf.read("closp-results.csv").decode().splitlines()))) == 12
        for feature, result in zip(doc["features"], answer.results, strict=True):
            name = feature["properties"]["thumbnail"]
            assert zf.read(name) == Path(result.thumbnail).read_bytes()
        names = [n for n in zf.namelist() if n.startswith("thumbnails/")]
        assert len(names) == len(set(names)) == 12


def test_grouped_and_place_searches_export_their_extra_columns(explorer):
    answer = explorer.text_search_near("forest", "both", 6, None, "prefer", 60.0, 25.0,
                                       render=False, group=True)  # fmt: skip
    assert answer.ok
    rows = read_csv(exported(explorer, answer.results, "csv"))
    assert all(float(r["km_from_place"]) >= 0 for r in rows)
    assert "more_from_scene" in rows[0]


def test_a_footprint_across_the_antimeridian_exports_as_two_polygons(explorer, answer):
    across = [(179.95, -16.9), (-179.95, -16.9), (-179.95, -16.7), (179.95, -16.7)]
    result = replace(answer.results[0], footprint=across)
    doc = json.loads(exported(explorer, [result], "geojson").read_text())
    assert check_feature_collection(doc) == []
    assert doc["features"][0]["geometry"]["type"] == "MultiPolygon"
    (row,) = read_csv(exported(explorer, [result], "csv"))
    assert float(row["lon"]) == 180.0 and row["footprint_wkt"].startswith("MULTIPOLYGON")


@pytest.mark.parametrize("formula", FORMULAS)
def test_neutralise_prefixes_formula_text_only(formula):
    assert neutralise(formula) == "'" + formula
    assert neutralise("forest") == "forest" and neutralise(-3.5) == -3.5


def test_formulas_in_any_text_field_are_neutralised_in_the_csv(answer):
    hostile = [
        replace(r, place=f, labels=(f, "Water"), image_id=f"{f}-{i}", source=f)
        for i, (r, f) in enumerate(zip(answer.results, FORMULAS, strict=False))
    ]
    rows = list(csv.reader(to_csv(hostile).splitlines(keepends=True)))
    header, body = rows[0], rows[1:]
    assert len(body) == len(FORMULAS)
    for row in body:
        for name, cell in zip(header, row, strict=True):
            if name in {"rank", "score", "lon", "lat"}:
                float(cell)  # numbers stay numbers, negative ones too
            else:
                assert not cell.startswith(FORMULA_START), (name, cell)
    assert [row[header.index("place")] for row in body] == ["'" + f for f in FORMULAS]


def test_an_upload_named_as_a_formula_exports_neutralised(explorer, tmp_path):
    tif = write_tif(tmp_path / "in.tif", s2_dn(120, 120, seed=5))
    overlay = Overlay()
    assert explorer.upload_search(tif, "both", 3, overlay, filename="=1+2.tif").ok
    upload = overlay.items[0].result  # the upload as later searches of the session rank it
    (row,) = read_csv(exported(explorer, [upload], "csv"))
    assert row["place"] == "'=1+2.tif" and row["id"] == "upload:=1+2.tif"
    assert row["licence"] == UPLOAD_LICENCE


@pytest.mark.parametrize(("results", "fmt", "message"), [
    ([], "csv", "run a search first"), (None, "zip", "run a search first"),
    ("answer", "<b>xlsx</b>", "Unknown export format"),
])  # fmt: skip
def test_bad_exports_get_a_message(explorer, answer, results, fmt, message):
    path, text = explorer.export(answer.results if results == "answer" else results, fmt)
    assert path is None and message in text


def test_every_source_has_a_licence_named_in_its_attribution():
    assert set(SOURCES) <= set(LICENCES)
    for name, module in SOURCES.items():
        if name != "sen1floods11":  # no licence file; the attribution asks for a citation
            assert LICENCES[name] in module.ATTRIBUTION, name
