"""Matplotlib figures of the detail view and the lessons (returned as figures, never saved here).

Every figure is drawn with the object API on its own `Figure` (no pyplot state): thread-safe
under concurrent visitors. Pixels are 10 m (the corpus's 120 x 120 patches), so the scale bar
of a full patch is 1 km in 100 px.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from PIL import Image, ImageDraw

from closp_demo.corpus.thumbnails import NODATA_RGB
from closp_demo.sensors import S2_BANDS, S2_SCALE
from closp_demo.views.composites import COMPOSITES, compute

PIXEL_M = 10.0
# Dynamic World's own palette (dynamicworld.app legend), for class overlays and profiles.
CLASS_COLOURS = {
    "Water": "#419bdf", "Trees": "#397d49", "Grass": "#88b053", "Flooded Vegetation": "#7a87c6",
    "Crops": "#e49635", "Shrub and Scrub": "#dfc35a", "Built": "#c4281b", "Bare": "#a59b8f",
    "Snow and Ice": "#b39fe1", "Burned Area": "#5b3a29",
}  # fmt: skip
# Central wavelengths (nm) of the internal band order, Sentinel-2A (ESA MSI user guide).
S2_WAVELENGTHS_NM = (443, 490, 560, 665, 705, 740, 783, 842, 865, 945, 1610, 2190)


def _figure(width: float = 4.2, height: float = 4.0) -> Figure:
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _scale_bar(ax, width_px: int) -> None:
    """A 1 km bar (or 100 m for tiny images) in the lower left corner, white on black."""
    metres = 1000.0 if width_px * PIXEL_M >= 1500 else 100.0
    px = metres / PIXEL_M
    x0, y0 = width_px * 0.05, width_px * 0.93
    ax.plot([x0, x0 + px], [y0, y0], color="black", linewidth=5, solid_capstyle="butt")
    ax.plot([x0, x0 + px], [y0, y0], color="white", linewidth=3, solid_capstyle="butt")
    ax.text(x0, y0 - width_px * 0.04, f"{metres:g} m" if metres < 1000 else "1 km",
            color="white", fontsize=8, fontweight="bold",
            bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0})  # fmt: skip


def composite_image(image: np.ndarray, key: str, zoom: int = 3) -> np.ndarray:
    """One composite as an RGB array (H * zoom, W * zoom + bar, 3) uint8: nearest-neighbour
    zoom (pixels stay pixels), a 1 km scale bar, and for a single-band composite its colour bar
    with the fixed range's ends and middle labelled. Drawn with numpy and PIL, not matplotlib:
    ~5 ms instead of ~100-300 ms per PNG, for the detail view's opening budget (BENCHMARKS.md)."""
    comp = COMPOSITES[key]
    data = compute(key, image)
    if data.ndim == 2:
        cmap = colormaps[comp.cmap or "gray"]
        lo, hi = comp.vrange or (float(np.nanmin(data)), float(np.nanmax(data)))
        rgba = cmap(np.clip((np.nan_to_num(data, nan=lo) - lo) / (hi - lo), 0, 1))
        rgb = np.round(rgba[..., :3] * 255).astype(np.uint8)
        rgb[~np.isfinite(data)] = NODATA_RGB
    else:
        rgb = data
    big = np.repeat(np.repeat(rgb, zoom, axis=0), zoom, axis=1)
    canvas = Image.fromarray(big)
    draw = ImageDraw.Draw(canvas)
    h, w = big.shape[:2]
    px = 1000.0 / PIXEL_M * zoom  # 1 km
    if px <= w * 0.9:
        x0, y0 = int(w * 0.05), int(h * 0.92)
        draw.rectangle([x0 - 1, y0 - 1, x0 + px + 1, y0 + 5], fill="black")
        draw.rectangle([x0, y0, x0 + px, y0 + 4], fill="white")
        draw.text((x0, y0 - 13), "1 km", fill="white", stroke_width=2, stroke_fill="black")
    if data.ndim == 2:
        canvas = _with_colour_bar(canvas, comp.cmap or "gray", lo, hi, comp.unit)
    return np.asarray(canvas)


