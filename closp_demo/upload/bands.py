"""Which sensor a file holds, which band is which and in what units -> the internal layout.

- Sensor, from the band count and the band descriptions: 2 bands = Sentinel-1 GRD (VV, VH),
  12 = Sentinel-2 L2A order, 13 = Sentinel-2 L1C (B10 dropped). Band descriptions ("VV",
  "Sigma0_VH_db", "B4", "B04", "B8A", ...) reorder the bands when they are a permutation, and are
  refused when they contradict the count or repeat a band. Descriptions that name no known band
  (e.g. "stackstac-...", "Band 1") are ignored. `band_name` and `band_order` work on names alone,
  so bands gathered from several files can be ordered the same way.
- Sentinel-1 units: dB when the values are mostly in -50..+20 and mostly negative; linear power
  (sigma0) when non-negative and mostly below 1 -> converted with `sensors.linear_to_db`.
  Amplitude cannot be told from linear power by value, so it is assumed only when a band
  description says "Amplitude" (squared, then converted to dB); integer digital numbers above 20
  (uncalibrated GRD amplitude) are refused, since calibrating them needs the product's LUTs.
- Sentinel-2 units: digital numbers (reflectance x 10000) are kept; floats whose values are mostly
  within 0..1 (reflectance) are multiplied by 10000. A file's own scale/offset tags are applied
  first (`windows.physical`), so a DN file tagged with scale 1e-4 ends up as digital numbers again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rasterio.io import DatasetReader

from closp_demo.sensors import (
    S1_BANDS,
    S2_BANDS,
    S2_L1C_BANDS,
    S2_SCALE,
    Sensor,
    drop_b10,
    linear_to_db,
)
from closp_demo.upload.errors import UploadError

FLOAT_DTYPES = ("float32", "float64")

UNCALIBRATED_STEPS = (
    "calibrate it to sigma0 first, with one of: ESA SNAP (Radar > Radiometric > Calibrate to "
    "sigma0, then Geometric > Terrain Correction); pyroSAR (`pyroSAR.snap.geocode(infile, "
    "outdir, scaling='dB')`); sarsen (`sarsen gtc` on the GRD product); or upload the whole "
    "zipped .SAFE product, whose calibration tables this demo applies itself"
)

_S2_NAME = re.compile(r"^B0?([1-9]|1[0-2]|8A)$")
_POLARISATIONS = ("VV", "VH", "HH", "HV")
_AMPLITUDE_WORDS = {"AMPLITUDE", "AMP"}


@dataclass
class BandLayout:
    """How the file's bands map to the internal layout."""

    sensor: Sensor
    level: str
    indexes: list[int]  # 1-based file bands, in S1_BANDS / S2_BANDS / S2_L1C_BANDS order
    units: str = ""  # "db", "linear", "amplitude", "dn" or "reflectance"
    scales: np.ndarray = field(default_factory=lambda: np.ones(0))  # per band in `indexes`
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    amplitude_named: bool = False
    # Sentinel-1 polarisations held, in internal slot order: ("VV", "VH"), or for a degraded scene
    # ("VV",), ("HH",) (co-pol slot only; cross-pol slot NaN) or ("HH", "HV") (HH in the co-pol
    # slot, HV in the cross-pol slot).
    pols: tuple[str, ...] = ("VV", "VH")
    # Digital numbers -> sigma0 (linear) for a window: `sar.Calibrator`, called with the raw
    # values and the window's pixel-centre rows and columns; None when not calibrating.
    calibrate: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None

    @property
    def band_names(self) -> tuple[str, ...]:
        if self.sensor == "S1":
            return S1_BANDS
        return S2_L1C_BANDS if len(self.indexes) == 13 else S2_BANDS

    @property
    def scaled(self) -> bool:
        """The file's scale/offset tags change its values."""
        return bool((self.scales != 1).any() or (self.offsets != 0).any())


# --- band names --------------------------------------------------------------------------------


def band_words(description: str | None, unit: str | None) -> list[str]:
    """Upper-case words of a band's description and unit ("Sigma0_VV_db" -> SIGMA0, VV, DB)."""
    text = " ".join(t for t in (description, unit) if t)
    return [w for w in re.split(r"[^A-Z0-9]+", text.upper()) if w]


def band_name(words: list[str]) -> str | None:
    """The Sentinel band a description names (e.g. "Sigma0_VV_db" -> "VV", "B4" -> "B04")."""
    found = set()
    for w in words:
        if w in _POLARISATIONS:
            found.add(w)
        elif m := _S2_NAME.match(w):
            found.add("B8A" if m.group(1) == "8A" else f"B{int(m.group(1)):02d}")
    return found.pop() if len(found) == 1 else None


