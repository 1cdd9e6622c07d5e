"""Where the browser code comes from: files under assets/, embedded or served by the app.

assets/ holds the vendored Leaflet and country outlines (tools/vendor_assets.sh) and the app's
own browser code: assets/js/*.js and assets/css/*.css, linted as what they are (tools/lint). No
JavaScript or CSS lives in Python strings; files are read once per process (`read_asset`).

The result map is a whole HTML document in an `<iframe srcdoc>`; `AssetMode` says whether its
assets are embedded in it (INLINE) or loaded from the app's URLs. Embedded code goes into raw-text
`<script>`/`<style>` elements, so a file holding "</script", "</style" or "<!--" is refused rather
than let it end the element early; data never goes in here (it is JSON, `json_for_script`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from closp_demo.corpus.thumbnails import file_data_uri
from closp_demo.views.escape import escape_text

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"
BASEMAP_GEOJSON = "basemap/countries.geo.json"
MAP_JS = "js/result-map.js"  # the result map's behaviour (clospResultMap)
MAP_CSS = "css/result-map.css"


@dataclass(frozen=True)
class AssetMode:
    """How the map document gets Leaflet, the basemap, its own script and style, and file
    thumbnails.

    INLINE (`to_url is None`): everything is embedded in the document, which is then
    self-contained (tests, downloads), about 1.1 MB; file thumbnails become data URIs.
    URL mode: `to_url(absolute_file_path)` gives the URL under which the app serves that file
    (assets/ and, for thumbnails, the corpus); the browser fetches and caches the assets once,
    and each map stays small (a few kB plus thumbnails). A srcdoc iframe inherits the parent
    page's origin and base URL, so same-origin and root-relative URLs work.
    """

    to_url: Callable[[Path], str] | None = None
    root: Path = ASSETS_DIR  # where LEAFLET_JS etc. live (the relative paths start here)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())

    @property
    def inline(self) -> bool:
        return self.to_url is None

    def url_for(self, relative: str) -> str:
        """URL of an asset given by its path relative to `root` (URL mode only)."""
        if self.to_url is None:
            raise ValueError("INLINE asset mode embeds assets; it has no asset URLs")
        return self.to_url(self.root / relative)

    def url_for_file(self, path: str | Path) -> str:
        """URL of any file the app serves (e.g. a corpus thumbnail); a data URI when INLINE."""
        path = Path(path).resolve()
        if self.to_url is None:
            return file_data_uri(path)
        return self.to_url(path)

    @classmethod
    def url(cls, to_url: Callable[[Path], str] | str, root: str | Path = ASSETS_DIR) -> AssetMode:
        """URL mode from a callable (absolute file path -> URL) or a template with "{path}",
        filled with the absolute POSIX path, percent-encoded (e.g. "/gradio_api/file={path}")."""
        if isinstance(to_url, str):
            if "{path}" not in to_url:
                raise ValueError(f"asset URL template {to_url!r} needs a {{path}} placeholder")
            template = to_url
            return cls(lambda p: template.replace("{path}", quote(p.as_posix(), safe="/:")), root)
        return cls(to_url, Path(root))

    @classmethod
    def from_prefix(cls, prefix: str, root: str | Path = ASSETS_DIR) -> AssetMode:
        """URL mode for a server that maps `prefix` to `root`: URL = prefix + relative path."""
        resolved = Path(root).resolve()

        def to_url(path: Path) -> str:
            if not path.is_relative_to(resolved):
                raise ValueError(f"{path} is not under {resolved}, so it has no URL under {prefix}")
            return prefix + quote(path.relative_to(resolved).as_posix())

        return cls(to_url, resolved)

    @classmethod
    def gradio(cls, route: str = "/gradio_api/file=", root: str | Path = ASSETS_DIR) -> AssetMode:
        """URL mode through Gradio's file route. The app must allow the directories, e.g.
        `gr.set_static_paths([ASSETS_DIR, corpus_dir])` or `launch(allowed_paths=[...])`: only
        allowed paths are served with their real content type (scripts and styles need it)."""
        return cls.url(route + "{path}", root)


INLINE = AssetMode()


@lru_cache(maxsize=16)
def read_asset(relative: str, binary: bool = False) -> str | bytes:
    """An asset file's content (text as UTF-8), read once per process."""
    path = ASSETS_DIR / relative
    if not path.is_file():
        vendored = relative.startswith(("vendor/", "basemap/"))
        hint = ": run tools/vendor_assets.sh to fetch Leaflet and the basemap" if vendored else ""
        raise FileNotFoundError(f"asset {path} is missing{hint}")
    return path.read_bytes() if binary else path.read_text(encoding="utf-8")


