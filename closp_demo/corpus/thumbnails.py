"""Image previews: fixed-stretch RGB renderings of S1 and S2 images, and their encodings.

Every stretch is FIXED (no per-image min-max), so two thumbnails on screen are comparable: a
darker S1 thumbnail really is lower backscatter, a brighter S2 one really is higher reflectance.
Input is the internal layout of `records.py` (S1: VV, VH in dB; S2: 12 bands, reflectance x
10000), with any H, W. Non-finite pixels (no data) are drawn in `NODATA_RGB`.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image

from closp_demo.sensors import S1_BANDS, S2_BANDS, S2_SCALE

NODATA_RGB = (128, 128, 128)  # neutral grey: no real pixel of either stretch lands exactly here

# Sentinel-1 false colour, dB ranges chosen for IW GRD over land (the shared BigEarthNet patches:
# VV 5th-95th percentile -23..-6 dB, VH -30..-12 dB, VV-VH 1..13 dB). Water sits at the dark end,
# vegetation (volume scattering, high VH) turns green, towns (double bounce, high VV) red/white.
S1_VV_RANGE_DB = (-25.0, 0.0)  # red
S1_VH_RANGE_DB = (-30.0, -5.0)  # green
S1_RATIO_RANGE_DB = (0.0, 15.0)  # blue: VV - VH, the polarisation ratio in dB

# Sentinel-2 true colour: B04, B03, B02 surface reflectance 0..0.3 -> 0..1, then gamma 1/1.5 to
# lift vegetation and water out of the dark end (the usual "reflectance x 3.3" stretch of
# Sentinel Hub / EO Browser, with a mild gamma). Clouds and bright sand saturate to white.
S2_RGB_BANDS = ("B04", "B03", "B02")
S2_REFLECTANCE_MAX = 0.3
S2_GAMMA = 1.5

WEBP_QUALITY = 85
_FORMATS = {".webp": "WEBP", ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
_MIME_TYPES = {
    ".webp": "image/webp",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}


def _check_stack(image: np.ndarray, bands: tuple[str, ...], sensor: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(
            f"{sensor} preview needs a (bands, height, width) array, got shape {image.shape}"
        )
    if image.shape[0] != len(bands):
        hint = " (drop B10 from L1C first: sensors.drop_b10)" if image.shape[0] == 13 else ""
        raise ValueError(
            f"{sensor} preview needs {len(bands)} bands ({', '.join(bands)}), "
            f"got {image.shape[0]}{hint}"
        )
    if image.shape[1] == 0 or image.shape[2] == 0:
        raise ValueError(f"{sensor} preview got an empty image of shape {image.shape}")
    if not np.issubdtype(image.dtype, np.number):
        raise ValueError(f"{sensor} preview needs numeric pixels, got dtype {image.dtype}")
    return image.astype(np.float32, copy=False)


def _scale(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Linear map [lo, hi] -> [0, 1], clipped."""
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0)


def _to_uint8(channels: list[np.ndarray], valid: np.ndarray) -> np.ndarray:
    rgb = np.stack(channels, axis=-1)
    rgb = np.round(np.nan_to_num(rgb, nan=0.0) * 255.0).astype(np.uint8)
    rgb[~valid] = NODATA_RGB
    return rgb


def s1_false_colour(image: np.ndarray) -> np.ndarray:
    """(2, H, W) VV, VH in dB -> (H, W, 3) uint8 false colour with fixed ranges.

    R = VV in [-25, 0] dB, G = VH in [-30, -5] dB, B = VV - VH in [0, 15] dB; each linear and
    clipped. A pixel with either band non-finite is `NODATA_RGB`.
    """
    image = _check_stack(image, S1_BANDS, "Sentinel-1")
    vv, vh = image[0], image[1]
    valid = np.isfinite(vv) & np.isfinite(vh)
    with np.errstate(invalid="ignore"):
        channels = [
            _scale(vv, *S1_VV_RANGE_DB),
            _scale(vh, *S1_VH_RANGE_DB),
            _scale(vv - vh, *S1_RATIO_RANGE_DB),
        ]
    return _to_uint8(channels, valid)


