"""The detail use case on a real corpus: both images, their composites, the class breakdown
summing to the score, the honest messages (hostile ids, no bands); an upload beside a corpus
image of the same place, or the nearest by embedding said to be only that."""

import json
import shutil

import numpy as np
import pytest
from rasterio.transform import from_origin

from closp_demo.search.engine import Overlay
from closp_demo.search.twins import box_overlap
from closp_demo.service import Explorer
from closp_demo.views.detail import DetailError
from tests.helpers.hostile_inputs import s2_dn, write_tif


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


# An upload's other-sensor image, on the embedded corpus (its Sen1Floods11 chip is the shared
# sample's): the same place when footprints overlap, the embedding's nearest only otherwise.


@pytest.fixture(scope="module")
def embedded(repo_root):
    return Explorer(repo_root / "precomputed")


def _upload(explorer, path):
    overlay = Overlay()
    answer = explorer.upload_search(str(path), "both", 5, overlay)
    assert answer.ok, answer.message
    item = overlay.items[0]
    return explorer.detail(item.result.image_id, overlay=overlay), item.result


def _box(ring):
    lons, lats = zip(*ring, strict=True)
    return min(lons), min(lats), max(lons), max(lats)


@pytest.mark.parametrize(
    ("name", "other", "date"), [("S2Hand", "S1", "2019-09-17"), ("S1Hand", "S2", "2019-09-18")]
)
def test_an_upload_is_shown_beside_a_corpus_image_of_the_same_place(embedded, samples_dir, name,
                                                                    other, date):  # fmt: skip
    path = samples_dir / "sen1floods11" / f"Spain_7370579_{name}.tif"
    d, upload = _upload(embedded, path)
    assert d.twin is not None and d.twin.sensor == other
    assert d.twin.image_id.startswith(f"sen1floods11-Spain_7370579-{other.lower()}-")
    share = box_overlap(_box(upload.footprint), _box(d.twin.footprint))
    # the chip's 4 x 4 tiles of 120 px each cover (120 / 512)^2 of its 512 x 512 px
    assert share == pytest.approx((120 / 512) ** 2, rel=0.02)
    assert d.counterpart.how == "overlap" and d.counterpart.overlap == pytest.approx(share)
    note = d.counterpart.note
    assert note.startswith("same place:") and "overlaps 5 % of your upload" in note
    assert "not the same place" not in note
    # the file name gives no date: said so, with the image's own date
    assert f"your upload's date is unknown (this image: {date})" in note
    assert d.summary()["twin_how"] == "overlap"


def test_an_upload_with_a_date_is_told_how_far_apart_the_two_are(embedded, samples_dir, tmp_path):
    dated = tmp_path / "Spain_7370579_S2Hand_20190919T110000.tif"
    shutil.copy(samples_dir / "sen1floods11" / "Spain_7370579_S2Hand.tif", dated)
    d, _ = _upload(embedded, dated)
    assert d.counterpart.how == "overlap"
    assert d.counterpart.note.endswith("; taken 2 days apart")  # corpus S1: 2019-09-17


def test_an_upload_far_from_every_corpus_image_keeps_the_embedding_wording(embedded, tmp_path):
    south_pacific = from_origin(-140.0, -50.0, 0.0001, 0.0001)
    path = write_tif(tmp_path / "pacific.tif", s2_dn(240, 240, seed=61), crs="EPSG:4326",
                     transform=south_pacific)  # fmt: skip
    d, upload = _upload(embedded, path)
    assert d.counterpart.how == "embedding" and d.twin is not None and d.twin.sensor == "S1"
    assert box_overlap(_box(upload.footprint), _box(d.twin.footprint)) == 0
    assert d.counterpart.note.startswith("nearest S1 corpus image by embedding (cosine ")
    assert d.counterpart.note.endswith("): similar, not the same place")


def test_an_upload_without_georeferencing_does_not_claim_another_place(embedded, tmp_path):
    path = write_tif(tmp_path / "no_crs.tif", s2_dn(240, 240, seed=62), crs=None, transform=None)
    d, _ = _upload(embedded, path)
    assert d.counterpart.how == "embedding"
    assert "not the same place" not in d.counterpart.note
    assert "no georeferencing, so whether it shows the same place is unknown" in d.counterpart.note
