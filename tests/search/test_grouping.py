"""Grouping tiles of one source scene, on the embedded corpus (real ids, real embeddings)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from closp_demo.search.engine import Overlay, OverlayItem, Result
from closp_demo.search.grouping import group_by_scene, scene_keys, scene_of
from closp_demo.service import Explorer


@pytest.mark.parametrize(
    ("image_id", "source", "scene"),
    [
        ("mtom-0U_199R-r0c2", "majortom", "mtom-0U_199R"),
        ("hydro-patch_0-r1c0", "hydro", "hydro-patch_0"),
        ("ssl4eo-0000200-s1-20200607T010800-r1c0", "ssl4eo", "ssl4eo-0000200-s1-20200607T010800"),
        ("ben-s1-S1B_IW_GRDH_1SDV_20170612T165809_33UUP_26_57", "bigearthnet",
         "ben-s1-S1B_IW_GRDH_1SDV_20170612T165809_33UUP"),
        ("sen1floods11-Spain_7370579-s1-r2c3", "sen1floods11", "sen1floods11-Spain_7370579-s1"),
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


TILE_NAME = re.compile(r"-r([0-9]+)c([0-9]+)\Z")  # `tiling.Tile.name` after a dash


def test_every_tiled_source_of_the_embedded_corpus_groups_its_tiles(repo_root):
    """Every source the corpus builder cuts into tiles (`tiling.Tile.name` ids): fewer scenes
    than images, and each scene's tiles come from one source raster: one sensor, CRS and date,
    and the row/column in each id place the tile's bounds on one grid."""
    meta = pd.read_parquet(repo_root / "precomputed" / "metadata.parquet")
    meta["scene"] = [scene_of(i, s) for i, s in zip(meta.image_id, meta.source, strict=True)]
    tiled = {s for s, ids in meta.groupby("source").image_id
             if all(TILE_NAME.search(i) for i in ids)}  # fmt: skip
    # the corpus's cut sources (BigEarthNet's 120 x 120 patches are whole images)
    assert tiled == {"hydro", "majortom", "sen1floods11", "ssl4eo"}
    for source in sorted(tiled):
        rows = meta[meta.source == source]
        assert rows.scene.nunique() < len(rows), f"{source}: no two tiles share a scene"
        for scene, tiles in rows.groupby("scene"):
            assert (tiles.image_id.str.replace(TILE_NAME, "", regex=True) == scene).all()
            for column in ("sensor", "crs", "timestamp"):
                assert tiles[column].nunique() == 1, f"{scene}: tiles differ in {column}"
            rc = np.array([TILE_NAME.search(i).groups() for i in tiles.image_id], dtype=float)
            width, height = tiles.maxx - tiles.minx, tiles.maxy - tiles.miny
            x0 = tiles.minx - rc[:, 1] * width  # the raster's corner, as each tile places it
            y0 = tiles.maxy + rc[:, 0] * height
            assert np.ptp(x0) <= 0.01 * width.min() and np.ptp(y0) <= 0.01 * height.min(), scene


def test_one_result_per_scene_for_sen1floods11_tiles(explorer):
    """The audit's case: a river search within 50 km of Vega Baja del Segura, where the 32
    Sen1Floods11 tiles are two chips (one S1, one S2 scene)."""
    args = ("river", "both", 50, None, "within", 38.1, -0.76, 50)
    plain = explorer.text_search_near(*args, render=False)
    grouped = explorer.text_search_near(*args, render=False, group=True)
    assert plain.ok and grouped.ok, (plain.message, grouped.message)
    scenes = [scene_of(i, "sen1floods11") for i in plain.table["id"]]
    assert len(plain.table) > 2 * len(grouped.table)
    assert len(grouped.table) == len(set(scenes))
    assert {scene_of(i, "sen1floods11") for i in grouped.table["id"]} == set(scenes)


def _same_partition(keys, scenes) -> bool:
    """Equal keys exactly where the scene strings are equal."""
    by_key: dict = {}
    by_scene: dict = {}
    for key, scene in zip(keys.tolist(), scenes, strict=True):
        if by_key.setdefault(key, scene) != scene or by_scene.setdefault(scene, key) != key:
            return False
    return True


