"""The BERT forward of `bert.py` in numpy (float32, inference): no torch import.

`import torch` costs 1.5-2.3 s of start-up, and the default app (physics encoder on CPU) needs
torch only for MiniLM's text forward (issue 5). Same network, same folder loading and checks
(`bert_checkpoint`), weights through `safetensors.numpy`. Tests compare it with `bert.BertModel`
run in float64 (tests/helpers/tolerances.py: attended hidden states within 2e-5, pooled 2e-6).

Exact GELU needs erf, which numpy lacks: `erf` below is Abramowitz & Stegun 7.1.26, a closed
form with |error| <= 1.5e-7 (float64), far below float32's resolution of the activations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from closp_demo.encoders.bert_checkpoint import (
    CONFIG_FILE,
    BertConfig,
    BertLoadError,
    check_fits,
    checkpoint_tensors,
    has_pooler,
    weights_path,
)

# Abramowitz & Stegun 7.1.26: erf(x) = 1 - (a1 t + ... + a5 t^5) exp(-x^2), t = 1 / (1 + p x)
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erf(x: np.ndarray) -> np.ndarray:
    """erf(x) elementwise, |error| <= 1.5e-7 (A&S 7.1.26), in x's float dtype."""
    a = np.abs(x)
    t = 1.0 / (1.0 + _AS_P * a)
    a1, a2, a3, a4, a5 = _AS_A
    poly = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))))  # Horner form
    return np.copysign(1.0 - poly * np.exp(-a * a), x).astype(x.dtype, copy=False)


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x * np.float32(1.0 / math.sqrt(2.0))))


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    # gelu_new and gelu_pytorch_tanh: the same tanh formula
    c = np.float32(math.sqrt(2.0 / math.pi))
    return 0.5 * x * (1.0 + np.tanh(c * (x + np.float32(0.044715) * x * x * x)))


def _silu(x: np.ndarray) -> np.ndarray:
    # x * sigmoid(x) through tanh: no exp overflow for large |x|
    return x * 0.5 * (1.0 + np.tanh(0.5 * x))


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gelu": _gelu,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_new": _gelu_tanh,
    "relu": lambda x: np.maximum(x, 0),
    "silu": _silu,
    "swish": _silu,
}


class NumpyBertOutput(NamedTuple):
    last_hidden_state: np.ndarray  # (batch, tokens, hidden) float32
    pooler_output: np.ndarray  # (batch, hidden): tanh(dense(first token))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(-1, keepdims=True)  # biased, as torch's LayerNorm
    return centred / np.sqrt(var + np.float32(eps)) * weight + bias


class _Layer(NamedTuple):
    qkv_w: np.ndarray  # (hidden, 3 hidden): query, key, value fused, transposed for x @ w
    qkv_b: np.ndarray
    attn_out_w: np.ndarray
    attn_out_b: np.ndarray
    attn_ln_w: np.ndarray
    attn_ln_b: np.ndarray
    inter_w: np.ndarray
    inter_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    out_ln_w: np.ndarray
    out_ln_b: np.ndarray


