"""The CLOSP encoder (Rege Cambrin et al. 2025, arXiv 2507.10403): text, Sentinel-1 and Sentinel-2
in one space: preprocessing, the architecture rebuilt with timm + MiniLM, the encoder. Loading
(hub at a pinned revision, a local folder, a safetensors state dict) is in `closp_loaders.py`.

What the authors' code says (github.com/DarthReca/closp: models/closp.py, dataset/
crisis_land_mark.py, configs/default.yaml; read through the code search index):
- Text: `sentence-transformers/all-MiniLM-L6-v2`, embedding = `hidden_states[-1][:, 0]` (CLS, no
  projection), tokenised with padding="max_length", truncation, max_length=64 (context_length in
  configs/default.yaml). Training texts: the sample's labels lower-cased and joined with ". ".
  The text tower is fine-tuned (freeze_pretrained is lifted after the warm-up epoch), so its
  weights come from the checkpoint, not from the stock MiniLM.
- Sentinel-2: a 12-band image gets `np.insert(data, 10, 0, axis=0)` (zero B10), then
  `np.nan_to_num(nan=0)`, then kornia `Normalize(mean=0, std=10000)`, i.e. /10000 before the
  model: `s2_input="reflectance"` (setting CLOSP_S2_INPUT, the default). `"dn"` passes digital
  numbers instead, for a model whose `get_image_features` divides by 10000 itself; the start-up
  self-check (selfcheck.py) warns when the choice looks wrong.
- Sentinel-1: 2 channels, `np.nan_to_num(nan=1e-6)`, no normalisation. The CrisisLandMark card
  says the channels are (VV, VH); the training loader flips the channel axis for the `benv2s1`
  and `sen1flood` sources, so the order the network saw depends on how those shards were stored:
  we feed (VV, VH) as the card says (not verifiable here).
- Resize: kornia `Resize(224)` only when a backbone is a timm VisionTransformer; kornia's Resize
  defaults to bilinear with align_corners=True (kornia/augmentation/_2d/geometric/resize.py),
  which we reproduce with `F.interpolate(..., align_corners=True)`. ResNets take 120x120 as is.
- Vision: per-sensor timm backbones -> `s1_projection` / `s2_projection` (nn.Linear to the text
  width, 384). torchgeo's resnet50 / vit_small_patch16_224 are `timm.create_model(name,
  in_chans=...)` with timm's default 1000-class head (torchgeo/models/resnet.py); the authors'
  ViT-S (S1) and ViT-L loaders pass num_classes=0. Both sides L2-normalised, cosine similarity.
- Checkpoint keys (train.py saves `model.state_dict()`): `s1_encoder.*`, `s2_encoder.*`,
  `s1_projection.*`, `s2_projection.*`, `text_model.*` (+ `location_encoder.*`,
  `location_projection.*` for GeoCLOSP). Path (c) expects exactly that layout in safetensors.
- GeoCLOSP's location tower (closp_demo/encoders/location.py) embeds lon/lat into the same space;
  the app blends it into text queries for location-aware search (closp_demo/geo/place.py).

Not verified here (no hub access): the real repos' file list, config.json and modelling code;
that their `get_image_features(pixels)` expects the already-normalised, resized tensor (the only
public caller we found does so and gets unit vectors back) and `get_text_features(input_ids,
attention_mask)`; their commit shas (models.json holds a placeholder the loader refuses);
the S1 units (the app's internal S1 layout is dB); the head sizes above against real weights
(a mismatch fails loudly at load time with the offending keys).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from closp_demo.encoders.base import EncoderInfo, Evidence, l2_normalise
from closp_demo.encoders.location import PREFIXES as LOCATION_PREFIXES
from closp_demo.encoders.minilm import MiniLMText
from closp_demo.encoders.registry import releases
from closp_demo.sensors import S1_BANDS, S2_BANDS, S2_SCALE, Sensor, insert_zero_b10
from closp_demo.settings import ENV_S2_INPUT, S2_INPUTS
from closp_demo.torch_compat import ensure_torchvision_importable

TEXT_MAX_TOKENS = 64
S2_NAN_FILL = 0.0
S1_NAN_FILL = 1e-6  # the authors' value for SAR (dataset/crisis_land_mark.py)


class CLOSPLoadError(ValueError):
    """A CLOSP model could not be loaded; the message says why and what to do."""


class RemoteCodeNotAllowed(PermissionError):
    """Loading would run the model repository's Python code and the user has not allowed it."""


