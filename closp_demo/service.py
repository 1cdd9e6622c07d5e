"""The explorer's use cases, UI-free: load model + corpus, answer a text query, answer an upload.

`app.py` wires these to Gradio widgets; benchmarks and tests call them directly. Every visitor-
facing failure becomes an `Answer` with a clear message; nothing raises into the UI.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from closp_demo.corpus import thumbnails
from closp_demo.corpus.index import set_single_query_threads
from closp_demo.corpus.store import Corpus, load_corpus
from closp_demo.encoders import Encoder, available, create_encoder
from closp_demo.geo.place import DEFAULT_RADIUS_KM, DEFAULT_WEIGHT, Place, PlaceError, parse_place
from closp_demo.search.engine import Overlay, OverlayItem, QueryError, Result, SearchEngine
from closp_demo.search.filters import FilterError, Filters, parse_filters
from closp_demo.search.reading import QueryReading
from closp_demo.settings import Settings, refuse
from closp_demo.upload.scene import UploadError, read_upload
from closp_demo.views import results as views
from closp_demo.views.assets import ASSETS_DIR, AssetMode
from closp_demo.views.map import render_map

log = logging.getLogger(__name__)


@dataclass
class Answer:
    """Everything one interaction shows. `message` is plain text for a status line."""

    gallery: list[tuple[str, str]] = field(default_factory=list)
    map_html: str = ""
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=views.TABLE_COLUMNS))
    message: str = ""
    ok: bool = True
    timings_ms: dict[str, float] = field(default_factory=dict)
    preview: object | None = None  # RGB array of an uploaded scene
    notes: list[str] = field(default_factory=list)
    reading: QueryReading | None = None  # how the model read a text query


def _error(message: str) -> Answer:
    return Answer(message=message, ok=False)


class Explorer:
    def __init__(
        self,
        corpus_dir: str | Path | None = None,
        encoder_name: str | None = None,
        asset_mode: AssetMode | None = None,
        settings: Settings | None = None,
    ) -> None:
        """`settings`: default `Settings.from_env()`; `corpus_dir` and `encoder_name` override
        its corpus and encoder (as app.py's flags do)."""
        set_single_query_threads()
        settings = (settings or Settings.from_env()).override(
            corpus=corpus_dir, encoder=encoder_name
        )
        self.settings = settings
        corpus_dir = settings.corpus
        self.encoder: Encoder = create_encoder(_encoder_name(settings), settings)
        # One intra-op thread per query (CLOSP_TORCH_THREADS, default 1): on 2 vCPU with
        # concurrent visitors, torch's default pool oversubscribes the cores (first session's
        # query-latency run under load: ~495 ms vs ~16 ms per query). Set after the encoder
        # exists and only if torch is loaded by then: the default physics encoder on CPU runs
        # numpy and must not pay `import torch`.
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(settings.torch_threads)
        self.corpus: Corpus = load_corpus(corpus_dir, expected_encoder=self.encoder.info)
        self.engine = SearchEngine(self.corpus, self.encoder)
        self.engine.reader.calibration  # noqa: B018  # the out-of-scope threshold, before queries
        self.asset_mode = asset_mode or AssetMode.url(views.static_url)
        self.static_paths = [ASSETS_DIR, self.corpus.root]
        # Upload previews shown in a session's gallery; not a static path (not publicly served).
        self.upload_dir = Path(tempfile.mkdtemp(prefix="closp-uploads-"))

    # --- descriptions for the UI ------------------------------------------------------------
    def model_line(self) -> str:
        info = self.encoder.info
        return f"{info.name} (`{info.id}` v{info.version}, {info.dim}-d). {info.description}"

    def corpus_line(self) -> str:
        m = self.corpus.manifest
        by_sensor = ", ".join(f"{n} {s}" for s, n in m["counts_by_sensor"].items())
        return (f"{m['count']} images ({by_sensor}; {m['labelled']} labelled) "
                f"from `{self.corpus.root.name}/`")  # fmt: skip

    def source_names(self) -> list[str]:
        return sorted({key.split("/")[0] for key in self.corpus.manifest["counts_by_source"]})

    def label_names(self) -> list[str]:
        return list(self.engine.filter_columns().label_names)

    # --- use cases ---------------------------------------------------------------------------
    def _thumb_url(self, thumbnail: str) -> str | None:
        path = Path(thumbnail)
        if path.is_relative_to(self.corpus.root):
            return self.asset_mode.url_for_file(path)
        return thumbnails.file_data_uri(path)  # a session's upload: never served publicly

    def render(
        self, results: list[Result], query: Result | None = None, place: Place | None = None
    ) -> tuple[str, float]:
        """The map of `results` (after the `query` image, an upload, when there is one)."""
        t0 = time.perf_counter()
        items = views.map_items(results, self._thumb_url, query)
        html_map = render_map(items, self.asset_mode, place=place)  # MapPlace.coerce reads it
        return html_map, (time.perf_counter() - t0) * 1e3

    def _show(
        self, results: list[Result], timings: dict[str, float], query: Result | None = None,
        place: Place | None = None, render: bool = True,
    ) -> tuple[list[tuple[str, str]], str, pd.DataFrame]:  # fmt: skip
        """Results, corpus images and uploads alike -> gallery, map and table (timed)."""
        t0 = time.perf_counter()
        gallery = views.gallery_items(results) if render else []
        table = views.results_table(results)
        timings["views_ms"] = (time.perf_counter() - t0) * 1e3
        map_html, timings["map_ms"] = self.render(results, query, place) if render else ("", 0.0)
        return gallery, map_html, table

    def text_search(
        self, query: str, sensor: str = "both", k: int = 12, overlay: Overlay | None = None,
        render: bool = True, place: Place | None = None, filters: Filters | None = None,
        group: bool = False,
    ) -> Answer:  # fmt: skip
        """`render=False` skips gallery and map (API callers only read the table). `place`:
        location-aware search (closp_demo.geo.place: filter, distance prior, or GeoCLOSP blend).
        `filters`: metadata filters applied inside the search; `group`: one result per scene."""
        t0 = time.perf_counter()
        try:
            results, timings, reading = self.engine.search_text_read(
                query, sensor, k, overlay, place, filters, group
            )
        except (QueryError, PlaceError, FilterError) as err:
            return _error(str(err))
        except Exception:  # keep serving: log for us, a plain message for the visitor
            log.exception("text search failed for %r", query)
            return _error("The search failed unexpectedly; please try again.")
        gallery, map_html, table = self._show(results, timings, place=place, render=render)
        timings["total_ms"] = (time.perf_counter() - t0) * 1e3
        where = "" if place is None else f", {self.engine.place_rule(place)}"
        if filters is not None and filters.active():
            where += f", {filters.describe()}"
        message = (f"{len(results)} results for “{' '.join(query.split())}” ({sensor}{where}) in "
                   f"{timings['total_ms']:.0f} ms")  # fmt: skip
        if group:
            message += ", one per scene"
        if not results and place is not None and place.mode == "within":
            message += ": no image lies there; widen the radius or choose 'Prefer nearby'"
        return Answer(gallery, map_html, table, message, True, timings, reading=reading)

    def read_query(self, query: str) -> dict:
        """How the model reads `query`: p(c|q) (physics baseline), nearest vocabulary terms,
        and the out-of-scope decision (closp_demo.search.reading); QueryError on a bad query."""
        return self.engine.read_query(query).to_dict()

    def text_search_near(
        self, query: str, sensor: str = "both", k: int = 12, overlay: Overlay | None = None,
        mode: str = "off", lat: object = None, lon: object = None,
        radius_km: object = DEFAULT_RADIUS_KM, weight: object = DEFAULT_WEIGHT, render: bool = True,
        filters: dict | None = None, group: bool = False,
    ) -> Answer:  # fmt: skip
        """`text_search` from the UI's / API's raw place and filter fields (validated,
        explained); `filters` holds `parse_filters`' keyword arguments."""
        try:
            place = parse_place(lat, lon, radius_km, mode, weight)
            parsed = parse_filters(**(filters or {}))
        except (PlaceError, FilterError) as err:
            return _error(str(err))
        return self.text_search(query, sensor, k, overlay, render, place, parsed, bool(group))

    def more_like_this(
        self, image_id: str, sensor: str = "both", k: int = 12, overlay: Overlay | None = None,
        filters: dict | None = None, group: bool = False, render: bool = True,
    ) -> Answer:  # fmt: skip
        """Results ranked by a corpus image's embedding (same or other sensor)."""
        t0 = time.perf_counter()
        try:
            parsed = parse_filters(**(filters or {}))
            results, timings = self.engine.search_like(
                image_id, sensor, k, overlay, parsed, bool(group)
            )
        except (QueryError, FilterError) as err:
            return _error(str(err))
        except Exception:
            log.exception("more-like-this failed for %r", image_id)
            return _error("The search failed unexpectedly; please try again.")
        gallery, map_html, table = self._show(results, timings, render=render)
        timings["total_ms"] = (time.perf_counter() - t0) * 1e3
        message = (
            f"{len(results)} images like {image_id} ({sensor}"
            f"{', one per scene' if group else ''}) in {timings['total_ms']:.0f} ms"
        )
        return Answer(gallery, map_html, table, message, True, timings)

    def upload_search(
        self, path: str | Path | None, sensor: str = "both", k: int = 12,
        overlay: Overlay | None = None, filename: str | None = None,
    ) -> Answer:  # fmt: skip
        """The corpus images nearest an uploaded GeoTIFF; the upload joins `overlay`, so the
        session's later searches rank it too."""
        if not path:
            return _error("Choose a GeoTIFF file (.tif) to upload.")
        t0 = time.perf_counter()
        try:
            scene = read_upload(path, self.settings.limits, filename or Path(path).name)
            t1 = time.perf_counter()
            vector = self.engine.embed_scene([t.image for t in scene.tiles], scene.sensor)
            t2 = time.perf_counter()
            results = self.engine.search_vector(vector, sensor, k)
        except (UploadError, QueryError) as err:
            return _error(str(err))
        except Exception:
            log.exception("upload failed for %r", filename or path)
            return _error("This file could not be processed; please check it is a Sentinel-1 or "
                          "Sentinel-2 GeoTIFF.")  # fmt: skip
        preview = thumbnails.render(scene.preview, scene.sensor)
        thumb = thumbnails.save(preview, self.upload_dir / f"{uuid.uuid4().hex}.webp")
        upload = views.upload_result(scene, str(thumb))
        if overlay is not None:
            overlay.add(OverlayItem(vector, upload))
        timings = {"read_ms": (t1 - t0) * 1e3, "embed_ms": (t2 - t1) * 1e3}
        gallery, map_html, table = self._show(results, timings, query=upload)
        timings["total_ms"] = (time.perf_counter() - t0) * 1e3
        message = (
            f"{scene.filename}: {scene.sensor} {scene.level}, {scene.width}×{scene.height} px"
            f" → {len(results)} nearest images ({sensor}) in {timings['total_ms']:.0f} ms"
        )
        return Answer(gallery, map_html, table, message, True, timings, preview, list(scene.notes))

    def evaluation(self) -> tuple[str, object]:
        """Evaluation report (Markdown) and per-query chart on this corpus's labelled images."""
        from closp_demo.evaluation.chart import per_query_chart
        from closp_demo.evaluation.cli import evaluate_loaded

        text, result = evaluate_loaded(self.corpus, self.encoder, queries_kind="classes")
        if result is None:
            return text, None
        return text, per_query_chart(result)


def _encoder_name(settings: Settings) -> str:
    """The chosen encoder, else the one the corpus was built with (a cheap manifest-only peek);
    a name the registry does not know is refused here, naming where it came from."""
    known = available()
    if settings.encoder is not None:
        if settings.encoder not in known:
            refuse("encoder", settings.encoder, "is not a registered encoder",
                   f"one of {', '.join(known)}")  # fmt: skip
        return settings.encoder
    try:
        manifest = json.loads((settings.corpus / "manifest.json").read_text())
        name = manifest["encoder"]["id"]
    except (OSError, ValueError, KeyError, TypeError):
        return "physics-minilm"  # load_corpus explains what is wrong with the corpus
    if name not in known:
        raise ValueError(
            f"{settings.corpus}: built with encoder {name!r}, which is not registered here "
            f"({', '.join(known)}); choose one with --encoder or rebuild the corpus"
        )
    return name
