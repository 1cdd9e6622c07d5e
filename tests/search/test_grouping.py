"""Grouping tiles of one source scene, on the embedded corpus (real ids, real embeddings)."""

from __future__ import annotations

import pytest

from closp_demo.search.grouping import group_by_scene, scene_of
from closp_demo.service import Explorer


@pytest.mark.parametrize(
    ("image_id", "source", "scene"),
    [
        ("mtom-0U_199R-r0c2", "majortom", "mtom-0U_199R"),
        ("hydro-patch_0-r1c0", "hydro", "hydro-patch_0"),
        ("ssl4eo-0000200-s1-20200607T010800-r1c0", "ssl4eo", "ssl4eo-0000200-s1-20200607T010800"),
        ("ben-s1-S1B_IW_GRDH_1SDV_20170612T165809_33UUP_26_57", "bigearthnet",
         "ben-s1-S1B_IW_GRDH_1SDV_20170612T165809_33UUP"),
        ("clm-some-key_1_2", "crisislandmark", "clm-some-key_1_2"),  # not tiled: its own scene
    ],
)  # fmt: skip
def test_scene_of_strips_the_tile_suffix(image_id, source, scene):
    assert scene_of(image_id, source) == scene


def test_group_keeps_scene_order_by_best_tile_and_counts_the_rest():
    ranked = ["a1", "a2", "b1", "a3", "c1", "b2", "d1"]
    got = group_by_scene(ranked, lambda x: x[0], 3)
    assert got == [("a1", 2), ("b1", 1), ("c1", 0)]
    assert group_by_scene(ranked, lambda x: x[0], 10)[-1] == ("d1", 0)


@pytest.fixture(scope="module")
def explorer(repo_root):
    return Explorer(repo_root / "precomputed")


@pytest.mark.parametrize("query", ["flooded fields after heavy rain", "airport runway", "river"])
def test_grouped_search_shows_distinct_scenes_in_the_plain_order(explorer, query):
    plain = explorer.engine.search_text(query, "both", 100)[0]
    grouped = explorer.engine.search_text(query, "both", 12, group=True)[0]
    scenes = [r.scene for r in grouped]
    assert len(grouped) == 12 and len(set(scenes)) == 12
    # each scene is shown by its best tile, scenes ordered by that tile (the plain ranking)
    first_of_scene = {}
    for r in plain:
        first_of_scene.setdefault(r.scene, r.image_id)
    assert [r.image_id for r in grouped] == list(first_of_scene.values())[:12]
    assert [r.rank for r in grouped] == list(range(1, 13))
    assert grouped[0].score == pytest.approx(plain[0].score)


def test_every_tile_when_grouping_is_off_and_the_count_is_shown(explorer):
    # v4 reads the hazy Congo cell as obscured: a cloud query finds its 64 tiles together
    plain = explorer.text_search("cloudy image", "both", 12, render=True)
    assert len({r.split("·")[0] for r in plain.table["id"]}) == 12
    assert "more from this scene" not in plain.table.columns
    grouped = explorer.text_search("cloudy image", "both", 12, group=True)
    assert grouped.ok and "one per scene" in grouped.message
    assert grouped.table["more from this scene"].iloc[0] > 0
    assert "more from this scene" in grouped.gallery[0][1]


@pytest.mark.parametrize("k", [6, 40])
def test_a_dense_scene_does_not_crowd_out_the_others(explorer, k):
    """One Congo scene (64 hazy tiles, read as obscured by physics v4) fills the first
    k * GROUP_FETCH candidates of this query; grouping still returns k scenes, the ones brute
    force finds (every row ranked, first tile per scene)."""
    import numpy as np

    from closp_demo.search.grouping import GROUP_FETCH

    query = "cloudy image"
    engine = explorer.engine
    vector = engine.encoder.encode_text([query])[0]
    order = np.argsort(-(np.asarray(engine.corpus.embeddings) @ vector), kind="stable")
    rows = [engine.rows.row(int(i)) for i in order]
    scenes = [scene_of(r.image_id, r.source) for r in rows]
    assert len(set(scenes[: 6 * GROUP_FETCH])) < 6  # the case this guards
    first_of_scene: dict[str, str] = {}
    for r, scene in zip(rows, scenes, strict=True):
        first_of_scene.setdefault(scene, r.image_id)
    grouped = engine.search_text(query, "both", k, group=True)[0]
    # same scenes by their best tiles (ids as a set: FAISS and numpy may order near-ties apart)
    assert {r.image_id for r in grouped} == set(list(first_of_scene.values())[:k])
    assert len(grouped) == k
