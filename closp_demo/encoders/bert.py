"""A BERT encoder in plain torch, loaded from a Hugging Face model folder without transformers.

`import transformers` + `BertModel` costs ~3 s of start-up (transformers 5 pulls in
torch.distributed.tensor, torch._dynamo and sympy), none of which a BERT forward needs. This
module builds the same network from the folder's config.json and loads model.safetensors
(folder parsing and key checks: `bert_checkpoint`, shared with the numpy forward `bert_numpy`).

Parameter names equal transformers' `BertModel` state dict (embeddings.word_embeddings.weight,
encoder.layer.N.attention.self.query.weight, ..., pooler.dense.weight), so checkpoints that
store a `BertModel` under a prefix (CLOSP's text_model.*) load into it with a strict
`load_state_dict`. Inference only: no dropout, no decoder / cross-attention / cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from closp_demo.encoders.bert_checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    BertConfig,
    BertLoadError,
    check_fits,
    checkpoint_tensors,
    has_pooler,
    weights_path,
)

# Re-exported: callers import the folder names, config and error from here (public API).
__all__ = [
    "ACTIVATIONS",
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "BertConfig",
    "BertLoadError",
    "BertModel",
    "BertOutput",
    "load_bert",
]


def _gelu_new(x: torch.Tensor) -> torch.Tensor:
    # transformers' NewGELUActivation (the original BERT/GPT-2 tanh formula), written out
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


# transformers' ACT2FN names: exactly bert_checkpoint.ACTIVATION_NAMES (a test checks it)
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,  # exact (erf), as transformers' GELUActivation
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_new": _gelu_new,
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


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


def load_bert(folder: str | Path, device: str | torch.device = "cpu") -> BertModel:
    """config.json + model.safetensors of a model folder -> BertModel in eval mode on `device`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    config = BertConfig.from_file(folder / CONFIG_FILE)
    weights = weights_path(folder)
    try:
        raw = load_file(str(weights))
    except (SafetensorError, OSError) as err:
        raise BertLoadError(f"{weights} is not a readable safetensors file: {err}") from err
    state = checkpoint_tensors(raw)
    if not has_pooler(state):
        # transformers initialises a missing pooler randomly (normal(0, initializer_range));
        # so do we. It only feeds `pooler_output`.
        width = config.hidden_size
        state["pooler.dense.weight"] = torch.randn(width, width) * config.initializer_range
        state["pooler.dense.bias"] = torch.zeros(width)
    check_fits(state, config, folder)
    state = {k: v.float() for k, v in state.items()}  # fp16/bf16 exports: compute in float32
    model = BertModel(config)  # uninitialised (torch.empty) until the checkpoint is assigned
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval().to(device)
