"""One-click lessons for the Teach tab: two real corpus images side by side, and sentences whose
numbers are computed from those images each time a lesson opens (`closp_demo.views.measures`).

A lesson names its two images by corpus id and which composite shows each; its `explain`
function receives both images' bands and returns the figures it quotes (formatted, by name) and
its text. Sentences claim only what the images (or their labels) show; the physics behind a
pattern is named as the reason, and tests recompute every quoted figure from the bands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from closp_demo.corpus.bands import BandsMissing
from closp_demo.corpus.store import REFERENCE_COLUMNS, Corpus
from closp_demo.views import measures as m

Explain = Callable[[np.ndarray, np.ndarray, dict], tuple[dict[str, str], str]]


class LessonError(LookupError):
    """A lesson this corpus cannot show (an image or its bands missing); visitor-facing."""


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    left: str  # corpus image ids
    right: str
    left_composite: str  # keys of views.composites
    right_composite: str
    explain: Explain


def _water(s2, s1, meta):
    w = m.water_mask(s2)
    f = {"water": m.pct(m.percent(w)), "vv_water": m.db(m.median(m.vv(s1), w)),
         "vv_land": m.db(m.median(m.vv(s1), ~w)), "nir_water": m.refl(m.median_band(s2, "B08", w)),
         "nir_land": m.refl(m.median_band(s2, "B08", ~w))}  # fmt: skip
    text = (
        f"Open water covers {f['water']} of this tile (MNDWI > 0 in the optical image). In the "
        f"radar image the same pixels have a median VV of {f['vv_water']} dB, against "
        f"{f['vv_land']} dB over the land: a smooth water surface reflects the radar pulse away "
        "from the satellite (specular reflection), so little comes back and the river is black. "
        f"In the optical image water is dark for another reason, absorption: its median near-"
        f"infrared reflectance (B08) is {f['nir_water']}, against {f['nir_land']} over the land."
    )
    return f, text


def _cloud(s2, s1, meta):
    c = m.cloud_mask(s2)
    f = {"cloud": m.pct(m.percent(c)), "vv_cloud": m.db(m.median(m.vv(s1), c)),
         "vv_clear": m.db(m.median(m.vv(s1), ~c))}  # fmt: skip
    text = (
        f"A cloud hides {f['cloud']} of the optical tile (blue reflectance above 0.2): "
        "Sentinel-2 sees the cloud's top, not the ground. Sentinel-1, a day earlier over the same "
        "ground, shows no trace of the cloud's outline: its median VV is "
        f"{f['vv_cloud']} dB under it and {f['vv_clear']} dB beside it. Radar's 5.6 cm waves pass "
        "through cloud droplets, and the radar brings its own illumination, day or night."
    )
    return f, text


def _haze(hazy, clear, meta):
    f = {"blue_hazy": m.refl(m.median_band(hazy, "B02")),
         "blue_clear": m.refl(m.median_band(clear, "B02")),
         "ndvi_hazy": m.refl(m.median_ndvi(hazy)),
         "ndvi_clear": m.refl(m.median_ndvi(clear))}  # fmt: skip
    text = (
        "Two tiles of one Major-TOM cell of the Congo basin, taken in the same Sentinel-2 "
        f"overpass. Haze veils the left one: its median blue reflectance is {f['blue_hazy']} "
        f"against {f['blue_clear']} on the right, and its median NDVI falls to "
        f"{f['ndvi_hazy']} from {f['ndvi_clear']}: the veil adds scattered light and hides the "
        "vegetation's infrared contrast. Sentinel-1 of this cell is not in the corpus; the cloud "
        "lesson shows what radar sees under a cloud."
    )
    return f, text


def _town(s1, s2, meta):
    bright = m.vv(s1) > m.VV_BRIGHT_DB
    rest = ~bright & ~m.water_mask(s2)
    f = {"bright": m.pct(m.percent(bright)), "ndvi_bright": m.refl(m.median_ndvi(s2, bright)),
         "ndvi_rest": m.refl(m.median_ndvi(s2, rest))}  # fmt: skip
    text = (
        f"{f['bright']} of the radar pixels are brighter than −3 dB in VV: the built-up spots. "
        "A wall and the street in front of it form a corner that sends the pulse straight back "
        "(double bounce). Under those bright pixels the optical image shows roofs and streets: "
        f"median NDVI {f['ndvi_bright']}, against {f['ndvi_rest']} on the rest of the land."
    )
    return f, text


def _crops_forest(crops, forest, meta):
    f = {"ratio_crops": m.db(m.median(m.ratio(crops))),
         "ratio_forest": m.db(m.median(m.ratio(forest))),
         "vh_crops": m.db(m.median(crops[1])), "vh_forest": m.db(m.median(forest[1]))}  # fmt: skip
    text = (
        "Two radar tiles in VV − VH, the depolarisation. Left, a crop field in Serbia in late "
        f"December (labelled Crops): median VV − VH {f['ratio_crops']} dB. Right, a Finnish "
        f"forest (labelled Trees, Shrub and Scrub): {f['ratio_forest']} dB. Leaves and branches "
        "scatter the pulse many times (volume scattering) and turn part of it into the cross "
        f"polarisation: VH is {f['vh_forest']} dB over the forest against {f['vh_crops']} dB "
        "over the field, whose soil mostly reflects in VV."
    )
    return f, text


def _snow(s2, s1, meta):
    snow = m.snow_mask(s2)
    vv = m.vv(s1)[snow]
    vv = vv[np.isfinite(vv)]
    f = {"snow": m.pct(m.percent(snow)), "green": m.refl(m.median_band(s2, "B03", snow)),
         "vv_p10": m.db(float(np.percentile(vv, 10))),
         "vv_p90": m.db(float(np.percentile(vv, 90)))}  # fmt: skip
    text = (
        f"February in Finland: {f['snow']} of the optical tile is snow (NDSI > 0.4 and green "
        f"reflectance > 0.3; median green reflectance {f['green']}), a white sheet over fields "
        "and forest. The radar image of the same day is no white sheet: over those snowy pixels "
        f"VV still ranges from {f['vv_p10']} to {f['vv_p90']} dB (10th to 90th percentile), the "
        "pattern of the land under the snow; dry snow is nearly transparent at C band."
    )
    return f, text


def _flood(s2, s1, meta):
    w = m.water_mask(s2)
    dark = m.vv(s1) < m.VV_DARK_DB
    f = {"water_s2": m.pct(m.percent(w)), "dark_s1": m.pct(m.percent(dark)),
         "vv_water": m.db(m.median(m.vv(s1), w)), "vv_dry": m.db(m.median(m.vv(s1), ~w)),
         "mask": m.pct(100.0 * float(meta.get("flood_fraction") or 0.0))}  # fmt: skip
    text = (
        "The September 2019 floods of the Segura near Orihuela, Spain (Sen1Floods11). The "
        f"optical index MNDWI marks {f['water_s2']} of the tile as water; radar finds "
        f"{f['dark_s1']} darker than −15 dB in VV, and over the optical water its median VV "
        f"is {f['vv_water']} dB against {f['vv_dry']} dB elsewhere. The hand-drawn Sen1Floods11 "
        f"mask marks {f['mask']} as flood water. Where the sensors disagree (muddy shallow "
        "water, wet soil, flooded trees and buildings) is worth a discussion."
    )
    return f, text


_BEN_S1 = "ben-s1-S1B_IW_GRDH_1SDV_20170612T165809_33UUP_"
_BEN_S2 = "ben-s2-S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_"
LESSONS: dict[str, Lesson] = {
    lesson.key: lesson
    for lesson in (
        Lesson("water", "Water is dark in radar and in optical, for different reasons",
               "ben-s2-S2A_MSIL2A_20170818T103021_N9999_R108_T32TMT_43_48",
               "ben-s1-S1A_IW_GRDH_1SDV_20170819T053446_32TMT_43_48", "true", "vv", _water),
        Lesson("cloud", "A cloud hides the ground from Sentinel-2, not from Sentinel-1",
               _BEN_S2 + "38_58", _BEN_S1 + "38_58", "true", "s1_false", _cloud),
        Lesson("haze", "Haze over the Congo basin", "mtom-0U_199R-r3c3", "mtom-0U_199R-r7c7",
               "true", "true", _haze),
        Lesson("town", "Towns are bright in radar (double bounce)", _BEN_S1 + "38_87",
               _BEN_S2 + "38_87", "vv", "true", _town),
        Lesson("crops-forest", "Crops versus forest in VV − VH",
               "ben-s1-S1A_IW_GRDH_1SDV_20171224T163351_34TCS_51_88",
               "ben-s1-S1B_IW_GRDH_1SDV_20170817T045612_34WFS_71_30", "ratio", "ratio",
               _crops_forest),
        Lesson("snow", "Snow: a white sheet in optical, the land beneath in radar",
               "ben-s2-S2B_MSIL2A_20180204T094159_N9999_R036_T35VPK_57_38",
               "ben-s1-S1A_IW_GRDH_1SDV_20180204T043253_35VPK_57_38", "true", "vv", _snow),
        Lesson("flood", "A flood seen by both sensors (Sen1Floods11)",
               "sen1floods11-Spain_7370579-s2-r1c3", "sen1floods11-Spain_7370579-s1-r1c3",
               "true", "vv", _flood),
    )
}  # fmt: skip


@dataclass
class Shown:
    """A lesson as the Teach tab shows it."""

    lesson: Lesson
    left: np.ndarray  # bands of each image (internal layout)
    right: np.ndarray
    figures: dict[str, str]
    text: str
    captions: tuple[str, str]

    def markdown(self) -> str:
        # The title and text are this module's own sentences (no data strings but numbers).
        return f"### {self.lesson.title}\n\n{self.text}"


def _caption(corpus: Corpus, row: int) -> str:
    r = corpus.rows.row(row)
    return f"{r.sensor} · {r.place or 'unknown place'} · {(r.timestamp or '')[:10]} · {r.image_id}"


def show(corpus: Corpus, key: str) -> Shown:
    """Open lesson `key` on `corpus`; `LessonError` when it cannot be shown there."""
    lesson = LESSONS.get(key) if isinstance(key, str) else None
    if lesson is None:
        raise LessonError(f"No lesson called “{str(key)[:60]}”; choose one of the list.")
    rows, bands = [], []
    for image_id in (lesson.left, lesson.right):
        row = corpus.rows.row_of(image_id)
        if row is None:
            raise LessonError(f"This lesson needs image {image_id}, which this corpus lacks.")
        try:
            bands.append(corpus.bands.image(row, corpus.rows.row(row).sensor))
        except BandsMissing as err:
            raise LessonError(f"This lesson needs the images' bands: {err}") from None
        rows.append(row)
    meta = {c: corpus.metadata.iloc[rows[1]][c] for c in REFERENCE_COLUMNS
            if c in corpus.metadata}  # fmt: skip
    figures, text = lesson.explain(bands[0], bands[1], meta)
    captions = (_caption(corpus, rows[0]), _caption(corpus, rows[1]))
    return Shown(lesson, bands[0], bands[1], figures, text, captions)


def main() -> None:
    """Print every lesson as measured on the shipped corpus (the README's lesson table)."""
    from closp_demo.corpus.store import load_corpus
    from closp_demo.settings import DEFAULT_CORPUS

    corpus = load_corpus(DEFAULT_CORPUS)
    for key in LESSONS:
        shown = show(corpus, key)
        print(f"{shown.markdown()}\n\n{shown.captions[0]}\n{shown.captions[1]}\n")


if __name__ == "__main__":
    main()
