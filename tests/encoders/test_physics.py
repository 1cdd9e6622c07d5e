"""The offline physics encoder on real BigEarthNet patches (S1 and S2) and on physical extremes."""

import numpy as np
import pytest

from closp_demo.corpus.sources import bigearthnet, majortom
from closp_demo.encoders import create_encoder
from closp_demo.encoders.base import Encoder, LandCoverEncoder, measures_land_cover
from closp_demo.encoders.physics import OBSCURED, PRESENCE_EPS


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


def test_land_cover_capability_is_declared_and_one_pass_equals_encode_images(encoder, ben):
    assert encoder.info.land_cover and isinstance(encoder, LandCoverEncoder)
    assert measures_land_cover(encoder)
    images = np.stack([r.image for r in ben["S2"][:4]])
    fractions, _ = encoder.class_fractions(images, "S2")
    assert fractions.shape == (4, len(encoder.classes))
    np.testing.assert_array_equal(
        encoder.embed_fractions(fractions), encoder.encode_images(images, "S2")
    )


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


# --- version 3: image-image similarity, snow, shrub, built-up, rough water ---------------------


def _s2(blue, green, red, red_edge1, red_edge3, nir, swir1, swir2, shape=(120, 120)):
    """A uniform 12-band L2A image (reflectances -> DN) in S2_BANDS order."""
    bands = [blue, blue, green, red, red_edge1, nir, red_edge3, nir, nir, nir, swir1, swir2]
    return np.stack([np.full(shape, v * 10000, np.float32) for v in bands])


FOREST = (0.02, 0.04, 0.02, 0.06, 0.33, 0.35, 0.14, 0.06)
MEADOW = (0.04, 0.08, 0.05, 0.12, 0.40, 0.42, 0.25, 0.13)
SNOW = (0.8, 0.8, 0.8, 0.8, 0.75, 0.7, 0.1, 0.05)
# dark pixel with a snow-like NDSI: a conifer crown over snow under a low sun
CROWN_ON_SNOW = (0.06, 0.07, 0.05, 0.07, 0.15, 0.18, 0.02, 0.015)


def test_text_scores_are_unchanged_by_the_fill_and_presence_is_recoverable(encoder, ben):
    images = np.stack([r.image for r in ben["S2"][:8]])
    vectors = encoder.encode_images(images, "S2")
    fractions, _ = encoder.class_fractions(images, "S2")
    s = encoder.presence(fractions)
    np.testing.assert_allclose(encoder.presence_from_embedding(vectors), s, rtol=1e-4, atol=1e-5)
    # cos(text, image) = p . s / (R |p T|): the query's class distribution weighting the evidence
    text = encoder.text.encode(["lake", "farmland", "shrubland"])
    p = encoder.query_classes(text)
    expected = (p @ s.T) / (encoder.radius * np.linalg.norm(p @ encoder.prototypes, axis=1))[
        :, None
    ]
    np.testing.assert_allclose(encoder.encode_text(["lake", "farmland", "shrubland"]) @ vectors.T,
                               expected, atol=1e-5)  # fmt: skip


def test_image_to_image_cosine_compares_class_mixtures(encoder, ben):
    """Version 2 put every image-image cosine at 0.99-1.00; now it follows the class mixtures."""
    records = ben["S2"]
    vectors = encoder.encode_images(np.stack([r.image for r in records]), "S2")
    sea = [i for i, r in enumerate(records) if set(r.labels) == {"Water"}]
    land = [i for i, r in enumerate(records) if "Water" not in r.labels]
    assert len(sea) >= 2 and len(land) >= 5
    sea_sea = vectors[sea[0]] @ vectors[sea[1]]
    sea_land = vectors[sea] @ vectors[land].T
    assert sea_sea > 0.9
    assert sea_land.max() < 0.5
    np.testing.assert_allclose(np.einsum("ij,ij->i", vectors, vectors), 1.0, atol=1e-5)