def read_text_asset(relative: str) -> str:
    return str(read_asset(relative))


@lru_cache(maxsize=8)
def _version(relative: str) -> str:
    # Our own code changes with the app; a content hash in its URL keeps a browser from pairing
    # a cached old script with a new page (Leaflet and the basemap are pinned, so they need none).
    return hashlib.sha256(read_text_asset(relative).encode("utf-8")).hexdigest()[:12]


def _versioned_url(assets: AssetMode, relative: str) -> str:
    return f"{assets.url_for(relative)}?v={_version(relative)}"


def raw_text_safe(text: str, tag: str) -> str:
    """`text` if it can be the content of a raw-text <script>/<style> element: that content ends
    at the first "</tag", and "<!--" changes how a script is parsed."""
    if f"</{tag}" in text.lower() or "<!--" in text:
        raise ValueError(f"asset cannot be inlined in <{tag}>: it has '</{tag}' or '<!--'")
    return text


@lru_cache(maxsize=1)
def _inline_leaflet_css() -> str:
    """leaflet.css with its images/ references turned into data URIs."""

    def to_data_uri(match: re.Match[str]) -> str:
        rel = f"vendor/leaflet/images/{match.group(1)}"
        data = base64.b64encode(read_asset(rel, binary=True)).decode("ascii")  # type: ignore[arg-type]
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\(images/([\w\-]+\.png)\)", to_data_uri, read_text_asset(LEAFLET_CSS))


@lru_cache(maxsize=1)
def _inline_head() -> str:
    def style(css: str) -> str:
        return f"<style>{raw_text_safe(css, 'style')}</style>"

    def script(js: str) -> str:
        return f"<script>{raw_text_safe(js, 'script')}</script>"

    return "\n".join(
        (
            style(_inline_leaflet_css()),
            script(read_text_asset(LEAFLET_JS)),
            style(read_text_asset(MAP_CSS)),
            script(read_text_asset(MAP_JS)),
        )
    )


def head_html(assets: AssetMode) -> str:
    """The map document's <head> assets: Leaflet, then the map's own style and script (after
    leaflet.css, so its rules win; before folium's body script, which calls clospResultMap)."""
    if assets.inline:
        return _inline_head()
    leaflet_css = escape_text(assets.url_for(LEAFLET_CSS))
    leaflet_js = escape_text(assets.url_for(LEAFLET_JS))
    map_css = escape_text(_versioned_url(assets, MAP_CSS))
    map_js = escape_text(_versioned_url(assets, MAP_JS))
    return (
        f'<link rel="stylesheet" href="{leaflet_css}"/>\n'
        f'<script src="{leaflet_js}"></script>\n'
        f'<link rel="stylesheet" href="{map_css}"/>\n'
        f'<script src="{map_js}"></script>'
    )


def basemap_html(assets: AssetMode) -> str:
    """INLINE: the GeoJSON itself, as a JSON data block the script parses; URL mode: nothing (the
    script fetches the file)."""
    return _inline_basemap() if assets.inline else ""


@lru_cache(maxsize=1)
def _inline_basemap() -> str:
    geojson = read_text_asset(BASEMAP_GEOJSON).strip()
    # The file is ASCII JSON of numbers and country names; escape like any other script data.
    safe = geojson.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="closp-basemap-data">{safe}</script>'