def _with_colour_bar(canvas: Image.Image, cmap: str, lo: float, hi: float, unit: str):
    h = canvas.height
    bar = np.linspace(1, 0, h - 20)[:, None].repeat(14, axis=1)
    colours = np.round(colormaps[cmap](bar)[..., :3] * 255).astype(np.uint8)
    out = Image.new("RGB", (canvas.width + 70, h), "white")
    out.paste(canvas, (0, 0))
    out.paste(Image.fromarray(colours), (canvas.width + 6, 10))
    draw = ImageDraw.Draw(out)
    for frac, value in ((0.0, hi), (0.5, (lo + hi) / 2), (1.0, lo)):
        y = 10 + frac * (h - 21)
        draw.line([canvas.width + 20, y, canvas.width + 24, y], fill="black")
        draw.text((canvas.width + 26, y - 5), f"{value:g}{' ' + unit if unit else ''}",
                  fill="black")  # fmt: skip
    return out


def backscatter_histogram(image: np.ndarray, title: str = "") -> Figure:
    """VV and VH backscatter histograms in dB (0.5 dB bins), medians marked."""
    fig = _figure(4.6, 2.8)
    ax = fig.add_subplot()
    bins = np.arange(-40.0, 10.5, 0.5)
    for band, name, colour in ((0, "VV", "#c4281b"), (1, "VH", "#397d49")):
        values = image[band][np.isfinite(image[band])]
        if values.size == 0:
            continue
        median = float(np.median(values))
        ax.hist(values, bins=bins, histtype="stepfilled", alpha=0.45, color=colour,
                label=f"{name} (median {median:.1f} dB)")  # fmt: skip
        ax.axvline(median, color=colour, linestyle="--", linewidth=1)
    ax.set_xlabel("backscatter σ⁰ [dB]", fontsize=8)
    ax.set_ylabel("pixels", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="best")  # where it covers the fewest bars
    ax.set_title(title or "Sentinel-1 backscatter histogram", fontsize=9)
    return fig


def median_profile(image: np.ndarray) -> np.ndarray:
    """(12,) median surface reflectance per band over the valid pixels (NaN when none)."""
    refl = image.astype(np.float32) / S2_SCALE
    valid = np.isfinite(refl).all(axis=0) & (np.abs(np.nan_to_num(refl)).sum(axis=0) > 0)
    if not valid.any():
        return np.full(len(S2_BANDS), np.nan)
    return np.median(refl[:, valid], axis=1)


