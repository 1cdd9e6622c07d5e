"""A BERT encoder in plain torch, loaded from a Hugging Face model folder without transformers.

`import transformers` + `BertModel` costs ~3 s of start-up (transformers 5 pulls in
torch.distributed.tensor, torch._dynamo and sympy), none of which a BERT forward needs. This
module builds the same network from the folder's config.json and loads model.safetensors.

Parameter names equal transformers' `BertModel` state dict (embeddings.word_embeddings.weight,
encoder.layer.N.attention.self.query.weight, ..., pooler.dense.weight), so checkpoints that
store a `BertModel` under a prefix (CLOSP's text_model.*) load into it with a strict
`load_state_dict`. Inference only: no dropout, no decoder / cross-attention / cache.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# Keys a BertModel checkpoint may hold that are no parameters: position_ids was a persistent
# buffer in transformers < 4.31, token_type_ids a buffer in some exports; both are derived.
_DERIVED_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
_OWN_PREFIXES = ("embeddings.", "encoder.", "pooler.")


class BertLoadError(ValueError):
    """A model folder or checkpoint that this BERT cannot load."""


def _gelu_new(x: torch.Tensor) -> torch.Tensor:
    # transformers' NewGELUActivation (the original BERT/GPT-2 tanh formula), written out
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


# transformers' ACT2FN names for the activations BERT-family configs use
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,  # exact (erf), as transformers' GELUActivation
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_new": _gelu_new,
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


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
        if self.hidden_act not in ACTIVATIONS:
            raise BertLoadError(
                f"hidden_act {self.hidden_act!r} is not supported (one of {sorted(ACTIVATIONS)})"
            )
        if self.hidden_size % self.num_attention_heads:
            raise BertLoadError(
                f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads "
                f"{self.num_attention_heads}"
            )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BertConfig:
        # A forward different from the one written below would load without error and give
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


# Layers that skip random initialisation: every weight comes from the checkpoint, and torch's
# init costs ~0.15 s here (on the meta device it would import torch._dynamo, ~1.5 s).
class _Linear(nn.Linear):
    def reset_parameters(self) -> None:
        pass


class _Embedding(nn.Embedding):
    def reset_parameters(self) -> None:
        pass


class _LayerNorm(nn.LayerNorm):
    def reset_parameters(self) -> None:
        pass


class BertOutput(NamedTuple):
    last_hidden_state: torch.Tensor  # (batch, tokens, hidden)
    pooler_output: torch.Tensor  # (batch, hidden): tanh(dense(first token))


class _Dense(nn.Module):
    """dense -> (+ residual) -> LayerNorm: the attention.output and output blocks."""

    def __init__(self, d_in: int, d_out: int, eps: float) -> None:
        super().__init__()
        self.dense = _Linear(d_in, d_out)
        self.LayerNorm = _LayerNorm(d_out, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _SelfAttention(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        width = config.hidden_size
        self.heads = config.num_attention_heads
        self.query = _Linear(width, width)
        self.key = _Linear(width, width)
        self.value = _Linear(width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        batch, length, width = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, -1).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # scale 1/sqrt(head dim)
        return out.transpose(1, 2).reshape(batch, length, width)


class _Attention(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = _SelfAttention(config)
        self.output = _Dense(config.hidden_size, config.hidden_size, config.layer_norm_eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(x, mask), x)


class _Intermediate(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = _Linear(config.hidden_size, config.intermediate_size)
        self.act = ACTIVATIONS[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(x))


class _Layer(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = _Attention(config)
        self.intermediate = _Intermediate(config)
        self.output = _Dense(config.intermediate_size, config.hidden_size, config.layer_norm_eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = self.attention(x, mask)
        return self.output(self.intermediate(x), x)


class _Encoder(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(config) for _ in range(config.num_hidden_layers))


class _Embeddings(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        width = config.hidden_size
        self.word_embeddings = _Embedding(config.vocab_size, width)
        self.position_embeddings = _Embedding(config.max_position_embeddings, width)
        self.token_type_embeddings = _Embedding(config.type_vocab_size, width)
        self.LayerNorm = _LayerNorm(width, eps=config.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        return self.LayerNorm(x + self.position_embeddings(positions))


class _Pooler(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = _Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))


class BertModel(nn.Module):
    """BERT encoder (inference). `state_dict()` keys equal transformers' `BertModel`.

    Its parameters are uninitialised memory until a state dict is loaded: use `load_bert`.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)
        self.pooler = _Pooler(config)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> BertOutput:
        if input_ids.ndim != 2:
            raise ValueError(
                f"input_ids must be (batch, tokens), got shape {tuple(input_ids.shape)}"
            )
        length = input_ids.shape[1]
        if length > self.config.max_position_embeddings:
            raise ValueError(
                f"{length} tokens exceed the model's {self.config.max_position_embeddings} "
                "positions: truncate the input"
            )
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)
        mask = None  # no mask when nothing is padded: SDPA then takes its fastest kernel
        if attention_mask is not None and not bool(attention_mask.all()):
            # (batch, 1, 1, keys), True = attend; padded keys are ignored by every query
            mask = attention_mask.bool()[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return BertOutput(x, self.pooler(x))


def _checkpoint_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
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


def load_bert(folder: str | Path, device: str | torch.device = "cpu") -> BertModel:
    """config.json + model.safetensors of a model folder -> BertModel in eval mode on `device`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    config = BertConfig.from_file(folder / CONFIG_FILE)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        found = sorted(p.name for p in folder.glob("*.bin")) if folder.is_dir() else []
        hint = f" (found {', '.join(found)}: convert it to safetensors)" if found else ""
        raise BertLoadError(f"{weights} does not exist{hint}")
    try:
        raw = load_file(str(weights))
    except (SafetensorError, OSError) as err:
        raise BertLoadError(f"{weights} is not a readable safetensors file: {err}") from err
    state = _checkpoint_keys(raw)
    model = BertModel(config)  # uninitialised (torch.empty) until the checkpoint is assigned
    expected = model.state_dict()
    if not any(k.startswith("pooler.") for k in state):
        # Saved with add_pooling_layer=False: transformers initialises the pooler randomly; so do
        # we (normal(0, initializer_range)). It only feeds `pooler_output`.
        width = config.hidden_size
        state["pooler.dense.weight"] = torch.randn(width, width) * config.initializer_range
        state["pooler.dense.bias"] = torch.zeros(width)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    bad = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or bad:
        parts = [
            f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})"
            for label, keys in (("missing", missing), ("unexpected", unexpected))
            if keys
        ]
        if bad:
            k = bad[0]
            parts.append(
                f"{len(bad)} with other shapes (e.g. {k}: file {tuple(state[k].shape)}, "
                f"config.json {tuple(expected[k].shape)})"
            )
        raise BertLoadError(f"{weights} does not fit {folder / CONFIG_FILE}: " + "; ".join(parts))
    state = {k: v.float() for k, v in state.items()}  # fp16/bf16 exports: compute in float32
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval().to(device)
