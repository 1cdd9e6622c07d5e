"""The CLOSP encoder (Rege Cambrin et al. 2025, arXiv 2507.10403): text, Sentinel-1 and Sentinel-2
in one space, loaded from the hub (pinned revision, remote code only when allowed), a local
directory in the hub format, or a plain safetensors state dict rebuilt here with timm + MiniLM.

What the authors' code says (github.com/DarthReca/closp: models/closp.py, dataset/
crisis_land_mark.py, configs/default.yaml; read through the code search index):
- Text: `sentence-transformers/all-MiniLM-L6-v2`, embedding = `hidden_states[-1][:, 0]` (CLS, no
  projection), tokenised with padding="max_length", truncation, max_length=64 (context_length in
  configs/default.yaml). Training texts: the sample's labels lower-cased and joined with ". ".
  The text tower is fine-tuned (freeze_pretrained is lifted after the warm-up epoch), so its
  weights come from the checkpoint, not from the stock MiniLM.
- Sentinel-2: a 12-band image gets `np.insert(data, 10, 0, axis=0)` (zero B10), then
  `np.nan_to_num(nan=0)`, then kornia `Normalize(mean=0, std=10000)`, i.e. /10000.
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
attention_mask)`; their commit shas (closp_configs.json holds a placeholder the loader refuses);
the S1 units (the app's internal S1 layout is dB); the head sizes above against real weights
(a mismatch fails loudly at load time with the offending keys).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from closp_demo.devices import resolve_device
from closp_demo.encoders.base import EncoderInfo, Evidence, l2_normalise
from closp_demo.encoders.location import PREFIXES as LOCATION_PREFIXES
from closp_demo.encoders.location import LocationLoadError, tower_from_state
from closp_demo.encoders.minilm import MiniLMText
from closp_demo.sensors import S1_BANDS, S2_BANDS, S2_SCALE, Sensor, insert_zero_b10
from closp_demo.settings import ENV_MODEL, ENV_REVISION, ENV_TRUST_REMOTE_CODE, Settings
from closp_demo.torch_compat import ensure_torchvision_importable

TEXT_MAX_TOKENS = 64
S2_NAN_FILL = 0.0
S1_NAN_FILL = 1e-6  # the authors' value for SAR (dataset/crisis_land_mark.py)
CLOSP_VERSION = "1"
_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


class CLOSPLoadError(ValueError):
    """A CLOSP model could not be loaded; the message says why and what to do."""


class RemoteCodeNotAllowed(PermissionError):
    """Loading would run the model repository's Python code and the user has not allowed it."""


# ---------------------------------------------------------------- configs (closp_configs.json)


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


@lru_cache(maxsize=1)
def load_configs() -> dict[str, dict[str, Any]]:
    """The released models by name (CLOSP-RN, CLOSP-VS, CLOSP-VL, GeoCLOSP-RN)."""
    text = resources.files("closp_demo.encoders").joinpath("closp_configs.json").read_text()
    return dict(json.loads(text)["models"])


def _arch_for(arch: str | Mapping[str, Any] | CLOSPArch | None) -> CLOSPArch:
    if isinstance(arch, CLOSPArch):
        return arch
    if isinstance(arch, Mapping):
        return CLOSPArch.from_dict(arch)
    configs = load_configs()
    if arch not in configs:
        raise CLOSPLoadError(
            f"a state dict needs its architecture: arch= one of {', '.join(configs)} "
            "or a dict with s1_backbone, s2_backbone, image_size"
        )
    return CLOSPArch.from_dict(configs[arch])


# ---------------------------------------------------------------- preprocessing


