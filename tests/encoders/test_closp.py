"""CLOSP encoder on tiny checkpoints written by tests/encoders/closp_fixtures.py; no network.

Three layouts of the same seeded weights: (a) a huggingface_hub cache at a pinned commit,
(b) a local model folder, (c) a bare safetensors state dict rebuilt with timm + MiniLM.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch

from closp_demo.encoders import closp, create_encoder
from closp_demo.encoders import closp_loaders as loaders
from closp_demo.encoders.base import Encoder
from closp_demo.encoders.registry import releases
from closp_demo.settings import Settings
from tests.encoders import closp_fixtures as fx

REVISION = "0123456789abcdef0123456789abcdef01234567"
REPO = "Fixture/CLOSP-Tiny"


@contextlib.contextmanager
def offline_hub(modules_dir: Path):
    """HF_HUB_OFFLINE=1 and a private folder for transformers' copies of remote code."""
    import huggingface_hub.constants
    import transformers.dynamic_module_utils

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        mp.setattr(transformers.dynamic_module_utils, "HF_MODULES_CACHE", str(modules_dir))
        yield


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("closp")
    text = fx.write_text_model(root / "text")
    state = fx.closp_state_dict(fx.TINY_RESNET_ARCH, text, seed=1)
    paths = {
        "root": root,
        "text": text,
        "modules": root / "modules",
        "cache": root / "hub",
        "dir": fx.write_model_dir(root / "model-dir", state, fx.TINY_RESNET_ARCH),
        "sd": fx.write_state_dict(root / "closp.safetensors", state),
        "vit_sd": fx.write_state_dict(
            root / "vit.safetensors", fx.closp_state_dict(fx.TINY_VIT_ARCH, text, seed=2)
        ),
    }
    fx.write_hub_cache(paths["cache"], REPO, REVISION, state, fx.TINY_RESNET_ARCH)
    with offline_hub(paths["modules"]):
        encoders = {
            "a": loaders.load_closp(
                REPO, revision=REVISION, trust_remote_code=True, cache_dir=paths["cache"],
                device="cpu",
            ),
            "b": loaders.load_closp(paths["dir"], trust_remote_code=True, device="cpu"),
            "c": loaders.load_closp(
                paths["sd"], arch=fx.TINY_RESNET_ARCH, text_model=text, device="cpu"
            ),
            "vit": loaders.load_closp(
                paths["vit_sd"], arch=fx.TINY_VIT_ARCH, text_model=text, device="cpu"
            ),
        }  # fmt: skip
    return paths, encoders


def s2_images(n: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 6000, (n, 12, 120, 120)).astype(np.float32)
    x[:, :, :4, :4] = np.nan  # a nodata corner
    return x


def s1_images(n: int = 3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-30, 5, (n, 2, 120, 120)).astype(np.float32)
    x[:, 1, -3:, -3:] = np.nan
    return x


@contextlib.contextmanager
def capture_inputs(module: torch.nn.Module):
    seen: list[torch.Tensor] = []
    handle = module.register_forward_pre_hook(lambda _m, args: seen.append(args[0].clone()))
    try:
        yield seen
    finally:
        handle.remove()


@contextlib.contextmanager
def capture_text_inputs(module: torch.nn.Module):
    seen: list[dict] = []

    def hook(_m, args, kwargs):
        seen.append({k: v.clone() for k, v in kwargs.items() if isinstance(v, torch.Tensor)})

    handle = module.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield seen
    finally:
        handle.remove()


# ---------------------------------------------------------------- preprocessing


def test_s2_gets_zero_b10_at_index_10_scaling_and_nan_fill():
    images = s2_images(2)
    images[1, 4, 10, 10] = np.inf
    out = closp.prepare_s2(images)
    assert out.shape == (2, 13, 120, 120) and out.dtype == np.float32
    assert not out[:, 10].any()  # B10, between B09 and B11
    clean = np.where(np.isfinite(images), images, 0.0) / 10000.0
    np.testing.assert_allclose(out[:, :10], clean[:, :10], rtol=1e-6)
    np.testing.assert_allclose(out[:, 11:], clean[:, 10:], rtol=1e-6)
    assert np.isfinite(out).all() and (out[:, :, :4, :4] == 0).all()