def _mosaic(parts):
    """Stack horizontal strips of uniform spectra: [(spectrum, rows), ...] -> (12, 120, 120)."""
    strips = [_s2(*spec, shape=(rows, 120)) for spec, rows in parts]
    return np.concatenate(strips, axis=1)


def test_snow_scene_reads_dark_crowns_as_trees_not_elsewhere(encoder):
    trees = encoder.classes.index("Trees")
    snow = encoder.classes.index("Snow and Ice")
    winter = _mosaic([(SNOW, 60), (CROWN_ON_SNOW, 60)])
    no_snow = _mosaic([(MEADOW, 60), (CROWN_ON_SNOW, 60)])
    f, m = encoder.class_fractions(np.stack([winter, no_snow]), "S2")
    assert m["snow scene"][0] > 0.9 and m["snow scene"][1] < 0.1
    # In the snow scene the crowns are forest and the open snow is snow ...
    assert f[0, trees] == pytest.approx(0.5, abs=0.1)
    assert f[0, snow] == pytest.approx(0.5, abs=0.1)
    # ... without one, the same dark pixels are not forest over snow.
    assert f[1, trees] < 0.1


def test_sparse_woody_vegetation_is_shrub_not_forest(encoder):
    # heath / sclerophyllous scrub: green but SWIR high against NIR, weak red edge
    heath = (0.03, 0.05, 0.04, 0.08, 0.18, 0.25, 0.18, 0.11)
    f, _ = encoder.class_fractions(np.stack([_s2(*heath), _s2(*FOREST)]), "S2")
    top = [encoder.classes[i] for i in f.argmax(axis=1)]
    assert top == ["Shrub and Scrub", "Trees"]


