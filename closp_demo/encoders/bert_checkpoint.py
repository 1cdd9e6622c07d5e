"""A BERT model folder, torch-free: config.json fields, checkpoint key names and their checks.

Shared by both forwards (`bert.py`, torch; `bert_numpy.py`, numpy) so a folder is parsed and
validated in one place. Parameter names equal transformers' `BertModel` state dict
(embeddings.word_embeddings.weight, encoder.layer.N.attention.self.query.weight, ...,
pooler.dense.weight). Importing this module must not import torch (start-up cost, issue 5).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# Keys a BertModel checkpoint may hold that are no parameters: position_ids was a persistent
# buffer in transformers < 4.31, token_type_ids a buffer in some exports; both are derived.
_DERIVED_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
_OWN_PREFIXES = ("embeddings.", "encoder.", "pooler.")
POOLER_KEYS = ("pooler.dense.weight", "pooler.dense.bias")
# transformers' ACT2FN names for the activations BERT-family configs use; every backend
# implements all of them (tests check the torch table equals this set).
ACTIVATION_NAMES = frozenset({"gelu", "gelu_pytorch_tanh", "gelu_new", "relu", "silu", "swish"})

T = TypeVar("T")


class BertLoadError(ValueError):
    """A model folder or checkpoint that this BERT cannot load."""


@dataclass(frozen=True)
class BertConfig:
    """The config.json fields a BERT encoder forward depends on (defaults: transformers')."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    pad_token_id: int = 0
    initializer_range: float = 0.02

    def __post_init__(self) -> None:
        if self.hidden_act not in ACTIVATION_NAMES:
            raise BertLoadError(
                f"hidden_act {self.hidden_act!r} is not supported "
                f"(one of {sorted(ACTIVATION_NAMES)})"
            )
        if self.hidden_size % self.num_attention_heads:
            raise BertLoadError(
                f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads "
                f"{self.num_attention_heads}"
            )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BertConfig:
        # A forward different from the ones we implement would load without error and give
        # wrong vectors, so refuse it instead.
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise BertLoadError(
                f"position_embedding_type {raw['position_embedding_type']!r} is not supported "
                "(only 'absolute')"
            )
        if raw.get("is_decoder") or raw.get("add_cross_attention"):
            raise BertLoadError("decoder / cross-attention BERT configs are not supported")
        if raw.get("hidden_act") is not None and not isinstance(raw["hidden_act"], str):
            raise BertLoadError(f"hidden_act must be a name, got {raw['hidden_act']!r}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known and v is not None}
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> BertConfig:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise BertLoadError(f"{path} does not exist: a BERT model folder needs one") from err
        except (OSError, json.JSONDecodeError) as err:
            raise BertLoadError(f"{path} is not a readable JSON file: {err}") from err
        if not isinstance(raw, dict):
            raise BertLoadError(f"{path} does not hold a JSON object")
        return cls.from_dict(raw)


def parameter_shapes(config: BertConfig) -> dict[str, tuple[int, ...]]:
    """Every BertModel parameter name -> its shape under `config` (transformers' order)."""
    width, inner = config.hidden_size, config.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (config.vocab_size, width),
        "embeddings.position_embeddings.weight": (config.max_position_embeddings, width),
        "embeddings.token_type_embeddings.weight": (config.type_vocab_size, width),
        "embeddings.LayerNorm.weight": (width,),
        "embeddings.LayerNorm.bias": (width,),
    }
    for i in range(config.num_hidden_layers):
        p = f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            shapes[f"{p}attention.self.{name}.weight"] = (width, width)
            shapes[f"{p}attention.self.{name}.bias"] = (width,)
        shapes |= {
            f"{p}attention.output.dense.weight": (width, width),
            f"{p}attention.output.dense.bias": (width,),
            f"{p}attention.output.LayerNorm.weight": (width,),
            f"{p}attention.output.LayerNorm.bias": (width,),
            f"{p}intermediate.dense.weight": (inner, width),
            f"{p}intermediate.dense.bias": (inner,),
            f"{p}output.dense.weight": (width, inner),
            f"{p}output.dense.bias": (width,),
            f"{p}output.LayerNorm.weight": (width,),
            f"{p}output.LayerNorm.bias": (width,),
        }
    shapes["pooler.dense.weight"] = (width, width)
    shapes["pooler.dense.bias"] = (width,)
    return shapes


def checkpoint_tensors(state: Mapping[str, T]) -> dict[str, T]:
    """The checkpoint's BertModel tensors under BertModel names.

    Accepts a bare BertModel state dict or one under transformers' `bert.` prefix (e.g. saved
    from BertForMaskedLM, whose heads are then dropped, as transformers does).
    """
    if "embeddings.word_embeddings.weight" not in state and any(
        k.startswith("bert.") for k in state
    ):
        state = {k.removeprefix("bert."): v for k, v in state.items() if k.startswith("bert.")}
    return {
        k: v for k, v in state.items() if k.startswith(_OWN_PREFIXES) and k not in _DERIVED_BUFFERS
    }


def weights_path(folder: Path) -> Path:
    """folder's model.safetensors; a BertLoadError naming any .bin file found instead."""
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        found = sorted(p.name for p in folder.glob("*.bin")) if folder.is_dir() else []
        hint = f" (found {', '.join(found)}: convert it to safetensors)" if found else ""
        raise BertLoadError(f"{weights} does not exist{hint}")
    return weights


def has_pooler(state: Mapping[str, Any]) -> bool:
    # Saved with add_pooling_layer=False: transformers then initialises the pooler randomly.
    return any(k.startswith("pooler.") for k in state)


def check_fits(state: Mapping[str, Any], config: BertConfig, folder: Path) -> None:
    """BertLoadError unless `state` (tensors with .shape) holds exactly the config's parameters."""
    expected = parameter_shapes(config)
    missing = [k for k in expected if k not in state]
    unexpected = sorted(set(state) - set(expected))
    bad = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    if not (missing or unexpected or bad):
        return
    parts = [
        f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})"
        for label, keys in (("missing", missing), ("unexpected", unexpected))
        if keys
    ]
    if bad:
        k = bad[0]
        parts.append(
            f"{len(bad)} with other shapes (e.g. {k}: file {tuple(state[k].shape)}, "
            f"config.json {expected[k]})"
        )
    raise BertLoadError(
        f"{folder / WEIGHTS_FILE} does not fit {folder / CONFIG_FILE}: " + "; ".join(parts)
    )