def test_scene_keys_number_the_scenes_scene_of_finds(explorer):
    """The columnar keys the engine groups by agree with `scene_of` on every corpus row."""
    rows = explorer.engine.rows
    ids, sources = rows.column("image_id"), rows.column("source")
    keys = scene_keys(ids, sources)
    scenes = [scene_of(i, s) for i, s in zip(ids.to_pylist(), sources.to_pylist(), strict=True)]
    assert keys.shape == (len(rows),) and keys.dtype == np.int64
    assert _same_partition(keys, scenes)
    assert len(set(scenes)) < len(scenes)  # the corpus does have tiled scenes


@pytest.mark.parametrize(
    "pairs",
    [
        [("mtom-a-r0c1", "majortom"), ("mtom-a-r2c3", "majortom"), ("mtom-a-r0c1", "hydro"),
         ("mtom-a", "majortom"), ("mtom-a-r0c1", "crisislandmark")],
        [("ben-x_1_2", "bigearthnet"), ("ben-x_10_20", "bigearthnet"), ("ben-x_1_2", "ssl4eo"),
         ("ben-x", "bigearthnet")],
        # only ASCII digits and the very end of the id: Python's \d and $ would take these too
        [("a-r1c2\n", "hydro"), ("a-r1c2", "hydro"), ("a\n", "hydro"), ("a-r\u0661c2", "hydro"),
         ("a", "hydro"), ("a-r1c2-r3c4", "hydro"), ("a-r1c2", "hydro")],
        [("", "majortom"), ("", ""), ("x", "")],
    ],
)  # fmt: skip
def test_scene_keys_agree_with_scene_of_on_edge_cases(pairs):
    ids, sources = zip(*pairs, strict=True)
    scenes = [scene_of(i, s) for i, s in pairs]
    for as_column in (list, np.array, pa.array, lambda v: pa.chunked_array([v[:2], v[2:]])):
        keys = scene_keys(as_column(list(ids)), as_column(list(sources)))
        assert _same_partition(keys, scenes)


def test_scene_keys_refuse_columns_of_different_lengths():
    with pytest.raises(ValueError, match="2 image ids but 1 sources"):
        scene_keys(["a", "b"], ["hydro"])


def test_an_upload_is_its_own_scene_in_a_grouped_list(explorer):
    """A session's upload is ranked among the corpus's scenes and never joins one of them."""
    engine = explorer.engine
    query = engine.encoder.encode_text(["river"])[0]
    alone = engine.search_vector(query, "both", 6, group=True)
    upload = Result(rank=0, score=0.0, image_id="upload:a.tif", sensor="S2", source="your upload",
                    labels=(), place="a.tif", timestamp="", footprint=[], thumbnail="",
                    origin="your upload")  # fmt: skip
    overlay = Overlay()
    overlay.add(OverlayItem(vector=np.asarray(query, np.float32), result=upload))
    mixed = engine.search_vector(query, "both", 6, overlay=overlay, group=True)
    assert mixed[0] is upload and (upload.rank, upload.more_in_scene) == (1, 0)
    assert [r.image_id for r in mixed[1:]] == [r.image_id for r in alone[:5]]
    assert [r.more_in_scene for r in mixed[1:]] == [r.more_in_scene for r in alone[:5]]
    assert [r.rank for r in mixed] == list(range(1, 7))


def test_scene_numbers_and_filter_columns_are_ready_before_the_first_query(repo_root):
    """Built at start-up (`SearchEngine.warm`): at 650k rows they take ~1.3 s, which the first
    grouped or filtered query would otherwise wait for."""
    engine = Explorer(repo_root / "precomputed").engine
    assert engine._scene_ids is not None and len(engine._scene_ids) == len(engine.corpus)
    assert engine._filter_columns is not None
    before = engine._scene_ids
    engine.search_text("river", "both", 12, group=True)
    assert engine._scene_ids is before  # not built again