def test_s2_built_needs_a_flat_textured_spectrum_not_bare_soil(encoder):
    rng = np.random.default_rng(0)
    built = encoder.classes.index("Built")
    concrete = (0.12, 0.13, 0.14, 0.16, 0.20, 0.21, 0.19, 0.15)
    soil = (0.10, 0.13, 0.18, 0.21, 0.30, 0.33, 0.35, 0.30)

    def town(spectrum):
        # small bright objects among gardens: every other 2x2 block
        img = _s2(*MEADOW)
        mask = (np.indices((120, 120)) // 2).sum(axis=0) % 2 == 0
        img[:, mask] = _s2(*spectrum, shape=(1, 1))[:, 0, 0, None]
        return img * rng.uniform(0.97, 1.03, size=(1, 120, 120)).astype(np.float32)

    f, _ = encoder.class_fractions(np.stack([town(concrete), town(soil), _s2(*soil)]), "S2")
    assert f[0, built] > 0.2
    assert f[1, built] < 0.05 and f[2, built] < 0.05


def test_s1_rough_water_and_point_targets(encoder):
    rng = np.random.default_rng(0)
    water, built = encoder.classes.index("Water"), encoder.classes.index("Built")
    rough_sea = np.stack([np.full((120, 120), -14.0), np.full((120, 120), -29.0)])
    forest = np.stack([np.full((120, 120), -9.0), np.full((120, 120), -15.0)])
    town = forest.copy()
    town[0, ::10, ::10] = 8.0  # isolated double-bounce returns
    slope = forest.copy()
    slope[:, :, :60] += 10.0  # a whole hillside facing the radar
    speckle = rng.normal(0, 0.5, size=(4, 2, 120, 120))
    images = (np.stack([rough_sea, forest, town, slope]) + speckle).astype(np.float32)
    f, m = encoder.class_fractions(images, "S1")
    assert encoder.classes[f[0].argmax()] == "Water" and f[0, water] > 0.9
    assert f[2, built] > 0.005 and m["VV point targets"][2] > 0.005
    assert f[1, built] < 0.001 and f[3, built] < 0.001


def test_shrub_patches_rank_above_the_rest_on_train(encoder, ben):
    """Real patches of the split the rules were looked at on (held-out splits are for the
    evaluation report, not for tests that would steer the rules)."""
    records = [r for r in ben["S2"] if r.split == "train"]
    vectors = encoder.encode_images(np.stack([r.image for r in records]), "S2")
    scores = vectors @ encoder.encode_text(["Shrub and Scrub"])[0]
    shrub = np.array(["Shrub and Scrub" in r.labels for r in records])
    assert shrub.sum() >= 4 and (~shrub).sum() >= 10
    assert _pair_order(scores, shrub, ~shrub) >= 0.7


# --- version 4: cloud, haze and cloud shadow; burned area on dark surfaces ---------------------


@pytest.fixture(scope="module")
def major_tom(samples_dir):
    records = list(majortom.iter_records(samples_dir))
    hazy = [r for r in records if r.image_id.startswith("mtom-0U_199R")]  # Congo: cloud deck
    clear = [r for r in records if r.image_id.startswith("mtom-199U_1099R")]  # Laos: clear
    assert len(hazy) == len(clear) == 64
    return {"hazy": hazy, "clear": clear}


def test_a_hazy_cell_is_explained_as_obscured_and_loses_its_land_classes(encoder, major_tom):
    """The Congo Major-TOM cell lies under a thin cloud deck (its shipped cloud mask is empty):
    v3 read it as crops and flooded vegetation. The clear Laos cell of the same source keeps its
    land classes."""
    obscured = encoder.classes.index(OBSCURED)
    hazy, _ = encoder.class_fractions(np.stack([r.image for r in major_tom["hazy"]]), "S2")
    clear, _ = encoder.class_fractions(np.stack([r.image for r in major_tom["clear"]]), "S2")
    land_hazy = np.delete(hazy, obscured, axis=1)
    assert np.median(hazy[:, obscured]) > 0.9 and land_hazy.sum(axis=1).max() < 0.2
    assert clear[:, obscured].max() < 0.05 and np.delete(clear, obscured, axis=1).sum(1).min() > 0.8
    (ev,) = encoder.explain(major_tom["hazy"][0].image[None], "S2")
    assert ev.summary(top=1).startswith(OBSCURED)


@pytest.mark.parametrize("query", ["cloudy image", "hazy"])
def test_cloud_queries_find_the_hazy_tiles_and_land_queries_do_not(encoder, major_tom, query):
    records = major_tom["hazy"] + major_tom["clear"]
    vectors = encoder.encode_images(np.stack([r.image for r in records]), "S2")
    hazy = np.array([r in major_tom["hazy"] for r in records])
    assert _pair_order(vectors @ encoder.encode_text([query])[0], hazy, ~hazy) > 0.99
    for land in ("Crops", "Flooded Vegetation", "Trees"):
        scores = vectors @ encoder.encode_text([land])[0]
        assert not hazy[np.argsort(-scores)[:12]].any(), land


def test_sentinel1_never_carries_cloud(encoder, ben):
    """Radar sees through clouds: S1 evidence has no obscured share and full land evidence."""
    obscured = encoder.classes.index(OBSCURED)
    images = np.stack([r.image for r in ben["S1"]])
    fractions, _ = encoder.class_fractions(images, "S1")
    assert (fractions[:, obscured] == 0).all()
    s = encoder.presence_from_embedding(encoder.encode_images(images, "S1"))
    np.testing.assert_allclose(s, encoder.presence(fractions), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s[:, obscured], PRESENCE_EPS**encoder.gamma, rtol=1e-4)


def _s2_sky(blue, green, red, nir, swir1, swir2, vapour=1.0, shape=(120, 120)):
    """Uniform 12-band image in S2_BANDS order with B09 = vapour x B8A (L2A over land: 1)."""
    bands = [blue, blue, green, red, red, nir, nir, nir, nir, nir * vapour, swir1, swir2]
    return np.stack([np.full(shape, v * 10000, np.float32) for v in bands])


def test_cloud_haze_and_snow_are_told_apart(encoder):
    obscured, snow = encoder.classes.index(OBSCURED), encoder.classes.index("Snow and Ice")
    images = np.stack(
        [
            _s2_sky(0.45, 0.44, 0.42, 0.45, 0.35, 0.25),  # water cloud: white, bright in SWIR
            _s2_sky(0.18, 0.17, 0.15, 0.25, 0.18, 0.12, vapour=2.0),  # thin deck over forest
            _s2_sky(0.50, 0.48, 0.46, 0.45, 0.08, 0.06, vapour=2.5),  # ice-topped cloud
            _s2_sky(0.80, 0.80, 0.80, 0.70, 0.08, 0.06),  # snow on the ground
            _s2_sky(0.12, 0.13, 0.15, 0.18, 0.22, 0.18),  # concrete: flat, HOT low
        ]
    )
    f, m = encoder.class_fractions(images, "S2")
    assert (f[:3, obscured] > 0.9).all() and f[3, obscured] < 0.05 and f[3, snow] > 0.9
    assert f[4, obscured] < 0.05
    assert m["cloud/haze cover"][0] > 0.9 and m["B09/B8A median"][1] == pytest.approx(2.0)


def test_cloud_shadow_is_obscured_ground_not_water_or_burn(encoder):
    obscured, water = encoder.classes.index(OBSCURED), encoder.classes.index("Water")
    burned = encoder.classes.index("Burned Area")
    cloud = _s2_sky(0.45, 0.44, 0.42, 0.45, 0.35, 0.25)[:, :, :40]
    # meadow in the cloud's shadow: lit by the sky only, NDVI kept
    shade = _s2_sky(0.015, 0.02, 0.012, 0.06, 0.03, 0.015)[:, :, :40]
    meadow = _s2_sky(0.04, 0.08, 0.05, 0.42, 0.25, 0.13)[:, :, :40]
    scene = np.concatenate([cloud, shade, meadow], axis=2)
    f, m = encoder.class_fractions(scene[None], "S2")
    assert m["cloud shadow"][0] == pytest.approx(1 / 3, abs=0.05)
    assert f[0, obscured] == pytest.approx(2 / 3, abs=0.05)
    assert f[0, water] < 0.05 and f[0, burned] < 0.05
    # The same dark pixels without a cloud in the scene are not shadow.
    _, m2 = encoder.class_fractions(np.concatenate([meadow, shade, meadow], axis=2)[None], "S2")
    assert m2["cloud shadow"][0] < 0.05


def test_burned_area_needs_a_char_spectrum_not_just_a_dark_one(encoder, ben):
    burned = encoder.classes.index("Burned Area")
    images = np.stack(
        [
            _s2_sky(0.03, 0.05, 0.06, 0.075, 0.20, 0.15),  # fresh char: SWIR2 above NIR
            _s2_sky(0.012, 0.0015, 0.0001, 0.0001, 0.0015, 0.0017),  # black deep water
            _s2_sky(0.01, 0.02, 0.015, 0.03, 0.012, 0.02),  # terrain shadow
            _s2_sky(0.02, 0.04, 0.02, 0.30, 0.12, 0.05),  # dark conifer forest
        ]
    )
    f, _ = encoder.class_fractions(images, "S2")
    assert encoder.classes[f[0].argmax()] == "Burned Area" and f[0, burned] > 0.5
    assert encoder.classes[f[1].argmax()] == "Water"
    assert (f[1:, burned] < 0.1).all()
    # No labelled image of the samples is burned: none carries burn evidence over 10 %.
    for sensor in ("S1", "S2"):
        real, _ = encoder.class_fractions(np.stack([r.image for r in ben[sensor]]), sensor)
        assert real[:, burned].max() < 0.1
