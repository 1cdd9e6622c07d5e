"""'+N more from this scene' opened in place, on the embedded corpus (real ids and embeddings)."""

from __future__ import annotations

import pytest

from closp_demo.search.engine import QueryError
from closp_demo.search.expand import expand_scene
from closp_demo.search.grouping import GROUP_FETCH, group_members
from closp_demo.service import Explorer

QUERY = "cloudy image"  # the hazy Congo scene (64 tiles, read as obscured) leads


@pytest.fixture(scope="module")
def explorer(repo_root):
    return Explorer(repo_root / "precomputed")


def test_group_members_keeps_each_scenes_other_tiles_in_order():
    ranked = ["a1", "a2", "b1", "a3", "c1", "b2"]
    assert group_members(ranked, lambda x: x[0], 2) == [("a1", ["a2", "a3"]), ("b1", ["b2"])]


def test_opening_a_scene_puts_its_other_tiles_right_after_it(explorer):
    grouped, _ = explorer.engine.search_text(QUERY, "both", 12, group=True)
    at = next(i for i, r in enumerate(grouped) if r.more_in_scene >= 2)
    head = grouped[at]
    opened = expand_scene(grouped, head.image_id, explorer.engine.tile_result)
    n = head.more_in_scene
    assert len(opened) == 12 + n
    assert [r.rank for r in opened] == list(range(1, 13 + n))
    tiles = opened[at + 1 : at + 1 + n]
    assert {r.scene for r in tiles} == {head.scene}
    assert all(r.tile_of == head.image_id for r in tiles)
    # the other tiles are exactly that scene's tiles among the plain ranking's candidates, in
    # their own order and scores, none of them shown twice
    plain, _ = explorer.engine.search_text(QUERY, "both", 12 * GROUP_FETCH)
    same = [r for r in plain if r.scene == head.scene and r.image_id != head.image_id]
    assert [r.image_id for r in tiles] == [r.image_id for r in same]
    assert [r.score for r in tiles] == pytest.approx([r.score for r in same], abs=1e-5)
    assert len({r.image_id for r in opened}) == len(opened)
    # the rest keeps its order; the opened scene says no more "+N"
    rest = [r.image_id for r in opened if r.tile_of != head.image_id]
    assert rest == [r.image_id for r in grouped]
    assert opened[at].more_in_scene == 0 and head.more_in_scene == n  # the input is untouched


def test_opening_through_the_service_renders_and_exports(explorer):
    answer = explorer.text_search(QUERY, "both", 6, group=True, render=False)
    head = next(r for r in answer.results if r.more_in_scene)
    opened = explorer.expand_scene(answer.results, head.image_id)
    n = len(answer.results)
    assert opened.ok and len(opened.gallery) == n + head.more_in_scene
    assert any(f"same scene as {head.image_id}" in caption for _, caption in opened.gallery)
    path, _ = explorer.export(opened.results, "csv")
    assert path is not None and len(path.read_text().splitlines()) == 1 + n + head.more_in_scene


def test_nothing_to_open_gets_a_message(explorer):
    plain = explorer.text_search(QUERY, "both", 4, group=False, render=False)
    assert not explorer.expand_scene(plain.results, plain.results[0].image_id).ok
    answer = explorer.expand_scene(plain.results, "<img src=x>")
    assert not answer.ok and "Click a result" in answer.message
    with pytest.raises(QueryError):
        expand_scene([], "x", explorer.engine.tile_result)


def test_tiles_behind_more_are_decoded_only_when_their_scene_opens(explorer):
    engine = explorer.engine
    engine.forget_rows()
    grouped, _ = engine.search_text(QUERY, "both", 12, group=True)
    assert sum(r.more_in_scene for r in grouped) > 12
    assert engine._decoded.cache_info().currsize == 12  # the shown tiles only
    head = next(r for r in grouped if r.more_in_scene)
    opened = expand_scene(grouped, head.image_id, engine.tile_result)
    assert engine._decoded.cache_info().currsize == 12 + head.more_in_scene
    assert all(r.image_id and r.thumbnail for r in opened)


def test_opened_tiles_keep_their_distance_from_the_query_place(explorer):
    from closp_demo.geo.place import Place

    place = Place(lat=-2.0, lon=23.0, radius_km=3000, mode="within")
    grouped, _ = explorer.engine.search_text(QUERY, "both", 6, place=place, group=True)
    head = next(r for r in grouped if r.more_in_scene)
    opened = expand_scene(grouped, head.image_id, explorer.engine.tile_result)
    tiles = [r for r in opened if r.tile_of == head.image_id]
    assert tiles and all(r.distance_km is not None and r.distance_km <= 3000 for r in tiles)
