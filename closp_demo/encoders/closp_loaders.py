"""Loading CLOSP models: (a) a hub repository at a pinned commit and (b) a local folder in the
same layout, both running the repository's own modelling code only when allowed; (c) a plain
safetensors state dict of a known architecture, rebuilt locally with no remote code.

Identity (what a corpus manifest records and the app compares): a released model is its
registry name whichever way it is reached: `--encoder closp-rn`, or `--encoder closp` with
CLOSP_MODEL=CLOSP-RN or DarthReca/CLOSP-RN, all give the id `closp-rn`, so a corpus built one way
is served the other way. Anything else loaded through `closp` (another hub id, a folder, a
state dict of a custom architecture) has the id `closp`. The version tells weights apart: the
hub commit (first 12 hex digits), or the sha256 of the folder's / state dict's weights file, so
the same release from the hub and from a local file counts as different (nothing here can prove
the two files hold the same weights).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from closp_demo.devices import resolve_device
from closp_demo.encoders.base import EncoderInfo
from closp_demo.encoders.closp import (
    TEXT_MAX_TOKENS,
    CLOSPArch,
    CLOSPEncoder,
    CLOSPLoadError,
    CLOSPVision,
    LocalBackend,
    RemoteBackend,
    RemoteCodeNotAllowed,
    arch_for,
    load_into,
    split_state_dict,
)
from closp_demo.encoders.location import LocationLoadError, tower_from_state
from closp_demo.encoders.minilm import MiniLMText
from closp_demo.encoders.registry import releases
from closp_demo.settings import ENV_MODEL, ENV_REVISION, ENV_TRUST_REMOTE_CODE, Settings
from closp_demo.torch_compat import ensure_torchvision_importable

GENERIC = "closp"  # the registry name of "whatever CLOSP_MODEL names"
CLOSP_VERSION = "1"
_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def _require_trust(source: str, allowed: bool) -> None:
    if not allowed:
        raise RemoteCodeNotAllowed(
            f"{source} ships its own Python modelling code, which would run on this machine. "
            f"Review it, then allow it with {ENV_TRUST_REMOTE_CODE}=1 (or trust_remote_code=True)."
            " To avoid remote code entirely, load the model's model.safetensors as a state dict "
            "of its released architecture (e.g. --encoder closp-rn with CLOSP_MODEL=the file)."
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


def _release_of(name: str) -> dict[str, Any] | None:
    """The released model `name` is (its release name or its hub repo id), else None."""
    return next(
        (cfg for release, cfg in releases().items() if name in (release, cfg["repo_id"])), None
    )


def _info(
    encoder_id: str, label: str, version: str, dim: int, source: str, location: bool = False
) -> EncoderInfo:
    return EncoderInfo(
        id=encoder_id,
        version=version,
        dim=dim,
        name=label,
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
    s2_input: str = "reflectance",
    name: str | None = None,
) -> CLOSPEncoder:
    """Path (c): a safetensors state dict of the CLOSP architecture; no remote code runs.

    `arch`: a release name ("CLOSP-RN": the encoder is then that release, id `closp-rn`) or a
    spec. `text_model`: folder with the MiniLM tokenizer + BERT config (default: the packaged
    all-MiniLM-L6-v2); its weights are replaced by the checkpoint's text_model.* tensors.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    spec = arch_for(arch)
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
    load_into(text.model, text_state, "MiniLM text tower")
    dim = int(text.model.config.hidden_size)
    vision = CLOSPVision(spec, dim)
    load_into(vision, vision_state, "CLOSP image backbones")
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
    release = _release_of(arch) if isinstance(arch, str) else None
    label = name or (arch if isinstance(arch, str) else "custom")
    version = f"{CLOSP_VERSION}+sd-{_file_digest(path)[:12]}"
    info = _info(
        release["encoder"] if release else GENERIC, label, version, dim, f"state dict {path}",
        location is not None,
    )  # fmt: skip
    backend = LocalBackend(vision, text, location)
    return CLOSPEncoder(backend, info, spec.image_size, device, batch_size, s2_input)


