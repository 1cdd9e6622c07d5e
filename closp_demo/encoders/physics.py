"""Offline physics baseline: band evidence -> land-cover scores -> the MiniLM text space.

No trained vision weights. Each pixel gets soft memberships from physical rules (spectral indices
for Sentinel-2; backscatter levels, VV-VH depolarisation and speckle texture for Sentinel-1); an
image's class fractions become presence scores s_c = (f_c + eps)^gamma.

Both sides live in the 384-d all-MiniLM-L6-v2 space, in the span of the class prototypes t_c
(MiniLM embeddings of class descriptions):
- a text is read as a land-cover distribution p(c|q) = softmax(cos(q, t_c) / tau) and embedded
  as the normalised mixture sum_c p(c|q) t_c;
- an image is embedded on the dual basis of the prototypes, so that t_c . e = s_c / R exactly,
  and padded along a fixed direction orthogonal to every prototype up to a constant norm R.
Then cos(text, image) is proportional to sum_c p(c|q) s_c: the query's class distribution
weighting the image's physical evidence, with no distortion from the prototypes' mutual
similarity. S1 and S2 share the space, one query ranks both, and every image can say why it
matched (its measurements and scores). A plain mixture of prototypes weighted by s (version 1)
lost most of the evidence: MiniLM prototypes are strongly correlated.

Rules and descriptions live in `physics_rules.json` (configs as data). This is NOT the CLOSP
model: it cannot see shapes, context or anything a class rule does not encode.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from importlib import resources

import numpy as np

from closp_demo.encoders.base import EncoderInfo, Evidence, l2_normalise
from closp_demo.encoders.minilm import MiniLMText, shared_minilm
from closp_demo.sensors import S2_BANDS, S2_SCALE, Sensor

PHYSICS_ID = "physics-minilm"
PHYSICS_VERSION = "2"


def load_rules() -> dict:
    text = resources.files("closp_demo.encoders").joinpath("physics_rules.json").read_text()
    return json.loads(text)


def _above(x: np.ndarray, threshold: float, width: float) -> np.ndarray:
    """Soft x > threshold: 0.5 at the threshold, ~0.95 one `width` beyond (logistic)."""
    # tanh form of the logistic 1 / (1 + exp(-3 (x - t) / w)): no overflow far from t
    return 0.5 * (1.0 + np.tanh(1.5 * (x - threshold) / width))


def _below(x: np.ndarray, threshold: float, width: float) -> np.ndarray:
    return 1.0 - _above(x, threshold, width)


def _norm_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a - b) / np.maximum(a + b, 1e-6)


def _box_mean(x: np.ndarray, size: int) -> np.ndarray:
    """Mean over a size x size window (edge-padded) on the last two axes, via summed areas."""
    pad = size // 2
    xp = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(pad, pad), (pad, pad)], mode="edge")
    c = np.cumsum(np.cumsum(xp, axis=-1), axis=-2)
    c = np.pad(c, [(0, 0)] * (x.ndim - 2) + [(1, 0), (1, 0)])
    s = (
        c[..., size:, size:]
        - c[..., :-size, size:]
        - c[..., size:, :-size]
        + c[..., :-size, :-size]
    )
    return s / (size * size)


def _local_std(x: np.ndarray, size: int = 5) -> np.ndarray:
    m = _box_mean(x, size)
    return np.sqrt(np.maximum(_box_mean(x * x, size) - m * m, 0.0))


PRESENCE_EPS = 1e-3


def _dual_frame(prototypes: np.ndarray, gamma: float) -> tuple[np.ndarray, float, np.ndarray]:
    """Dual basis D (t_c . d_k = delta_ck), radius R bounding |s @ D| over all presence vectors
    s in [eps^gamma, (1+eps)^gamma]^C (a convex maximum, reached at a vertex), and a fixed unit
    vector orthogonal to every prototype."""
    gram_inv = np.linalg.inv(prototypes @ prototypes.T)
    dual = gram_inv @ prototypes
    lo, hi = PRESENCE_EPS**gamma, (1 + PRESENCE_EPS) ** gamma
    corners = np.array(list(itertools.product((lo, hi), repeat=len(prototypes))))
    radius = float(np.sqrt(np.einsum("ij,jk,ik->i", corners, gram_inv, corners).max()))
    seed = np.random.default_rng(0).normal(size=prototypes.shape[1])
    neutral = seed - prototypes.T @ np.linalg.lstsq(prototypes.T, seed, rcond=None)[0]
    return dual.astype(np.float64), radius, neutral / np.linalg.norm(neutral)


def _masked_mean(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per-image weighted mean over pixels: (N,H,W) -> (N,)."""
    total = weight.sum(axis=(-2, -1))
    return (x * weight).sum(axis=(-2, -1)) / np.maximum(total, 1e-6)


