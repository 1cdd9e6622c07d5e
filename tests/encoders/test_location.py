"""GeoCLOSP's location tower: spherical harmonics, SIREN, loading from checkpoint tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from closp_demo.encoders.location import (
    LocationLoadError,
    SphericalHarmonics,
    tower_from_state,
)
from closp_demo.torch_compat import ensure_torchvision_importable
from tests.encoders import closp_fixtures as fx


def _sphere_quadrature(n_theta: int = 24, n_phi: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Exact for the products of harmonics of degree < n_theta: Gauss-Legendre in cos(theta)."""
    x, w = np.polynomial.legendre.leggauss(n_theta)
    theta = np.arccos(x)
    phi = np.arange(n_phi) * 2 * np.pi / n_phi
    tt, pp = np.meshgrid(theta, phi, indexing="ij")
    weights = np.repeat(w, n_phi) * (2 * np.pi / n_phi)
    lat = np.degrees(tt.ravel()) - 90.0  # SatCLIP's convention: theta = lat + 90
    lon = np.degrees(pp.ravel()) - 180.0
    return np.stack([lon, lat], axis=1), weights


def test_harmonics_are_orthonormal_on_the_sphere():
    lonlat, weights = _sphere_quadrature()
    y = SphericalHarmonics(10)(torch.from_numpy(lonlat)).numpy()
    assert y.shape == (len(lonlat), 100)
    gram = (y * weights[:, None]).T @ y
    np.testing.assert_allclose(gram, np.eye(100), atol=1e-9)


def test_harmonics_match_an_independent_formula():
    rng = np.random.default_rng(0)
    lonlat = np.stack([rng.uniform(-180, 180, 64), rng.uniform(-90, 90, 64)], axis=1)
    ours = SphericalHarmonics(6)(torch.from_numpy(lonlat)).numpy()
    # numpy Legendre-polynomial derivatives, written separately in the fixture modelling code
    ensure_torchvision_importable()  # the modelling code imports timm
    namespace: dict = {}
    exec(fx.MODELLING_CODE.split("class _Siren")[0], namespace)
    theirs = namespace["_real_sh"](lonlat[:, 0], lonlat[:, 1], 6)
    np.testing.assert_allclose(ours, theirs, atol=1e-10)


def test_low_degrees_have_their_textbook_values():
    pts = torch.tensor([[0.0, 0.0], [10.0, 90.0], [-70.0, -90.0]], dtype=torch.float64)
    y = SphericalHarmonics(2)(pts).numpy()
    np.testing.assert_allclose(y[:, 0], 0.5 / math.sqrt(math.pi))  # Y_0^0 is constant
    # Y_1^0 = sqrt(3 / 4 pi) cos(theta), theta = lat + 90: 0 at the equator, -/+ at the poles
    c = math.sqrt(3 / (4 * math.pi))
    np.testing.assert_allclose(y[:, 2], [0.0, -c, c], atol=1e-12)


def test_float32_input_keeps_its_dtype():
    y = SphericalHarmonics(10)(torch.tensor([[12.5, 45.0]], dtype=torch.float32))
    assert y.dtype == torch.float32 and torch.isfinite(y).all()


def _tower_state() -> dict:
    state = {"s2_projection.weight": torch.zeros(32, 4)}
    return {
        k: v for k, v in fx.add_location_tower(state, seed=3).items() if k != "s2_projection.weight"
    }


def test_tower_sizes_are_read_from_the_tensors_and_outputs_are_unit_vectors():
    tower = tower_from_state(_tower_state())
    cfg = fx.TINY_LOCATION_CONFIG
    assert tower.location_encoder.posenc.embedding_dim == cfg["legendre_polys"] ** 2
    assert len(tower.location_encoder.nnet.layers) == cfg["layers"]
    v = tower.encode(np.array([[7.6, 45.1], [-122.4, 37.8], [7.6, 45.1]]))
    assert v.shape == (3, 32) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(v[0], v[2])
    assert float(v[0] @ v[1]) < 0.999  # different places, different vectors


def test_first_layer_uses_w0_30_and_last_layer_is_linear():
    state = _tower_state()
    tower = tower_from_state(state)
    x = torch.tensor([[3.0, -20.0]])
    feats = SphericalHarmonics(4)(x)
    h = torch.sin(
        30
        * (
            feats @ state["location_encoder.nnet.layers.0.weight"].T
            + state["location_encoder.nnet.layers.0.bias"]
        )
    )
    h = torch.sin(
        h @ state["location_encoder.nnet.layers.1.weight"].T
        + state["location_encoder.nnet.layers.1.bias"]
    )
    z = (
        h @ state["location_encoder.nnet.last_layer.weight"].T
        + state["location_encoder.nnet.last_layer.bias"]
    )
    z = z @ state["location_projection.weight"].T + state["location_projection.bias"]
    expected = torch.nn.functional.normalize(z, dim=-1)
    torch.testing.assert_close(tower(x), expected, atol=1e-6, rtol=1e-5)


def test_broken_location_weights_are_explained():
    state = _tower_state()
    missing = {k: v for k, v in state.items() if "last_layer" not in k}
    with pytest.raises(LocationLoadError, match="last_layer"):
        tower_from_state(missing)
    odd = dict(state)
    odd["location_encoder.nnet.layers.0.weight"] = torch.zeros(16, 15)
    with pytest.raises(LocationLoadError, match="L\\*L"):
        tower_from_state(odd)
    wrong = dict(state)
    wrong["location_encoder.nnet.layers.1.weight"] = torch.zeros(16, 7)
    with pytest.raises(LocationLoadError, match="does not load"):
        tower_from_state(wrong)
