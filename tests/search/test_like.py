"""More like this: a corpus image's own embedding as the query, in either sensor."""

from __future__ import annotations

import numpy as np
import pytest

from closp_demo.search.engine import QueryError
from closp_demo.service import Explorer


@pytest.fixture(scope="module")
def explorer(repo_root):
    return Explorer(repo_root / "precomputed")


def test_like_ranks_by_the_image_embedding_and_leaves_it_out(explorer):
    engine = explorer.engine
    row = 3
    image_id = engine.rows.row(row).image_id
    results, _ = engine.search_like(image_id, "both", 10)
    sims = np.asarray(engine.corpus.embeddings) @ np.asarray(engine.corpus.embeddings[row])
    sims[row] = -np.inf
    np.testing.assert_allclose([r.score for r in results], np.sort(sims)[::-1][:10], atol=1e-5)
    assert image_id not in [r.image_id for r in results]
    assert [r.rank for r in results] == list(range(1, 11))


def test_an_s1_image_finds_s2_images(explorer):
    s1 = explorer.engine.rows.row(0)
    assert s1.sensor == "S1"
    a = explorer.more_like_this(s1.image_id, "S2", 5, render=False)
    assert a.ok and len(a.table) == 5 and set(a.table["sensor"]) == {"S2"}


def test_unknown_ids_get_a_message(explorer):
    with pytest.raises(QueryError, match="no image"):
        explorer.engine.search_like("", "both", 5)
    a = explorer.more_like_this("<script>x</script>", "both", 5)
    assert not a.ok and "no image" in a.message


def test_more_like_an_upload_of_the_session(explorer, tmp_path):
    from closp_demo.search.engine import Overlay
    from tests.helpers.hostile_inputs import s2_dn, write_tif

    overlay = Overlay()
    tif = write_tif(tmp_path / "mine.tif", s2_dn(120, 120, seed=9))
    assert explorer.upload_search(tif, "both", 3, overlay).ok
    up_id = overlay.items[-1].result.image_id
    assert up_id == "upload:mine.tif"
    a = explorer.more_like_this(up_id, "S1", 5, overlay, render=False)
    assert a.ok and set(a.table["sensor"]) == {"S1"} and up_id not in list(a.table["id"])
    vector = np.asarray(overlay.items[-1].vector)
    expected = explorer.engine.search_vector(vector, "S1", 5)
    assert list(a.table["id"]) == [r.image_id for r in expected]
    assert not explorer.more_like_this(up_id, "S1", 5, None).ok  # another session: not there