class PhysicsEncoder:
    """Training-free encoder; see module docstring. Thread-safe (stateless after init)."""

    def __init__(self, text: MiniLMText | None = None, rules: dict | None = None) -> None:
        self.rules = rules or load_rules()
        self.text = text or shared_minilm(pooling="mean")
        self.classes: tuple[str, ...] = tuple(self.rules["class_descriptions"])
        self.gamma = float(self.rules["presence_gamma"])
        self.tau = float(self.rules["query_temperature"])
        self.prototypes = self._class_prototypes()
        self.dual, self.radius, self.neutral = _dual_frame(self.prototypes, self.gamma)
        self.info = EncoderInfo(
            id=PHYSICS_ID,
            version=PHYSICS_VERSION,
            dim=self.prototypes.shape[1],
            name="Offline physics baseline (spectral/backscatter rules + MiniLM)",
            description=(
                "Training-free baseline, NOT the CLOSP model: land-cover evidence from band "
                "indices (S2) and backscatter (S1) mixed into the all-MiniLM-L6-v2 text space."
            ),
        )

    def _class_prototypes(self) -> np.ndarray:
        descriptions = self.rules["class_descriptions"]
        return l2_normalise(
            np.stack([self.text.encode(descriptions[c]).mean(axis=0) for c in self.classes])
        )

    # --- the Encoder interface -------------------------------------------------------------
    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_class_distribution(self.query_classes(self.text.encode(texts)))

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
        return np.power(np.clip(fractions, 0.0, 1.0) + PRESENCE_EPS, self.gamma)

    def embed_fractions(self, fractions: np.ndarray) -> np.ndarray:
        core = self.presence(fractions) @ self.dual
        fill = np.sqrt(np.maximum(self.radius**2 - (core * core).sum(axis=1), 0.0))
        return ((core + fill[:, None] * self.neutral) / self.radius).astype(np.float32)

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
                fractions[:, j] = _masked_mean(member[name], weight)
        return fractions, measures

    def _s2_memberships(self, images: np.ndarray):
        r = self.rules["s2"]
        w = r["sharpness"]
        x = images / S2_SCALE
        # DN 0 in every band is Sentinel-2's no-data fill.
        valid = np.isfinite(x).all(axis=1) & (np.abs(np.nan_to_num(x)).sum(axis=1) > 0)
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        band = {name: x[:, i] for i, name in enumerate(S2_BANDS)}
        blue, green, red, nir = band["B02"], band["B03"], band["B04"], band["B08"]
        swir1, swir2 = band["B11"], band["B12"]
        ndvi = _norm_diff(nir, red)
        mndwi = _norm_diff(green, swir1)  # also the snow index NDSI
        ndwi = _norm_diff(green, nir)
        ndbi = _norm_diff(swir1, nir)
        nbr = _norm_diff(nir, swir2)

        cloud = _above(blue, r["cloud"]["blue_min"], w) * _above(swir1, r["cloud"]["swir1_min"], w)
        clear = 1.0 - cloud
        snow = (
            _above(mndwi, r["snow"]["ndsi_min"], 0.1)
            * _above(green, r["snow"]["green_min"], w)
            * clear
        )
        water = (
            _above(mndwi, r["water"]["mndwi_min"], 0.1)
            * _below(nir, r["water"]["nir_max"], w)
            * (1 - snow)
            * clear
        )
        dry = (1 - water) * (1 - snow) * clear
        veg = _above(ndvi, r["vegetation_ndvi"], 0.1) * dry
        trees = (
            veg
            * _below(swir1, r["trees"]["swir1_max"], w)
            * _below(red, r["trees"]["red_max"], 0.01)
        )
        herbaceous = veg - trees
        # Field mosaics: NDVI varies across field boundaries; pastures and meadows are smoother.
        ndvi_texture = _local_std(ndvi, 5)
        fields = _above(ndvi_texture, r["crops_texture_min"], 0.03)
        lo, hi = r["shrub_ndvi"]
        shrub = _above(ndvi, lo, 0.1) * _below(ndvi, hi, 0.1) * dry
        red_texture = _local_std(red, 3)
        built = (
            _above(ndbi, r["built"]["ndbi_min"], 0.1)
            * _below(ndvi, r["built"]["ndvi_max"], 0.1)
            * _above(red_texture, r["built"]["texture_min"], 0.02)
            * dry
        )
        bare = (
            _below(ndvi, r["bare"]["ndvi_max"], 0.1)
            * _above(swir1, r["bare"]["swir1_min"], w)
            * (1 - built)
            * dry
        )
        burned = (
            _below(nbr, r["burned"]["nbr_max"], 0.1)
            * _below(ndvi, r["burned"]["ndvi_max"], 0.1)
            * _below(nir, r["burned"]["nir_max"], w)
            * dry
        )
        wv = r["wet_vegetation"]
        flooded = (
            _above(ndvi, wv["ndvi"][0], 0.1)
            * _below(ndvi, wv["ndvi"][1], 0.1)
            * _above(ndwi, wv["ndwi_min"], 0.1)
            * clear
            * (1 - water)
        )
        member = {
            "Water": water,
            "Trees": trees,
            "Grass": herbaceous * (1 - fields),
            "Crops": herbaceous * fields + bare * fields * 0.5,
            "Shrub and Scrub": shrub,
            "Built": built,
            "Bare": bare,
            "Snow and Ice": snow,
            "Burned Area": burned,
            "Flooded Vegetation": flooded,
        }
        # Clouds hide the ground: fractions are of the clear, valid pixels.
        weight = valid * clear
        measures = {
            "NDVI": _masked_mean(ndvi, valid),
            "MNDWI": _masked_mean(mndwi, valid),
            "NDBI": _masked_mean(ndbi, valid),
            "cloud fraction": _masked_mean(cloud, valid.astype(np.float32)),
            "valid fraction": valid.mean(axis=(-2, -1)),
        }
        return member, weight.astype(np.float32), measures

    def _s1_memberships(self, images: np.ndarray):
        r = self.rules["s1"]
        w = r["sharpness_db"]
        valid = np.isfinite(images).all(axis=1)
        db = np.nan_to_num(images, nan=-30.0, posinf=-30.0, neginf=-30.0)
        # Boxcar speckle filter in linear power (averaging dB would bias low), back to dB.
        power = np.power(10.0, db / 10.0)
        smooth = 10.0 * np.log10(np.maximum(_box_mean(power, 3), 1e-6))
        vv, vh = smooth[:, 0], smooth[:, 1]
        ratio = vv - vh
        texture = _local_std(db[:, 0], 5)

        water = _below(vv, r["water"]["vv_max"], w) * _below(vh, r["water"]["vh_max"], w)
        # Double-bounce point targets (walls + ground) are single bright pixels: read them on
        # the unfiltered VV, where the speckle filter has not averaged them away.
        built = _above(db[:, 0], r["built"]["vv_min"], w)
        land = (1 - water) * (1 - built)
        trees = (
            _above(vh, r["trees"]["vh_min"], w) * _below(ratio, r["trees"]["ratio_max"], w) * land
        )
        lo, hi = r["low_vegetation"]["vh"]
        low_veg = _above(vh, lo, w) * _below(vh, hi, w) * land
        fields = _above(texture, r["texture_crops_min"], 0.5)
        bare = _below(vh, r["bare"]["vh_max"], w) * _above(ratio, r["bare"]["ratio_min"], w) * land
        flooded = (
            _above(vv, r["flooded_vegetation"]["vv_min"], w)
            * _above(ratio, r["flooded_vegetation"]["ratio_min"], w)
            * (1 - built)
        )
        member = {
            "Water": water,
            "Trees": trees,
            "Grass": low_veg * (1 - fields),
            "Crops": low_veg * fields,
            # Shrubs scatter between short vegetation and forest: upper VH of low vegetation
            "Shrub and Scrub": low_veg * _above(vh, (lo + hi) / 2 + 1.5, w),
            "Built": built,
            "Bare": bare,
            "Flooded Vegetation": flooded,
        }
        validf = valid.astype(np.float32)
        measures = {
            "VV median dB": np.array(
                [np.median(v[m]) if m.any() else np.nan for v, m in zip(vv, valid, strict=True)]
            ),
            "VH median dB": np.array(
                [np.median(v[m]) if m.any() else np.nan for v, m in zip(vh, valid, strict=True)]
            ),
            "VV-VH dB": _masked_mean(ratio, validf),
            "VV texture dB": _masked_mean(texture, validf),
            "valid fraction": validf.mean(axis=(-2, -1)),
        }
        return member, validf, measures