def _checked(images: np.ndarray, bands: int, sensor: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != bands:
        raise ValueError(
            f"{sensor} images must be (N, {bands}, H, W) in the internal layout, "
            f"got shape {images.shape}"
        )
    return images.astype(np.float32, copy=False)


def prepare_s2(images: np.ndarray) -> np.ndarray:
    """(N, 12, H, W) L2A digital numbers -> (N, 13, H, W): zero B10 at 10, NaN -> 0, /10000."""
    x = insert_zero_b10(_checked(images, len(S2_BANDS), "S2"))
    # inf is treated like NaN (the authors' nan_to_num would turn it into 3.4e38)
    x = np.where(np.isfinite(x), x, S2_NAN_FILL).astype(np.float32)
    return x / np.float32(S2_SCALE)


def prepare_s1(images: np.ndarray) -> np.ndarray:
    """(N, 2, H, W) VV, VH (the app's dB layout) -> the same with NaN -> 1e-6; no scaling."""
    x = _checked(images, len(S1_BANDS), "S1")
    return np.where(np.isfinite(x), x, np.float32(S1_NAN_FILL)).astype(np.float32)


def model_input(images: np.ndarray, sensor: Sensor, image_size: int) -> torch.Tensor:
    """The exact float32 tensor a CLOSP backbone receives for these internal-layout images."""
    if sensor == "S2":
        x = torch.from_numpy(prepare_s2(images))
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


def _load_into(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
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


class _LocalBackend:
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


class _RemoteBackend:
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
    ) -> None:
        self.backend = backend
        self.info = info
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
                x = model_input(images[start : start + self.batch_size], sensor, self.image_size)
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


# ---------------------------------------------------------------- loaders


def _require_trust(source: str, allowed: bool) -> None:
    if not allowed:
        raise RemoteCodeNotAllowed(
            f"{source} ships its own Python modelling code, which would run on this machine. "
            f"Review it, then allow it with {ENV_TRUST_REMOTE_CODE}=1 (or trust_remote_code=True)."
            " To avoid remote code entirely, load the model's model.safetensors as a state dict "
            "with arch=."
        )


def _require_revision(repo_id: str, revision: str | None) -> str:
    given = (revision or "").strip()
    revision = given.lower()
    if not _COMMIT_SHA.match(revision):
        shown = f" ({given!r} is not one)" if given else ""
        raise CLOSPLoadError(
            f"{repo_id} must be loaded at a pinned revision: pass revision= or set "
            f"{ENV_REVISION} to the 40-character commit sha you reviewed{shown}"
        )
    return revision


@lru_cache(maxsize=1)
def _query_tokenizer() -> MiniLMText:
    """all-MiniLM-L6-v2's tokenizer with CLOSP's settings (for models whose text tower is remote).

    Only its `tokenize` is used; it returns CPU tensors, so it lives on the CPU.
    """
    return MiniLMText(device="cpu", pooling="cls", max_length=TEXT_MAX_TOKENS, pad_to_max=True)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _info(name: str, version: str, dim: int, source: str, location: bool = False) -> EncoderInfo:
    return EncoderInfo(
        id=f"closp-{name.lower()}",
        version=version,
        dim=dim,
        name=name,
        description=f"CLOSP contrastive text/S1/S2 model ({source}); no per-image explanation"
        + ("; embeds places too (location-aware search)" if location else ""),
        location=location,
    )


def load_state_dict_encoder(
    path: str | Path,
    arch: str | Mapping[str, Any] | CLOSPArch,
    *,
    text_model: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 32,
    name: str | None = None,
) -> CLOSPEncoder:
    """Path (c): a safetensors state dict of the CLOSP architecture; no remote code runs.

    `text_model`: folder with the MiniLM tokenizer + BERT config (default: the packaged
    all-MiniLM-L6-v2); its weights are replaced by the checkpoint's text_model.* tensors.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    spec = _arch_for(arch)
    if not path.is_file():
        raise CLOSPLoadError(f"state dict {path} does not exist")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise CLOSPLoadError(f"{path} is not a readable safetensors file: {err}") from err
    vision_state, text_state = split_state_dict(state, spec)
    device = resolve_device(device)
    text = MiniLMText(
        model_path=text_model,
        device=device,
        pooling="cls",
        max_length=TEXT_MAX_TOKENS,
        pad_to_max=True,
    )
    _load_into(text.model, text_state, "MiniLM text tower")
    dim = int(text.model.config.hidden_size)
    vision = CLOSPVision(spec, dim)
    _load_into(vision, vision_state, "CLOSP image backbones")
    vision = vision.eval().to(device)
    location = None
    if spec.location_encoder:
        try:
            location = tower_from_state(state)
        except LocationLoadError as err:
            raise CLOSPLoadError(f"{path}: {err}") from err
        if location.location_projection.out_features != dim:
            raise CLOSPLoadError(
                f"{path}: the location projection gives {location.location_projection.out_features}"
                f"-d vectors, the text tower {dim}-d"
            )
        location = location.to(device)
    label = name or (arch if isinstance(arch, str) else "custom")
    version = f"{CLOSP_VERSION}+sd-{_file_digest(path)[:12]}"
    info = _info(label, version, dim, f"state dict {path}", location is not None)
    backend = _LocalBackend(vision, text, location)
    return CLOSPEncoder(backend, info, spec.image_size, device, batch_size)


def load_remote_encoder(
    source: str | Path,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    image_size: int | None = None,
    cache_dir: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 32,
    name: str | None = None,
) -> CLOSPEncoder:
    """Paths (a) hub repo id at a pinned commit, and (b) a local folder in the same format.

    Both run the repository's modelling code through transformers' AutoModel, so both need the
    user's explicit permission (`trust_remote_code=True`). `image_size`: backbone input side
    (default: the model's config `image_size`, else 120).
    """
    local = Path(source).is_dir()
    source = str(source)
    _require_trust(source, trust_remote_code)
    pinned = None if local else _require_revision(source, revision)
    ensure_torchvision_importable()
    from transformers import AutoModel

    device = resolve_device(device)
    try:
        model = AutoModel.from_pretrained(
            source,
            revision=pinned,
            code_revision=pinned,
            trust_remote_code=True,
            cache_dir=str(cache_dir) if cache_dir else None,
            local_files_only=local,
        )
    except (OSError, ValueError, ImportError) as err:
        where = source if local else f"{source} at {pinned}"
        raise CLOSPLoadError(f"could not load the CLOSP model {where}: {err}") from err
    for method in ("get_image_features", "get_text_features"):
        if not callable(getattr(model, method, None)):
            raise CLOSPLoadError(f"{source} is not a CLOSP model: it has no {method}()")
    model = model.eval().to(device)
    size = image_size or int(getattr(model.config, "image_size", 0) or 120)
    backend = _RemoteBackend(model, _query_tokenizer(), device)
    label = name or Path(source).name
    version = f"{CLOSP_VERSION}+{'dir' if local else pinned[:12]}"  # type: ignore[index]
    if local:
        weights = Path(source) / "model.safetensors"
        if weights.is_file():
            version = f"{CLOSP_VERSION}+dir-{_file_digest(weights)[:12]}"
    locates = _probe_location(backend, device)
    info = _info(label, version, backend.dim, f"{'folder' if local else 'hub'} {source}", locates)
    return CLOSPEncoder(backend, info, size, device, batch_size)


def _probe_location(backend: _RemoteBackend, device: str) -> bool:
    """Does the remote model embed places into its space? (one dummy point; no = plain CLOSP)"""
    try:
        with torch.inference_mode():
            out = backend.location_features(torch.zeros(1, 2, device=device))
    except Exception:  # remote code of unknown shape: treat as not location-aware
        return False
    return out is not None and tuple(out.shape) == (1, backend.dim)


def load_closp(
    source: str | Path,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    arch: str | Mapping[str, Any] | None = None,
    text_model: str | Path | None = None,
    cache_dir: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 32,
) -> CLOSPEncoder:
    """One entry point. `source`:
    - a released name ("CLOSP-RN", ...) or a hub repo id ("Org/Name") -> path (a);
    - a folder with config.json + model.safetensors + modelling code -> path (b);
    - a .safetensors file -> path (c) (needs `arch`: a released name or a spec dict).
    """
    configs = load_configs()
    text = str(source)
    if text in configs:
        cfg = configs[text]
        return load_remote_encoder(
            cfg["repo_id"],
            revision=revision or cfg["revision"],
            trust_remote_code=trust_remote_code,
            image_size=int(cfg["image_size"]),
            cache_dir=cache_dir,
            device=device,
            batch_size=batch_size,
            name=text,
        )
    path = Path(source)
    if path.suffix == ".safetensors":
        if arch is None:
            raise CLOSPLoadError(
                f"{path} is a bare state dict: say which architecture it is with arch= "
                f"(one of {', '.join(configs)}) or a spec dict"
            )
        return load_state_dict_encoder(
            path, arch, text_model=text_model, device=device, batch_size=batch_size
        )
    if path.is_dir() or re.fullmatch(r"[\w.-]+/[\w.-]+", text):
        image_size = int(configs[arch]["image_size"]) if isinstance(arch, str) else None
        return load_remote_encoder(
            source,
            revision=revision,
            trust_remote_code=trust_remote_code,
            image_size=image_size,
            cache_dir=cache_dir,
            device=device,
            batch_size=batch_size,
        )
    raise CLOSPLoadError(
        f"unknown CLOSP source {text!r}: use one of {', '.join(configs)}, a hub repo id "
        "(Org/Name), a model folder or a .safetensors state dict"
    )


def create_closp_encoder(settings: Settings, **kwargs: Any) -> CLOSPEncoder:
    """Registry factory: the model, revision, trust and device come from `settings`; keyword
    arguments override them (tests, API callers)."""
    options: dict[str, Any] = {
        "revision": settings.closp_revision,
        "trust_remote_code": settings.trust_remote_code,
        "device": settings.device,
        **kwargs,
    }
    source = options.pop("source", None) or settings.closp_model
    if not source:
        raise CLOSPLoadError(
            f"no CLOSP model chosen: set {ENV_MODEL} to CLOSP-RN (with {ENV_REVISION} and "
            f"{ENV_TRUST_REMOTE_CODE}=1), a model folder, or a .safetensors state dict"
        )
    return load_closp(source, **options)
