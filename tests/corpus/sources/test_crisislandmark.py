"""CrisisLandMark reader and subset builder on h5 fixtures written in the dataset's layout."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

from closp_demo.corpus import build_subset as bs
from closp_demo.corpus import sources
from closp_demo.corpus.sources import crisislandmark as clm
from closp_demo.corpus.store import THUMBNAILS, load_corpus
from closp_demo.encoders import create_encoder
from tests.corpus.sources.clm_fixtures import DEFAULT_PLAN, CountingEncoder, Interrupted, write_clm


@pytest.fixture(scope="module")
def encoder():
    return create_encoder("physics-minilm")


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    write_clm(tmp_path / "clm")
    return tmp_path / "clm"


# ---------------------------------------------------------------- reader


@pytest.mark.parametrize("per_key_links", [True, False])
def test_records_match_what_the_shards_hold(tmp_path, per_key_links, monkeypatch):
    written = write_clm(tmp_path / "clm", per_key_links=per_key_links)
    monkeypatch.chdir(tmp_path)  # external links must resolve beside the file, not the cwd
    records = {r.extra["key"]: r for r in clm.iter_records(tmp_path / "clm")}
    assert set(records) == {s.key for s in written}
    for s in written:
        r = records[s.key]
        with h5py.File(tmp_path / "clm" / s.shard, "r") as shard:
            np.testing.assert_array_equal(r.image, shard[s.key]["image"][()])
        assert r.sensor == s.sensor and r.image.shape[0] == (2 if s.sensor == "S1" else 12)
        assert r.level == ("GRD" if s.sensor == "S1" else "L2A")
        assert r.labels == tuple(c for c in clm.ALL_CLASSES if c in s.labels)
        assert (r.split, r.crs, r.source) == (s.split, f"EPSG:{s.crs}", "crisislandmark")
        assert r.timestamp == s.timestamp + "Z"
        # pixel-centre coords -> pixel-edge bounds: half a pixel beyond the outer centres
        x0, y0 = s.origin
        assert r.bounds == (x0 - 5, y0 - 119 * 10 - 5, x0 + 119 * 10 + 5, y0 + 5)


def test_centre_lonlat_is_the_centre_of_the_grid(folder):
    record = next(clm.iter_records(folder))
    x0, y0 = 400_000.0, 5_000_000.0  # first fixture sample, EPSG:32632
    lon, lat = warp_transform(CRS.from_epsg(32632), CRS.from_epsg(4326), [x0 + 595], [y0 - 595])
    assert record.centre_lonlat() == pytest.approx((lon[0], lat[0]), abs=1e-6)


@pytest.mark.parametrize("label_format", ["pipe", "comma"])
def test_string_labels_read_like_lists(tmp_path, label_format):
    write_clm(tmp_path / "a")
    write_clm(tmp_path / "b", label_format=label_format)
    a, b = clm.read_metadata(tmp_path / "a"), clm.read_metadata(tmp_path / "b")
    assert a["labels"].tolist() == b["labels"].tolist()
    assert ("Built", "Crops") not in a["labels"].tolist()  # canonical order, not file order
    assert ("Crops", "Built") in a["labels"].tolist()


def test_unknown_label_is_kept_apart_not_raised(folder):
    meta = pd.read_parquet(folder / "metadata.parquet")
    meta["labels"] = [
        ["Trees", "Lava"] if k == "s2_0003" else list(v)
        for k, v in zip(meta["key"], meta["labels"], strict=True)
    ]
    meta.to_parquet(folder / "metadata.parquet", index=False)
    row = clm.read_metadata(folder).set_index("key").loc["s2_0003"]
    assert row["labels"] == ("Trees",) and row["unmapped"] == ("unmapped: Lava",)


def test_unexpected_band_count_refuses_that_key_only(folder):
    with h5py.File(folder / "shard_001.h5", "a") as shard:
        del shard["s2_0004"]["image"]
        shard["s2_0004"].create_dataset("image", data=np.zeros((3, 120, 120), np.float32))
    cat = clm.catalogue(folder)
    (key, reason), *_ = cat.attrs["refused"]
    assert key == "s2_0004" and "3 bands" in reason and len(cat.attrs["refused"]) == 1
    assert "s2_0004" not in set(cat["key"]) and len(cat) == len(DEFAULT_PLAN) - 1


def test_bad_crs_refuses_that_key_only(folder):
    with h5py.File(folder / "shard_000.h5", "a") as shard:
        shard["s2_0000"].attrs["crs"] = "UTM 32N"
    refused: list = []
    keys = [r.extra["key"] for r in clm.iter_records(folder, refused=refused)]
    assert len(refused) == 1 and refused[0][0] == "s2_0000"
    assert "'UTM 32N' is not an EPSG code" in refused[0][1]
    assert len(keys) == len(DEFAULT_PLAN) - 1 and "s2_0000" not in keys


def test_missing_shard_drops_its_keys_only(folder):
    (folder / "shard_002.h5").unlink()
    cat = clm.catalogue(folder, split=None)
    assert cat.attrs["absent_shards"] == ["shard_002.h5"]
    expected = [f"{s.lower()}_{i:04d}" for i, (s, _) in enumerate(DEFAULT_PLAN) if i % 3 != 2]
    assert sorted(cat["key"]) == sorted(expected)


def test_split_filter(folder):
    cat = clm.catalogue(folder, split="train")
    assert len(cat) == len(DEFAULT_PLAN[::4]) and set(cat["split"]) == {"train"}


# ---------------------------------------------------------------- sampling plan


def test_allocate_is_proportional_with_one_per_stratum():
    rng = np.random.default_rng(1)
    for _ in range(200):
        counts = {f"s{i}": int(n) for i, n in enumerate(rng.integers(1, 60, rng.integers(1, 9)))}
        size = int(rng.integers(1, sum(counts.values()) + 5))
        alloc = bs.allocate(counts, size)
        total = sum(counts.values())
        assert sum(alloc.values()) == min(size, total)
        assert all(0 <= alloc[s] <= counts[s] for s in counts)
        if len(counts) <= size < total:
            assert min(alloc.values()) >= 1
            spare = total - len(counts)
            for s, n in counts.items():  # within one image of the proportional share
                assert abs(alloc[s] - 1 - (size - len(counts)) * (n - 1) / spare) < 1


def test_plan_stratifies_by_rarest_label_and_is_seeded(folder):
    cat = clm.catalogue(folder, split=None)
    plan = bs.plan_subset(cat, 8, seed=0)
    strata = dict(zip(plan["key"], plan["stratum"], strict=True))
    # 7 strata in the fixture: every one is represented, S2/Trees (largest) gets the spare
    assert Counter(plan["stratum"]) == {
        "S2/Trees": 2, "S2/Crops": 1, "S2/Water": 1, "S2/Burned Area": 1,
        "S1/Water": 1, "S1/Crops": 1, "S1/Earthquake Damage": 1,
    }  # fmt: skip
    crops_trees = [
        k for k, labs in zip(plan["key"], plan["labels"], strict=True) if "Crops" in labs
    ]
    assert crops_trees
    # (Trees, Crops) images: Crops is rarer than Trees among S2 images, so they count as Crops
    assert all(strata[k].endswith("/Crops") for k in crops_trees)
    assert plan.equals(bs.plan_subset(cat, 8, seed=0))
    seeds = {tuple(bs.plan_subset(cat, 8, seed=s)["key"]) for s in range(6)}
    assert len(seeds) > 1
    assert list(plan["sensor"]) == sorted(plan["sensor"])


def test_plan_per_sensor_and_whole_pool(folder):
    cat = clm.catalogue(folder, split=None)
    per = bs.plan_subset(cat, 5, per_sensor=True)
    assert Counter(per["sensor"]) == {"S1": 5, "S2": 5}
    assert len(bs.plan_subset(cat, 1000)) == len(cat)
    with pytest.raises(bs.SubsetError, match="--size"):
        bs.plan_subset(cat, 0)


# ---------------------------------------------------------------- build, resume, CLI


def _snapshot(out: Path) -> tuple[pd.DataFrame, np.ndarray, dict[str, bytes]]:
    corpus = load_corpus(out)
    thumbs = {p.name: p.read_bytes() for p in (out / THUMBNAILS).iterdir()}
    return corpus.metadata, np.asarray(corpus.embeddings), thumbs


def test_build_loads_and_matches_the_plan(folder, tmp_path, encoder):
    out = tmp_path / "corpus"
    manifest = bs.build_subset(folder, out, 8, split=None, encoder=encoder, batch=3)
    corpus = load_corpus(out)
    plan = bs.plan_subset(clm.catalogue(folder, split=None), 8)
    meta = corpus.metadata
    assert manifest["count"] == len(meta) == 8
    assert Counter(meta["sensor"]) == Counter(plan["sensor"])
    assert Counter(meta["labels"]) == Counter("|".join(labels) for labels in plan["labels"])
    assert set(meta["source"]) == {"crisislandmark"}
    assert "CC-BY-NC-4.0" in (out / "ATTRIBUTION.md").read_text()
    assert not (tmp_path / ".corpus.work").exists()  # progress folder removed on success
    assert "crisislandmark" not in sources.SOURCES  # the sample registry is left as it was


def test_interrupted_build_resumes_to_the_same_corpus(folder, tmp_path, encoder):
    kwargs = dict(split=None, batch=2)
    bs.build_subset(folder, tmp_path / "straight", 8, encoder=encoder, **kwargs)

    out, work = tmp_path / "resumed", tmp_path / "work"
    failing = CountingEncoder(encoder, fail_after=2)
    with pytest.raises(Interrupted):
        bs.build_subset(folder, out, 8, encoder=failing, work=work, **kwargs)
    assert len(list(work.glob("chunk-*.npz"))) == 2 and not out.exists()

    resuming = CountingEncoder(encoder)
    bs.build_subset(folder, out, 8, encoder=resuming, work=work, **kwargs)
    assert resuming.calls == 5 - 2  # S1 3 = 2+1, S2 5 = 2+2+1: 5 chunks, 2 were done
    straight, resumed = _snapshot(tmp_path / "straight"), _snapshot(out)
    pd.testing.assert_frame_equal(straight[0], resumed[0])
    np.testing.assert_array_equal(straight[1], resumed[1])
    assert straight[2] == resumed[2]


def test_work_folder_of_another_plan_is_refused(folder, tmp_path, encoder):
    work = tmp_path / "work"
    with pytest.raises(Interrupted):
        bs.build_subset(
            folder, tmp_path / "a", 8, split=None, work=work, batch=2,
            encoder=CountingEncoder(encoder, fail_after=1),
        )  # fmt: skip
    with pytest.raises(bs.SubsetError, match="different subset"):
        bs.build_subset(folder, tmp_path / "a", 9, split=None, work=work, batch=2,
                        encoder=encoder)  # fmt: skip


def test_cli_builds_and_reports_bad_input(folder, tmp_path, capsys, monkeypatch, encoder):
    asked = []  # reuse the module's encoder (loading it again costs seconds), record the request
    monkeypatch.setattr(bs, "make_encoder", lambda *a: asked.append(a) or encoder)
    out = tmp_path / "cli"
    argv = ["--clm", str(folder), "--out", str(out), "--size", "3", "--per-sensor", "--batch", "4"]
    assert bs.main(argv) == 0
    corpus = load_corpus(out)
    assert Counter(corpus.metadata["sensor"]) == {"S1": 3, "S2": 3}
    assert asked == [("physics-minilm", None)]  # no --device: the settings decide
    assert set(corpus.metadata["split"]) == {"test"}  # the default split
    command = corpus.manifest["build_command"]
    assert command.startswith("python -m closp_demo.corpus.build_subset --clm")

    assert bs.main(["--clm", str(tmp_path / "nowhere"), "--out", str(out), "--size", "3"]) == 2
    assert "nowhere/metadata.parquet not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bs.main(["--hub-repo", "me/clm", "--out", str(out), "--size", "3"])
    assert "--revision and --shards" in capsys.readouterr().err


def test_fetch_from_hub_uses_the_pinned_snapshot(tmp_path):
    # the huggingface_hub cache layout; a cached file at a commit revision needs no network
    revision = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "cache" / "datasets--me--clm" / "snapshots" / revision
    write_clm(tmp_path / "full")
    snapshot.mkdir(parents=True)
    for name in ("crisislandmark.h5", "metadata.parquet", "shard_000.h5", "shard_001.h5"):
        shutil.copy(tmp_path / "full" / name, snapshot / name)
    folder = bs.fetch_from_hub("me/clm", revision, ["shard_000.h5"], tmp_path / "cache")
    assert folder == snapshot
    cat = clm.catalogue(folder, split=None)
    assert cat.attrs["absent_shards"] == ["shard_002.h5"]
    assert all(int(key[-4:]) % 3 != 2 for key in cat["key"])
    with pytest.raises(bs.SubsetError, match="--shards"):
        bs.fetch_from_hub("me/clm", revision, [], tmp_path / "cache")
