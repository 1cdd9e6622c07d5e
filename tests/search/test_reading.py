"""The query reading: p(c|q), nearest terms and the calibrated out-of-scope decision (real MiniLM,
real physics encoder)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from closp_demo.encoders import create_encoder
from closp_demo.encoders.base import EncoderInfo, l2_normalise
from closp_demo.encoders.minilm import shared_minilm
from closp_demo.encoders.physics import OBSCURED
from closp_demo.search.reading import (
    QueryReader,
    calibrate,
    load_scope_queries,
    load_stored_calibrations,
    store_calibration,
)
from tests.helpers.tolerances import SCORE_ATOL, VECTOR_ATOL


@pytest.fixture(scope="module")
def physics():
    return create_encoder("physics-minilm")


@pytest.fixture(scope="module")
def reader(physics):
    return QueryReader(physics)


class MiniLMOnly:
    """A real text-only encoder with no land-cover classes: plain MiniLM sentence vectors."""

    info = EncoderInfo(id="minilm-text", version="1", dim=384, name="MiniLM text only")

    def __init__(self) -> None:
        self.text = shared_minilm(pooling="mean")

    def encode_text(self, texts):
        return l2_normalise(self.text.encode(list(texts)))

    def encode_images(self, images, sensor):
        raise NotImplementedError("text only")

    def explain(self, images, sensor):
        return None


def test_lists_are_written_disjoint_and_balanced():
    lists = load_scope_queries()
    every = [q for dom in ("in_domain", "off_domain") for part in lists[dom].values() for q in part]
    assert len(every) == len(set(every)) == 96
    assert {len(lists[d][p]) for d in ("in_domain", "off_domain") for p in lists[d]} == {24}


def test_calibrate_separates_and_prefers_fewer_false_alarms():
    cal = calibrate([0.6, 0.7, 0.8], [0.2, 0.3])
    assert 0.3 < cal.threshold < 0.6 and (cal.false_alarm, cal.detection) == (0.0, 1.0)
    assert cal.threshold == pytest.approx(0.45)  # midway between the nearest scores
    # 0.3 (catch 0.2, no false alarm) and 0.6 (catch both, flag 0.4) tie at J = 0.5
    tie = calibrate([0.4, 0.8], [0.5, 0.2])
    assert (tie.threshold, tie.false_alarm, tie.detection) == (pytest.approx(0.3), 0.0, 0.5)
    with pytest.raises(ValueError, match="in-domain and off-domain"):
        calibrate([], [0.1])


def test_reading_embeds_exactly_like_encode_text(physics, reader):
    for text in ("river", "a lake surrounded by forest", "a red sports car"):
        vector, _ = reader.read_and_embed(text)
        np.testing.assert_allclose(vector, physics.encode_text([text])[0], atol=VECTOR_ATOL)


def test_physics_reading_is_the_class_distribution(physics, reader):
    r = reader.read("the sea")
    assert [c for c, _ in r.classes] != [] and {c for c, _ in r.classes} == set(physics.classes)
    shares = [p for _, p in r.classes]
    assert shares == sorted(shares, reverse=True) and sum(shares) == pytest.approx(1.0)
    assert r.classes[0][0] == "Water" and r.in_scope
    assert r.message().startswith("Read as ") and "Water" in r.message()
    assert len(r.terms) == 3 and r.terms[0][1] == r.scope


def test_cloud_query_reads_obscured_and_says_radar_is_unaffected(reader):
    r = reader.read("cloudy image")
    assert r.classes[0][0] == OBSCURED and r.in_scope
    assert any("Sentinel-1" in n and "through clouds" in n for n in r.notes)
    assert reader.read("dense forest").notes == ()


def test_off_domain_query_is_flagged_plainly(reader):
    r = reader.read("airport runway")
    assert not r.in_scope and r.scope < r.threshold
    text = r.message()
    assert "outside what the model can see" in text and "“airport runway”" in text
    assert "land-cover classes only" in text and "%" in text
    d = r.to_dict()
    assert d["in_scope"] is False and d["classes"] and d["nearest_terms"][0]["term"]


def test_held_out_check_lists_keep_the_calibrated_rates(reader):
    lists = reader.scope_queries
    t = reader.calibration.threshold
    false_alarms = (reader.scores(lists["in_domain"]["check"]) < t).mean()
    detection = (reader.scores(lists["off_domain"]["check"]) < t).mean()
    assert false_alarms <= 0.10 and detection >= 0.90


def test_any_encoder_gets_nearest_vocabulary_terms():
    reader = QueryReader(MiniLMOnly())
    assert not reader.reads_classes
    assert reader.vocabulary == tuple(load_scope_queries()["vocabulary"]["terms"])
    vector, r = reader.read_and_embed("a frozen lake covered in snow")
    assert vector.shape == (384,) and r.classes == ()
    assert r.terms[0][0] == "snow and ice"
    assert r.message().startswith("Nearest terms: ")
    flagged = reader.read("a cup of coffee")
    assert not flagged.in_scope and "vocabulary terms only" in flagged.message()


def test_the_stored_calibration_is_what_calibrating_afresh_gives(reader):
    stored = load_stored_calibrations()[reader.stored_key()]
    fresh = reader.calibrate()
    assert fresh.threshold == pytest.approx(stored["threshold"], abs=SCORE_ATOL)
    assert (fresh.false_alarm, fresh.detection) == (stored["false_alarm"], stored["detection"])
    assert reader.calibration.threshold == stored["threshold"]  # read, not recomputed


def test_a_changed_list_is_never_read_with_an_old_threshold(physics, reader, tmp_path):
    lists = load_scope_queries()
    lists["off_domain"]["calibration"] = [*lists["off_domain"]["calibration"], "a teapot"]
    other = QueryReader(physics, lists)
    assert other.stored_key() != reader.stored_key()
    assert other.stored_key() not in load_stored_calibrations()
    path = store_calibration(other.stored_key(), other.calibration, tmp_path / "c.json")
    store_calibration("x v1 lists 0", other.calibration, path)
    assert set(json.loads(path.read_text())["calibrations"]) == {
        other.stored_key(), "x v1 lists 0"}  # fmt: skip
