"""GeoCLOSP's location tower: lon/lat in degrees -> a unit vector in the image/text space.

Architecture per the authors' code (github.com/DarthReca/closp: models/location_encoder.py,
models/positional_encoding.py, models/closp.py `GeoCLOSP`; read through the code search index),
which reuses SatCLIP's encoder (Russwurm et al. 2024, Klemmer et al. 2025):
- positional encoding: real spherical harmonics Y_l^m for l < L, m in [-l, l] (L = 10: 100
  features), evaluated at phi = radians(lon + 180), theta = radians(lat + 90), lon first (their
  dataset feeds pyproj's inverse (lon, lat));
- SIREN: hidden layers `sin(w0 * (W x + b))` with w0 = 30 on the first and 1 after, then a linear
  last layer (identity activation); dropout only in training;
- `location_projection`: nn.Linear from the SIREN output (256 for SatCLIP-L10) to the text width,
  then L2 normalisation (GeoCLOSP trains it contrastively against the image embeddings).
Checkpoint keys: `location_encoder.nnet.layers.{i}.weight|bias`,
`location_encoder.nnet.last_layer.weight|bias`, `location_projection.weight|bias`; the sizes are
read from the tensors.

The harmonics are SatCLIP's "analytic" ones: the default of the authors' `SphericalHarmonics`,
and what the pretrained SatCLIP tower that GeoCLOSP loads (configs/loc_default.yaml:
satclip-resnet50-l10.ckpt) was trained with. SatCLIP's sympy generator
(satclip/positional_encoding/spherical_harmonics_generate_ylms.py, `calc_ylm`) printed them into
spherical_harmonics_ylm.py. They differ from the textbook (Condon-Shortley, orthonormal) ones, and
a SIREN trained on them needs them exactly so:
- m != 0: `(-1)**m * sqrt(2) * K(l, |m|) * assoc_legendre(l, |m|, cos(theta))` times
  cos(m phi) or sin(|m| phi). sympy's assoc_legendre already carries the Condon-Shortley phase
  (-1)^m, so the two cancel: no phase, i.e. the odd-|m| features are minus the textbook ones.
- m = 0: `sqrt((2*l + 1) / 4 * pi) * P_l(cos(theta))`: by precedence pi times the orthonormal
  value sqrt((2l + 1) / (4 pi)) P_l.
We evaluate the same functions in closed form (recursion, float64). tests/encoders/test_location.py
checks them against expressions copied from the generated file and against textbook harmonics.
The authors' own copy (models/spherical_armonics.py, imported as `SH`) is not in the code index;
its interface is SatCLIP's, so we take it to be SatCLIP's 2023 file (its m = 0 values are pi times
textbook; a 2024 regeneration seen elsewhere has the textbook m = 0, which would break this).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

PREFIXES = ("location_encoder.", "location_projection.")
FIRST_W0 = 30.0
HIDDEN_W0 = 1.0


class LocationLoadError(ValueError):
    """Location weights that do not describe a SatCLIP/GeoCLOSP location tower."""


def _legendre(l_deg: int, m: int, x: torch.Tensor) -> torch.Tensor:
    """Associated Legendre P_l^m(x) WITHOUT the Condon-Shortley phase (SatCLIP's net convention),
    by the standard recursion."""
    pmm = torch.ones_like(x)
    if m > 0:
        somx2 = torch.sqrt(torch.clamp((1 - x) * (1 + x), min=0.0))
        fact = 1.0
        for _ in range(m):
            pmm = pmm * fact * somx2
            fact += 2.0
    if l_deg == m:
        return pmm
    pmmp1 = x * (2.0 * m + 1.0) * pmm
    if l_deg == m + 1:
        return pmmp1
    for ll in range(m + 2, l_deg + 1):
        pll = ((2.0 * ll - 1.0) * x * pmmp1 - (ll + m - 1.0) * pmm) / (ll - m)
        pmm, pmmp1 = pmmp1, pll
    return pmmp1


def _norm(l_deg: int, m: int) -> float:
    """SatCLIP's factor for order m >= 0: sqrt(2) K(l, m) for m > 0, and for m = 0 its generator's
    sqrt((2l + 1) / 4 * pi) = pi K(l, 0), kept as written because the trained weights expect it."""
    if m == 0:
        return math.sqrt((2 * l_deg + 1) / 4 * math.pi)
    return math.sqrt(
        2 * (2 * l_deg + 1) * math.factorial(l_deg - m) / (4 * math.pi * math.factorial(l_deg + m))
    )


class SphericalHarmonics(nn.Module):
    """(N, 2) lon/lat degrees -> (N, L*L) SatCLIP's real spherical harmonics, ordered l, then
    m = -l..l as in its `SphericalHarmonics.forward`."""

    def __init__(self, legendre_polys: int = 10) -> None:
        super().__init__()
        self.L = int(legendre_polys)
        self.embedding_dim = self.L * self.L

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        x = lonlat.double()  # factorials up to 2L-2 and the recursion lose digits in float32
        phi = torch.deg2rad(x[:, 0] + 180.0)
        cos_theta = torch.cos(torch.deg2rad(x[:, 1] + 90.0))
        out = []
        for l_deg in range(self.L):
            for m in range(-l_deg, l_deg + 1):
                p = _legendre(l_deg, abs(m), cos_theta) * _norm(l_deg, abs(m))
                if m > 0:
                    p = torch.cos(m * phi) * p
                elif m < 0:
                    p = torch.sin(-m * phi) * p
                out.append(p)
        return torch.stack(out, dim=-1).to(lonlat.dtype)


class SirenLayer(nn.Module):
    def __init__(self, dim_in: int, dim_out: int, w0: float, sine: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dim_out, dim_in))
        self.bias = nn.Parameter(torch.zeros(dim_out))
        self.w0 = w0
        self.sine = sine

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = nn.functional.linear(x, self.weight, self.bias)
        return torch.sin(self.w0 * out) if self.sine else out


class SirenNet(nn.Module):
    def __init__(self, dim_in: int, dim_hidden: int, dim_out: int, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            SirenLayer(
                dim_in if i == 0 else dim_hidden, dim_hidden, FIRST_W0 if i == 0 else HIDDEN_W0
            )
            for i in range(num_layers)
        )
        self.last_layer = SirenLayer(dim_hidden, dim_out, HIDDEN_W0, sine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.last_layer(x)


class LocationEncoder(nn.Module):
    def __init__(self, legendre_polys: int, dim_hidden: int, dim_out: int, num_layers: int) -> None:
        super().__init__()
        self.posenc = SphericalHarmonics(legendre_polys)
        self.nnet = SirenNet(self.posenc.embedding_dim, dim_hidden, dim_out, num_layers)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        return self.nnet(self.posenc(lonlat))


class LocationTower(nn.Module):
    """Location encoder + projection, state-dict keys exactly as in a GeoCLOSP checkpoint."""

    def __init__(
        self, legendre_polys: int, dim_hidden: int, dim_out: int, num_layers: int, dim: int
    ) -> None:
        super().__init__()
        self.location_encoder = LocationEncoder(legendre_polys, dim_hidden, dim_out, num_layers)
        self.location_projection = nn.Linear(dim_out, dim)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        z = self.location_projection(self.location_encoder(lonlat))
        return nn.functional.normalize(z, p=2, dim=-1)

    @torch.inference_mode()
    def encode(self, lonlat: np.ndarray) -> np.ndarray:
        """(N, 2) lon/lat degrees -> (N, dim) float32 unit vectors."""
        x = np.asarray(lonlat, dtype=np.float32).reshape(-1, 2)
        device = self.location_projection.weight.device
        return self.forward(torch.from_numpy(x).to(device)).float().cpu().numpy()


def location_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if k.startswith(PREFIXES)}


def tower_from_state(state: Mapping[str, torch.Tensor]) -> LocationTower:
    """Rebuild the tower from the checkpoint's location_* tensors (sizes read from them)."""
    state = location_state(state)
    try:
        first = state["location_encoder.nnet.layers.0.weight"]
        last = state["location_encoder.nnet.last_layer.weight"]
        proj = state["location_projection.weight"]
    except KeyError as err:
        raise LocationLoadError(f"the checkpoint's location tower lacks {err.args[0]}") from None
    num_layers = sum(
        1 for k in state if k.startswith("location_encoder.nnet.layers.") and k.endswith(".weight")
    )
    legendre = math.isqrt(first.shape[1])
    if legendre * legendre != first.shape[1]:
        raise LocationLoadError(
            f"the location encoder's first layer takes {first.shape[1]} inputs, not L*L "
            "spherical harmonics"
        )
    tower = LocationTower(legendre, first.shape[0], last.shape[0], num_layers, proj.shape[0])
    try:
        result = tower.load_state_dict(state, strict=False)
    except RuntimeError as err:  # a tensor of the wrong shape
        raise LocationLoadError(f"the checkpoint's location tower does not load: {err}") from None
    if result.missing_keys or result.unexpected_keys:
        raise LocationLoadError(
            "the checkpoint's location tower does not fit SatCLIP's layout: missing "
            f"{result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}"
        )
    return tower.eval()
