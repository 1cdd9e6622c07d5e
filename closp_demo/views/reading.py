"""A query's reading (closp_demo.search.reading) -> the compact bar shown above the results.

The bar is one segment per class the model read into the query (p(c|q) of the physics
baseline, classes at 1 % or more); other encoders show their nearest vocabulary terms. An
out-of-scope query gets its warning first. Every string from the query is escaped; the only
style set here is each segment's width and colour (data), the rest is
assets/css/query-reading.css.
"""

from __future__ import annotations

from closp_demo.search.reading import QueryReading
from closp_demo.views.escape import escape_text

MIN_SHARE = 0.01
# Dynamic World's palette, and grey for an obscured view
CLASS_COLOURS = {
    "Water": "#419bdf", "Trees": "#397d49", "Grass": "#88b053", "Flooded Vegetation": "#7a87c6",
    "Crops": "#e49635", "Shrub and Scrub": "#dfc35a", "Built": "#c4281b", "Bare": "#a59b8f",
    "Snow and Ice": "#b39fe1", "Burned Area": "#4a2c2a", "Cloud/haze (view obscured)": "#9e9e9e",
}  # fmt: skip
OTHER_COLOUR = "#6b6b6b"


def reading_html(reading: QueryReading | None) -> str:
    if reading is None:
        return ""
    parts = ['<div class="qr" data-in-scope="' + ("yes" if reading.in_scope else "no") + '">']
    if not reading.in_scope:
        parts.append(f'<div class="qr-warn" role="status">{escape_text(reading.message())}</div>')
    shown = [(c, p) for c, p in reading.classes if p >= MIN_SHARE]
    if shown:
        segs = "".join(
            f'<span class="qr-seg" title="{escape_text(c)} {p:.0%}" '
            f'style="width:{100 * p:.2f}%;background:{CLASS_COLOURS.get(c, OTHER_COLOUR)}"></span>'
            for c, p in shown
        )
        keys = "".join(
            f'<span class="qr-key"><i style="background:{CLASS_COLOURS.get(c, OTHER_COLOUR)}">'
            f"</i>{escape_text(c)} {p:.0%}</span>"
            for c, p in shown
        )
        parts.append(f'<div class="qr-bar" aria-label="How the model read the query">{segs}</div>')
        parts.append(f'<div class="qr-keys">Read as: {keys}</div>')
    terms = ", ".join(f"“{escape_text(t)}” {s:.2f}" for t, s in reading.terms)
    parts.append(f'<div class="qr-terms">Nearest vocabulary terms (cosine): {terms}</div>')
    parts += [f'<div class="qr-note">{escape_text(n)}</div>' for n in reading.notes]
    parts.append("</div>")
    return "".join(parts)