def test_s1_keeps_values_and_fills_nan_like_the_authors():
    images = s1_images(2)
    out = closp.prepare_s1(images)
    assert out.shape == (2, 2, 120, 120)
    finite = np.isfinite(images)
    np.testing.assert_array_equal(out[finite], images[finite])  # no normalisation
    np.testing.assert_allclose(out[~finite], closp.S1_NAN_FILL)


def test_bad_band_counts_and_sensors_are_refused():
    with pytest.raises(ValueError, match=r"\(N, 12, H, W\)"):
        closp.prepare_s2(np.zeros((1, 13, 120, 120), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        closp.prepare_s1(np.zeros((2, 120, 120), np.float32))
    with pytest.raises(ValueError, match="S1 or S2"):
        closp.model_input(np.zeros((1, 2, 120, 120), np.float32), "S3", 120)  # type: ignore[arg-type]


def test_queries_are_lower_cased_like_training_texts():
    assert closp.normalise_query("  Trees.  Flooded AREA ") == "trees. flooded area"


# ---------------------------------------------------------------- what reaches the network


def test_resnet_backbones_receive_the_prepared_tensors_at_120(world):
    _, enc = world
    vision = enc["c"].backend.vision
    images = s2_images()
    with capture_inputs(vision.s2_encoder) as s2_in, capture_inputs(vision.s1_encoder) as s1_in:
        enc["c"].encode_images(images, "S2")
    assert not s1_in and len(s2_in) == 1
    x = s2_in[0].numpy()
    assert x.shape == (3, 13, 120, 120)
    assert not x[:, 10].any()
    np.testing.assert_allclose(x[:, 3, 50, 60], images[:, 3, 50, 60] / 10000.0, rtol=1e-6)
    np.testing.assert_allclose(x[:, 11, 50, 60], images[:, 10, 50, 60] / 10000.0, rtol=1e-6)
    assert (x[:, :, :4, :4] == 0).all()

    sar = s1_images()
    with capture_inputs(vision.s1_encoder) as s1_in:
        enc["c"].encode_images(sar, "S1")
    np.testing.assert_allclose(s1_in[0].numpy(), closp.prepare_s1(sar))


def test_vit_backbones_receive_bilinear_224(world):
    _, enc = world
    vision = enc["vit"].backend.vision
    images = s2_images(2)
    with capture_inputs(vision.s2_encoder) as seen:
        enc["vit"].encode_images(images, "S2")
    x = seen[0]
    assert x.shape == (2, 13, 224, 224)
    prepared = closp.prepare_s2(images)
    # align_corners=True (kornia's Resize default): the corner pixels survive unchanged
    np.testing.assert_allclose(x[:, :, -1, -1].numpy(), prepared[:, :, -1, -1], rtol=1e-6)
    np.testing.assert_allclose(x[:, :, 0, -1].numpy(), prepared[:, :, 0, -1], rtol=1e-6)
    # bilinear: the resized image stays within the source range of each channel
    assert (x.amax(dim=(2, 3)).numpy() <= prepared.max(axis=(2, 3)) + 1e-6).all()
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(prepared), size=(224, 224), mode="bilinear", align_corners=True
    )
    torch.testing.assert_close(x, expected)

    with capture_inputs(vision.s1_encoder) as seen:
        enc["vit"].encode_images(s1_images(1), "S1")
    assert seen[0].shape == (1, 2, 224, 224)


def test_text_is_cls_of_last_hidden_state_padded_to_64_tokens(world):
    _, enc = world
    text = enc["c"].backend.text
    queries = ["Trees. Water. Built", "flooded area " * 60]
    with capture_text_inputs(text.model) as seen:
        got = enc["c"].encode_text(queries)
    ids, mask = seen[0]["input_ids"], seen[0]["attention_mask"]
    assert ids.shape == (2, closp.TEXT_MAX_TOKENS)
    assert mask[0].sum() < closp.TEXT_MAX_TOKENS and mask[1].all()  # padded, truncated
    with torch.inference_mode():
        hidden = text.model(input_ids=ids, attention_mask=mask).last_hidden_state
    cls = hidden[:, 0].numpy()
    mean = hidden.mean(dim=1).numpy()
    np.testing.assert_allclose(got, cls / np.linalg.norm(cls, axis=1, keepdims=True), atol=1e-5)
    assert not np.allclose(got, mean / np.linalg.norm(mean, axis=1, keepdims=True), atol=1e-3)


def test_remote_model_gets_the_same_tokens_and_pixels(world):
    _, enc = world
    model = enc["a"].backend.model
    with capture_text_inputs(model.text_model) as seen:
        enc["a"].encode_text(["trees. water"])
    assert seen[0]["input_ids"].shape == (1, closp.TEXT_MAX_TOKENS)
    images = s2_images(2)
    with capture_inputs(model.s2_encoder) as seen_a:
        enc["a"].encode_images(images, "S2")
    with capture_inputs(enc["c"].backend.vision.s2_encoder) as seen_c:
        enc["c"].encode_images(images, "S2")
    torch.testing.assert_close(seen_a[0], seen_c[0])


# ---------------------------------------------------------------- outputs


@pytest.mark.parametrize("path", ["a", "b", "c", "vit"])
def test_outputs_are_unit_float32(world, path):
    _, enc = world
    e = enc[path]
    assert isinstance(e, Encoder) and e.explain(s1_images(1), "S1") is None
    for vectors in (
        e.encode_text(["snow and ice", "burned area", ""]),
        e.encode_images(s2_images(2), "S2"),
        e.encode_images(s1_images(2), "S1"),
    ):
        assert vectors.dtype == np.float32 and vectors.shape[1] == e.info.dim
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert e.encode_text([]).shape == (0, e.info.dim)
    assert e.encode_images(np.zeros((0, 2, 120, 120), np.float32), "S1").shape == (0, e.info.dim)
    with pytest.raises(TypeError):
        e.encode_text("one string")


def test_hub_folder_and_state_dict_give_the_same_vectors(world):
    _, enc = world
    texts = ["trees. water", "earthquake damage", "Crops"]
    s2, s1 = s2_images(4, seed=5), s1_images(4, seed=6)
    ref = enc["c"]
    want = (ref.encode_text(texts), ref.encode_images(s2, "S2"), ref.encode_images(s1, "S1"))
    # distinct inputs really give distinct vectors, so agreement below is not vacuous
    assert not np.allclose(want[1][0], want[1][1], atol=1e-6)
    for path in ("a", "b"):
        e = enc[path]
        got = (e.encode_text(texts), e.encode_images(s2, "S2"), e.encode_images(s1, "S1"))
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, atol=1e-5)