def s2_true_colour(image: np.ndarray) -> np.ndarray:
    """(12, H, W) internal S2 layout -> (H, W, 3) uint8 true colour (B04, B03, B02).

    Digital numbers / 10000 = reflectance; [0, 0.3] maps linearly to [0, 1], then ** (1 / 1.5),
    then to 0..255. A pixel with any of the three bands non-finite is `NODATA_RGB`.
    """
    image = _check_stack(image, S2_BANDS, "Sentinel-2")
    bands = [image[S2_BANDS.index(name)] / S2_SCALE for name in S2_RGB_BANDS]
    valid = np.logical_and.reduce([np.isfinite(b) for b in bands])
    with np.errstate(invalid="ignore"):
        channels = [_scale(b, 0.0, S2_REFLECTANCE_MAX) ** (1.0 / S2_GAMMA) for b in bands]
    return _to_uint8(channels, valid)


def render(image: np.ndarray, sensor: str, max_side: int | None = None) -> np.ndarray:
    """Preview of one image of `sensor` ("S1" or "S2") as (H, W, 3) uint8.

    With `max_side`, images larger than that are downscaled (aspect kept) after rendering, so
    no-data pixels never blend into real ones during the stretch.
    """
    if sensor == "S1":
        rgb = s1_false_colour(image)
    elif sensor == "S2":
        rgb = s2_true_colour(image)
    else:
        raise ValueError(f"cannot render a preview for sensor {sensor!r}: expected 'S1' or 'S2'")
    if max_side is not None:
        rgb = downscale(rgb, max_side)
    return rgb


def downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longer side is at most `max_side` (box filter); smaller images pass."""
    rgb = _check_rgb(rgb)
    if max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels, got {max_side}")
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"expected an RGB image as uint8 (height, width, 3), got {rgb.dtype} {rgb.shape}"
        )
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"cannot encode an empty image of shape {rgb.shape}")
    return rgb


def _encode(rgb: np.ndarray, fmt: str, quality: int) -> bytes:
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be between 1 and 100, got {quality}")
    buf = io.BytesIO()
    options = {} if fmt == "PNG" else {"quality": quality}
    Image.fromarray(_check_rgb(rgb)).save(buf, format=fmt, **options)
    return buf.getvalue()


def to_webp_bytes(rgb: np.ndarray, quality: int = WEBP_QUALITY) -> bytes:
    """(H, W, 3) uint8 -> WebP bytes (lossy, `quality` 1..100)."""
    return _encode(rgb, "WEBP", quality)


def save(rgb: np.ndarray, path: str | Path, quality: int = WEBP_QUALITY) -> Path:
    """Write the preview; the format follows the suffix (.webp, .png, .jpg). Returns the path."""
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"cannot save a preview as {path.name!r}: use one of {', '.join(sorted(_FORMATS))}"
        )
    data = _encode(rgb, fmt, quality)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def data_uri(rgb: np.ndarray, quality: int = WEBP_QUALITY) -> str:
    """(H, W, 3) uint8 -> "data:image/webp;base64,..." for inline <img> and map popups."""
    return "data:image/webp;base64," + base64.b64encode(to_webp_bytes(rgb, quality)).decode("ascii")


def file_data_uri(path: str | Path) -> str:
    """A saved preview (.webp, .png, .jpg) -> data URI, for images that must not be served."""
    path = Path(path)
    mime = _MIME_TYPES.get(path.suffix.lower())
    if mime is None:
        raise ValueError(
            f"cannot inline {path.name!r} as an image: use one of {', '.join(sorted(_MIME_TYPES))}"
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"preview image {path} does not exist") from None
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
