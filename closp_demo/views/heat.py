"""A query's heat map over an upload (`upload.query_map`), drawn on the upload's preview and as
coloured window footprints for the result map.

Colours run over the scene's own range of scores (viridis: dark = least like the query, yellow
= most like it), since the question is *where* in this scene; the legend states the range.
Windows not scored (sampled out, or mostly no-data) stay uncoloured.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw

from closp_demo.corpus import thumbnails
from closp_demo.upload.query_map import QueryMap

CMAP = "viridis"
ALPHA = 0.55
LEGEND_H = 34


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


def _with_legend(img: Image.Image, qm: QueryMap, query: str) -> Image.Image:
    lo, hi = score_range(qm)
    width = max(img.width, 320)
    out = Image.new("RGB", (width, img.height + LEGEND_H), "white")
    out.paste(img, (0, 0))
    ramp = np.linspace(0, 1, 160)[None, :].repeat(10, axis=0)
    bar = np.round(colormaps[CMAP](ramp)[..., :3] * 255).astype(np.uint8)
    top = img.height + 4
    out.paste(Image.fromarray(bar), (40, top))
    draw = ImageDraw.Draw(out)
    draw.text((4, top), f"{lo:.3f}", fill="black")
    draw.text((204, top), f"{hi:.3f}", fill="black")
    short = query if len(query) <= 40 else query[:39] + "…"
    draw.text((4, top + 13), f"cosine similarity to “{short}”", fill="black")
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
