"""The ONNX export cache and the text-backend choice (parity with transformers: test_minilm.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from closp_demo.encoders import bert_onnx
from closp_demo.encoders.minilm import MiniLMText
from closp_demo.settings import Settings, SettingsError, default_cache_dir
from tests.encoders import closp_fixtures as fx

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return fx.write_text_model(tmp_path_factory.mktemp("tiny") / "text", seed=7)


def test_the_weights_digest_is_remembered_until_the_file_changes(tmp_path):
    weights, cache = tmp_path / "model.safetensors", tmp_path / "cache"
    weights.write_bytes(b"first weights")
    first = bert_onnx.weights_sha256(weights, cache)
    assert first == hashlib.sha256(b"first weights").hexdigest()
    # the digest now comes from the stamp, not from hashing: a stamp we overwrite is believed
    (stamp,) = (cache / "stamps").iterdir()
    stamp.write_text("f" * 64)
    assert bert_onnx.weights_sha256(weights, cache) == "f" * 64
    # rewriting the file (same size) changes its mtime, hence the stamp: hashed afresh
    weights.write_bytes(b"other weights")
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert bert_onnx.weights_sha256(weights, cache) == hashlib.sha256(b"other weights").hexdigest()


def test_an_unwritable_cache_exports_for_this_process_only(tiny, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(bert_onnx.CACHE_ENV, str(blocker))
    path, holder = bert_onnx.ensure_onnx(tiny)
    assert holder is not None and path.is_file() and not path.is_relative_to(blocker)
    text = MiniLMText(model_path=tiny, pooling="cls", max_length=16, pad_to_max=True)
    vectors = text.encode(["a lake", "a forest"])
    assert text.backend == "onnx" and vectors.shape == (2, fx.TINY_TEXT_CONFIG["hidden_size"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    holder.cleanup()
    assert not path.exists()  # nothing left behind


def test_the_backend_is_chosen_by_settings(tiny, tmp_path):
    settings = Settings.from_env({"CLOSP_TEXT_BACKEND": "Torch", "CLOSP_CACHE_DIR": str(tmp_path)})
    assert (settings.text_backend, settings.cache_dir) == ("torch", tmp_path)
    assert Settings.from_env({}).text_backend == "auto"
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "closp-demo"
    assert default_cache_dir({"CLOSP_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x"}) == Path("/c")
    with pytest.raises(SettingsError, match="CLOSP_TEXT_BACKEND='numpy'.*auto.*onnx.*torch"):
        Settings.from_env({"CLOSP_TEXT_BACKEND": "numpy"})  # the hand-written forward is gone
    assert MiniLMText(model_path=tiny, device="cpu", backend="torch").backend == "torch"
    assert MiniLMText(model_path=tiny, device="cpu").backend == "onnx"
    with pytest.raises(ValueError, match="auto, onnx or torch"):
        MiniLMText(model_path=tiny, device="cpu", backend="tensorflow")  # type: ignore[arg-type]


def test_the_physics_encoder_gets_the_text_settings(tmp_path):
    """create_encoder hands Settings.text_backend and cache_dir to the shared MiniLM."""
    from closp_demo.encoders.registry import create_encoder

    settings = Settings(device="cpu", text_backend="onnx", cache_dir=tmp_path / "cache")
    text = create_encoder("physics-minilm", settings).text
    assert text.backend == "onnx" and text._cache_dir == tmp_path / "cache"


@pytest.mark.slow
def test_without_the_exporter_auto_falls_back_to_torch_and_onnx_says_why(tiny, tmp_path):
    """onnxscript missing and nothing cached: the default choice still encodes (on torch); an
    explicit onnx choice fails with a message naming what to install."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["onnxscript"] = None  # as if it were not installed
        from closp_demo.encoders.bert_onnx import OnnxExportError
        from closp_demo.encoders.minilm import MiniLMText
        auto = MiniLMText(model_path={str(tiny)!r})
        print("shape", auto.encode(["a lake"]).shape, auto.backend)
        try:
            MiniLMText(model_path={str(tiny)!r}, backend="onnx").encode(["a lake"])
        except OnnxExportError as err:
            print("ERROR:", err)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), bert_onnx.CACHE_ENV: str(tmp_path / "c")}
    env.pop("CLOSP_TEXT_BACKEND", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"shape (1, {fx.TINY_TEXT_CONFIG['hidden_size']}) torch" in done.stdout, done.stdout
    assert "ERROR:" in done.stdout and "onnxscript" in done.stdout, done.stdout
    assert "MiniLM runs on torch instead" in done.stderr


def test_touching_model_switches_to_the_torch_weights(tmp_path, monkeypatch):
    """closp.py path (c) loads a checkpoint into `.model`: encode must then use those weights.
    The folder has no pooler (saved with add_pooling_layer=False): it still exports and loads."""
    import torch
    from safetensors.torch import load_file, save_file

    monkeypatch.setenv(bert_onnx.CACHE_ENV, str(tmp_path / "cache"))
    folder = fx.write_text_model(tmp_path / "tiny", seed=3)
    weights = folder / "model.safetensors"
    state = {k: v for k, v in load_file(str(weights)).items() if not k.startswith("pooler.")}
    save_file(state, str(weights))
    text = MiniLMText(model_path=folder, pooling="cls", max_length=64, pad_to_max=True)
    before = text.encode(["a lake"])
    assert text.backend == "onnx"
    with torch.no_grad():
        for p in text.model.parameters():
            p.mul_(1.5)
    assert text.backend == "torch"
    after = text.encode(["a lake"])
    assert not np.allclose(before, after, atol=1e-3)


@pytest.mark.slow
def test_the_app_starts_with_an_empty_cache_and_exports_on_the_way(tmp_path):
    """No export at install (cache empty): the default Explorer exports at start, answers, and
    leaves the export cached for the next start; torch is imported only for that export."""
    cache = tmp_path / "cache"
    code = textwrap.dedent(
        """
        from closp_demo.service import Explorer
        explorer = Explorer("precomputed")
        answer = explorer.text_search("a lake")
        assert answer.ok and len(answer.table), answer.message
        print("backend:", explorer.encoder.text.backend)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSP_")}
    env |= {"PYTHONPATH": str(REPO_ROOT), bert_onnx.CACHE_ENV: str(cache), "CLOSP_DEVICE": "cpu"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "backend: onnx" in done.stdout, done.stdout
    assert "exporting" in done.stderr and "to ONNX once" in done.stderr
    assert len(list((cache / "onnx").glob("*/bert-*.onnx"))) == 1
