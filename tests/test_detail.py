"""The detail use case on a real corpus: both images, their composites, the class breakdown
summing to the score, the honest messages (hostile ids, no bands)."""

import json
import shutil

import numpy as np
import pytest

from closp_demo.service import Explorer
from closp_demo.views.detail import DetailError


@pytest.fixture(scope="module")
def explorer(small_corpus):
    return Explorer(small_corpus)


def first_paired_s2(explorer):
    rows = explorer.corpus.rows
    s1 = set(rows.groups()[slice(*explorer.corpus.sensor_ranges["S1"])])
    lo, hi = explorer.corpus.sensor_ranges["S2"]
    return next(rows.value("image_id", r) for r in range(lo, hi) if rows.groups()[r] in s1)


def test_detail_shows_both_images_with_composites(explorer):
    d = explorer.detail(first_paired_s2(explorer))
    assert d.main.sensor == "S2" and d.twin is not None and d.twin.sensor == "S1"
    assert d.counterpart.how == "twin"
    assert explorer.composite(d.main).shape[2] == 3
    assert explorer.composite(d.twin, "vh").shape[1] > explorer.composite(d.twin).shape[1]
    assert d.main.facts["labels"] and "CDLA" in d.main.facts["source"]


def test_class_breakdown_sums_to_the_score(explorer):
    image_id = first_paired_s2(explorer)
    d = explorer.detail(image_id, "a lake surrounded by forest")
    b = d.breakdown
    cosine = float(explorer.encoder.encode_text([b["query"]])[0] @ d.main.vector)
    # float32 embeddings: 1e-5 is ~100 float32 ulps at these magnitudes
    assert float(np.sum(b["contributions"])) == pytest.approx(cosine, abs=1e-5)
    assert b["score"] == pytest.approx(cosine, abs=1e-5)
    assert np.sum(b["p"]) == pytest.approx(1.0)
    assert json.dumps(d.summary())  # plain data for the API


def test_plots_and_evidence_are_figures(explorer):
    d = explorer.detail(first_paired_s2(explorer))
    for fig in (explorer.plot(d.main), explorer.plot(d.twin), explorer.evidence(d.main),
                explorer.occlusion(d.main, "forest")):  # fmt: skip
        assert fig is not None and fig.axes
    drop = explorer.occlusions.occlusion(d.main.pixels, "S2",
                                         explorer.encoder.encode_text(["forest"])[0])  # fmt: skip
    assert drop.shape == (6, 6)


HOSTILE_IDS = ["", "   ", "no-such-id", "x" * 5000, "<img src=x onerror=alert(1)>",
               "**bold** [link](javascript:alert(1))", "a\x00b", None, 42]  # fmt: skip


@pytest.mark.parametrize("image_id", HOSTILE_IDS)
def test_hostile_ids_get_a_clear_message(explorer, image_id):
    with pytest.raises(DetailError) as err:
        explorer.detail(image_id)
    assert str(err.value)  # a sentence, not a traceback
    assert "Traceback" not in str(err.value)


def test_corpus_without_bands_says_so(small_corpus, tmp_path):
    copy = tmp_path / "nobands"
    shutil.copytree(small_corpus, copy)
    (copy / "bands.zip").unlink()
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["files"]["bands.zip"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    explorer = Explorer(copy)
    d = explorer.detail(first_paired_s2(explorer))
    assert d.main.pixels is None and explorer.composite(d.main) is None
    assert "not stored in this corpus" in d.main.facts_markdown()