def test_batches_do_not_change_vectors(world):
    _, enc = world
    e = enc["c"]
    images = s2_images(3, seed=9)
    whole = e.encode_images(images, "S2")
    single = np.concatenate([e.encode_images(images[i : i + 1], "S2") for i in range(3)])
    np.testing.assert_allclose(whole, single, atol=1e-5)


# ---------------------------------------------------------------- refusals


def test_remote_code_is_refused_unless_allowed(world, tmp_path):
    paths, _ = world
    # modelling code that would blow up if it ever ran
    evil = tmp_path / "evil"
    fx.write_model_dir(evil, {"x": torch.zeros(1)}, fx.TINY_RESNET_ARCH)
    (evil / fx.MODELLING_FILE).write_text("raise RuntimeError('remote code ran')\n")
    for source in (evil, paths["dir"]):
        with pytest.raises(closp.RemoteCodeNotAllowed, match="CLOSP_TRUST_REMOTE_CODE=1"):
            loaders.load_closp(source, device="cpu")
    with pytest.raises(closp.RemoteCodeNotAllowed):
        loaders.load_closp(REPO, revision=REVISION, cache_dir=paths["cache"], device="cpu")
    # through the registry, the setting decides; a keyword argument overrides it
    with pytest.raises(closp.RemoteCodeNotAllowed):
        create_encoder("closp", Settings(closp_model=str(evil), device="cpu"))
    trusted = Settings.from_env({
        "CLOSP_MODEL": str(evil), "CLOSP_TRUST_REMOTE_CODE": "1", "CLOSP_DEVICE": "cpu",
    })  # fmt: skip
    with pytest.raises(closp.RemoteCodeNotAllowed):
        create_encoder("closp", trusted, trust_remote_code=False)
    with offline_hub(paths["modules"]), pytest.raises(Exception, match="remote code ran"):
        create_encoder("closp", trusted)  # allowed: the (here hostile) code really runs


