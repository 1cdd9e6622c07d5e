"""The numpy BERT forward (bert_numpy) against the torch one (bert), and the torch-free start-up.

The default app (physics encoder, CPU) must answer queries without importing torch (issue 5).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from closp_demo.encoders.bert import ACTIVATIONS, BertModel, load_bert
from closp_demo.encoders.bert_checkpoint import ACTIVATION_NAMES, BertConfig, parameter_shapes
from closp_demo.encoders.bert_numpy import ACTIVATIONS as NP_ACTIVATIONS
from closp_demo.encoders.bert_numpy import erf, load_numpy_bert
from closp_demo.encoders.minilm import MiniLMText, resolve_model_folder
from tests.encoders import closp_fixtures as fx
from tests.encoders.test_minilm import PARITY_TEXTS, _run_python

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder() -> Path:
    return resolve_model_folder()


@pytest.fixture(scope="module")
def pair(folder):
    return load_numpy_bert(folder), load_bert(folder)


def test_erf_matches_math_erf_on_a_grid():
    xs = np.linspace(-8.0, 8.0, 100_001)
    expected = np.array([math.erf(x) for x in xs])
    assert np.abs(erf(xs) - expected).max() < 2e-7
    assert erf(np.float32([0.5])).dtype == np.float32  # keeps the input dtype


def test_every_backend_implements_the_accepted_activations():
    assert set(ACTIVATIONS) == set(NP_ACTIVATIONS) == ACTIVATION_NAMES
    x = np.linspace(-10, 10, 2001, dtype=np.float32)
    for name, fn in NP_ACTIVATIONS.items():
        ref = ACTIVATIONS[name](torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(fn(x), ref, atol=2e-6, rtol=0, err_msg=name)


def test_parameter_shapes_equal_the_torch_model():
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=48,
        vocab_size=50,
        max_position_embeddings=20,
    )
    torch_shapes = {k: tuple(v.shape) for k, v in BertModel(config).state_dict().items()}
    assert list(parameter_shapes(config).items()) == list(torch_shapes.items())


@pytest.mark.parametrize(("max_length", "pad_to_max"), [(128, False), (64, True), (8, False)])
def test_forward_equals_torch(pair, folder, max_length, pad_to_max):
    numpy_bert, torch_bert = pair
    tokens = MiniLMText(max_length=max_length, pad_to_max=pad_to_max)._token_arrays(PARITY_TEXTS)
    mask = tokens["attention_mask"].astype(bool)
    assert not mask.all() and mask.any(1).all()  # a batch of different lengths: real padding
    got = numpy_bert(**tokens)
    with torch.inference_mode():
        ref = torch_bert(**{k: torch.from_numpy(v) for k, v in tokens.items()})
    hidden, ref_hidden = got.last_hidden_state, ref.last_hidden_state.numpy()
    assert hidden.dtype == np.float32 and hidden.shape == ref_hidden.shape
    # every token that pooling reads (attended positions) within 1e-5
    np.testing.assert_allclose(hidden[mask], ref_hidden[mask], atol=1e-5, rtol=0)
    # padded positions (never pooled) carry float32 noise a few times larger in both forwards
    np.testing.assert_allclose(hidden, ref_hidden, atol=1e-4, rtol=0)
    np.testing.assert_allclose(got.pooler_output, ref.pooler_output.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("pooling", "max_length", "pad_to_max"), [
    ("mean", 128, False),
    ("cls", 64, True),
])  # fmt: skip
def test_encode_equals_the_torch_backend(pooling, max_length, pad_to_max):
    kw = {"pooling": pooling, "max_length": max_length, "pad_to_max": pad_to_max, "device": "cpu"}
    fast, slow = MiniLMText(backend="numpy", **kw), MiniLMText(backend="torch", **kw)
    assert (fast.backend, slow.backend) == ("numpy", "torch")
    texts = [*PARITY_TEXTS, "a lake", "snow", "dense urban fabric next to a river delta"]
    np.testing.assert_allclose(
        fast.encode(texts, batch_size=5), slow.encode(texts, batch_size=5), atol=1e-5, rtol=0
    )


def test_touching_model_switches_to_the_torch_weights(tmp_path):
    """closp.py path (c) loads a checkpoint into `.model`: encode must then use those weights."""
    folder = fx.write_text_model(tmp_path / "tiny", seed=3)
    text = MiniLMText(model_path=folder, pooling="cls", max_length=64, pad_to_max=True)
    assert text.backend == "numpy"
    before = text.encode(["a lake"])
    with torch.no_grad():
        for p in text.model.parameters():
            p.mul_(1.5)
    assert text.backend == "torch"
    after = text.encode(["a lake"])
    assert not np.allclose(before, after, atol=1e-3)
    assert text.model.config.hidden_size == fx.TINY_TEXT_CONFIG["hidden_size"]


def test_a_folder_without_pooler_loads(tmp_path):
    from safetensors.numpy import load_file, save_file

    src = fx.write_text_model(tmp_path / "tiny", seed=4)
    state = {k: v for k, v in load_file(str(src / "model.safetensors")).items()
             if not k.startswith("pooler.")}  # fmt: skip
    save_file(state, str(src / "model.safetensors"))
    out = load_numpy_bert(src, seed=0)(np.array([[101, 2300, 102]]))
    assert out.pooler_output.shape == (1, fx.TINY_TEXT_CONFIG["hidden_size"])


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend"):
        MiniLMText(backend="jax")  # type: ignore[arg-type]


# ---------------------------------------------------------------- torch-free start-up


@pytest.mark.slow
def test_the_default_app_answers_without_importing_torch(tmp_path):
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


def test_auto_device_without_a_driver_is_cpu_without_torch(tmp_path):
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