def load_remote_encoder(
    source: str | Path,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    image_size: int | None = None,
    cache_dir: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 32,
    s2_input: str = "reflectance",
    name: str | None = None,
    release: str | None = None,
) -> CLOSPEncoder:
    """Paths (a) hub repo id at a pinned commit, and (b) a local folder in the same format.

    Both run the repository's modelling code through transformers' AutoModel, so both need the
    user's explicit permission (`trust_remote_code=True`). `image_size`: backbone input side
    (default: the model's config `image_size`, else 120). `release`: the released model this is
    (its identity); a hub id of a release is recognised by itself.
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
    backend = RemoteBackend(model, _query_tokenizer(), device)
    label = name or Path(source).name
    version = f"{CLOSP_VERSION}+{'dir' if local else pinned[:12]}"  # type: ignore[index]
    if local:
        weights = Path(source) / "model.safetensors"
        if weights.is_file():
            version = f"{CLOSP_VERSION}+dir-{_file_digest(weights)[:12]}"
    cfg = _release_of(release or ("" if local else source))
    locates = _probe_location(backend, device)
    where = f"{'folder' if local else 'hub'} {source}"
    info = _info(cfg["encoder"] if cfg else GENERIC, label, version, backend.dim, where, locates)
    return CLOSPEncoder(backend, info, size, device, batch_size, s2_input)


def _probe_location(backend: RemoteBackend, device: str) -> bool:
    """Does the remote model embed places into its space? (one dummy point; no = plain CLOSP)"""
    try:
        with torch.inference_mode():
            out = backend.location_features(torch.zeros(1, 2, device=device))
    except Exception:  # remote code of unknown shape: treat as not location-aware
        return False
    return out is not None and tuple(out.shape) == (1, backend.dim)


def load_release(
    release: str,
    source: str | Path | None = None,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    text_model: str | Path | None = None,
    cache_dir: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 32,
    s2_input: str = "reflectance",
) -> CLOSPEncoder:
    """A released model ("CLOSP-RN", ...) with the data of its registry entry. `source`: None (or
    its own name / hub id) for the hub at `revision` (default: the entry's pinned revision); a
    local copy of its weights: a .safetensors state dict (no remote code) or a folder."""
    cfg = releases()[release]
    common: dict[str, Any] = {
        "device": device, "batch_size": batch_size, "name": release, "s2_input": s2_input,
    }  # fmt: skip
    if source is None or str(source) in (release, cfg["repo_id"]):
        return load_remote_encoder(
            cfg["repo_id"], revision=revision or cfg["revision"], release=release,
            trust_remote_code=trust_remote_code, image_size=int(cfg["image_size"]),
            cache_dir=cache_dir, **common,
        )  # fmt: skip
    path = Path(source)
    if path.suffix == ".safetensors":
        return load_state_dict_encoder(path, release, text_model=text_model, **common)
    if path.is_dir():
        return load_remote_encoder(
            path, trust_remote_code=trust_remote_code, image_size=int(cfg["image_size"]),
            release=release, **common,
        )  # fmt: skip
    raise CLOSPLoadError(
        f"{cfg['encoder']} is {cfg['repo_id']}, but {ENV_MODEL}={str(source)!r} names another "
        f"model: load that one with the encoder '{GENERIC}', or unset {ENV_MODEL} (a local copy "
        f"of {release} is a model folder or a .safetensors file)"
    )


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
    s2_input: str = "reflectance",
) -> CLOSPEncoder:
    """One entry point. `source`:
    - a released name ("CLOSP-RN", ...) or its hub id -> that release (`load_release`);
    - another hub repo id ("Org/Name") -> path (a);
    - a folder with config.json + model.safetensors + modelling code -> path (b);
    - a .safetensors file -> path (c) (needs `arch`: a released name or a spec dict).
    """
    text = str(source)
    options: dict[str, Any] = {"device": device, "batch_size": batch_size, "s2_input": s2_input}
    release = _release_of(text)
    if release is not None:
        return load_release(
            release["release"], revision=revision, trust_remote_code=trust_remote_code,
            cache_dir=cache_dir, **options,
        )  # fmt: skip
    path = Path(source)
    if path.suffix == ".safetensors":
        if arch is None:
            names = ", ".join(cfg["encoder"] for cfg in releases().values())
            raise CLOSPLoadError(
                f"{path} is a bare state dict: say which architecture it is with arch= (one of "
                f"{', '.join(releases())}) or a spec dict; from the app, choose the released "
                f"model's own encoder ({names}) with {ENV_MODEL}={path}"
            )
        return load_state_dict_encoder(path, arch, text_model=text_model, **options)
    if path.is_dir() or _HUB_ID.fullmatch(text):
        return load_remote_encoder(
            source, revision=revision, trust_remote_code=trust_remote_code, cache_dir=cache_dir,
            image_size=arch_for(arch).image_size if arch is not None else None,
            release=arch if isinstance(arch, str) else None, **options,
        )  # fmt: skip
    raise CLOSPLoadError(
        f"unknown CLOSP source {text!r}: use one of {', '.join(releases())}, a hub repo id "
        "(Org/Name), a model folder or a .safetensors state dict"
    )


def create_closp_encoder(
    settings: Settings, release: str | None = None, **kwargs: Any
) -> CLOSPEncoder:
    """Registry factory: `release` for a released model's own name, None for `closp`. Model,
    revision, trust and device come from `settings`; keyword arguments override them."""
    options: dict[str, Any] = {
        "revision": settings.closp_revision,
        "trust_remote_code": settings.trust_remote_code,
        "device": settings.device,
        "s2_input": settings.s2_input,
        **kwargs,
    }
    source = options.pop("source", None) or settings.closp_model
    if release is not None:
        return load_release(release, source, **options)
    if not source:
        raise CLOSPLoadError(
            f"no CLOSP model chosen: set {ENV_MODEL} to CLOSP-RN (with {ENV_REVISION} and "
            f"{ENV_TRUST_REMOTE_CODE}=1), a model folder, or a .safetensors state dict; or use "
            "a released model's own encoder name (--encoder list)"
        )
    return load_closp(source, **options)