def test_hub_loading_requires_a_pinned_commit(world):
    paths, _ = world
    for revision in (None, "main", "v1.0"):
        with pytest.raises(closp.CLOSPLoadError, match="pinned revision"):
            loaders.load_closp(
                REPO, revision=revision, trust_remote_code=True, cache_dir=paths["cache"]
            )
    # the released names carry a placeholder until someone reviews a commit
    with pytest.raises(closp.CLOSPLoadError, match="UNPINNED"):
        loaders.load_closp("CLOSP-RN", trust_remote_code=True)
    # a well-formed commit that is not the cached one is not silently replaced by another
    with offline_hub(paths["modules"]), pytest.raises(closp.CLOSPLoadError, match=REPO):
        loaders.load_closp(
            REPO, revision="f" * 40, trust_remote_code=True, cache_dir=paths["cache"], device="cpu"
        )


def test_state_dict_mismatches_are_explained(world, tmp_path):
    paths, _ = world
    with pytest.raises(closp.CLOSPLoadError, match="arch="):
        loaders.load_closp(paths["sd"])
    with pytest.raises(closp.CLOSPLoadError, match="other shapes|missing"):
        loaders.load_closp(
            paths["sd"], arch=fx.TINY_VIT_ARCH, text_model=paths["text"], device="cpu"
        )
    no_text = fx.write_state_dict(
        tmp_path / "vision-only.safetensors",
        {k: v for k, v in fx.closp_state_dict(fx.TINY_RESNET_ARCH, paths["text"]).items()
         if not k.startswith("text_model.")},
    )  # fmt: skip
    with pytest.raises(closp.CLOSPLoadError, match="text_model"):
        loaders.load_closp(no_text, arch=fx.TINY_RESNET_ARCH, text_model=paths["text"])
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    with pytest.raises(closp.CLOSPLoadError, match="safetensors"):
        loaders.load_closp(garbage, arch=fx.TINY_RESNET_ARCH, text_model=paths["text"])
    with pytest.raises(closp.CLOSPLoadError, match="unknown CLOSP source"):
        loaders.load_closp("no-such-model")


def test_released_configs_describe_buildable_architectures():
    configs = releases()
    assert {c["repo_id"] for c in configs.values()} == {
        f"DarthReca/{name}" for name in ("CLOSP-RN", "CLOSP-VS", "CLOSP-VL", "GeoCLOSP-RN")
    }
    for cfg in configs.values():
        arch = closp.CLOSPArch.from_dict(cfg)
        vit = arch.s2.name.startswith("vit")
        assert arch.image_size == (224 if vit else 120)  # only ViTs are resized
        assert (arch.s1.in_chans, arch.s2.in_chans) == (2, 13)


def test_factory_needs_a_chosen_model():
    with pytest.raises(closp.CLOSPLoadError, match="CLOSP_MODEL"):
        create_encoder("closp", Settings())


def test_factory_takes_model_revision_and_device_from_the_settings(world):
    paths, enc = world
    settings = Settings.from_env({
        "CLOSP_MODEL": REPO, "CLOSP_REVISION": REVISION, "CLOSP_TRUST_REMOTE_CODE": "yes",
        "CLOSP_DEVICE": "cpu",
    })  # fmt: skip
    with offline_hub(paths["modules"]):
        e = create_encoder("closp", settings, cache_dir=paths["cache"])
    assert e.device == "cpu" and e.info.version == enc["a"].info.version
    images = s2_images(2, seed=3)
    np.testing.assert_allclose(e.encode_images(images, "S2"), enc["a"].encode_images(images, "S2"))
