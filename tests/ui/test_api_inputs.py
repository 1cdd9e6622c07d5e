"""Every API endpoint answers a wrong shape or value with a message naming the parameter (as a
gradio_client error: gr.Error, as the README says), never a generic server error; and logs the
refusal as one line, not a traceback. The real app (python app.py) on the small corpus."""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

pytestmark = pytest.mark.slow

GENERIC = ("upstream Gradio app has raised an exception", "failed unexpectedly", "Value: ")
SEARCH = ("a lake", "both", 5, "off", None, None, 250, 0.5, False, [], "", "", [], "keep", "")


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def refused(client, *args, api_name: str, **kwargs) -> str:
    with pytest.raises(AppError) as err:
        client.predict(*args, api_name=api_name, **kwargs)
    message = str(err.value)
    assert not any(g in message for g in GENERIC), message
    return message


@pytest.mark.parametrize(
    ("k", "got"),
    [("abc", "the text 'abc'"), (-1, "the number -1"), (0, "the number 0"),
     (2.7, "the number 2.7"), (1000, "the number 1000"), (None, "None")],
)  # fmt: skip
def test_k_outside_1_to_100_or_not_whole_is_refused_everywhere(client, k, got):
    for name, args in (("/search", ("forest", "both", k)),
                       ("/search_session", ("forest", "both", k)),
                       ("/more_like_this", ("any-id", "both", k)),
                       ("/export", (*SEARCH[:2], k, *SEARCH[3:], "csv"))):  # fmt: skip
        message = refused(client, *args, api_name=name)
        assert "k (how many results) must be a whole number from 1 to 100" in message, name
        assert got in message, name


@pytest.mark.parametrize("query", [["forest"], {"a": 1}, 7])
def test_a_query_that_is_not_text_is_refused_by_name(client, query):
    for name, args in (("/search", (query, "both", 3)), ("/search_session", (query, "both", 3)),
                       ("/read_query", (query,)), ("/detail", ("any-id", query)),
                       ("/export", (query, *SEARCH[1:], "csv"))):  # fmt: skip
        assert "query must be text (a string)" in refused(client, *args, api_name=name), name


def test_heatmap_refuses_a_bare_path_and_a_query_that_is_not_text(client, samples_dir):
    message = refused(client, "/etc/passwd", "a lake", api_name="/heatmap")
    assert "must be a file or a list of files" in message and "bare string" in message
    scene = handle_file(str(samples_dir / "sen1floods11" / "Spain_7370579_S1Hand.tif"))
    assert "query must be text" in refused(client, scene, ["a lake"], api_name="/heatmap")


def test_other_wrong_shapes_name_their_parameter(client):
    assert "sensor must be one of 'both', 'S1', 'S2'" in refused(
        client, "forest", ["S1"], 3, api_name="/search")  # fmt: skip
    assert "group must be true or false" in refused(
        client, "forest", "both", 3, group="yes", api_name="/search")  # fmt: skip
    assert "image_id must be an image id (a string)" in refused(
        client, ["x"], "both", 3, api_name="/more_like_this")  # fmt: skip
    assert "Click a result" in refused(client, "", "both", 3, api_name="/more_like_this")
    assert "file_format must be a format name" in refused(
        client, *SEARCH, ["csv"], api_name="/export")  # fmt: skip
    assert "must be one of" in refused(client, *([None] * 16), api_name="/export")  # sensor
    assert "sources must be a list of names" in refused(
        client, "forest", "both", 3, sources=5, api_name="/search")  # fmt: skip


def test_export_takes_sources_as_a_list_or_a_comma_separated_string(client):
    import csv

    for sources in (["bigearthnet"], "bigearthnet"):
        args = (*SEARCH[:9], sources, *SEARCH[10:], "csv")
        with open(client.predict(*args, api_name="/export"), newline="") as f:
            assert {r["source"] for r in csv.DictReader(f)} == {"bigearthnet"}


def test_upload_refusals_raise_like_every_endpoint(client, tmp_path):
    notes = tmp_path / "notes.tif"
    notes.write_text("this is not a GeoTIFF")
    assert "Choose a GeoTIFF" in refused(client, None, "both", 3, api_name="/upload")
    assert "TIFF" in refused(client, handle_file(str(notes)), "both", 3, api_name="/upload")
    assert "k (how many results)" in refused(
        client, handle_file(str(notes)), "both", "abc", api_name="/upload")  # fmt: skip
    assert len(client.predict("river", "both", 3, api_name="/search")) == 3  # still serving


def test_refusals_are_logged_as_one_line_without_a_traceback(client, app_url, small_corpus):
    from urllib.parse import urlparse

    log = small_corpus.parent / f"app-{urlparse(app_url).port}.log"  # tests/helpers/app_server
    before = log.read_text()
    refused(client, "forest", "both", "abc", api_name="/search")
    refused(client, ["a"], api_name="/read_query")
    added = log.read_text()[len(before) :]
    assert added.count("API request refused: k (how many results)") == 1
    assert added.count("API request refused: query must be text") == 1
    assert "Traceback" not in added