def band_order(found: list[str | None], expected: Sequence[str], name: str) -> list[int]:
    """1-based file band per expected band; unnamed bands fill the unnamed slots in file order."""
    named = [b for b in found if b]
    repeated = sorted({b for b in named if named.count(b) > 1})
    if repeated:
        raise UploadError(f"'{name}' names band {', '.join(repeated)} more than once")
    foreign = [b for b in named if b not in expected]
    if foreign:
        raise UploadError(
            f"'{name}' has bands named {', '.join(foreign)}, which do not belong in a "
            f"{len(expected)}-band stack ({', '.join(expected)})"
        )
    position = {b: i + 1 for i, b in enumerate(found) if b}
    unnamed = iter(i + 1 for i, b in enumerate(found) if not b)
    return [position[b] if b in position else next(unnamed) for b in expected]


def _names(found: list[str | None]) -> str:
    return ", ".join(b or "(unnamed)" for b in found)


# --- sensor and layout -------------------------------------------------------------------------


def detect_layout(src: DatasetReader, name: str, notes: list[str]) -> BandLayout:
    """The sensor, level and band order of a band-stack file, with its scale/offset tags."""
    words = [band_words(src.descriptions[i], src.units[i]) for i in range(src.count)]
    layout = stack_layout(words, name, notes)
    layout.scales = np.array([src.scales[i - 1] for i in layout.indexes], dtype=np.float64)
    layout.offsets = np.array([src.offsets[i - 1] for i in layout.indexes], dtype=np.float64)
    if layout.scaled:
        notes.append("applied the file's scale/offset tags to the pixel values")
    return layout


def stack_layout(words: list[list[str]], name: str, notes: list[str]) -> BandLayout:
    """Layout of a stack of 2, 12 or 13 bands from each band's description words."""
    count = len(words)
    found = [band_name(w) for w in words]
    pols = [b for b in found if b in _POLARISATIONS]
    s2 = [b for b in found if b and b not in _POLARISATIONS]
    if pols and s2:
        raise UploadError(
            f"'{name}' has band names that mix Sentinel-1 ({', '.join(pols)}) and Sentinel-2 "
            f"({', '.join(s2)}) bands"
        )
    if count == 2:
        if s2:
            raise UploadError(
                f"'{name}' has 2 bands named {_names(found)}: 2 bands are read as Sentinel-1 "
                "(VV, VH), but these are Sentinel-2 band names"
            )
        if any(p in ("HH", "HV") for p in pols):
            raise UploadError(
                f"'{name}' has bands {_names(found)}: only Sentinel-1 VV + VH dual polarisation "
                "is supported (HH/HV is the polar and extra-wide mode)"
            )
        layout = BandLayout("S1", "GRD", band_order(found, S1_BANDS, name))
        layout.amplitude_named = any(_AMPLITUDE_WORDS & set(w) for w in words)
        notes.append(
            f"2 bands{' named ' + _names(found) if pols else ''} -> Sentinel-1 GRD (VV, VH)"
        )
    else:
        if pols:
            raise UploadError(
                f"'{name}' has {count} bands, read as Sentinel-2, but bands are named "
                f"{', '.join(pols)} (Sentinel-1 polarisations)"
            )
        expected = S2_L1C_BANDS if count == 13 else S2_BANDS
        level = "L1C" if count == 13 else "L2A"
        layout = BandLayout("S2", level, band_order(found, expected, name))
        if count == 13:
            notes.append("13 bands -> Sentinel-2 L1C, B10 dropped")
        else:
            notes.append("12 bands -> Sentinel-2, L2A band order (B01..B12 without B10)")
            if "MSIL1C" in name.upper():
                layout.level = "L1C"
                notes.append("'MSIL1C' in the filename -> processing level L1C")
    if layout.indexes != list(range(1, count + 1)):
        notes.append(f"bands reordered by their descriptions to {', '.join(layout.band_names)}")
    return layout


# --- units -------------------------------------------------------------------------------------


