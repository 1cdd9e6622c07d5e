"""The explorer's use cases answer wrong parameters with an `Answer` whose message names them
(never "failed unexpectedly"), and say why a search found nothing; real corpus, real model."""

from __future__ import annotations

import pytest

from closp_demo.service import Explorer
from closp_demo.service.inputs import InputError


@pytest.fixture(scope="module")
def explorer(small_corpus):
    return Explorer(small_corpus)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": ["forest"]}, "query must be text"),
        ({"query": {"a": 1}}, "query must be text"),
        ({"k": "abc"}, "k (how many results) must be a whole number"),
        ({"k": -1}, "k (how many results)"),
        ({"k": 2.7}, "got the number 2.7"),
        ({"sensor": "optical"}, "sensor must be one of"),
        ({"group": "false"}, "group must be true or false"),
        ({"mode": None}, "place_mode must be one of"),
        ({"filters": {"sources": 7}}, "sources must be a list of names"),
    ],
)
def test_text_search_refuses_wrong_parameters_by_name(explorer, kwargs, message):
    args = {"query": "forest", "sensor": "both", "k": 5} | kwargs
    a = explorer.text_search_near(render=False, **args)
    assert not a.ok and message in a.message and "unexpectedly" not in a.message
    assert explorer.text_search_near("forest", "both", 5, render=False).ok  # still serving


def test_the_other_use_cases_refuse_wrong_shapes_by_name(explorer):
    seed = explorer.text_search("a lake", "both", 1, render=False).results[0].image_id
    assert not explorer.more_like_this(["x"], "both", 3).ok
    empty = explorer.more_like_this("  ", "both", 3)
    assert not empty.ok and "Click a result" in empty.message
    assert "k (how many results)" in explorer.more_like_this(seed, "both", 0).message
    assert "query must be text" in explorer.heat_map("x.tif", ["a lake"]).message
    assert "k (how many results)" in explorer.upload_search("x.tif", "both", 1000).message
    path, message = explorer.export([], ["csv"])
    assert path is None and "file_format must be a format name" in message
    with pytest.raises(InputError, match="query must be text"):
        explorer.read_query({"q": "x"})


def test_counts_read_in_the_singular_for_one(explorer):
    one = explorer.text_search("a lake", "both", 1, render=False)
    assert one.message.startswith("1 result for “a lake”")
    assert explorer.text_search("a lake", "both", 2, render=False).message.startswith("2 results")
    seed = one.results[0].image_id
    assert explorer.more_like_this(seed, "both", 1, render=False).message.startswith("1 image like")
    _, message = explorer.export(one.results, "csv")
    assert message.startswith("1 result exported as CSV")


def test_no_labelled_images_in_the_chosen_sources_is_said(small_corpus, samples_dir, tmp_path):
    """hydro images carry no labels: dropping unlabelled images leaves nothing, and the status
    line says why instead of a bare "0 results"."""
    from closp_demo.corpus.build import build

    corpus = tmp_path / "mixed"
    build(samples_dir, corpus, "physics-minilm", ["bigearthnet", "hydro"], "pytest mixed")
    ex = Explorer(corpus)
    fields = {"sources": ["hydro"], "unlabelled": "drop"}
    a = ex.text_search_near("a lake", "both", 5, render=False, filters=fields)
    assert a.ok and len(a.results) == 0
    assert "the chosen source hydro has no labelled images" in a.message
    assert "Keep unlabelled images" in a.message
    kept = ex.text_search_near("a lake", "both", 5, render=False,
                               filters={"sources": ["hydro"]})  # fmt: skip
    assert len(kept.results) == 5
