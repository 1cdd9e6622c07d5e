"""The Teach tab's lessons on the shipped corpus: every image exists with its bands, every figure
a lesson quotes is recomputed here from the stored bands with plain numpy (not the lesson's own
measures), and what each lesson's sentences claim holds on its images."""

from __future__ import annotations

import numpy as np
import pytest

from closp_demo.corpus.store import load_corpus
from closp_demo.sensors import S2_BANDS, S2_SCALE
from closp_demo.views.lessons import LESSONS, LessonError, show


@pytest.fixture(scope="module")
def corpus(repo_root):
    return load_corpus(repo_root / "precomputed")


def band(s2: np.ndarray, name: str) -> np.ndarray:
    return s2[S2_BANDS.index(name)].astype(np.float64) / S2_SCALE


def nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a + b > 1e-6, (a - b) / (a + b), np.nan)


def water(s2):
    return np.nan_to_num(nd(band(s2, "B03"), band(s2, "B11")), nan=-1) > 0


def ndvi(s2):
    return nd(band(s2, "B08"), band(s2, "B04"))


def med(values, mask=None) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v if mask is None else v[mask]
    return float(np.median(v[np.isfinite(v)]))


def quoted(figure: str) -> float:
    return float(figure.replace("−", "-").removesuffix(" %"))


def recompute(key: str, a: np.ndarray, b: np.ndarray, meta: dict) -> dict[str, float]:
    """Each lesson's figures from the bands of its left (a) and right (b) image."""
    if key == "water":
        w = water(a)
        return {"water": 100 * w.mean(), "vv_water": med(b[0], w), "vv_land": med(b[0], ~w),
                "nir_water": med(band(a, "B08"), w),
                "nir_land": med(band(a, "B08"), ~w)}  # fmt: skip
    if key == "cloud":
        c = band(a, "B02") > 0.2
        return {"cloud": 100 * c.mean(), "vv_cloud": med(b[0], c), "vv_clear": med(b[0], ~c)}
    if key == "haze":
        return {"blue_hazy": med(band(a, "B02")), "blue_clear": med(band(b, "B02")),
                "ndvi_hazy": med(ndvi(a)), "ndvi_clear": med(ndvi(b))}  # fmt: skip
    if key == "town":
        bright = a[0] > -3
        rest = ~bright & ~water(b)
        return {"bright": 100 * bright.mean(), "ndvi_bright": med(ndvi(b), bright),
                "ndvi_rest": med(ndvi(b), rest)}  # fmt: skip
    if key == "crops-forest":
        return {"ratio_crops": med(a[0] - a[1]), "ratio_forest": med(b[0] - b[1]),
                "vh_crops": med(a[1]), "vh_forest": med(b[1])}  # fmt: skip
    if key == "snow":
        snow = (np.nan_to_num(nd(band(a, "B03"), band(a, "B11")), nan=-1) > 0.4) & (
            band(a, "B03") > 0.3
        )
        vv = b[0][snow]
        vv = vv[np.isfinite(vv)]
        return {"snow": 100 * snow.mean(), "green": med(band(a, "B03"), snow),
                "vv_p10": float(np.percentile(vv, 10)),
                "vv_p90": float(np.percentile(vv, 90))}  # fmt: skip
    if key == "flood":
        w = water(a)
        return {"water_s2": 100 * w.mean(), "dark_s1": 100 * (b[0] < -15).mean(),
                "vv_water": med(b[0], w), "vv_dry": med(b[0], ~w),
                "mask": 100 * float(meta["flood_fraction"])}  # fmt: skip
    raise AssertionError(f"no recomputation for lesson {key}")


# What each lesson's sentences claim, as relations between its figures.
CLAIMS = {
    "water": lambda f: f["vv_water"] < f["vv_land"] - 5 and f["nir_water"] < f["nir_land"] / 3,
    "cloud": lambda f: f["cloud"] > 20 and abs(f["vv_cloud"] - f["vv_clear"]) < 2,
    "haze": lambda f: f["blue_hazy"] > f["blue_clear"] and f["ndvi_hazy"] < f["ndvi_clear"],
    "town": lambda f: f["bright"] >= 1 and f["ndvi_bright"] < f["ndvi_rest"] - 0.2,
    "crops-forest": lambda f: (
        f["ratio_crops"] > f["ratio_forest"] + 2 and f["vh_forest"] > f["vh_crops"]
    ),
    "snow": lambda f: f["snow"] > 20 and f["vv_p90"] - f["vv_p10"] > 3,
    "flood": lambda f: f["water_s2"] > 50 and f["vv_water"] < f["vv_dry"] - 5,
}


def test_there_are_at_least_six_lessons_with_their_claims():
    assert len(LESSONS) >= 6 and set(CLAIMS) == set(LESSONS)


@pytest.mark.parametrize("key", list(LESSONS))
def test_every_quoted_figure_is_recomputed_from_the_images(corpus, key):
    shown = show(corpus, key)
    lesson = shown.lesson
    rows = [corpus.rows.row_of(i) for i in (lesson.left, lesson.right)]
    assert None not in rows  # both images are in the shipped corpus
    a, b = (corpus.bands.image(r, corpus.rows.row(r).sensor) for r in rows)
    meta = corpus.metadata.iloc[rows[1]].to_dict()
    expected = recompute(key, a, b, meta)
    assert set(shown.figures) == set(expected)
    for name, figure in shown.figures.items():
        assert figure in shown.text, (name, figure)  # every figure is quoted
        decimals = 0 if figure.endswith("%") else len(figure.split(".")[1])
        # printed with `decimals` decimals: off by at most half a unit of the last one
        assert quoted(figure) == pytest.approx(expected[name], abs=0.5 * 10**-decimals + 1e-6)
    assert CLAIMS[key](expected), expected
    assert shown.markdown().startswith(f"### {lesson.title}")


@pytest.mark.parametrize("key", ["nope", "", None, "<script>alert(1)</script>", "x" * 500, 3])
def test_unknown_lessons_get_a_plain_message(corpus, key):
    with pytest.raises(LessonError, match="No lesson called"):
        show(corpus, key)


def test_a_corpus_without_the_images_says_which_image_is_missing(small_corpus):
    # small_corpus is the BigEarthNet slice only: no Congo tile, no Sen1Floods11 flood
    with pytest.raises(LessonError, match="needs image mtom-0U_199R-r3c3"):
        show(load_corpus(small_corpus), "haze")
