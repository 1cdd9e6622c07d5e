"""The real all-MiniLM-L6-v2 (packaged weights), offline."""

import numpy as np
import pytest

from closp_demo.encoders.minilm import MINILM_DIM, MiniLMText, shared_minilm


@pytest.fixture(scope="module")
def model():
    return shared_minilm()


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
    np.testing.assert_allclose(batch, single, atol=1e-5)


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


def test_device_override(monkeypatch):
    from closp_demo.devices import resolve_device

    monkeypatch.setenv("CLOSP_DEVICE", "cpu")
    assert resolve_device() == "cpu"
    with pytest.raises(ValueError):
        resolve_device("tpu")
