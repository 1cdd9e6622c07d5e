"""GeoCLOSP on tiny checkpoints: the location tower through paths (b) and (c), and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from closp_demo.encoders import closp
from closp_demo.encoders import closp_loaders as loaders
from closp_demo.encoders.base import can_locate
from tests.encoders import closp_fixtures as fx
from tests.encoders.test_closp import offline_hub

PLACES = np.array([[7.66, 45.07], [-122.42, 37.77], [151.2, -33.87], [0.0, 89.9], [180.0, -90.0]])


@pytest.fixture(scope="module")
def geo(tmp_path_factory):
    root = tmp_path_factory.mktemp("geoclosp")
    text = fx.write_text_model(root / "text")
    plain = fx.closp_state_dict(fx.TINY_RESNET_ARCH, text, seed=4)
    state = fx.add_location_tower(plain, seed=5)
    sd = fx.write_state_dict(root / "geo.safetensors", state)
    folder = fx.write_model_dir(root / "geo-dir", state, fx.TINY_GEO_ARCH)
    with offline_hub(root / "modules"):
        encoders = {
            "b": loaders.load_closp(folder, trust_remote_code=True, device="cpu"),
            "c": loaders.load_closp(sd, arch=fx.TINY_GEO_ARCH, text_model=text, device="cpu"),
            "plain": loaders.load_closp(
                fx.write_state_dict(root / "plain.safetensors", plain),
                arch=fx.TINY_RESNET_ARCH, text_model=text, device="cpu",
            ),
        }  # fmt: skip
    return root, text, plain, encoders


def test_folder_and_state_dict_embed_places_identically(geo):
    _, _, _, enc = geo
    b, c = enc["b"].encode_location(PLACES), enc["c"].encode_location(PLACES)
    assert b.shape == (len(PLACES), enc["c"].info.dim)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(b, c, atol=1e-5)
    # the images and texts are unaffected by the location tower
    q = ["forest", "river and fields"]
    np.testing.assert_allclose(enc["b"].encode_text(q), enc["c"].encode_text(q), atol=1e-5)


def test_location_capability_is_announced_only_when_present(geo):
    _, _, _, enc = geo
    assert enc["b"].info.location and enc["c"].info.location
    assert can_locate(enc["b"]) and can_locate(enc["c"])
    assert not enc["plain"].info.location and not can_locate(enc["plain"])
    with pytest.raises(ValueError, match="no location encoder"):
        enc["plain"].encode_location(PLACES[:1])


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([7.0, 45.0]), r"\(N, 2\)"),
        (np.array([[7.0, np.nan]]), "finite"),
        (np.array([[181.0, 0.0]]), "longitudes"),
        (np.array([[0.0, -90.5]]), "latitudes"),
    ],
)
def test_bad_places_are_refused(geo, bad, message):
    with pytest.raises(ValueError, match=message):
        geo[3]["c"].encode_location(bad)


def test_geoclosp_arch_without_location_weights_is_explained(geo, tmp_path):
    _, text, plain, _ = geo
    path = fx.write_state_dict(tmp_path / "no-loc.safetensors", plain)
    with pytest.raises(closp.CLOSPLoadError, match="location tower lacks"):
        loaders.load_closp(path, arch=fx.TINY_GEO_ARCH, text_model=text, device="cpu")


def test_plain_arch_refuses_a_checkpoint_with_location_weights(geo, tmp_path):
    _, text, plain, _ = geo
    path = fx.write_state_dict(tmp_path / "geo.safetensors", fx.add_location_tower(plain))
    with pytest.raises(closp.CLOSPLoadError, match="location_"):
        loaders.load_closp(path, arch=fx.TINY_RESNET_ARCH, text_model=text, device="cpu")
