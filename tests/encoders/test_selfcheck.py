"""Sentinel-2 input scaling (CLOSP_S2_INPUT) and the start-up self-check, on the tiny CLOSP
fixtures in the hub, folder and state-dict layouts, with the real reference patches."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from closp_demo.corpus.sources import bigearthnet
from closp_demo.encoders import closp, create_encoder
from closp_demo.encoders import closp_loaders as loaders
from closp_demo.encoders.selfcheck import MIN_SPREAD, check_s2_input, reference_patches
from closp_demo.sensors import S2_BANDS, s2_band
from closp_demo.settings import Settings
from tests.encoders import closp_fixtures as fx
from tests.encoders.test_closp import REPO, REVISION, offline_hub, s2_images

SELFCHECK = "closp_demo.encoders.selfcheck"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """One seeded CLOSP in the three layouts, plus a folder whose model divides S2 by 10000."""
    root = tmp_path_factory.mktemp("selfcheck")
    text = fx.write_text_model(root / "text")
    state = fx.closp_state_dict(fx.TINY_RESNET_ARCH, text, seed=11)
    fx.write_hub_cache(root / "hub", REPO, REVISION, state, fx.TINY_RESNET_ARCH)
    paths = {
        "dir": fx.write_model_dir(root / "dir", state, fx.TINY_RESNET_ARCH),
        "dn-dir": fx.write_model_dir(root / "dn-dir", state, fx.TINY_RESNET_ARCH, divides_s2=True),
        "sd": fx.write_state_dict(root / "closp.safetensors", state),
    }
    cpu = {"trust_remote_code": True, "device": "cpu"}
    with offline_hub(root / "modules"):
        encoders = {
            "hub": loaders.load_closp(REPO, revision=REVISION, cache_dir=root / "hub", **cpu),
            "dir": loaders.load_closp(paths["dir"], **cpu),
            "sd": loaders.load_closp(paths["sd"], arch=fx.TINY_RESNET_ARCH, text_model=text,
                                     device="cpu"),
            "double": loaders.load_closp(paths["dn-dir"], **cpu),  # reflectance, divides again
            "dn": loaders.load_closp(paths["dn-dir"], s2_input="dn", **cpu),
        }  # fmt: skip
    return root, paths, encoders


def test_the_reference_patches_are_real_sea_and_forest():
    patches, names = reference_patches()
    assert names == ("sea", "forest") and patches.shape == (2, len(S2_BANDS), 120, 120)
    ndvi = [
        np.mean((s2_band(p, "B08") - s2_band(p, "B04")) / (s2_band(p, "B08") + s2_band(p, "B04")))
        for p in patches
    ]
    assert ndvi[0] < 0 < 0.3 < ndvi[1]  # water is darker in NIR than red; forest far brighter
    # digital numbers, as the readers deliver them (reflectance x 10000)
    assert 0 < patches.max() < 20_000 and patches[1].mean() > 100


def test_the_shipped_patches_equal_the_shared_samples(samples_dir):
    patches, _ = reference_patches()
    from closp_demo.settings import REPO_ROOT

    ids = [str(i) for i in np.load(REPO_ROOT / "assets" / "selfcheck" / "bigearthnet_s2.npz")[
        "patch_ids"]]  # fmt: skip
    by_id = {r.image_id: r for r in bigearthnet.iter_records(samples_dir) if r.sensor == "S2"}
    for patch, pid in zip(patches, ids, strict=True):
        record = next(r for key, r in by_id.items() if pid in key)
        np.testing.assert_array_equal(patch, record.image)


def test_dn_input_skips_only_the_division():
    images = s2_images(2)
    reflectance = closp.prepare_s2(images)
    dn = closp.prepare_s2(images, "dn")
    np.testing.assert_allclose(dn / 10000.0, reflectance, rtol=1e-6)
    assert not dn[:, 10].any() and np.isfinite(dn).all()
    with pytest.raises(ValueError, match="s2_input"):
        closp.prepare_s2(images, "raw")


@pytest.mark.parametrize("layout", ["hub", "dir", "sd"])
def test_a_correctly_scaled_model_passes_silently(models, layout, caplog):
    _, _, enc = models
    with caplog.at_level(logging.INFO, logger=SELFCHECK):
        result = check_s2_input(enc[layout])
    assert result.ok and result.spread > MIN_SPREAD and not result.problems
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "S2 self-check passed" in caplog.text


def test_double_scaling_is_warned_about(models, caplog):
    _, _, enc = models
    with caplog.at_level(logging.WARNING, logger=SELFCHECK):
        result = check_s2_input(enc["double"])
    assert not result.ok and result.spread < MIN_SPREAD
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "scaled twice" in warning.message and "CLOSP_S2_INPUT=dn" in warning.message


def test_dn_input_to_a_model_that_divides_equals_reflectance_to_one_that_does_not(models, caplog):
    _, _, enc = models
    with caplog.at_level(logging.WARNING, logger=SELFCHECK):
        assert check_s2_input(enc["dn"]).ok
    assert not caplog.records
    images = s2_images(3, seed=4)
    np.testing.assert_allclose(
        enc["dn"].encode_images(images, "S2"), enc["dir"].encode_images(images, "S2"), atol=1e-5
    )
    # "dn" changes every S2 vector, so corpora must not mix: it is part of the version
    assert enc["dn"].info.version == enc["double"].info.version + "+s2-dn"
    assert enc["dir"].info.version == enc["double"].info.version  # same weights file


def test_broken_weights_are_warned_about(models, caplog):
    root, paths, _ = models
    broken = loaders.load_closp(paths["sd"], arch=fx.TINY_RESNET_ARCH,
                                text_model=root / "text", device="cpu")  # fmt: skip
    with torch.no_grad():
        broken.backend.vision.s2_projection.weight.fill_(float("nan"))
    with caplog.at_level(logging.WARNING, logger=SELFCHECK):
        result = check_s2_input(broken)
    assert not result.ok
    assert "non-finite or zero-length" in caplog.text


def test_the_check_runs_when_the_app_creates_the_encoder(models, caplog):
    root, paths, _ = models
    settings = Settings.from_env({
        "CLOSP_MODEL": str(paths["dn-dir"]), "CLOSP_TRUST_REMOTE_CODE": "1", "CLOSP_DEVICE": "cpu",
    })  # fmt: skip
    with offline_hub(root / "modules"), caplog.at_level(logging.WARNING, logger=SELFCHECK):
        create_encoder("closp", settings)
        assert "scaled twice" in caplog.text
        caplog.clear()
        create_encoder("closp", settings.override(s2_input="dn"))
        assert not caplog.records
