"""Start-up self-check of a CLOSP model's Sentinel-2 input scaling (setting CLOSP_S2_INPUT).

Whether the released hub models' `get_image_features` divide by 10000 themselves cannot be
verified here. If they do and the app divides too (CLOSP_S2_INPUT=reflectance), the network sees
values around 1e-5: the first convolution's output vanishes against its normalisation and biases,
and every image embeds to nearly the same vector, so every text ranks every image alike. The
check embeds two real BigEarthNet patches as unlike as Sentinel-2 shows them, sea and coniferous
forest (assets/selfcheck/bigearthnet_s2.npz, attribution in assets/ATTRIBUTION.md), and a few
class-name texts, and warns in the log when

- a vector is not finite or has zero length (the input or the weights are broken), or
- for every text, the two patches' similarities differ by less than `MIN_SPREAD` (the model does
  not see the image: the input was probably scaled twice).

`MIN_SPREAD` = 1e-3, measured on the tiny seeded fixtures of tests/encoders/closp_fixtures.py
(4 seeds each): correctly scaled, the largest per-text difference was 1.0e-2 to 5.3e-2 (ResNet)
and 0.13 to 0.51 (ViT); with the input divided by 10000 once more, 2e-6 to 7e-6 (ResNet) and
5e-5 to 2.7e-4 (ViT). A trained model separates sea from forest far more clearly than random
weights do. Input not scaled at all (digital numbers to a model that expects reflectance) is not
reliably visible this way and is not claimed to be detected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from closp_demo.encoders.base import Encoder
from closp_demo.settings import ENV_S2_INPUT, REPO_ROOT

log = logging.getLogger(__name__)

PATCHES = REPO_ROOT / "assets" / "selfcheck" / "bigearthnet_s2.npz"
TEXTS = ("water", "trees", "crops", "built area", "bare ground", "snow and ice")
MIN_SPREAD = 1e-3
UNIT_TOLERANCE = 1e-3  # encoders L2-normalise; a zero vector stays zero


@dataclass(frozen=True)
class SelfCheck:
    ok: bool
    spread: float  # largest per-text difference of the two patches' similarities (NaN if broken)
    problems: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def reference_patches(path: Path = PATCHES) -> tuple[np.ndarray, tuple[str, ...]]:
    """(2, 12, 120, 120) float32 digital numbers (sea, forest) and their names."""
    with np.load(path) as saved:
        return saved["s2"].astype(np.float32), tuple(str(n) for n in saved["names"])


def check_s2_input(encoder: Encoder, texts: Sequence[str] = TEXTS) -> SelfCheck:
    """Run the check, log a warning per problem (info when it passes), return the figures."""
    if "S2" not in encoder.info.sensors:
        return SelfCheck(True, float("nan"))
    patches, names = reference_patches()
    images = encoder.encode_images(patches, "S2")
    words = encoder.encode_text(list(texts))
    setting = getattr(encoder, "s2_input", "reflectance")
    other = "dn" if setting == "reflectance" else "reflectance"
    problems = []
    norms = np.linalg.norm(np.concatenate([images, words]), axis=1)
    if not (np.isfinite(norms).all() and (np.abs(norms - 1) < UNIT_TOLERANCE).all()):
        spread = float("nan")
        problems.append(
            f"S2 self-check: {encoder.info.id} embeds the reference patches or class names to "
            "non-finite or zero-length vectors; its results cannot be trusted (check the "
            f"weights and {ENV_S2_INPUT}={setting})"
        )
    else:
        sims = words @ images.T  # (texts, patches)
        spread = float(np.abs(sims[:, 0] - sims[:, 1]).max())
        if spread < MIN_SPREAD:
            problems.append(
                f"S2 self-check: {encoder.info.id} scores a {names[0]} patch and a {names[1]} "
                f"patch within {spread:.1e} of each other for every text ({', '.join(texts)}): "
                "it barely sees Sentinel-2 images, so the input is probably scaled twice. "
                f"{ENV_S2_INPUT}={setting} "
                + ("divides digital numbers by 10000 before the model; if the model divides "
                   "itself, set " if setting == "reflectance" else
                   "passes digital numbers; if the model expects reflectance, set ")
                + f"{ENV_S2_INPUT}={other} (README, Models)"
            )  # fmt: skip
    for problem in problems:
        log.warning(problem)
    if not problems:
        log.info("S2 self-check passed for %s (%s=%s, patch spread %.3g)",
                 encoder.info.id, ENV_S2_INPUT, setting, spread)  # fmt: skip
    return SelfCheck(not problems, spread, tuple(problems))