# ---------------------------------------------------------------- architectures (models.json)


@dataclass(frozen=True)
class BackboneSpec:
    name: str  # timm model name
    in_chans: int
    num_classes: int  # 0 = pooled features, >0 = timm classifier head fed to the projection
    kwargs: Mapping[str, Any] = field(default_factory=dict)  # extra timm args (small test nets)


@dataclass(frozen=True)
class CLOSPArch:
    s1: BackboneSpec
    s2: BackboneSpec
    image_size: int  # inputs are resized (bilinear) to this side when their size differs
    location_encoder: bool = False

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> CLOSPArch:
        try:
            backbones = [
                BackboneSpec(
                    name=str(b["name"]),
                    in_chans=int(b["in_chans"]),
                    num_classes=int(b["num_classes"]),
                    kwargs=dict(b.get("kwargs", {})),
                )
                for b in (spec["s1_backbone"], spec["s2_backbone"])
            ]
            arch = cls(
                backbones[0],
                backbones[1],
                int(spec["image_size"]),
                bool(spec.get("location_encoder", False)),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise CLOSPLoadError(
                f"bad CLOSP architecture spec ({err!r}): need s1_backbone and s2_backbone "
                "({name, in_chans, num_classes}) and image_size"
            ) from err
        if arch.s1.in_chans != len(S1_BANDS) or arch.s2.in_chans != len(S2_BANDS) + 1:
            raise CLOSPLoadError("CLOSP backbones take 2 channels (S1) and 13 channels (S2)")
        return arch

    def to_dict(self) -> dict[str, Any]:
        def one(b: BackboneSpec) -> dict[str, Any]:
            return {
                "name": b.name,
                "in_chans": b.in_chans,
                "num_classes": b.num_classes,
                "kwargs": dict(b.kwargs),
            }

        return {
            "s1_backbone": one(self.s1),
            "s2_backbone": one(self.s2),
            "image_size": self.image_size,
            "location_encoder": self.location_encoder,
        }


def arch_for(arch: str | Mapping[str, Any] | CLOSPArch | None) -> CLOSPArch:
    """A released model's architecture by release name ("CLOSP-RN"), or a spec dict's."""
    if isinstance(arch, CLOSPArch):
        return arch
    if isinstance(arch, Mapping):
        return CLOSPArch.from_dict(arch)
    known = releases()
    if arch not in known:
        raise CLOSPLoadError(
            f"a state dict needs its architecture: arch= one of {', '.join(known)} "
            "or a dict with s1_backbone, s2_backbone, image_size"
        )
    return CLOSPArch.from_dict(known[arch])


# ---------------------------------------------------------------- preprocessing


def _checked(images: np.ndarray, bands: int, sensor: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != bands:
        raise ValueError(
            f"{sensor} images must be (N, {bands}, H, W) in the internal layout, "
            f"got shape {images.shape}"
        )
    return images.astype(np.float32, copy=False)


def prepare_s2(images: np.ndarray, s2_input: str = "reflectance") -> np.ndarray:
    """(N, 12, H, W) L2A digital numbers -> (N, 13, H, W): zero B10 at 10, NaN -> 0, then /10000
    for `s2_input` "reflectance" (the authors' code), kept as digital numbers for "dn"."""
    if s2_input not in S2_INPUTS:
        raise ValueError(f"s2_input must be one of {S2_INPUTS}, got {s2_input!r}")
    x = insert_zero_b10(_checked(images, len(S2_BANDS), "S2"))
    # inf is treated like NaN (the authors' nan_to_num would turn it into 3.4e38)
    x = np.where(np.isfinite(x), x, S2_NAN_FILL).astype(np.float32)
    return x / np.float32(S2_SCALE) if s2_input == "reflectance" else x


def prepare_s1(images: np.ndarray) -> np.ndarray:
    """(N, 2, H, W) VV, VH (the app's dB layout) -> the same with NaN -> 1e-6; no scaling."""
    x = _checked(images, len(S1_BANDS), "S1")
    return np.where(np.isfinite(x), x, np.float32(S1_NAN_FILL)).astype(np.float32)


def model_input(
    images: np.ndarray, sensor: Sensor, image_size: int, s2_input: str = "reflectance"
) -> torch.Tensor:
    """The exact float32 tensor a CLOSP backbone receives for these internal-layout images."""
    if sensor == "S2":
        x = torch.from_numpy(prepare_s2(images, s2_input))
    elif sensor == "S1":
        x = torch.from_numpy(prepare_s1(images))
    else:
        raise ValueError(f"CLOSP encodes S1 or S2 images, not {sensor!r}")
    if x.shape[-2:] != (image_size, image_size):
        x = torch.nn.functional.interpolate(
            x, size=(image_size, image_size), mode="bilinear", align_corners=True
        )
    return x


def normalise_query(text: str) -> str:
    """Training texts were lower-cased labels joined with '. ' (e.g. 'trees. water. built')."""
    return " ".join(text.split()).lower()


# ---------------------------------------------------------------- architecture (path c)


def _backbone(spec: BackboneSpec) -> nn.Module:
    ensure_torchvision_importable()
    import timm

    try:
        return timm.create_model(
            spec.name,
            pretrained=False,
            in_chans=spec.in_chans,
            num_classes=spec.num_classes,
            **dict(spec.kwargs),
        )
    except (RuntimeError, ValueError, TypeError) as err:
        raise CLOSPLoadError(f"timm cannot build backbone {spec.name!r}: {err}") from err


class CLOSPVision(nn.Module):
    """The image side of CLOSP with the authors' attribute names (so state-dict keys match)."""

    def __init__(self, arch: CLOSPArch, dim: int) -> None:
        super().__init__()
        self.s1_encoder = _backbone(arch.s1)
        self.s2_encoder = _backbone(arch.s2)
        self.s1_projection = nn.Linear(arch.s1.num_classes or self.s1_encoder.num_features, dim)
        self.s2_projection = nn.Linear(arch.s2.num_classes or self.s2_encoder.num_features, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The authors dispatch on the channel count: 2 -> SAR, else optical.
        if x.shape[1] == len(S1_BANDS):
            return self.s1_projection(self.s1_encoder(x))
        return self.s2_projection(self.s2_encoder(x))


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    bad_shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or bad_shape:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})")
        if bad_shape:
            k = bad_shape[0]
            parts.append(
                f"{len(bad_shape)} with other shapes (e.g. {k}: checkpoint "
                f"{tuple(state[k].shape)}, architecture {tuple(own[k].shape)})"
            )
        raise CLOSPLoadError(
            f"the checkpoint does not fit the {what}: " + "; ".join(parts) + ". Check arch= "
            "(backbones, num_classes) and that keys start with s1_encoder., s2_encoder., "
            "s1_projection., s2_projection., text_model."
        )
    module.load_state_dict(state, strict=True)


def split_state_dict(
    state: Mapping[str, torch.Tensor], arch: CLOSPArch
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """-> (vision keys, text keys without the 'text_model.' prefix)."""
    vision: dict[str, torch.Tensor] = {}
    text: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("text_model."):
            # position_ids was a persistent buffer in older transformers; it is derived anyway
            if not key.endswith("embeddings.position_ids"):
                text[key.removeprefix("text_model.")] = value
        elif key.startswith(LOCATION_PREFIXES) and arch.location_encoder:
            continue  # the location tower is rebuilt on its own (location.tower_from_state)
        else:
            vision[key] = value
    if not text:
        raise CLOSPLoadError(
            "the checkpoint has no text_model.* weights: CLOSP fine-tunes MiniLM, so the stock "
            "weights would not match its image side"
        )
    return vision, text


# ---------------------------------------------------------------- backends


class _Backend(Protocol):
    dim: int

    def image_features(self, x: torch.Tensor) -> torch.Tensor: ...

    def text_features(self, texts: list[str]) -> np.ndarray: ...

    def location_features(self, lonlat: torch.Tensor) -> torch.Tensor | None: ...


class LocalBackend:
    """Path (c): CLOSPVision + MiniLMText (CLS pooling, 64 tokens) with the checkpoint's weights."""

    def __init__(
        self, vision: CLOSPVision, text: MiniLMText, location: nn.Module | None = None
    ) -> None:
        self.vision = vision
        self.text = text
        self.location = location
        self.dim = int(vision.s2_projection.out_features)

    def image_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.vision(x)

    def text_features(self, texts: list[str]) -> np.ndarray:
        return self.text.encode(texts)

    def location_features(self, lonlat: torch.Tensor) -> torch.Tensor | None:
        return None if self.location is None else self.location(lonlat)


class RemoteBackend:
    """Paths (a)/(b): the repository's own model class through its public methods."""

    def __init__(self, model: Any, tokenizer: MiniLMText, device: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.dim = int(self.text_features([""]).shape[1])

    def image_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.get_image_features(x)

    def text_features(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer.tokenize(texts)
        ids = batch["input_ids"].to(self.device)
        mask = batch["attention_mask"].to(self.device)
        with torch.inference_mode():
            out = self.model.get_text_features(ids, mask)
        return l2_normalise(out.float().cpu().numpy())

    def location_features(self, lonlat: torch.Tensor) -> torch.Tensor | None:
        """GeoCLOSP's tower through the model's own method or submodules, if it has them."""
        method = getattr(self.model, "get_location_features", None)
        if callable(method):
            return method(lonlat)
        encoder = getattr(self.model, "location_encoder", None)
        projection = getattr(self.model, "location_projection", None)
        if isinstance(encoder, nn.Module) and isinstance(projection, nn.Module):
            return projection(encoder(lonlat))
        return None


# ---------------------------------------------------------------- the encoder


class CLOSPEncoder:
    """app Encoder: encode_text / encode_images -> L2-normalised float32, explain -> None."""

    def __init__(
        self,
        backend: _Backend,
        info: EncoderInfo,
        image_size: int,
        device: str,
        batch_size: int = 32,
        s2_input: str = "reflectance",
    ) -> None:
        if s2_input not in S2_INPUTS:
            raise ValueError(f"s2_input must be one of {S2_INPUTS}, got {s2_input!r}")
        self.backend = backend
        self.s2_input = s2_input
        # The default keeps the version corpora were built with; "dn" changes every S2 vector,
        # so it is part of the version (a corpus built one way is refused the other way).
        dn = s2_input == "dn"
        self.info = dataclasses.replace(
            info, version=f"{info.version}+s2-dn" if dn else info.version,
            description=f"{info.description}; Sentinel-2 input: "
            + (f"digital numbers ({ENV_S2_INPUT}=dn)" if dn else "reflectance, i.e. digital "
               f"numbers / 10000 ({ENV_S2_INPUT}=reflectance)"),
        )  # fmt: skip
        self.image_size = image_size
        self.device = device
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one forward at a time: tokenizers and GPU memory

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode_text() takes a sequence of texts, not one string")
        queries = [normalise_query(str(t)) for t in texts]
        if not queries:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        out = []
        with self._lock:
            for start in range(0, len(queries), self.batch_size):
                out.append(self.backend.text_features(queries[start : start + self.batch_size]))
        return l2_normalise(np.concatenate(out))

    def encode_images(self, images: np.ndarray, sensor: Sensor) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim == 4 and images.shape[0] == 0:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        out = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = images[start : start + self.batch_size]
                x = model_input(batch, sensor, self.image_size, self.s2_input)
                feats = self.backend.image_features(x.to(self.device))
                out.append(feats.float().cpu().numpy())
        return l2_normalise(np.concatenate(out))

    def explain(self, images: np.ndarray, sensor: Sensor) -> list[Evidence] | None:
        return None  # a contrastive network cannot name its evidence

    def encode_location(self, lonlat: np.ndarray) -> np.ndarray:
        """(N, 2) lon/lat degrees -> (N, dim) unit vectors (GeoCLOSP only)."""
        x = np.asarray(lonlat, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != 2 or not np.isfinite(x).all():
            raise ValueError("encode_location() takes an (N, 2) array of finite lon/lat degrees")
        if (np.abs(x[:, 0]) > 180).any() or (np.abs(x[:, 1]) > 90).any():
            raise ValueError("longitudes must lie in [-180, 180] and latitudes in [-90, 90]")
        with self._lock, torch.inference_mode():
            out = self.backend.location_features(torch.from_numpy(x).to(self.device))
        if out is None:
            raise ValueError(f"{self.info.name} has no location encoder")
        return l2_normalise(out.float().cpu().numpy())