def spectral_profile(
    profile: np.ndarray, class_profiles: dict[str, np.ndarray], title: str = ""
) -> Figure:
    """This image's median reflectance per band over corpus-wide median class profiles. The
    log wavelength axis is labelled with band names only (its decade labels, "6×10²", collided
    with them); the legend sits below the axes, off the curves."""
    fig = _figure(4.6, 3.6)
    ax = fig.add_subplot()
    x = np.array(S2_WAVELENGTHS_NM)
    for name, values in class_profiles.items():
        ax.plot(x, values, color=CLASS_COLOURS.get(name, "#999999"), linewidth=1, alpha=0.8,
                label=name)  # fmt: skip
    ax.plot(x, profile, color="black", linewidth=2.2, marker="o", markersize=3,
            label="this image")  # fmt: skip
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(x[[1, 3, 7, 10, 11]], ["B02", "B04", "B08", "B11", "B12"], fontsize=7)
    ax.set_xlabel("wavelength (log scale)", fontsize=8)
    ax.set_ylabel("median reflectance", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", fontsize=6, ncol=3)
    ax.set_title(title or "Sentinel-2 spectral profile vs. corpus class medians", fontsize=9)
    return fig


def class_breakdown(
    classes: Sequence[str], p: np.ndarray, s: np.ndarray, contributions: np.ndarray, score: float
) -> Figure:
    """p(c|q), s_c and their (scaled) products per class; the products sum to the score. The
    formula goes on a second title line and the legend below the axes, so neither is cut nor
    covers a bar."""
    fig = _figure(4.6, 3.8)
    ax = fig.add_subplot()
    y = np.arange(len(classes))
    h = 0.27
    ax.barh(y - h, p, h, color="#7a87c6", label="p(c | query)")
    ax.barh(y, s, h, color="#88b053", label="s_c (image presence)")
    ax.barh(y + h, contributions, h, color="#c4281b",
            label=f"contribution (sum = score {score:.3f})")  # fmt: skip
    ax.set_yticks(y, list(classes), fontsize=7)
    ax.invert_yaxis()
    ax.tick_params(labelsize=7)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", fontsize=7, ncol=2)
    ax.set_title("Why it matched\nscore = Σ_c p(c|q)·s_c / (R·|Σ_c p(c|q) t_c|)", fontsize=8)
    return fig


def evidence_overlay(
    rgb: np.ndarray, memberships: np.ndarray, classes: Sequence[str], title: str = ""
) -> Figure:
    """Per-pixel class memberships (C, H, W) over the image: each pixel takes its strongest
    class's colour, opacity its membership (60 % at most, so the image shows through)."""
    fig = _figure(4.6, 4.0)
    ax = fig.add_subplot()
    ax.imshow(rgb, interpolation="nearest")
    top = np.argmax(memberships, axis=0)
    strength = np.take_along_axis(memberships, top[None], axis=0)[0]
    colours = ListedColormap([CLASS_COLOURS.get(c, "#999999") for c in classes])
    overlay = colours(Normalize(0, len(classes) - 1)(top))
    overlay[..., 3] = 0.6 * np.clip(np.nan_to_num(strength), 0, 1)
    ax.imshow(overlay, interpolation="nearest")
    present = [i for i in range(len(classes)) if ((top == i) & (strength > 0.3)).mean() > 0.01]
    for i in present:
        share = float(((top == i) & (strength > 0.3)).mean())
        ax.plot([], [], "s", color=CLASS_COLOURS.get(classes[i], "#999"),
                label=f"{classes[i]} {share:.0%}")  # fmt: skip
    if present:
        ax.legend(fontsize=7, loc="upper right", framealpha=0.7)
    _scale_bar(ax, rgb.shape[1])
    ax.set_axis_off()
    ax.set_title(title or "Per-pixel evidence (strongest class, opacity = membership)", fontsize=8)
    return fig


def occlusion_figure(rgb: np.ndarray, delta: np.ndarray, window: int, title: str = "") -> Figure:
    """Score drop when each window is masked, drawn over the image (red: the match depends on
    it; blue: masking it raises the score)."""
    fig = _figure(4.6, 4.0)
    ax = fig.add_subplot()
    ax.imshow(rgb, interpolation="nearest")
    extent = (-0.5, delta.shape[1] * window - 0.5, delta.shape[0] * window - 0.5, -0.5)
    span = float(np.nanmax(np.abs(delta))) or 1e-6
    shown = ax.imshow(delta, cmap="RdBu_r", vmin=-span, vmax=span, alpha=0.55, extent=extent,
                      interpolation="nearest")  # fmt: skip
    bar = fig.colorbar(shown, ax=ax, shrink=0.8, pad=0.02)
    bar.set_label("score drop when masked", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    _scale_bar(ax, rgb.shape[1])
    ax.set_axis_off()
    ax.set_title(title or f"Occlusion: {window}×{window} px windows masked one at a time",
                 fontsize=8)  # fmt: skip
    return fig


def figure_png(fig: Figure, path) -> None:
    """Write a figure as PNG (API file outputs)."""
    fig.savefig(path, format="png")


def image_png(rgb: np.ndarray, path) -> None:
    Image.fromarray(rgb).save(path, format="PNG")
