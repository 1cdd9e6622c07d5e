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
