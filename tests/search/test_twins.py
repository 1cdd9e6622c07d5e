"""Twin choice on real BigEarthNet pairs (their group ids), the overlap fallback and the honest
'none' on the embedded corpus."""

import json

import pytest

from closp_demo.corpus.store import Corpus, load_corpus
from closp_demo.search.twins import box_overlap, counterpart


@pytest.fixture(scope="module")
def corpus(small_corpus):
    return load_corpus(small_corpus)


def test_every_bigearthnet_s2_finds_its_s1_pair_by_group(corpus):
    lo, hi = corpus.sensor_ranges["S2"]
    groups = corpus.rows.groups()
    s1_groups = set(groups[slice(*corpus.sensor_ranges["S1"])])
    paired = [row for row in range(lo, hi) if groups[row] in s1_groups]
    assert len(paired) >= 40  # the samples hold 40+ real S1/S2 pairs
    for row in paired:
        twin = counterpart(corpus, row)
        assert twin.how == "twin"
        assert corpus.rows.value("sensor", twin.row) == "S1"
        assert groups[twin.row] == groups[row]


def test_without_group_ids_the_most_overlapping_footprint_is_chosen(corpus):
    metadata = corpus.metadata.copy()
    metadata["group"] = ""
    blind = Corpus(corpus.root, corpus.manifest, metadata, corpus.embeddings, corpus.index,
                   corpus.sensor_ranges)  # fmt: skip
    lo, hi = corpus.sensor_ranges["S2"]
    s1_groups = set(corpus.rows.groups()[slice(*corpus.sensor_ranges["S1"])])
    rows = [r for r in range(lo, hi) if corpus.rows.groups()[r] in s1_groups]
    hits = 0
    for row in rows:
        found = counterpart(blind, row)
        paired = counterpart(corpus, row).row
        assert found.how == "overlap"
        assert found.overlap >= counterpart_overlap(corpus, row, paired) - 0.01
        hits += found.row == paired
    # BigEarthNet pairs share their footprint exactly; a neighbour patch can only tie, so the
    # pair (or an equally overlapping image) is found for every row, the pair itself for most.
    assert hits >= 0.9 * len(rows)


def counterpart_overlap(corpus, row, other):
    def box(r):
        ring = json.loads(corpus.rows.value("footprint", r))
        lons, lats = zip(*ring, strict=True)
        return min(lons), min(lats), max(lons), max(lats)

    return box_overlap(box(row), box(other))


def test_no_other_sensor_image_of_the_place_is_said_plainly():
    corpus = load_corpus("precomputed", verify_checksums=False)
    row = corpus.rows.row_of("mtom-0U_199R-r3c3")  # Congo basin: Major-TOM has no S1
    found = counterpart(corpus, row)
    assert (found.how, found.row) == ("none", None)
    assert found.note == "no Sentinel-1 SAR image of this place in the corpus"


def test_box_overlap():
    assert box_overlap((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(0.25)
    assert box_overlap((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
