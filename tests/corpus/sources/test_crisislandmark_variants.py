"""CrisisLandMark as the real files may hold it: every label spelling, the card's float32 `crs`
and `timestamp`, 4-band QuakeSet samples, compressed shards, and unreadable keys among good ones.
Each variant is written into real h5 shards + a parquet by `clm_fixtures.write_clm`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from closp_demo.corpus import build_subset as bs
from closp_demo.corpus.labels import ALL_CLASSES, CLC19_TO_DW, CLC43_TO_DW, accepted_spellings
from closp_demo.corpus.sources import crisislandmark as clm
from closp_demo.corpus.store import load_corpus
from closp_demo.encoders import create_encoder
from tests.conftest import REPO_ROOT
from tests.corpus.sources.clm_fixtures import MISSING, CountingEncoder, Interrupted, write_clm


@pytest.fixture(scope="module")
def encoder():
    return create_encoder("physics-minilm")


def _labels_of(tmp_path: Path, written: list, label_format: str = "list") -> list:
    plan = tuple(("S2", tuple(labels)) for labels in written)
    write_clm(tmp_path / "clm", plan=plan, label_format=label_format)
    meta = clm.read_metadata(tmp_path / "clm")
    return list(zip(meta["labels"], meta["unmapped"], strict=True))


# ------------------------------------------------------------------------------------ labels


@pytest.mark.parametrize(
    ("written", "classes"),
    [
        (["Non-irrigated arable land", "Broad-leaved forest"], ("Trees", "Crops")),  # CORINE-43
        (["Rice fields", "Peatbogs", "Sea and ocean"], ("Water", "Flooded Vegetation")),
        (["Burnt areas", "Glaciers and perpetual snow"], ("Snow and Ice", "Burned Area")),
        (["Arable land", "Inland wetlands", "Marine waters"], ("Water", "Flooded Vegetation",
                                                              "Crops")),  # CORINE-19
        (["Moors, heathland and sclerophyllous vegetation", "Coastal wetlands"],
         ("Shrub and Scrub", "Bare")),
        (["flooded_vegetation", "shrub_and_scrub", "snow_and_ice"],  # Dynamic World band names
         ("Flooded Vegetation", "Shrub and Scrub", "Snow and Ice")),
        (["built", "bare", "crops", "trees", "grass", "water"],
         ("Water", "Trees", "Grass", "Crops", "Built", "Bare")),
        (["  SHRUB and scrub ", "Flooded vegetation", "snow  and ice"],  # case / whitespace
         ("Flooded Vegetation", "Shrub and Scrub", "Snow and Ice")),
        (["flooded_area", "Earthquake damage", "BURNED AREA"],  # crisis classes
         ("Flooded Area", "Earthquake Damage", "Burned Area")),
        (["Flood", "earthquake", "burnt area"], ("Flooded Area", "Earthquake Damage",
                                                 "Burned Area")),
    ],
)  # fmt: skip
def test_label_spellings_map_to_the_harmonised_classes(tmp_path, written, classes):
    ((got, unmapped),) = _labels_of(tmp_path, [written])
    assert got == tuple(c for c in ALL_CLASSES if c in classes) and unmapped == ()


def test_every_published_corine_name_is_read_in_any_case(tmp_path):
    names = sorted(set(CLC43_TO_DW) | set(CLC19_TO_DW))
    rows = _labels_of(tmp_path, [[n] for n in names] + [[n.upper()] for n in names])
    expected = [(CLC43_TO_DW | CLC19_TO_DW)[n] for n in names] * 2
    assert [labels for labels, _ in rows] == [(c,) for c in expected]
    assert all(unmapped == () for _, unmapped in rows)
    assert set(accepted_spellings().values()) == set(ALL_CLASSES)


def test_commas_inside_corine_names_survive_a_comma_separated_cell(tmp_path):
    written = [["Beaches, dunes, sands", "Water bodies", "Transitional woodland, shrub"]]
    ((labels, unmapped),) = _labels_of(tmp_path, written, label_format="comma")
    assert labels == ("Water", "Shrub and Scrub", "Bare") and unmapped == ()


def test_unknown_labels_stay_visible_and_relevant_to_no_class(tmp_path, encoder):
    plan = (
        ("S2", ("Trees", "Lava field")),
        ("S2", ("Lava field",)),
        ("S2", ("3",)),  # a numeric code: not guessed
        *[("S2", ("Trees",))] * 3,
    )
    write_clm(tmp_path / "clm", plan=plan)
    meta = clm.read_metadata(tmp_path / "clm")
    assert meta["labels"].tolist()[:3] == [("Trees",), (), ()]
    assert meta["unmapped"].tolist()[:3] == [
        ("unmapped: Lava field",), ("unmapped: Lava field",), ("unmapped: 3",)
    ]  # fmt: skip
    manifest = bs.build_subset(tmp_path / "clm", tmp_path / "out", 10, split=None,
                               encoder=encoder)  # fmt: skip
    report = json.loads((tmp_path / "out" / bs.REPORT_FILE).read_text())
    assert report == manifest["report"]
    assert report["catalogue_unmapped_labels"] == {"unmapped: Lava field": 2, "unmapped: 3": 1}
    assert report["images_unmapped_labels"] == 3
    corpus = load_corpus(tmp_path / "out").metadata.set_index("source_key")
    assert json.loads(corpus.loc["s2_0000", "unmapped_labels"]) == ["unmapped: Lava field"]
    # relevance comes from `labels` only: no unmapped name is in it, and an image with
    # only unknown labels is unlabelled (left out of label-based evaluation), not irrelevant
    assert corpus.loc["s2_0000", "labels"] == "Trees" and corpus.loc["s2_0001", "labels"] == ""
    assert not corpus["labels"].str.contains("unmapped").any()


# ------------------------------------------------------------------------------------ attributes


@pytest.mark.parametrize(
    ("crs", "expected"),
    [(np.float32(32633.0), "EPSG:32633"), (32633.0, "EPSG:32633"), ("EPSG:32632", "EPSG:32632"),
     ("32631.0", "EPSG:32631"), (np.array([32633.0], np.float32), "EPSG:32633")],
)  # fmt: skip
def test_float_and_text_crs_are_read(tmp_path, crs, expected):
    write_clm(tmp_path / "clm", plan=(("S1", ("Water",), {"crs": crs}),))
    (record,) = clm.iter_records(tmp_path / "clm")
    assert record.crs == expected


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (np.float32("nan"), None),
        (MISSING, None),
        ("", None),
        ("not a date", None),
        (np.float32(1.6e9), "2020-09-13"),  # the card's float32: Unix seconds, a date only
        (1_600_000_000_000.0, "2020-09-13"),  # milliseconds
        (np.float32(7.0), None),  # no plausible time
        ("2021-03-04T05:06:07+01:00", "2021-03-04T04:06:07Z"),
    ],
)
def test_timestamps_never_refuse_a_sample(tmp_path, timestamp, expected):
    write_clm(tmp_path / "clm", plan=(("S2", ("Trees",), {"timestamp": timestamp}),))
    refused: list = []
    (record,) = clm.iter_records(tmp_path / "clm", refused=refused)
    assert record.timestamp == expected and refused == []


def test_unknown_dates_are_counted_in_the_build_report(tmp_path, encoder):
    nan = {"timestamp": np.float32("nan")}
    plan = (("S1", ("Water",), nan), ("S1", ("Water",), {"timestamp": MISSING}),
            ("S1", ("Water",)))  # fmt: skip
    write_clm(tmp_path / "clm", plan=plan)
    manifest = bs.build_subset(tmp_path / "clm", tmp_path / "out", 3, split=None, encoder=encoder)
    assert manifest["report"]["images_unknown_date"] == 2
    assert (load_corpus(tmp_path / "out").metadata["timestamp"] == "").sum() == 2


# ------------------------------------------------------------------------------------ bands


def test_quakeset_sample_with_4_bands_reads_its_post_event_pair(tmp_path):
    plan = (
        ("S1", ("Earthquake Damage",), {"key": "quakeset_0007", "bands": 4}),
        ("S1", ("Water",), {"key": "sen1flood_0001", "bands": 4}),  # 4 bands, not QuakeSet
        ("S1", ("Water",)),
    )
    write_clm(tmp_path / "clm", plan=plan, shards=1)
    cat = clm.catalogue(tmp_path / "clm", split=None).set_index("key")
    assert cat.loc["quakeset_0007", ["sensor", "band0"]].tolist() == ["S1", 2]
    assert cat.attrs["refused"] == [
        ("sen1flood_0001", "image has 4 bands; expected 2 (Sentinel-1 VV, VH), 12 (Sentinel-2 "
         "L2A) or 4 for a QuakeSet key (pre- and post-event VV, VH)")
    ]  # fmt: skip
    assert "post-event VV, VH" in cat.attrs["notes"][0]
    records = {r.extra["key"]: r for r in clm.iter_records(tmp_path / "clm")}
    with h5py.File(tmp_path / "clm" / "shard_000.h5", "r") as shard:
        stored = shard["quakeset_0007"]["image"][()]
    assert stored.shape == (4, 120, 120)
    np.testing.assert_array_equal(records["quakeset_0007"].image, stored[2:])
    assert records["quakeset_0007"].sensor == "S1" and set(records) == {"quakeset_0007", "s1_0002"}


def test_shard_compressed_with_an_hdf5plugin_filter_reads(tmp_path):
    hdf5plugin = pytest.importorskip("hdf5plugin")  # the card's filters; requirements-dev.txt
    write_clm(tmp_path / "clm", plan=(("S2", ("Trees",), {"compression": "zstd"}),))
    with h5py.File(tmp_path / "clm" / "shard_000.h5", "r") as shard:
        stored = shard["s2_0000"]["image"]
        assert stored.id.get_create_plist().get_filter(0)[0] == hdf5plugin.ZSTD_ID
        pixels = stored[()]
    (record,) = clm.iter_records(tmp_path / "clm")
    np.testing.assert_array_equal(record.image, pixels)


def test_without_hdf5plugin_a_compressed_shard_is_refused_with_the_fix(tmp_path):
    pytest.importorskip("hdf5plugin")
    write_clm(tmp_path / "clm", plan=(("S2", ("Trees",), {"compression": "zstd"}),))
    # a fresh interpreter where hdf5plugin cannot be imported, so its filters are not registered
    code = (
        "import sys; sys.modules['hdf5plugin'] = None\n"
        "from closp_demo.corpus.sources import crisislandmark as clm\n"
        f"refused = []; records = list(clm.iter_records({str(tmp_path / 'clm')!r}, "
        "refused=refused))\n"
        "print(len(records), refused[0][1])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("0 crisislandmark.h5: key 's2_0000': unreadable (")
    assert done.stdout.rstrip().endswith("if the shards are compressed, pip install hdf5plugin")


# ------------------------------------------------------------------------------------ refusals

DAMAGED_PLAN = (
    *[("S2", ("Trees",))] * 3,
    ("S2", ("Trees",), {"damage": "pixels"}),  # shapes read, pixels do not
    ("S1", ("Water",), {"damage": "no-image"}),
    ("S1", ("Water",), {"damage": "dangling-link"}),
    ("S1", ("Water",), {"crs": np.float32("nan")}),
    *[("S1", ("Water",))] * 3,
)


def test_unreadable_keys_are_refused_one_by_one(tmp_path):
    write_clm(tmp_path / "clm", plan=DAMAGED_PLAN)
    cat = clm.catalogue(tmp_path / "clm", split=None)
    refused = dict(cat.attrs["refused"])
    assert set(refused) == {"s1_0004", "s1_0005"}
    assert refused["s1_0004"] == "no image dataset"
    assert refused["s1_0005"].startswith("entry does not resolve -> shard_002.h5:/s1_0005_gone")
    late: list = []
    records = list(clm.iter_records(tmp_path / "clm", cat, refused=late))
    assert [k for k, _ in late] == ["s2_0003", "s1_0006"]
    assert "s2_0003': unreadable (" in late[0][1] and "not an EPSG code" in late[1][1]
    assert len(records) == len(DAMAGED_PLAN) - 4


def test_build_skips_refused_keys_lists_them_and_resumes_alike(tmp_path, encoder):
    write_clm(tmp_path / "clm", plan=DAMAGED_PLAN)
    straight = bs.build_subset(tmp_path / "clm", tmp_path / "a", 20, split=None, encoder=encoder,
                               batch=2)  # fmt: skip
    report = straight["report"]
    assert sorted(r["key"] for r in report["refused"]) == [
        "s1_0004", "s1_0005", "s1_0006", "s2_0003"
    ]  # fmt: skip
    assert report["images"] == straight["count"] == len(DAMAGED_PLAN) - 4
    meta = load_corpus(tmp_path / "a").metadata
    assert not meta["source_key"].isin([r["key"] for r in report["refused"]]).any()
    lines = bs.report_lines(report)
    assert lines[0] == f"{report['images']} images written, 4 samples refused"
    assert any(line.startswith("  refused s2_0003: crisislandmark.h5: key") for line in lines)

    # an interrupted build resumes to the same corpus, refusing the same keys
    work = tmp_path / "work"
    with pytest.raises(Interrupted):
        bs.build_subset(tmp_path / "clm", tmp_path / "b", 20, split=None, batch=2, work=work,
                        encoder=CountingEncoder(encoder, fail_after=1))  # fmt: skip
    resumed = bs.build_subset(tmp_path / "clm", tmp_path / "b", 20, split=None, batch=2,
                              work=work, encoder=encoder)  # fmt: skip
    assert resumed["report"]["refused"] == report["refused"]
    pd.testing.assert_frame_equal(meta, load_corpus(tmp_path / "b").metadata)


def test_a_subset_with_nothing_readable_is_refused_with_the_first_reason(tmp_path, encoder):
    write_clm(tmp_path / "clm", plan=(("S2", ("Trees",), {"damage": "pixels"}),))
    with pytest.raises(bs.SubsetError, match=r"none of the 1 planned samples.*s2_0000"):
        bs.build_subset(tmp_path / "clm", tmp_path / "out", 5, split=None, encoder=encoder)
    assert not (tmp_path / "out").exists()
