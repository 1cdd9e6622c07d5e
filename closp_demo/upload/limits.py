"""Upload limits: how large a GeoTIFF the public demo accepts, set by environment variables.

Every limit is checked on the file size or the TIFF header, before any pixel is read, so a hostile
upload is refused without allocating memory for it. The defaults accept a full Sentinel-2 tile
(10980 x 10980 px, 12 bands) when it fits in the upload size; the reader only ever holds a 512 px
preview and at most `max_tiles` 120 x 120 tiles of it in memory (windowed reads).

Environment variables (read by `Limits.from_env`):
- CLOSP_MAX_UPLOAD_MB: largest file accepted, in MB (10^6 bytes); default 50.
- CLOSP_MAX_PIXELS: largest raster accepted, in pixels per band (width x height); default
  121_000_000 (11000 x 11000). Bounds the time spent decoding a highly compressed file.
- CLOSP_MAX_SIDE: longest side accepted, in pixels; default 30000 (long strips, e.g. cropped S1).
- CLOSP_MAX_TILES: most 120 x 120 tiles cut from one upload; default 64.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MB = 1_000_000  # upload sizes are shown in SI megabytes, as browsers and file managers show them

DEFAULT_MAX_UPLOAD_MB = 50.0
DEFAULT_MAX_PIXELS = 11_000 * 11_000
DEFAULT_MAX_SIDE = 30_000
DEFAULT_MAX_TILES = 64

# One internal TIFF block (strip or tile, all bands when pixel-interleaved) must decode within this
# many bytes: GDAL decodes whole blocks, so a single-strip 10000 x 10000 image would defeat
# windowed reads. Not configurable: legitimate GeoTIFFs use blocks far below it.
MAX_BLOCK_BYTES = 64 * 1024 * 1024

ENV_MAX_UPLOAD_MB = "CLOSP_MAX_UPLOAD_MB"
ENV_MAX_PIXELS = "CLOSP_MAX_PIXELS"
ENV_MAX_SIDE = "CLOSP_MAX_SIDE"
ENV_MAX_TILES = "CLOSP_MAX_TILES"


@dataclass(frozen=True)
class Limits:
    """Upload limits. `max_bytes` is the file size; `max_pixels` counts pixels of one band."""

    max_bytes: int = int(DEFAULT_MAX_UPLOAD_MB * MB)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_side: int = DEFAULT_MAX_SIDE
    max_tiles: int = DEFAULT_MAX_TILES

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_side", "max_tiles"):
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be at least 1, got {getattr(self, name)}")

    @property
    def max_upload_mb(self) -> float:
        return self.max_bytes / MB

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """Limits from CLOSP_MAX_UPLOAD_MB, CLOSP_MAX_PIXELS, CLOSP_MAX_SIDE, CLOSP_MAX_TILES.

        Unset or empty variables take the defaults; a malformed or non-positive value raises
        ValueError naming the variable (a misconfigured server should fail loudly at startup).
        """
        env = os.environ if environ is None else environ
        upload_mb = _number(env, ENV_MAX_UPLOAD_MB, DEFAULT_MAX_UPLOAD_MB)
        return cls(
            max_bytes=max(1, int(upload_mb * MB)),
            max_pixels=int(_number(env, ENV_MAX_PIXELS, DEFAULT_MAX_PIXELS)),
            max_side=int(_number(env, ENV_MAX_SIDE, DEFAULT_MAX_SIDE)),
            max_tiles=int(_number(env, ENV_MAX_TILES, DEFAULT_MAX_TILES)),
        )


def _number(env: os._Environ[str] | dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip().replace("_", "")
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={env[name]!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name}={env[name]!r} must be a positive, finite number")
    return value