def decide_units(
    layout: BandLayout, values: np.ndarray, dtype: str, name: str, notes: list[str]
) -> None:
    """Pick the units of the file from its valid values (bands x pixels), or refuse.

    `dtype`: the file's pixel type; sets `layout.units`."""
    v = values.ravel()
    p1, p50, p99 = np.percentile(v, [1, 50, 99])
    frac_negative = float(np.mean(v < 0))
    spread = f"1st-99th percentile {p1:.4g} .. {p99:.4g}"
    is_float = dtype in FLOAT_DTYPES or layout.scaled  # scale tags make integers fractional
    if layout.sensor == "S1":
        if layout.calibrate is not None:
            layout.units = "linear"
            notes.append(
                "digital numbers calibrated to sigma0 = DN^2 / A^2 with the product's "
                "calibration table (sigmaNought), converted to dB"
            )
        elif layout.amplitude_named:
            if frac_negative > 0.01:
                raise UploadError(
                    f"'{name}': bands are described as amplitude, but values are negative "
                    f"({spread})"
                )
            layout.units = "amplitude"
            notes.append("bands described as amplitude -> squared to power, converted to dB")
        elif np.mean((v >= -50) & (v <= 20)) >= 0.95 and frac_negative >= 0.5:
            layout.units = "db"
            notes.append("values look like backscatter in dB (mostly -50..+20, negative) -> kept")
        elif frac_negative <= 0.01 and np.mean(v < 1) >= 0.9:
            layout.units = "linear"
            notes.append(
                "values look like linear power (non-negative, mostly < 1) -> converted to dB"
            )
        elif not is_float and frac_negative <= 0.01 and p50 >= 20:
            raise UploadError(
                f"'{name}' looks like uncalibrated Sentinel-1 digital numbers (integers, "
                f"{spread}) and no calibration table came with it: {UNCALIBRATED_STEPS}"
            )
        else:
            raise UploadError(
                f"'{name}': the 2 bands do not look like Sentinel-1 backscatter ({spread}): "
                "expected dB (mostly -50..+20, negative) or linear power (non-negative, mostly "
                "below 1)"
            )
        return
    if is_float and p99 <= 2.0 and p1 >= -0.5:
        layout.units = "reflectance"
        notes.append("values look like reflectance 0..1 -> scaled x10000 to digital numbers")
    elif p1 >= -1000 and 2.0 < p99 <= 65535:
        layout.units = "dn"
        notes.append("values look like digital numbers (reflectance x 10000) -> kept")
    else:
        raise UploadError(
            f"'{name}': the Sentinel-2 values do not look like reflectance ({spread}): expected "
            "digital numbers (reflectance x 10000, mostly 0..10000) or reflectance 0..1"
        )


def to_internal(raw: np.ndarray, valid: np.ndarray, layout: BandLayout) -> np.ndarray:
    """Raw values in file units -> float32 internal layout, NaN where invalid."""
    x = np.where(valid, raw, np.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        if layout.units == "linear":
            x = linear_to_db(x)
        elif layout.units == "amplitude":
            x = linear_to_db(np.square(x))
        elif layout.units == "reflectance":
            x = x * S2_SCALE
        if len(layout.indexes) == 13:
            x = drop_b10(x)
        if layout.sensor == "S1" and x.shape[0] == 1:  # single polarisation: no cross-pol band
            x = np.concatenate([x, np.full_like(x, np.nan)])
        return x.astype(np.float32)


def present_rows(layout: BandLayout) -> int:
    """How many leading rows of the internal image hold data (1 for single polarisation)."""
    return 1 if layout.sensor == "S1" and len(layout.indexes) == 1 else len(layout.band_names)


def stack_layout_of(stack: object, name: str, notes: list[str]) -> BandLayout:
    """Layout of an assembled band stack (`stack.BandStack`), whose bands are in stack order."""
    bands: list[str] = list(stack.bands)  # type: ignore[attr-defined]
    n = len(bands)
    if stack.sensor == "S1":  # type: ignore[attr-defined]
        layout = BandLayout("S1", "GRD", list(range(1, n + 1)), pols=tuple(bands))
        if tuple(bands) != S1_BANDS:
            notes.append(SINGLE_POL_NOTES[tuple(bands)])
        return layout
    level = "L1C" if n == 13 else "L2A"
    layout = BandLayout("S2", level, list(range(1, n + 1)))
    if n == 13:
        notes.append("13 bands -> Sentinel-2 L1C, B10 dropped")
    elif any("MSIL1C" in f.name.upper() for f in stack.files):  # type: ignore[attr-defined]
        layout.level = "L1C"
        notes.append("'MSIL1C' in the file names -> processing level L1C")
    return layout


SINGLE_POL_NOTES = {
    ("VV",): "single polarisation (VV only): VH is missing, so the embedding is degraded (rules "
    "that need VH are skipped)",
    ("HH",): "single polarisation (HH only): HH stands in for VV and VH is missing, so the "
    "embedding is degraded (rules that need VH are skipped; VV thresholds applied to HH)",
    ("HH", "HV"): "HH + HV dual polarisation: HH stands in for VV and HV for VH (equal by "
    "reciprocity), so the embedding is degraded (VV thresholds applied to HH)",
}
