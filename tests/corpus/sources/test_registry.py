"""The source registry over all real shared samples: counts, ids, order, physical ranges."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from closp_demo.corpus.sources import SOURCES, attributions, iter_all

EXPECTED = {
    ("bigearthnet", "S1"): 64,
    ("bigearthnet", "S2"): 60,
    ("majortom", "S2"): 128,
    ("ssl4eo", "S1"): 8,
    ("ssl4eo", "S2"): 16,
    ("hydro", "S2"): 28,
    ("sen1floods11", "S1"): 16,
    ("sen1floods11", "S2"): 16,
}


@pytest.fixture(scope="module")
def summary(samples_dir: Path) -> list[dict]:
    """One streaming pass over every record, keeping only what the tests need."""
    rows = []
    for r in iter_all(samples_dir):
        finite = r.image[np.isfinite(r.image)]
        if r.sensor == "S2":
            in_range = ((finite >= 0) & (finite <= 12_000)).mean()
        else:
            in_range = ((finite >= -35) & (finite <= 5)).mean()
        rows.append(
            dict(
                id=r.image_id,
                source=r.source,
                sensor=r.sensor,
                level=r.level,
                shape=r.image.shape,
                dtype=r.image.dtype,
                finite=finite.size / r.image.size,
                min=float(finite.min()),
                max=float(finite.max()),
                median=float(np.median(finite)),
                in_range=float(in_range),
                centre=r.centre_lonlat(),
            )
        )
    return rows


def test_registry_modules_expose_the_reader_interface():
    assert list(SOURCES) == ["bigearthnet", "majortom", "ssl4eo", "hydro", "sen1floods11"]
    for name, module in SOURCES.items():
        assert name == module.SOURCE
        assert callable(module.iter_records)
        # a licence, or (Sen1Floods11) the statement that there is none and the citation asked
        assert re.search(r"CC-BY|MIT|CDLA|no licence file.*cite", module.ATTRIBUTION), name
        assert "Copernicus Sentinel" in module.ATTRIBUTION
    assert set(attributions()) == set(SOURCES)
    assert list(attributions(["hydro"])) == ["hydro"]


def test_counts_by_source_and_sensor(summary):
    assert Counter((s["source"], s["sensor"]) for s in summary) == EXPECTED


def test_ids_unique_stable_and_filesystem_safe(summary, samples_dir):
    ids = [s["id"] for s in summary]
    assert len(set(ids)) == len(ids) == sum(EXPECTED.values())
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", i) for i in ids)
    again = [r.image_id for r in iter_all(samples_dir, only=["ssl4eo", "hydro"])]
    assert again == [s["id"] for s in summary if s["source"] in ("ssl4eo", "hydro")]


def test_registry_order(summary):
    order = [s["source"] for s in summary]
    firsts = [order.index(name) for name in SOURCES]
    assert firsts == sorted(firsts)
    assert order == sorted(order, key=list(SOURCES).index)


def test_layout_and_physical_ranges(summary):
    for s in summary:
        bands = 12 if s["sensor"] == "S2" else 2
        assert s["shape"] == (bands, 120, 120) and s["dtype"] == np.float32
        assert s["finite"] > 0.99, s["id"]
        if s["sensor"] == "S2":  # digital numbers: mostly 0..~12000
            assert s["min"] >= 0 and s["max"] <= 20_000, s["id"]
            assert 0 < s["median"] < 12_000 and s["in_range"] > 0.8, s["id"]
        else:  # backscatter in dB: mostly -35..+5
            # up to +25.6 dB: a real point target (double bounce) in a Sen1Floods11 tile
            assert s["min"] > -50 and s["max"] < 30, s["id"]
            assert -30 < s["median"] < 0 and s["in_range"] > 0.9, s["id"]
    s2 = [s for s in summary if s["sensor"] == "S2"]
    assert np.mean([s["in_range"] for s in s2]) > 0.99


def test_levels(summary):
    levels = Counter((s["sensor"], s["level"]) for s in summary)
    assert levels == {("S1", "GRD"): 88, ("S2", "L2A"): 224, ("S2", "L1C"): 24}


def test_every_centre_is_on_earth_and_where_the_readme_says(summary):
    for s in summary:
        lon, lat = s["centre"]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
    ssl = [s["centre"] for s in summary if s["source"] == "ssl4eo"]
    assert all(abs(lat - 30.5) < 0.1 and abs(lon - 73.3) < 0.1 for lon, lat in ssl)


def test_only_filters_and_unknown_names_are_refused(samples_dir):
    hydro_only = list(iter_all(samples_dir, only=["hydro"]))
    assert len(hydro_only) == 28 and {r.source for r in hydro_only} == {"hydro"}
    assert len(list(iter_all(samples_dir, only="hydro"))) == 28
    with pytest.raises(ValueError, match=r"unknown source\(s\) 'sentinel3'; known: bigearthnet"):
        list(iter_all(samples_dir, only=["sentinel3"]))


def test_missing_root_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        list(iter_all(tmp_path / "nowhere"))
