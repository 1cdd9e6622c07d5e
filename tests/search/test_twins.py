"""Twin choice on real BigEarthNet pairs (their group ids), the overlap fallback and the honest
'none' on the embedded corpus; `overlapping` for any footprint (an upload's) on its real
Sen1Floods11 tiles."""

import json

import numpy as np
import pytest
import rasterio

from closp_demo.corpus.store import Corpus, load_corpus
from closp_demo.search.twins import (
    _box,
    box_overlap,
    counterpart,
    date_apart,
    overlapping,
    percent,
)


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


@pytest.fixture(scope="module")
def embedded(repo_root):
    return load_corpus(repo_root / "precomputed", verify_checksums=False)


def _ring(box):
    minlon, minlat, maxlon, maxlat = box
    return [
        (minlon, maxlat),
        (maxlon, maxlat),
        (maxlon, minlat),
        (minlon, minlat),
        (minlon, maxlat),
    ]


def _tile_box(corpus, image_id):
    ring = corpus.rows.footprint(corpus.rows.row_of(image_id))
    lons, lats = zip(*ring, strict=True)
    return min(lons), min(lats), max(lons), max(lats)


def test_overlapping_finds_every_tile_inside_a_footprint(embedded, samples_dir):
    """The shared Sen1Floods11 chip's footprint holds the corpus's 16 S1 tiles of that chip,
    each covering (120 / 512)^2 of it; ties go to the embedding most like `vector`."""
    with rasterio.open(samples_dir / "sen1floods11" / "Spain_7370579_S2Hand.tif") as src:
        chip = tuple(src.bounds)  # EPSG:4326
    vector = np.asarray(
        embedded.embeddings[embedded.rows.row_of("sen1floods11-Spain_7370579-s2-r0c0")]
    )
    found = overlapping(embedded, _ring(chip), "S1", "2019-09-18", vector)
    ids = [embedded.rows.value("image_id", r) for _, r in found]
    assert sorted(ids) == sorted(f"sen1floods11-Spain_7370579-s1-r{r}c{c}"
                                 for r in range(4) for c in range(4))  # fmt: skip
    assert [s for s, _ in found] == pytest.approx([(120 / 512) ** 2] * 16, rel=0.02)
    similar = [float(embedded.embeddings[r] @ vector) for _, r in found]
    assert similar == sorted(similar, reverse=True)
    assert overlapping(embedded, _ring(chip), "S2") and not overlapping(embedded, [], "S1")


def test_overlapping_puts_the_most_overlap_first(embedded):
    minlon, minlat, maxlon, maxlat = _tile_box(embedded, "sen1floods11-Spain_7370579-s2-r1c1")
    quarter = (maxlon - minlon) / 4  # a quarter of a tile east: 3/4 on r1c1, 1/4 on r1c2
    found = overlapping(embedded, _ring((minlon + quarter, minlat, maxlon + quarter, maxlat)), "S1")
    ids = [embedded.rows.value("image_id", r) for _, r in found]
    assert ids == ["sen1floods11-Spain_7370579-s1-r1c1", "sen1floods11-Spain_7370579-s1-r1c2"]
    assert [s for s, _ in found] == pytest.approx([0.75, 0.25], abs=0.01)


def test_overlapping_reads_a_footprint_continuing_beyond_180(embedded):
    """An upload's footprint crossing the antimeridian keeps its longitudes beyond +-180
    (`scene_footprint`); the corpus images on the other side of it still overlap it."""
    minlon, minlat, maxlon, maxlat = _tile_box(embedded, "sen1floods11-Spain_7370579-s2-r1c1")
    plain = overlapping(embedded, _ring((minlon, minlat, maxlon, maxlat)), "S1")
    for turn in (360.0, -360.0):
        shifted = overlapping(embedded, _ring((minlon + turn, minlat, maxlon + turn, maxlat)), "S1")
        assert [r for _, r in shifted] == [r for _, r in plain] == [plain[0][1]]
        assert shifted[0][0] == pytest.approx(1.0)


def test_a_corpus_footprint_across_the_antimeridian_is_no_box_around_the_globe():
    across = [(179.95, -16.9), (-179.95, -16.9), (-179.95, -16.7), (179.95, -16.7)]
    assert _box(across) == pytest.approx((179.95, -16.9, 180.05, -16.7))
    assert box_overlap((0.0, -16.9, 0.1, -16.7), _box(across)) == 0.0


def test_dates_and_shares_in_words():
    assert date_apart("2019-09-19T11:00:00Z", "2019-09-17") == "taken 2 days apart"
    assert date_apart("2019-09-18T23:00:00Z", "2019-09-18") == "taken the same day"
    assert date_apart("2019-09-18T23:00:00Z", "2019-09-19T01:00:00Z") == "taken 1 day apart"
    assert date_apart("2019-09-19T01:00:00+02:00", "2019-09-18") == "taken the same day"  # UTC
    assert date_apart("", "2019-09-17") == "your upload's date is unknown (this image: 2019-09-17)"
    assert date_apart("2019-09-17", "") == "this image's date is unknown"
    assert date_apart("", "not a date") == "both dates unknown"
    assert (percent(0.0549), percent(0.001), percent(1.0)) == ("5 %", "<1 %", "100 %")
