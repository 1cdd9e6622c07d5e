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
from tests.helpers.tolerances import HIDDEN_ATOL, VECTOR_ATOL

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
        # 4 float32 ulps at |y| = 10 (ulp 9.5e-7): numpy's and torch's SIMD tanh / erf / exp each
        # round a few times; measured 9.5e-7 apart. tanh-GELU for exact GELU is 4.7e-4 off.
        np.testing.assert_allclose(fn(x), ref, atol=4e-6, rtol=0, err_msg=name)


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


@pytest.fixture(scope="module")
def exact(folder):
    """The torch forward in float64: its rounding is ~1e-9 of float32's, a reference for both."""
    return load_bert(folder).double()


@pytest.mark.parametrize(("max_length", "pad_to_max"), [(128, False), (64, True), (8, False)])
def test_forward_equals_torch(pair, exact, max_length, pad_to_max):
    """Both float32 forwards against the float64 one, on what the encoders read: the attended
    positions (mean and CLS pooling) and pooler_output. Padded positions are never pooled and carry
    float32 noise 10-50x larger that depends on the BLAS kernel (1e-5 to 1.5e-4 measured), so only
    their finiteness is checked (mean pooling multiplies them by 0, and NaN * 0 is NaN)."""
    numpy_bert, torch_bert = pair
    tokens = MiniLMText(max_length=max_length, pad_to_max=pad_to_max)._token_arrays(PARITY_TEXTS)
    mask = tokens["attention_mask"].astype(bool)
    assert not mask.all() and mask.any(1).all()  # a batch of different lengths: real padding
    got = numpy_bert(**tokens)
    inputs = {k: torch.from_numpy(v) for k, v in tokens.items()}
    with torch.inference_mode():
        ref, float32_torch = exact(**inputs), torch_bert(**inputs)
    ref_hidden, ref_pooled = ref.last_hidden_state.numpy(), ref.pooler_output.numpy()
    assert got.last_hidden_state.dtype == np.float32
    assert got.last_hidden_state.shape == ref_hidden.shape
    for name, hidden, pooled in (
        ("numpy", got.last_hidden_state, got.pooler_output),
        ("torch", float32_torch.last_hidden_state.numpy(), float32_torch.pooler_output.numpy()),
    ):
        assert np.isfinite(hidden).all(), name
        np.testing.assert_allclose(
            hidden[mask], ref_hidden[mask], atol=HIDDEN_ATOL, rtol=0, err_msg=name
        )
        np.testing.assert_allclose(pooled, ref_pooled, atol=VECTOR_ATOL, rtol=0, err_msg=name)


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
        fast.encode(texts, batch_size=5), slow.encode(texts, batch_size=5), atol=VECTOR_ATOL, rtol=0
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
