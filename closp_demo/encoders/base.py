"""The one small interface every encoder obeys.

Text and images land in one embedding space (dimension `dim`), every output L2-normalised, so
cosine similarity is an inner product. The app, the index builder and the evaluator only ever
talk to this interface: a new model plugs in as an entry in `models.json` (its family's factory
in `registry.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeGuard, runtime_checkable

import numpy as np

from closp_demo.sensors import Sensor


@dataclass(frozen=True)
class EncoderInfo:
    id: str  # stable identifier, recorded in corpus manifests, e.g. "physics-minilm"
    version: str  # bumps whenever outputs change for the same inputs
    dim: int
    name: str  # human-readable, shown in the UI
    description: str = ""  # one honest line about what it is (shown in the UI)
    sensors: tuple[Sensor, ...] = ("S1", "S2")
    location: bool = False  # also embeds places: has encode_location (GeoCLOSP)
    land_cover: bool = False  # embeds measured land-cover fractions: a LandCoverEncoder (physics)


@dataclass
class Evidence:
    """Why an image embeds where it does: named measurements and the class mixture they imply."""

    measurements: dict[str, float] = field(default_factory=dict)
    class_weights: dict[str, float] = field(default_factory=dict)

    def summary(self, top: int = 3) -> str:
        ranked = sorted(self.class_weights.items(), key=lambda kv: -kv[1])[:top]
        return ", ".join(f"{name} {weight:.0%}" for name, weight in ranked if weight > 0)


@runtime_checkable
class Encoder(Protocol):
    info: EncoderInfo

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """(N,) texts -> (N, dim) float32, L2-normalised."""
        ...

    def encode_images(self, images: np.ndarray, sensor: Sensor) -> np.ndarray:
        """(N, B, 120, 120) float32 internal layout of one sensor -> (N, dim), L2-normalised."""
        ...

    def explain(self, images: np.ndarray, sensor: Sensor) -> list[Evidence] | None:
        """Per-image evidence, or None when the encoder cannot say why."""
        ...


@runtime_checkable
class LocatingEncoder(Protocol):
    """An encoder whose space also holds places (GeoCLOSP's location tower)."""

    info: EncoderInfo

    def encode_location(self, lonlat: np.ndarray) -> np.ndarray:
        """(N, 2) lon/lat in degrees -> (N, dim) float32, L2-normalised."""
        ...


def can_locate(encoder: object) -> bool:
    info = getattr(encoder, "info", None)
    return bool(getattr(info, "location", False)) and isinstance(encoder, LocatingEncoder)


@runtime_checkable
class LandCoverEncoder(Protocol):
    """An encoder whose image embedding is a function of land-cover class fractions it measures
    (the physics baseline): one pass gives both, e.g. for a heat map of a large raster."""

    info: EncoderInfo
    classes: tuple[str, ...]  # names of the fraction columns

    def class_fractions(
        self, images: np.ndarray, sensor: Sensor
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(N, B, H, W) -> class fractions (N, len(classes)) and named per-image measurements."""
        ...

    def embed_fractions(self, fractions: np.ndarray) -> np.ndarray:
        """(N, len(classes)) fractions -> (N, dim) image embeddings, as `encode_images` makes."""
        ...


def measures_land_cover(encoder: object) -> TypeGuard[LandCoverEncoder]:
    info = getattr(encoder, "info", None)
    return bool(getattr(info, "land_cover", False)) and isinstance(encoder, LandCoverEncoder)


def l2_normalise(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)
