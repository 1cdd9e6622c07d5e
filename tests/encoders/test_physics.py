"""The offline physics encoder on real BigEarthNet patches (S1 and S2) and on physical extremes."""

import numpy as np
import pytest

from closp_demo.encoders import create_encoder
from closp_demo.encoders.base import Encoder
from closp_demo.sources import bigearthnet


@pytest.fixture(scope="module")
def encoder():
    return create_encoder("physics-minilm")


@pytest.fixture(scope="module")
def ben(samples_dir):
    records = list(bigearthnet.iter_records(samples_dir))
    return {s: [r for r in records if r.sensor == s] for s in ("S1", "S2")}


def test_obeys_the_interface(encoder):
    assert isinstance(encoder, Encoder)
    assert encoder.info.dim == 384
    t = encoder.encode_text(["lake"])
    assert t.shape == (1, 384)


def _pair_order(scores, positives, negatives):
    """Share of (positive, negative) pairs ranked correctly (the AUC)."""
    pos, neg = scores[positives], scores[negatives]
    return float((pos[:, None] > neg[None, :]).mean())


@pytest.mark.parametrize("sensor", ["S1", "S2"])
def test_lake_query_ranks_water_above_forest_only(encoder, ben, sensor):
    records = ben[sensor]
    vectors = encoder.encode_images(np.stack([r.image for r in records]), sensor)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    scores = vectors @ encoder.encode_text(["lake"])[0]
    water = np.array(["Water" in r.labels for r in records])
    forest_only = np.array(
        [
            set(r.labels) == {"Trees"}
            or (set(r.labels) <= {"Trees", "Shrub and Scrub"} and "Trees" in r.labels)
            for r in records
        ]
    )
    assert water.sum() >= 5 and forest_only.sum() >= 2
    assert _pair_order(scores, water, forest_only) >= 0.8
    # The very top result carries water.
    assert water[np.argmax(scores)]


def test_physical_extremes_s2(encoder):
    """Synthetic spectra with textbook reflectances land on the right class."""

    def spectrum(blue, green, red, nir, swir1, swir2):
        bands = [
            blue,
            blue,
            green,
            red,
            red,
            nir,
            nir,
            nir,
            nir,
            nir,
            swir1,
            swir2,
        ]  # S2_BANDS order
        return np.stack([np.full((120, 120), v * 10000, np.float32) for v in bands])

    water = spectrum(0.05, 0.06, 0.04, 0.02, 0.01, 0.005)
    forest = spectrum(0.02, 0.04, 0.02, 0.35, 0.14, 0.06)
    snow = spectrum(0.8, 0.8, 0.8, 0.7, 0.1, 0.05)
    fractions, _ = encoder.class_fractions(np.stack([water, forest, snow]), "S2")
    top = [encoder.classes[i] for i in fractions.argmax(axis=1)]
    assert top == ["Water", "Trees", "Snow and Ice"]


def test_physical_extremes_s1(encoder):
    water = np.stack([np.full((120, 120), -22.0), np.full((120, 120), -28.0)]).astype(np.float32)
    forest = np.stack([np.full((120, 120), -8.0), np.full((120, 120), -14.0)]).astype(np.float32)
    fractions, _ = encoder.class_fractions(np.stack([water, forest]), "S1")
    top = [encoder.classes[i] for i in fractions.argmax(axis=1)]
    assert top == ["Water", "Trees"]


def test_nan_and_nodata_are_ignored_not_counted(encoder):
    img = np.full((2, 120, 120), -22.0, np.float32)
    img[1] = -28.0
    half = img.copy()
    half[:, :60] = np.nan
    f_full, _ = encoder.class_fractions(img, "S1")
    f_half, m = encoder.class_fractions(half, "S1")
    np.testing.assert_allclose(f_full, f_half, atol=0.05)
    assert m["valid fraction"][0] == pytest.approx(0.5, abs=0.02)
    zeros = np.zeros((12, 120, 120), np.float32)  # S2 no-data fill
    assert np.isfinite(encoder.encode_images(zeros[None], "S2")).all()


def test_explain_names_its_evidence(encoder, ben):
    r = next(r for r in ben["S2"] if "Water" in r.labels)
    (ev,) = encoder.explain(r.image[None], "S2")
    assert {"NDVI", "MNDWI"} <= set(ev.measurements)
    assert ev.class_weights["Water"] > 0
    assert "Water" in ev.summary(top=10)
