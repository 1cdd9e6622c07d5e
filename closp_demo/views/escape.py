"""Escaping helpers for HTML built from data (titles, labels, filenames are untrusted)."""

from __future__ import annotations

import html
import json
import re

# Data URIs a map popup or result card may show as an <img>; anything else (text/html, SVG
# with scripts, javascript:) is refused.
_IMAGE_DATA_URI = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


def escape_text(text: object) -> str:
    """Text -> safe HTML text or attribute value (escapes & < > " ')."""
    return html.escape(str(text), quote=True)


def json_for_script(value: object) -> str:
    """JSON safe to place inside <script>...</script> or a srcdoc attribute.

    `<`, `>` and `&` become \\u escapes, so no string can close the script element or open a
    comment, and ensure_ascii escapes U+2028/U+2029 (line terminators in older JS parsers).
    """
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def srcdoc_iframe(document: str, height: int, title: str = "") -> str:
    """Wrap a whole HTML document in an <iframe srcdoc="..."> with every character escaped.

    The iframe has no sandbox attribute on purpose: it keeps the parent's origin and base URL,
    so scripts and styles served by the parent app (same origin) load inside it.
    """
    if height <= 0:
        raise ValueError(f"iframe height must be a positive number of pixels, got {height}")
    return (
        f'<iframe title="{escape_text(title)}" srcdoc="{escape_text(document)}" '
        f'style="width:100%;height:{int(height)}px;border:0;display:block" '
        f'loading="eager"></iframe>'
    )


def check_image_url(url: str) -> str:
    """Return `url` if it is an image data URI, an http(s) URL or a relative/absolute path.

    Raises ValueError for other schemes (javascript:, data:text/html, ...).
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("an image URL must be a non-empty string")
    url = url.strip()
    scheme = _SCHEME.match(url)
    if scheme is None:  # relative or absolute path on the serving origin
        return url
    name = scheme.group(1).lower()
    if name in ("http", "https"):
        return url
    if name == "data" and _IMAGE_DATA_URI.match(url):
        return url
    shown = url if len(url) <= 40 else url[:40] + "..."
    raise ValueError(
        f"image URL {shown!r} is not allowed: use http(s), a path, or a base64 PNG/JPEG/GIF/WebP "
        "data URI"
    )


_MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!|~$")


def escape_markdown(text: object) -> str:
    """Plain text for a gr.Markdown widget: HTML-escaped, Markdown syntax backslash-escaped, so a
    filename like `![x](http://e/p.png) **b**.tif` shows as typed (no link, image or bold).
    "://" becomes an entity too, since GFM autolinks bare URLs even with escapes around them."""
    escaped = "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in str(text))
    return html.escape(escaped, quote=False).replace("://", ":&#47;&#47;")
