"""BERT text towers on ONNX Runtime: transformers' BertModel exported once, cached, run on CPU.

Why: the app encodes a query in ~7 ms through onnxruntime, whose import + session take ~0.2 s,
where torch + transformers take 3-5 s to import (figures: BENCHMARKS.md "Text backends").

The graph is `torch.onnx.export` (the torch.export-based exporter; it needs the `onnx` and
`onnxscript` packages) of transformers' `BertModel` read from the model folder with
local_files_only, so no network is needed. It costs ~10-20 s once per weights file: at install
(`run.sh` runs `python -m closp_demo.encoders.bert_onnx`) or else at the first start.

The cache is a user cache directory, not the venv: a venv may be read-only (a system or container
install), and a file named by the sha256 of the weights (and of config.json) is safe to share
between venvs and checkouts. `CLOSP_CACHE_DIR` overrides the place; where nothing is writable the
export goes to a temporary folder for this process only.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from closp_demo.settings import ENV_CACHE_DIR, default_cache_dir

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CACHE_ENV = ENV_CACHE_DIR  # the variable tests set; read by closp_demo.settings only
# Bump when the export recipe changes (inputs, outputs, exporter options): old files are then
# never read again.
EXPORT_VERSION = 1
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUTS = ("last_hidden_state", "pooler_output")


class OnnxExportError(RuntimeError):
    """The model folder could not be exported to ONNX (the message says why)."""


def load_torch_bert(folder: str | Path, device: str = "cpu") -> Any:
    """transformers' BertModel from a model folder (float32, eval mode, on `device`).

    Imports torch and transformers (3-5 s): only CLOSP's fine-tuned text tower, CUDA and the
    one-off ONNX export come here.
    """
    import torch

    from closp_demo.torch_compat import ensure_torchvision_importable

    ensure_torchvision_importable()  # transformers imports torchvision when it is installed
    from transformers import BertModel

    # float32 whatever the checkpoint stores (fp16/bf16 exports): the app computes in float32
    model = BertModel.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
    return model.eval().to(device)


def cache_root(cache: Path | None = None) -> Path:
    """`cache` if given (Settings.cache_dir), else settings.default_cache_dir(): $CLOSP_CACHE_DIR,
    else $XDG_CACHE_HOME/closp-demo, else ~/.cache/closp-demo."""
    return Path(cache) if cache is not None else default_cache_dir()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # readers see the old file or the whole new one, never a part


def weights_sha256(weights: Path, cache: Path) -> str:
    """sha256 of the weights, remembered under their path, size and mtime.

    Hashing 90 MB takes ~0.2 s, too much for every start: a stamp named by (real path, size,
    mtime_ns) keeps the digest; any rewrite of the file changes its mtime and so the stamp.
    """
    st = weights.stat()
    key = f"{weights.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()
    stamp = cache / "stamps" / hashlib.sha256(key).hexdigest()[:32]
    try:
        known = stamp.read_text(encoding="ascii").strip()
        if len(known) == 64:
            return known
    except (OSError, UnicodeDecodeError):
        pass
    digest = _sha256(weights)
    with contextlib.suppress(OSError):  # a read-only cache: hash again next time
        _write_atomically(stamp, digest.encode("ascii"))
    return digest


def onnx_file(folder: Path, cache: Path | None = None) -> Path:
    """Where the export of `folder` lives in the cache (whether or not it exists yet)."""
    cache = cache_root(cache)
    weights = weights_sha256(folder / WEIGHTS_FILE, cache)
    config = hashlib.sha256((folder / CONFIG_FILE).read_bytes()).hexdigest()[:12]
    return cache / "onnx" / weights / f"bert-{config}-v{EXPORT_VERSION}.onnx"


def _bert_io(model: Any) -> Any:
    """BertModel as a module taking three tensors and returning two (what the graph exposes)."""
    import torch

    class BertIO(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state, out.pooler_output

    return BertIO()


def export_onnx(folder: Path, dest: Path) -> Path:
    """Export the folder's BertModel to `dest` (one self-contained .onnx file), atomically."""
    try:
        import torch

        model = load_torch_bert(folder)
        # eager attention: plain MatMul/Softmax ops that every onnxruntime fuses
        model.set_attn_implementation("eager")
        positions = int(model.config.max_position_embeddings)
        # two rows, one padded: the graph keeps the attention-mask path for every input
        ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
        sample = (ids, (ids != 0).long(), torch.zeros_like(ids))
        batch = torch.export.Dim("batch")
        tokens = torch.export.Dim("tokens", max=positions)
        dims = {name: {0: batch, 1: tokens} for name in INPUTS}
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        # the exporter's deprecation and tracing warnings are about its internals, not ours
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _bert_io(model),
                sample,
                str(tmp),
                input_names=list(INPUTS),
                output_names=list(OUTPUTS),
                dynamic_shapes=dims,
                external_data=False,  # one file: one atomic rename, one path to cache
                dynamo=True,
                verbose=False,
            )
        os.replace(tmp, dest)
    except ImportError as err:
        raise OnnxExportError(
            f"exporting {folder} to ONNX needs torch, transformers, onnx and onnxscript "
            f"({err}); pip install -r requirements.txt"
        ) from err
    except Exception as err:  # the exporter raises many types; one clear message
        raise OnnxExportError(f"could not export {folder} to ONNX: {err}") from err
    return dest


def ensure_onnx(
    folder: Path, cache: Path | None = None
) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """The cached export of `folder` (under `cache_root(cache)`), made now if missing.

    Returns (path, holder): holder is a TemporaryDirectory to keep alive while the file is in
    use when the cache is not writable (the export then lives for this process only), else None.
    """
    try:
        path = onnx_file(folder, cache)
        if path.is_file():
            return path, None
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        log.warning(
            "ONNX cache %s is not usable (%s): exporting for this process", cache_root(cache), err
        )
        holder = tempfile.TemporaryDirectory(prefix="closp-onnx-")
        return export_onnx(folder, Path(holder.name) / "bert.onnx"), holder
    log.warning("exporting %s to ONNX once (~10-20 s), cached as %s", folder, path)
    return export_onnx(folder, path), None


class OnnxBert:
    """An exported BertModel on onnxruntime's CPU provider: arrays in, last hidden state out."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread: a query is ~10 tokens, where 2 threads measured no faster (BENCHMARKS.md),
        # and concurrent requests then never oversubscribe the CPUs.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only: no warnings about unused initialisers
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.path = path

    def __call__(self, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """int64 arrays (batch, tokens) named as INPUTS -> (last hidden state, pooler output)."""
        hidden, pooled = self.session.run(list(OUTPUTS), {k: batch[k] for k in INPUTS})
        return hidden, pooled


def main(argv: list[str] | None = None) -> int:
    """Export the packaged all-MiniLM-L6-v2 into the cache (run.sh does this at install)."""
    from closp_demo.encoders.minilm import resolve_model_folder

    args = sys.argv[1:] if argv is None else argv
    folder = resolve_model_folder(args[0] if args else None)
    path = onnx_file(folder)
    if path.is_file():
        print(f"ONNX export of {folder} already cached: {path}")
        return 0
    print(f"exporting {folder} to ONNX (once) -> {path}")
    try:
        export_onnx(folder, path)
    except OnnxExportError as err:  # the app still starts: it exports at start, else runs torch
        print(f"note: {err}; the app will try again at its first start and otherwise run "
              "MiniLM on torch (slower start)", file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
