"""Offline physics baseline: band evidence -> land-cover scores -> the MiniLM text space.

No trained vision weights. Each pixel gets soft memberships from physical rules (spectral indices,
red-edge and moisture ratios, snow handling and a built-up test for Sentinel-2; backscatter levels,
VV-VH depolarisation, point targets and speckle texture for Sentinel-1); an image's class
fractions (shares of its valid pixels) become presence scores s_c = (f_c + eps)^gamma.

Version 4: Sentinel-2 pixels the ground does not show through (cloud, haze, cloud shadow;
`physics_sky.py`) form their own class, OBSCURED, found by queries such as "cloudy image" or
"hazy"; every land class is measured on what remains, and its presence is weighed by the clear
share f = f_c (1 - f_obscured), so a partly obscured view ranks below a clear one. Sentinel-1
sees through clouds: its obscured share is 0. Burned area needs SWIR2 (char keeps it; dark water
and shadow do not).

Both sides live in the 384-d all-MiniLM-L6-v2 space, in the span of the class prototypes t_c
(MiniLM embeddings of class descriptions):
- a text is read as a land-cover distribution p(c|q) = softmax(cos(q, t_c) / tau) and embedded
  as the normalised mixture sum_c p(c|q) t_c;
- an image is embedded on the dual basis of the prototypes, so that t_c . e = s_c / R exactly,
  and filled up to a constant norm R in directions orthogonal to every prototype.
Then cos(text, image) is proportional to sum_c p(c|q) s_c: the query's class distribution
weighting the image's physical evidence, with no distortion from the prototypes' mutual
similarity. S1 and S2 share the space, one query ranks both, and every image can say why it
matched (its measurements and scores). A plain mixture of prototypes weighted by s (version 1)
lost most of the evidence: MiniLM prototypes are strongly correlated.

Image-to-image similarity (upload search, cross-sensor twins): the fill is not one fixed
direction (version 2, which put every image-image cosine at 0.99-1.00) but mirrors the evidence:
fill * (s @ N) / |s|, N orthonormal rows orthogonal to the prototypes. Text scores are unchanged
(text vectors have no component along N) and for two images
    cos(e1, e2) = (s1' G^-1 s2 + fill1 fill2 cos(s1, s2)) / R^2,
dominated by cos(s1, s2) = sum_c sqrt(f1c f2c)-like overlap of the class mixtures (gamma 0.5 makes
it the Bhattacharyya coefficient up to eps): about 0.1 for a lake against a forest, 1 for the
same mixture. `presence_from_embedding` recovers s exactly from any image embedding.

Rules and descriptions live in `physics_rules.json` (configs as data). This is NOT the CLOSP
model: it cannot see shapes, context or anything a class rule does not encode.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from closp_demo.encoders.base import EncoderInfo, Evidence, l2_normalise
from closp_demo.encoders.minilm import Backend, MiniLMText, shared_minilm
from closp_demo.encoders.physics_ops import (
    above,
    below,
    box_mean,
    local_std,
    masked_mean,
    masked_median,
    norm_diff,
)
from closp_demo.encoders.physics_single_pol import without_vh
from closp_demo.encoders.physics_sky import cloud_and_haze, cloud_shadow
from closp_demo.sensors import S2_BANDS, S2_SCALE, Sensor

PHYSICS_ID = "physics-minilm"
PHYSICS_VERSION = "4"


def load_rules() -> dict:
    text = resources.files("closp_demo.encoders").joinpath("physics_rules.json").read_text()
    return json.loads(text)


PRESENCE_EPS = 1e-3
# The class a Sentinel-2 pixel falls in when cloud, haze or cloud shadow hides the ground. Radar
# sees through clouds: Sentinel-1 evidence never carries it (its fraction is always 0).
OBSCURED = "Cloud/haze (view obscured)"


def _dual_frame(prototypes: np.ndarray, gamma: float) -> tuple[np.ndarray, float, np.ndarray]:
    """Dual basis D (t_c . d_k = delta_ck), radius R bounding |s @ D| over all presence vectors
    s in [eps^gamma, (1+eps)^gamma]^C (a convex maximum, reached at a vertex), and C fixed
    orthonormal rows N orthogonal to every prototype (where the fill mirrors the evidence)."""
    gram_inv = np.linalg.inv(prototypes @ prototypes.T)
    dual = gram_inv @ prototypes
    lo, hi = PRESENCE_EPS**gamma, (1 + PRESENCE_EPS) ** gamma
    corners = np.array(list(itertools.product((lo, hi), repeat=len(prototypes))))
    radius = float(np.sqrt(np.einsum("ij,jk,ik->i", corners, gram_inv, corners).max()))
    seed = np.random.default_rng(0).normal(size=prototypes.shape)
    free = seed - (seed @ prototypes.T) @ dual  # remove the span of the prototypes
    q, _ = np.linalg.qr(free.T)
    return dual.astype(np.float64), radius, q.T.astype(np.float64)


class PhysicsEncoder:
    """Training-free encoder; see module docstring. Thread-safe (stateless after init)."""

    def __init__(
        self,
        text: MiniLMText | None = None,
        rules: dict | None = None,
        device: str | None = None,
        text_backend: Backend = "auto",
        cache_dir: Path | None = None,
    ) -> None:
        """`text_backend`, `cache_dir`: MiniLM's network and ONNX cache (Settings, see minilm)."""
        self.rules = rules or load_rules()
        self.text = text or shared_minilm(
            device=device, pooling="mean", backend=text_backend, cache_dir=cache_dir
        )
        self.classes: tuple[str, ...] = tuple(self.rules["class_descriptions"])
        self.gamma = float(self.rules["presence_gamma"])
        self.tau = float(self.rules["query_temperature"])
        self.prototypes = self._class_prototypes()
        self._obscured = self.classes.index(OBSCURED)
        self.dual, self.radius, self.orthogonal = _dual_frame(self.prototypes, self.gamma)
        self.info = EncoderInfo(
            id=PHYSICS_ID,
            version=PHYSICS_VERSION,
            dim=self.prototypes.shape[1],
            name="Offline physics baseline (spectral/backscatter rules + MiniLM)",
            description=(
                "Training-free baseline, NOT the CLOSP model: land-cover evidence from band "
                "indices (S2) and backscatter (S1) mixed into the all-MiniLM-L6-v2 text space."
            ),
            land_cover=True,  # class_fractions + embed_fractions (LandCoverEncoder)
            partial_s1=True,  # VV (or HH) alone: the VH rules are skipped (`_s1_memberships`)
        )

    def _class_prototypes(self) -> np.ndarray:
        descriptions = self.rules["class_descriptions"]
        vectors = [self.text.encode(descriptions[c]) for c in self.classes]
        # every description's own vector, class by class (the query reading's vocabulary)
        self.description_vectors = np.concatenate(vectors)
        return l2_normalise(np.stack([v.mean(axis=0) for v in vectors]))

    # --- the Encoder interface -------------------------------------------------------------
    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_class_distribution(self.query_classes(self.text_vectors(texts)))

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """The raw MiniLM vectors queries are read from (closp_demo.search.reading)."""
        return self.text.encode(texts)

    def encode_images(self, images: np.ndarray, sensor: Sensor) -> np.ndarray:
        fractions, _ = self.class_fractions(images, sensor)
        return self.embed_fractions(fractions)

    def explain(self, images: np.ndarray, sensor: Sensor) -> list[Evidence]:
        fractions, measurements = self.class_fractions(images, sensor)
        return [
            Evidence(
                measurements={k: round(float(v[i]), 4) for k, v in measurements.items()},
                class_weights={
                    c: round(float(f), 4) for c, f in zip(self.classes, fractions[i], strict=True)
                },
            )
            for i in range(len(fractions))
        ]

    # --- the shared space --------------------------------------------------------------------
    def query_classes(self, text_vectors: np.ndarray) -> np.ndarray:
        """MiniLM text vectors (N, d) -> land-cover distributions p(c|q) (N, n_classes)."""
        logits = text_vectors @ self.prototypes.T / self.tau
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def embed_class_distribution(self, p: np.ndarray) -> np.ndarray:
        return l2_normalise(p @ self.prototypes)

    def presence(self, fractions: np.ndarray) -> np.ndarray:
        # gamma < 1 lifts small fractions: a patch with a 3 % lake still "has water" (labels mark
        # presence, not dominance).
        f = np.clip(fractions, 0.0, 1.0)
        # A partly obscured view ranks below a clear one showing the same ground: land evidence
        # is weighed by the share of the image the ground shows through (1 for Sentinel-1).
        clear = 1.0 - f[:, self._obscured]
        land = np.arange(f.shape[1]) != self._obscured
        f = np.where(land, f * clear[:, None], f)
        return np.power(f + PRESENCE_EPS, self.gamma)

    def embed_fractions(self, fractions: np.ndarray) -> np.ndarray:
        s = self.presence(fractions)
        core = s @ self.dual
        fill = np.sqrt(np.maximum(self.radius**2 - (core * core).sum(axis=1), 0.0))
        # The fill mirrors the evidence (see the module docstring): image-image cosines compare
        # class mixtures, text-image scores do not see it.
        mirror = (s @ self.orthogonal) / np.linalg.norm(s, axis=1, keepdims=True)
        return ((core + fill[:, None] * mirror) / self.radius).astype(np.float32)

    def presence_from_embedding(self, vectors: np.ndarray) -> np.ndarray:
        """Image embeddings (N, d) -> their presence scores s (N, n_classes), exactly."""
        return np.asarray(vectors, dtype=np.float64) @ self.prototypes.T * self.radius

    def score_contributions(
        self, text: str, image_vector: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(p(c|q), s_c, contributions) for one query text and one image embedding.
        The text embedding is (sum_c p_c t_c) / |sum_c p_c t_c| and t_c . e = s_c / R, so
        cos(q, e) = sum_c p_c s_c / (R |sum_c p_c t_c|): the contributions (one per class)
        sum to the score exactly; the factor is the same for every image of a query."""
        p = self.query_classes(self.text.encode([text]))[0]
        s = self.presence_from_embedding(np.asarray(image_vector)[None])[0]
        scale = self.radius * float(np.linalg.norm(p @ self.prototypes))
        return p, s, p * s / scale

    def class_memberships(self, images: np.ndarray, sensor: Sensor) -> np.ndarray:
        """(N, B, H, W) -> per-pixel class memberships (N, n_classes, H, W) in [0, 1], the maps
        whose masked means are `class_fractions` (0 where a pixel is invalid or clouded)."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 3:
            images = images[None]
        if sensor == "S2":
            member, weight, _ = self._s2_memberships(images)
        elif sensor == "S1":
            member, weight, _ = self._s1_memberships(images)
        else:
            raise ValueError(f"unknown sensor {sensor!r}")
        maps = np.zeros((len(images), len(self.classes), *images.shape[-2:]), dtype=np.float32)
        for j, name in enumerate(self.classes):
            if name in member:
                maps[:, j] = member[name] * weight
        return maps

    # --- physics ---------------------------------------------------------------------------
    def class_fractions(
        self, images: np.ndarray, sensor: Sensor
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(N,B,H,W) -> class fractions (N, n_classes) and named per-image measurements."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 3:
            images = images[None]
        if sensor == "S2":
            member, weight, measures = self._s2_memberships(images)
        elif sensor == "S1":
            member, weight, measures = self._s1_memberships(images)
        else:
            raise ValueError(f"unknown sensor {sensor!r}")
        fractions = np.zeros((len(images), len(self.classes)), dtype=np.float32)
        for j, name in enumerate(self.classes):
            if name in member:
                fractions[:, j] = masked_mean(member[name], weight)
        return fractions, measures

    def _s2_memberships(self, images: np.ndarray):
        r = self.rules["s2"]
        w = r["sharpness"]
        x = images / S2_SCALE
        # DN 0 in every band is Sentinel-2's no-data fill.
        valid = np.isfinite(x).all(axis=1) & (np.abs(np.nan_to_num(x)).sum(axis=1) > 0)
        validf = valid.astype(np.float32)
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        band = {name: x[:, i] for i, name in enumerate(S2_BANDS)}
        blue, green, red, nir = band["B02"], band["B03"], band["B04"], band["B08"]
        swir1, swir2 = band["B11"], band["B12"]
        ndvi = norm_diff(nir, red)
        mndwi = norm_diff(green, swir1)  # also the snow index NDSI
        ndwi = norm_diff(green, nir)
        ndbi = norm_diff(swir1, nir)
        nbr = norm_diff(nir, swir2)
        # Ratios, not reflectances, where illumination varies (low winter sun, shaded slopes):
        # moisture stress index and the red-edge chlorophyll ratio.
        msi = swir1 / np.maximum(nir, 1e-3)
        red_edge = band["B07"] / np.maximum(band["B05"], 1e-3)

        # What the ground does not show through (physics_sky): cloud and haze, cloud shadow.
        haze, sky = cloud_and_haze(band, r)
        rw = r["water"]
        # Water absorbs NIR: a dark pixel with NDVI well above 0 is vegetation or shade. Deep
        # clear water can be black in every band past green (indices are then noise): nothing
        # else is that dark in both NIR and SWIR1.
        black = below(nir, rw["black_max"], 0.005) * below(swir1, rw["black_max"], 0.005)
        open_water = np.maximum(
            above(mndwi, rw["mndwi_min"], 0.1)
            * below(nir, rw["nir_max"], w)
            * below(ndvi, rw["ndvi_max"], 0.1),
            black,
        )
        shadow = cloud_shadow(band, open_water, haze, validf, r)
        obscured = haze + shadow  # shadow excludes haze: at most 1
        clear = 1.0 - obscured
        water = open_water * clear
        snowy, open_snow, canopy_snow, sparse_snow, snow_scene = self._s2_snow(
            mndwi, green, water, clear, validf
        )
        dry = (1 - water) * (1 - snowy) * clear
        veg = above(ndvi, r["vegetation_ndvi"], 0.1) * dry
        # Sparse woody vegetation (heath, sclerophyllous scrub, regrowth): soil and wood show
        # through, so SWIR is high against NIR and the red edge is weak for a green canopy.
        rsh = r["shrub"]
        woody = above(msi, rsh["msi_min"], 0.1) * below(red_edge, rsh["red_edge_max"], 0.3)
        rt = r["trees"]
        dark = below(swir1, rt["swir1_max"], w) * below(red, rt["red_max"], 0.01)
        trees = veg * (1 - woody) * dark
        herbaceous = veg * (1 - woody) * (1 - dark)
        # Field mosaics: NDVI varies across field boundaries; pastures and meadows are smoother.
        fields = above(local_std(ndvi, 5), r["crops_texture_min"], 0.03)
        # Partly green, non-woody land: sown, ripening, harvested or dormant fields (in Europe's
        # open land, mostly arable).
        lo, hi = r["sparse_ndvi"]
        sparse = above(ndvi, lo, 0.1) * below(ndvi, hi, 0.1) * dry
        built = self._s2_built(ndvi, ndbi, mndwi, blue, nir, swir1, dry)
        rbu = r["burned"]
        # Char is dark in NIR but keeps SWIR2 (the dry, hot scar): water, shadow and dark wet
        # soil are dark in SWIR2 too, a negative NBR there is noise on two small numbers.
        burned = (
            below(nbr, rbu["nbr_max"], 0.1)
            * below(ndvi, rbu["ndvi_max"], 0.1)
            * below(nir, rbu["nir_max"], w)
            * above(swir2, rbu["swir2_min"], rbu["swir2_width"])
            * dry
        )
        bare = (
            below(ndvi, r["bare"]["ndvi_max"], 0.1)
            * above(swir1, r["bare"]["swir1_min"], w)
            * (1 - built)
            * (1 - burned)  # char is burned ground, not bare ground
            * dry
        )
        wv = r["wet_vegetation"]
        flooded = (
            above(ndvi, wv["ndvi"][0], 0.1)
            * below(ndvi, wv["ndvi"][1], 0.1)
            * above(ndwi, wv["ndwi_min"], 0.1)
            * clear
            * (1 - water)
            * (1 - snowy)
        )
        member = {
            "Water": water,
            "Trees": trees + canopy_snow,
            "Grass": herbaceous * (1 - fields),
            "Crops": herbaceous * fields + bare * fields * 0.5 + sparse,
            "Shrub and Scrub": veg * woody + sparse_snow,
            "Built": built,
            "Bare": bare,
            "Snow and Ice": open_snow,
            "Burned Area": burned,
            "Flooded Vegetation": flooded,
            # Its own class, so a hazy tile says so and its land classes shrink by as much.
            OBSCURED: obscured,
        }
        vegf = veg * validf
        measures = {
            "NDVI": masked_mean(ndvi, validf),
            "MNDWI": masked_mean(mndwi, validf),
            "NDBI": masked_mean(ndbi, validf),
            "vegetation cover": masked_mean(veg, validf),
            # over vegetated pixels (0 without any): what tells shrub from forest and grass
            "SWIR1/NIR (veg.)": masked_mean(msi, vegf),
            "red edge B07/B05 (veg.)": masked_mean(red_edge, vegf),
            "snow cover": masked_mean(snowy, validf),
            "snow scene": snow_scene,
            "cloud/haze cover": masked_mean(haze, validf),
            "cloud shadow": masked_mean(shadow, validf),
            "haze index HOT": masked_mean(sky["hot"], validf),
            "B09/B8A median": masked_median(sky["vapour"], valid),
            "valid fraction": validf.mean(axis=(-2, -1)),
        }
        return member, validf, measures

    def _s2_snow(
        self,
        ndsi: np.ndarray,
        green: np.ndarray,
        water: np.ndarray,
        clear: np.ndarray,
        validf: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        """Snow signal and what stands above it: (snowy, open, under canopy, under sparse
        woody cover, per-image snow-scene flag)."""
        rs = self.rules["s2"]["snow"]
        signal = above(ndsi, rs["ndsi_min"], 0.1) * (1 - water) * clear
        open_share = above(green, rs["open_green_min"], 0.05)
        # Snow is regional: a dark pixel with a snow-like NDSI is canopy over snow only in a
        # scene where open snow shows as well; elsewhere it is a wet or shaded surface, left
        # to the other rules, and only bright pixels count as snow.
        scene = above(masked_mean(signal * open_share, validf), rs["scene_min"], 0.02)
        in_scene = scene[:, None, None]
        snowy = signal * np.maximum(in_scene, above(green, rs["green_min"], 0.05))
        # Trees stand above the snow and darken the pixel; open snow (fields, frozen lakes,
        # bogs) hides the land cover; in between, sparse trees or shrubs.
        canopy_share = below(green, rs["canopy_green_max"], 0.05)
        between = np.clip(1 - open_share - canopy_share, 0.0, 1.0)
        canopy = snowy * in_scene * canopy_share
        sparse = snowy * in_scene * between
        return snowy, snowy - canopy - sparse, canopy, sparse, scene

    def _s2_built(
        self,
        ndvi: np.ndarray,
        ndbi: np.ndarray,
        mndwi: np.ndarray,
        blue: np.ndarray,
        nir: np.ndarray,
        swir1: np.ndarray,
        dry: np.ndarray,
    ) -> np.ndarray:
        """Built-up pixels: unvegetated, spectrally flat (concrete, asphalt and roofs keep blue
        high against SWIR, where soils rise steeply), textured at 10 m, not wet or snowy."""
        rb = self.rules["s2"]["built"]
        w = self.rules["s2"]["sharpness"]
        flat = blue / np.maximum(swir1, 1e-3)
        return (
            below(ndvi, rb["ndvi_max"], 0.1)
            * above(flat, rb["blue_swir1_min"], 0.1)
            * above(local_std(nir, 3), rb["texture_min"], 0.01)
            * above(nir, rb["nir_min"], w)
            * below(blue, rb["blue_max"], w)
            * above(ndbi, rb["ndbi_min"], 0.05)
            * below(mndwi, rb["mndwi_max"], 0.05)
            * dry
        )

    def _s1_memberships(self, images: np.ndarray):
        r = self.rules["s1"]
        w = r["sharpness_db"]
        # Single polarisation (an upload of VV or HH alone): the VH channel is all NaN. The
        # rules needing VH are skipped for that image: water by the calm-water VV rule only,
        # built by VV point targets, open land split by VV texture into crops and grass;
        # trees, shrub, bare and flooded vegetation are not measured (0). A degraded embedding.
        has_vh = np.isfinite(images[:, 1]).any(axis=(-2, -1))
        valid = np.isfinite(images[:, 0]) & (np.isfinite(images[:, 1]) | ~has_vh[:, None, None])
        validf = valid.astype(np.float32)
        db = np.nan_to_num(images, nan=-30.0, posinf=-30.0, neginf=-30.0)
        # Boxcar speckle filter in linear power (averaging dB would bias low), back to dB.
        power = np.power(10.0, db / 10.0)
        smooth = 10.0 * np.log10(np.maximum(box_mean(power, 3), 1e-6))
        vv, vh = smooth[:, 0], smooth[:, 1]
        ratio = vv - vh
        texture = local_std(db[:, 0], 5)

        rw = r["water"]
        calm = below(vv, rw["vv_max"], w) * below(vh, rw["vh_max"], w)
        # Wind roughens open water and lifts VV, but the cross-polarised return stays near the
        # noise floor: very low VH marks rough water.
        rough = below(vh, rw["rough_vh_max"], w) * below(vv, rw["rough_vv_max"], w)
        water = 1 - (1 - calm) * (1 - rough)
        # Double-bounce point targets (walls + ground) are single bright pixels: read them on
        # the unfiltered VV, where the speckle filter has not averaged them away, and ask that
        # they stand out from their surroundings (slopes facing the radar are bright too, but
        # over whole hillsides).
        rb = r["built"]
        background = 10.0 * np.log10(np.maximum(box_mean(power[:, 0], rb["window"]), 1e-6))
        contrast = db[:, 0] - background
        built = above(db[:, 0], rb["vv_min"], w) * above(contrast, rb["contrast_min"], w)
        land = (1 - water) * (1 - built)
        # Volume scattering from canopies: strong VH, VV-VH around 6 dB.
        rt = r["trees"]
        trees = above(vh, rt["vh_min"], w) * below(ratio, rt["ratio_max"], w) * land
        open_land = land - trees
        # Surface scattering (tilled soil, crop rows, stubble) lifts VV over VH: in Europe's
        # open land mostly fields; with very low VH, bare ground.
        surface = above(ratio, r["surface_ratio_min"], w)
        bare = surface * below(vh, r["bare"]["vh_max"], w)
        fields = above(texture, r["texture_crops_min"], 0.5)
        herbaceous = (1 - surface) * (1 - fields)
        # Shrubs scatter between short vegetation and forest: upper VH of open vegetation.
        shrubby = above(vh, r["shrub_vh_min"], w)
        rf = r["flooded_vegetation"]
        # Two wetland signatures: stems standing in water (double bounce: bright VV, high
        # VV-VH) and marsh or bog (wet surface, sparse plants: darker than dry open land,
        # brighter than open water). An overlay, not taken from the other classes: no train
        # patch carries the class, so this rule is untested and must not move the others.
        stems = above(vv, rf["vv_min"], w) * above(ratio, rf["ratio_min"], w) * (1 - built)
        marsh = open_land * below(vh, rf["marsh_vh_max"], w) * below(vv, rf["marsh_vv_max"], w)
        member = {
            "Water": water,
            "Trees": trees,
            "Grass": open_land * herbaceous * (1 - shrubby),
            "Crops": open_land * (surface - bare + (1 - surface) * fields),
            "Shrub and Scrub": open_land * herbaceous * shrubby,
            "Built": built,
            "Bare": open_land * bare,
            "Flooded Vegetation": 1 - (1 - stems) * (1 - marsh),
        }
        if not has_vh.all():
            member = without_vh(member, ~has_vh, calm_vv=below(vv, rw["vv_max"], w),
                                 built=built, fields=fields)  # fmt: skip
            ratio = np.where(has_vh[:, None, None], ratio, np.nan)
            vh = np.where(has_vh[:, None, None], vh, np.nan)
        measures = {
            "VV median dB": masked_median(vv, valid),
            "VH median dB": masked_median(vh, valid),
            "VV-VH dB": masked_mean(ratio, validf),
            "VV texture dB": masked_mean(texture, validf),
            # share of pixels that are bright, isolated VV point targets (buildings, pylons)
            "VV point targets": masked_mean(built, validf),
            "valid fraction": validf.mean(axis=(-2, -1)),
        }
        return member, validf, measures
