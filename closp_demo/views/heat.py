"""A query's heat map over an upload (`upload.query_map`), drawn on the upload's preview and as
coloured window footprints for the result map.

Colours run over the scene's own range of scores (viridis: dark = least like the query, yellow
= most like it), since the question is *where* in this scene; the legend states the range.
Windows not scored (sampled out, or mostly no-data) stay uncoloured.

The legend (a vertical colour bar, its ends, what the colours measure) is drawn beside the
preview, in a font sized to it: the app shows the image in a box about `SHOWN_WIDTH_PX` x
`SHOWN_HEIGHT_PX` at 1920 px (a 512 px preview is halved), and the legend's text still reads at
`SHOWN_TEXT_PX` or more there (PIL's 10 px bitmap font below the image came out ~5 px). Beside,
not below: the box is wide, so the legend costs the image no height.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib import colormaps, font_manager
from PIL import Image, ImageDraw, ImageFont

from closp_demo.corpus import thumbnails
from closp_demo.upload.query_map import QueryMap

CMAP = "viridis"
ALPHA = 0.55
SHOWN_HEIGHT_PX = 240  # the upload tab's preview at 1920 px (gr.Image height=260, its frame)
SHOWN_WIDTH_PX = 880
SHOWN_TEXT_PX = 13  # legend text on screen, at least
UNIT = "cosine similarity, no unit (−1 to 1)"


def score_range(qm: QueryMap) -> tuple[float, float]:
    finite = qm.scores[np.isfinite(qm.scores)]
    lo, hi = float(finite.min()), float(finite.max())
    return lo, (hi if hi > lo else lo + 1e-6)


def colours(qm: QueryMap) -> list[tuple[int, int, int]]:
    """RGB colour of each scored window, in `qm.windows` order."""
    lo, hi = score_range(qm)
    cmap = colormaps[CMAP]
    out = []
    for r, c, *_ in qm.windows:
        rgba = cmap((float(qm.scores[r, c]) - lo) / (hi - lo))
        out.append(tuple(round(255 * float(v)) for v in rgba[:3]))
    return out


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def on_preview(qm: QueryMap, query: str) -> np.ndarray:
    """The scene's preview with each scored window tinted by its score, and a legend below."""
    scene = qm.scene
    base = Image.fromarray(thumbnails.render(scene.preview, scene.sensor)).convert("RGBA")
    sx, sy = base.width / scene.width, base.height / scene.height
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for (_, _, x, y, w, h), rgb in zip(qm.windows, colours(qm), strict=True):
        box = [x * sx, y * sy, (x + w) * sx - 1, (y + h) * sy - 1]
        draw.rectangle(box, fill=(*rgb, int(255 * ALPHA)))
    out = Image.alpha_composite(base, layer).convert("RGB")
    return np.asarray(_with_legend(out, qm, query))


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont:
    # matplotlib's DejaVu Sans: shipped with a dependency, so no font download or system font
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: float) -> list[str]:
    lines: list[str] = []
    for word in text.split(" "):
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def legend_layout(width: int, height: int, query: str) -> tuple[int, list[str], int]:
    """Font size (px), text lines and panel width of the legend beside a `width` x `height`
    preview: the smallest font (12 px at least) that still shows at `SHOWN_TEXT_PX` once the
    preview and its legend are scaled into the app's `SHOWN_WIDTH_PX` x `SHOWN_HEIGHT_PX` box."""
    short = query if len(query) <= 40 else query[:39] + "…"
    words = ["cosine", "similarity", "to", f"“{short}”", "(no", "unit,", "−1 to 1)"]
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    size = 12
    while True:
        font = _font(size)
        lines = _wrap(measure, " ".join(words), font, 9 * size)
        text_w = max(measure.textlength(line, font=font) for line in [*lines, "0.000"])
        panel = round(size * 2.5 + text_w)  # pad, bar, pad, text, pad
        scale = min(SHOWN_HEIGHT_PX / height, SHOWN_WIDTH_PX / (width + panel))
        fits = (len(lines) + 2) * 1.25 * size <= height - size
        if (size * scale >= SHOWN_TEXT_PX and fits) or size >= 96:
            return size, lines, panel
        size += 1


def _with_legend(img: Image.Image, qm: QueryMap, query: str) -> Image.Image:
    lo, hi = score_range(qm)
    size, lines, panel = legend_layout(img.width, img.height, query)
    font = _font(size)
    out = Image.new("RGB", (img.width + panel, img.height), "white")
    out.paste(img, (0, 0))
    draw = ImageDraw.Draw(out)
    pad = size // 2
    x_bar, top, bottom = img.width + pad, pad, img.height - pad
    ramp = np.linspace(1, 0, bottom - top)[:, None].repeat(size, axis=1)  # high at the top
    bar = np.round(colormaps[CMAP](ramp)[..., :3] * 255).astype(np.uint8)
    out.paste(Image.fromarray(bar), (x_bar, top))
    x_text = x_bar + size + pad
    draw.text((x_text, top), f"{hi:.3f}", fill="black", font=font)
    draw.text((x_text, bottom), f"{lo:.3f}", fill="black", font=font, anchor="ld")
    y = (img.height - len(lines) * 1.25 * size) / 2
    for i, line in enumerate(lines):
        draw.text((x_text, round(y + 1.25 * size * i)), line, fill="black", font=font)
    return out


def map_cells(qm: QueryMap) -> list[dict]:
    """The scored windows for `views.map.render_map(heat=...)`: ring (lat, lon) and colour."""
    cells = []
    for ring, rgb, (r, c, *_) in zip(qm.rings, colours(qm), qm.windows, strict=True):
        if ring:
            cells.append({"ring": [[round(lat, 6), round(lon, 6)] for lon, lat in ring],
                          "colour": hex_colour(rgb),
                          "score": round(float(qm.scores[r, c]), 4)})  # fmt: skip
    return cells