class NumpyBert:
    """BERT encoder forward (inference) over a `bert_checkpoint`-checked state dict."""

    def __init__(self, config: BertConfig, state: dict[str, np.ndarray]) -> None:
        self.config = config
        s = {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}

        def t(key: str) -> np.ndarray:  # Linear weight (out, in) -> (in, out) for x @ w
            return np.ascontiguousarray(s[key].T)

        self.word = s["embeddings.word_embeddings.weight"]
        self.position = s["embeddings.position_embeddings.weight"]
        self.token_type = s["embeddings.token_type_embeddings.weight"]
        self.emb_ln = (s["embeddings.LayerNorm.weight"], s["embeddings.LayerNorm.bias"])
        self.layers: list[_Layer] = []
        for i in range(config.num_hidden_layers):
            p = f"encoder.layer.{i}."
            names = [f"{p}attention.self.{n}" for n in ("query", "key", "value")]
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(np.concatenate([s[f"{n}.weight"] for n in names]).T),
                    qkv_b=np.concatenate([s[f"{n}.bias"] for n in names]),
                    attn_out_w=t(f"{p}attention.output.dense.weight"),
                    attn_out_b=s[f"{p}attention.output.dense.bias"],
                    attn_ln_w=s[f"{p}attention.output.LayerNorm.weight"],
                    attn_ln_b=s[f"{p}attention.output.LayerNorm.bias"],
                    inter_w=t(f"{p}intermediate.dense.weight"),
                    inter_b=s[f"{p}intermediate.dense.bias"],
                    out_w=t(f"{p}output.dense.weight"),
                    out_b=s[f"{p}output.dense.bias"],
                    out_ln_w=s[f"{p}output.LayerNorm.weight"],
                    out_ln_b=s[f"{p}output.LayerNorm.bias"],
                )
            )
        self.pooler_w = t("pooler.dense.weight")
        self.pooler_b = s["pooler.dense.bias"]
        self.act = ACTIVATIONS[config.hidden_act]

    def __call__(
        self,
        input_ids: np.ndarray,
        attention_mask: np.ndarray | None = None,
        token_type_ids: np.ndarray | None = None,
    ) -> NumpyBertOutput:
        input_ids = np.asarray(input_ids)
        if input_ids.ndim != 2:
            raise ValueError(f"input_ids must be (batch, tokens), got shape {input_ids.shape}")
        batch, length = input_ids.shape
        config = self.config
        if length > config.max_position_embeddings:
            raise ValueError(
                f"{length} tokens exceed the model's {config.max_position_embeddings} "
                "positions: truncate the input"
            )
        if token_type_ids is None:
            token_type_ids = np.zeros_like(input_ids)
        x = self.word[input_ids] + self.token_type[token_type_ids]
        x = _layer_norm(x + self.position[:length], *self.emb_ln, config.layer_norm_eps)
        bias = None  # nothing padded: skip the mask, as the torch forward does
        if attention_mask is not None and not np.asarray(attention_mask).all():
            # (batch, 1, 1, keys) additive: padded keys get exp(-inf) = 0 weight for every query
            keep = np.asarray(attention_mask).astype(bool)[:, None, None, :]
            bias = np.where(keep, np.float32(0.0), np.float32(-np.inf))
        heads = config.num_attention_heads
        head_dim = config.hidden_size // heads
        scale = np.float32(1.0 / math.sqrt(head_dim))
        eps = config.layer_norm_eps
        for layer in self.layers:
            qkv = x @ layer.qkv_w + layer.qkv_b  # (batch, tokens, 3 hidden)
            qkv = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # (batch, heads, tokens, head_dim)
            scores = (q * scale) @ k.transpose(0, 1, 3, 2)
            if bias is not None:
                scores = scores + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, -1)
            attended = context @ layer.attn_out_w + layer.attn_out_b + x
            x = _layer_norm(attended, layer.attn_ln_w, layer.attn_ln_b, eps)
            inner = self.act(x @ layer.inter_w + layer.inter_b)
            x = _layer_norm(
                inner @ layer.out_w + layer.out_b + x, layer.out_ln_w, layer.out_ln_b, eps
            )
        pooled = np.tanh(x[:, 0] @ self.pooler_w + self.pooler_b)
        return NumpyBertOutput(x, pooled)


def load_numpy_bert(folder: str | Path, seed: int | None = None) -> NumpyBert:
    """config.json + model.safetensors of a model folder -> NumpyBert (no torch import).

    `seed`: for the random pooler of a checkpoint saved without one (as transformers does).
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(folder)
    config = BertConfig.from_file(folder / CONFIG_FILE)
    weights = weights_path(folder)
    try:
        raw = load_file(str(weights))
    except (SafetensorError, OSError, TypeError, ValueError) as err:
        # bf16 has no numpy dtype: safetensors.numpy refuses such files
        raise BertLoadError(f"{weights} is not a safetensors file numpy can read: {err}") from err
    state = checkpoint_tensors(raw)
    if not has_pooler(state):
        width = config.hidden_size
        rng = np.random.default_rng(seed)
        state["pooler.dense.weight"] = (
            rng.standard_normal((width, width), dtype=np.float32) * config.initializer_range
        )
        state["pooler.dense.bias"] = np.zeros(width, dtype=np.float32)
    check_fits(state, config, folder)
    return NumpyBert(config, state)
