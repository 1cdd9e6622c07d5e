"""GeoCLOSP's location tower: SatCLIP's spherical harmonics, SIREN, loading from checkpoint tensors.

The harmonics must be SatCLIP's "analytic" ones (closp_demo/encoders/location.py says why and how
they differ from the textbook ones); the textbook form lives here only, as a reference."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from numpy import cos, sin

from closp_demo.encoders.location import (
    LocationLoadError,
    SphericalHarmonics,
    tower_from_state,
)
from closp_demo.torch_compat import ensure_torchvision_importable
from tests.encoders import closp_fixtures as fx

# lon, lat: both poles, the equator, the dateline, the prime meridian, and arbitrary places
POINTS = np.array(
    [[0.0, 0.0], [10.0, 90.0], [-70.0, -90.0], [180.0, 12.5], [-180.0, -33.0], [7.66, 45.07],
     [-122.42, 37.77], [151.2, -33.87], [-47.9, -15.8], [103.8, 1.35], [-0.5, 51.5]]
)  # fmt: skip


def _sh(lonlat: np.ndarray, legendre_polys: int = 10) -> np.ndarray:
    return SphericalHarmonics(legendre_polys)(torch.from_numpy(lonlat)).numpy()


def _col(l_deg: int, m: int) -> int:
    return l_deg * l_deg + l_deg + m  # SatCLIP's order: l, then m = -l..l


def _textbook_sh(lonlat: np.ndarray, legendre_polys: int = 10) -> np.ndarray:
    """Orthonormal real harmonics WITH the Condon-Shortley phase (the textbook form, also the
    authors' unused `SH_closed_form`), from mpmath's complex Y_l^m, which carries that phase."""
    rows = []
    for lon, lat in lonlat:
        theta, phi = math.radians(lat + 90.0), math.radians(lon + 180.0)
        row = []
        for l_deg in range(legendre_polys):
            for m in range(-l_deg, l_deg + 1):
                y = complex(mpmath.spherharm(l_deg, abs(m), theta, phi))
                row.append(y.real if m == 0 else math.sqrt(2) * (y.real if m > 0 else y.imag))
        rows.append(row)
    return np.array(rows)


# Copied literally from SatCLIP's generated spherical_harmonics_ylm.py ("Marc Russwurm generated
# 2023-07-26"; read as copied in seai-lab/TorchSpatial main/spherical_harmonics_ylm_torch.py,
# identical to a second copy in the code index), theta = lat + 90 and phi = lon + 180 in radians.
GENERATED = {
    (0, 0): lambda theta, phi: 0.886226925452758 + 0 * theta,
    (1, 0): lambda theta, phi: 1.53499006191973*cos(theta),
    (2, -1): lambda theta, phi: 1.09254843059208*(1.0 - cos(theta)**2)**0.5*sin(phi)*cos(theta),
    (3, -3): lambda theta, phi: 0.590043589926644*(1.0 - cos(theta)**2)**1.5*sin(3*phi),
    (4, 0): lambda theta, phi: (11.6317283965674*cos(theta)**4 - 9.97005291134353*cos(theta)**2
                                + 0.997005291134353),
    (9, -7): lambda theta, phi: (5.37640612566745e-7*(1.0 - cos(theta)**2)**3.5
                                 * (17229712.5*cos(theta)**2 - 1013512.5)*sin(7*phi)),
}  # fmt: skip


def test_features_are_the_generated_files_functions():
    theta, phi = np.radians(POINTS[:, 1] + 90.0), np.radians(POINTS[:, 0] + 180.0)
    ours = _sh(POINTS)
    for (l_deg, m), formula in GENERATED.items():
        # The file's coefficients have 15 significant digits (sympy evalf) and its largest term
        # here is ~12, so it is exact to ~1e-13; our float64 recursion is tighter still.
        np.testing.assert_allclose(
            ours[:, _col(l_deg, m)], formula(theta, phi), rtol=1e-12, atol=1e-12,
            err_msg=f"Y_{l_deg}^{m}",
        )  # fmt: skip


def _satclip_over_textbook(legendre_polys: int) -> np.ndarray:
    """What SatCLIP's generator does to each textbook feature: pi on m = 0, -1 on odd |m|."""
    return np.array(
        [
            math.pi if m == 0 else (-1.0) ** abs(m)
            for l_deg in range(legendre_polys)
            for m in range(-l_deg, l_deg + 1)
        ]
    )


def test_satclip_and_textbook_harmonics_differ_exactly_by_pi_on_m0_and_sign_on_odd_m():
    rng = np.random.default_rng(0)
    lonlat = np.concatenate(
        [POINTS, np.stack([rng.uniform(-180, 180, 40), rng.uniform(-90, 90, 40)], axis=1)]
    )
    ours, textbook = _sh(lonlat), _textbook_sh(lonlat)
    factor = _satclip_over_textbook(10)
    # float64 on both sides, values below 4: 1e-11 is far above rounding, far below any feature
    np.testing.assert_allclose(ours, textbook * factor, atol=1e-11)
    # Read each feature's factor off the data, where the textbook value is largest (> 0.1 for
    # all 100): the L = 10 model's inputs are 10 scaled by pi, 50 sign-flipped, 40 unchanged.
    best = np.abs(textbook).argmax(axis=0)
    cols = np.arange(textbook.shape[1])
    assert (np.abs(textbook[best, cols]) > 0.1).all()
    ratio = ours[best, cols] / textbook[best, cols]
    assert [int(np.isclose(ratio, f).sum()) for f in (math.pi, -1.0, 1.0)] == [10, 50, 40]


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


def test_harmonics_are_orthogonal_with_norm_pi_squared_on_m0():
    lonlat, weights = _sphere_quadrature()
    y = _sh(lonlat)
    assert y.shape == (len(lonlat), 100)
    gram = (y * weights[:, None]).T @ y
    # 1152 float64 products of values below 4 in any summation order: error < 1e-11, so 1e-9
    np.testing.assert_allclose(gram, np.diag(_satclip_over_textbook(10) ** 2), atol=1e-9)


def test_harmonics_match_the_fixture_modelling_code():
    rng = np.random.default_rng(1)
    lonlat = np.stack([rng.uniform(-180, 180, 64), rng.uniform(-90, 90, 64)], axis=1)
    # numpy Legendre-polynomial derivatives, written separately in the fixture modelling code
    ensure_torchvision_importable()  # the modelling code imports timm
    namespace: dict = {}
    exec(fx.MODELLING_CODE.split("class _Siren")[0], namespace)
    theirs = namespace["_real_sh"](lonlat[:, 0], lonlat[:, 1], 10)
    # float64 both, two exact methods: 1e-10 leaves room for the recursion's rounding at l = 9
    np.testing.assert_allclose(_sh(lonlat), theirs, atol=1e-10)


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
    # float32 output: normalised by a float32 norm of 32 rounded squares, <= 32 * eps32 = 4e-6 off
    np.testing.assert_allclose(np.linalg.norm(v.astype(np.float64), axis=1), 1.0, atol=1e-5)
    # The same place twice: only float32 rounding may differ (a BLAS can order a row's sums
    # differently). This float32 tower stays within 1e-6 of its float64 evaluation (measured over
    # 500 places), so 1e-4 is 100x that and still 1000x below the 0.1 between the two places.
    np.testing.assert_allclose(v[0], v[2], atol=1e-4)
    assert np.abs(v[0] - v[1]).max() > 0.05  # different places, different vectors


def test_first_layer_uses_w0_30_and_last_layer_is_linear():
    # in float64, so the comparison is of the architecture, not of float32 summation order
    state = {k: v.double() for k, v in _tower_state().items()}
    tower = tower_from_state(state).double()
    x = torch.tensor([[3.0, -20.0], [-150.0, 70.0]], dtype=torch.float64)
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
    # float64 sums of <= 16 terms below 1, at most reordered: ~1e-15; x30 in the first layer and
    # gains below 50 after it keep that under 1e-11
    torch.testing.assert_close(tower(x), expected, atol=1e-10, rtol=0)


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
