"""The explorer's use cases, UI-free: load model + corpus, answer a text query, answer an upload.

`app.py` wires these to Gradio widgets; benchmarks and tests call them directly. Every visitor-
facing failure becomes an `Answer` with a clear message; nothing raises into the UI.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from closp_demo.corpus import thumbnails
from closp_demo.corpus.index import set_single_query_threads
from closp_demo.corpus.store import Corpus, load_corpus
from closp_demo.encoders import Encoder, available, create_encoder
from closp_demo.geo.place import (
    DEFAULT_RADIUS_KM,
    DEFAULT_WEIGHT,
    PLACE_MODES,
    Place,
    PlaceError,
    parse_place,
)
from closp_demo.search.engine import (
    SENSOR_CHOICES,
    Overlay,
    OverlayItem,
    QueryError,
    Result,
    SearchEngine,
    clean_query,
)
from closp_demo.search.expand import expand_scene
from closp_demo.search.filters import FilterError, Filters, parse_filters
from closp_demo.search.occlusion import OcclusionCache
from closp_demo.search.reading import QueryReading
from closp_demo.service import wording
from closp_demo.service.detail import DetailViews
from closp_demo.service.inputs import (
    InputError,
    check_filter_fields,
    choice,
    flag,
    result_count,
    session_problem,
    text,
    upload_names,
    upload_paths,
)
from closp_demo.service.scratch import Scratch
from closp_demo.settings import Settings, refuse
from closp_demo.upload.query_map import QueryMap, query_map
from closp_demo.upload.scene import UploadError, check_encoder_can_embed, read_uploads
from closp_demo.views import heat
from closp_demo.views import results as views
from closp_demo.views.assets import ASSETS_DIR, AssetMode
from closp_demo.views.export import ExportError, write_export
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
    results: list[Result] = field(default_factory=list)  # what was shown, for an export
    reading: QueryReading | None = None  # how the model read a text query


@dataclass
class HeatAnswer:
    """A query heat map over an upload: preview with the windows tinted, map, status line."""

    image: np.ndarray | None = None
    map_html: str = ""
    message: str = ""
    ok: bool = True
    result: QueryMap | None = None


def _error(message: str) -> Answer:
    return Answer(message=message, ok=False)


def _search_args(sensor: object, k: object, group: object = False) -> tuple[str, int, bool]:
    """The parameters every search takes, checked (`InputError` names a wrong one)."""
    return choice(sensor, "sensor", SENSOR_CHOICES), result_count(k), flag(group, "group")


class Explorer(DetailViews):
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
        # MiniLM on onnxruntime and must not pay `import torch`.
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(settings.torch_threads)
        self.corpus: Corpus = load_corpus(corpus_dir, expected_encoder=self.encoder.info)
        self.engine = SearchEngine(self.corpus, self.encoder)
        self.engine.reader.calibration  # noqa: B018  # the out-of-scope threshold, before queries
        self.engine.warm()  # the first grouped or filtered query then waits for nothing
        self.asset_mode = asset_mode or AssetMode.url(views.static_url)
        self.static_paths = [ASSETS_DIR, self.corpus.root]
        self.scratch = Scratch()
        self.occlusions = OcclusionCache(self.encoder)
        self._class_profiles: dict | None = None

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
            query = text(query, "query")
            sensor, k, group = _search_args(sensor, k, group)
            results, timings, reading = self.engine.search_text_read(
                query, sensor, k, overlay, place, filters, group
            )
        except (InputError, QueryError, PlaceError, FilterError) as err:
            return _error(str(err))
        except Exception:  # keep serving: log for us, a plain message for the visitor
            log.exception("text search failed for %r", query)
            return _error("The search failed unexpectedly; please try again.")
        gallery, map_html, table = self._show(results, timings, place=place, render=render)
        timings["total_ms"] = (time.perf_counter() - t0) * 1e3
        where = "" if place is None else f", {self.engine.place_rule(place)}"
        if filters is not None and filters.active():
            where += f", {filters.describe()}"
        message = (f"{wording.counted(len(results), 'result')} for “{' '.join(query.split())}” "
                   f"({sensor}{where}) in {timings['total_ms']:.0f} ms")  # fmt: skip
        if group:
            message += ", one per scene"
        if not results:
            message += wording.why_none(self.engine, place, filters)
        return Answer(gallery, map_html, table, message, True, timings, results=results,
                      reading=reading)  # fmt: skip

    def read_query(self, query: str) -> dict:
        """How the model reads `query`: p(c|q) (physics baseline), nearest vocabulary terms,
        and the out-of-scope decision (closp_demo.search.reading); QueryError on a bad query."""
        return self.engine.read_query(text(query, "query")).to_dict()

    def text_search_near(
        self, query: str, sensor: str = "both", k: int = 12, overlay: Overlay | None = None,
        mode: str = "off", lat: object = None, lon: object = None,
        radius_km: object = DEFAULT_RADIUS_KM, weight: object = DEFAULT_WEIGHT, render: bool = True,
        filters: dict | None = None, group: bool = False,
    ) -> Answer:  # fmt: skip
        """`text_search` from the UI's / API's raw place and filter fields (validated,
        explained); `filters` holds `parse_filters`' keyword arguments."""
        try:
            text(query, "query")  # the search's own parameters first, then the place's
            _search_args(sensor, k, group)
            mode = choice(mode, "place_mode", PLACE_MODES)
            place = parse_place(lat, lon, radius_km, mode, weight)
            parsed = parse_filters(**check_filter_fields(filters))
        except (InputError, PlaceError, FilterError) as err:
            return _error(str(err))
        return self.text_search(query, sensor, k, overlay, render, place, parsed, group)

    def more_like_this(
        self, image_id: str, sensor: str = "both", k: int = 12, overlay: Overlay | None = None,
        filters: dict | None = None, group: bool = False, render: bool = True,
    ) -> Answer:  # fmt: skip
        """Results ranked by a corpus image's embedding (same or other sensor)."""
        t0 = time.perf_counter()
        try:
            image_id = text(image_id, "image_id", "an image id").strip()
            if not image_id:
                raise InputError("Click a result (or paste an image id) first, then press "
                                 "“More like this”.")  # fmt: skip
            sensor, k, group = _search_args(sensor, k, group)
            parsed = parse_filters(**check_filter_fields(filters))
            results, timings = self.engine.search_like(image_id, sensor, k, overlay, parsed, group)
        except (InputError, QueryError, FilterError) as err:
            return _error(str(err))
        except Exception:
            log.exception("more-like-this failed for %r", image_id)
            return _error("The search failed unexpectedly; please try again.")
        gallery, map_html, table = self._show(results, timings, render=render)
        timings["total_ms"] = (time.perf_counter() - t0) * 1e3
        message = (
            f"{wording.counted(len(results), 'image')} like {image_id} ({sensor}"
            f"{', one per scene' if group else ''}) in {timings['total_ms']:.0f} ms"
        )
        return Answer(gallery, map_html, table, message, True, timings, results=results)

    def expand_scene(self, results: list[Result], image_id: str) -> Answer:
        """The shown `results` with the scene of `image_id` opened in place (no new search)."""
        t0 = time.perf_counter()
        try:
            opened = expand_scene(list(results or []), image_id, self.engine.tile_result)
        except QueryError as err:
            return _error(str(err))
        timings: dict[str, float] = {}
        gallery, map_html, table = self._show(opened, timings)
        timings["total_ms"] = (time.perf_counter() - t0) * 1e3
        added = len(opened) - len(results)
        message = (
            f"{wording.counted(len(opened), 'result')}: "
            f"{wording.counted(added, 'more tile')} of the scene of {image_id} shown"
        )
        return Answer(gallery, map_html, table, message, True, timings, results=opened)

    def forget_uploads(self, overlay: Overlay) -> None:
        """A session's state is gone (Gradio: an hour after its tab closed): its upload previews
        go too. Gradio calls it from the loop that sweeps every session's state."""
        self._forget_previews(overlay.items)

    def _forget_previews(self, items: list[OverlayItem]) -> None:
        """Never raises: neither Gradio's state sweep nor an upload's answer should fail on it."""
        try:
            self.scratch.forget_previews(it.result.thumbnail for it in items)
        except Exception:
            log.exception("removing upload previews failed")

    def upload_search(
        self, path: object, sensor: str = "both", k: int = 12,
        overlay: Overlay | None = None, filename: str | list[str] | None = None,
    ) -> Answer:  # fmt: skip
        """The corpus images nearest an uploaded scene: one GeoTIFF, several band files or one
        ZIP (`path`: a path or a list of paths, as the UI's multiple-file box and API clients
        send them; anything else gets a message). The upload joins `overlay`, so the session's
        later searches rank it too."""
        try:
            sensor, k, _ = _search_args(sensor, k)
        except InputError as err:
            return _error(str(err))
        paths, problem = upload_paths(path)
        if problem:
            return _error(problem)
        names, problem = upload_names(paths, filename)
        if problem:
            return _error(problem)
        if overlay is not None:
            size, problem = session_problem(paths, overlay.uploaded_bytes, self.settings.limits)
            if problem:
                return _error(problem)
            overlay.uploaded_bytes += size
        t0 = time.perf_counter()
        try:
            scene = read_uploads(paths, self.settings.limits, names)
            check_encoder_can_embed(scene, self.encoder)
            t1 = time.perf_counter()
            vector = self.engine.embed_scene([t.image for t in scene.tiles], scene.sensor)
            t2 = time.perf_counter()
            results = self.engine.search_vector(vector, sensor, k)
        except (UploadError, QueryError) as err:
            return _error(str(err))
        except Exception:
            log.exception("upload failed for %r", names)
            return _error("This upload could not be processed; please check it is a Sentinel-1 "
                          "or Sentinel-2 GeoTIFF, band files or a zipped product.")  # fmt: skip
        preview = thumbnails.render(scene.preview, scene.sensor)
        thumb = thumbnails.save(preview, self.scratch.uploads / f"{uuid.uuid4().hex}.webp")
        upload = views.upload_result(scene, str(thumb))
        if overlay is not None:
            dropped = overlay.add(OverlayItem(vector, upload, scene.preview))  # for its detail
            self._forget_previews(dropped)  # no longer searchable: their previews go
        timings = {"read_ms": (t1 - t0) * 1e3, "embed_ms": (t2 - t1) * 1e3}
        gallery, map_html, table = self._show(
            results, timings, query=upload if scene.placed else None
        )
        timings["total_ms"] = (time.perf_counter() - t0) * 1e3
        message = (
            f"{scene.filename}: {scene.sensor} {scene.level}, {scene.width}×{scene.height} px"
            f" → {wording.counted(len(results), 'nearest image')} ({sensor}) in "
            f"{timings['total_ms']:.0f} ms"
        )
        if not scene.placed:
            message += "; your image has no georeferencing, so it is not on the map"
        return Answer(gallery, map_html, table, message, True, timings, preview,
                      list(scene.notes), results)  # fmt: skip

    def export(self, results: list[Result], fmt: str) -> tuple[Path | None, str]:
        """`results` written as "csv", "geojson" or "zip" (thumbnails + GeoJSON + CSV +
        attribution): (the file, or None, and a plain-text message)."""
        t0 = time.perf_counter()
        try:
            fmt = text(fmt, "file_format", "a format name")
            folder = self.scratch.fresh_folder("exports")
            path = write_export(list(results or []), fmt, folder, self._attribution())
        except (InputError, ExportError) as err:
            return None, str(err)
        except Exception:
            log.exception("export as %r failed", fmt)
            return None, "The export failed unexpectedly; please try again."
        ms = (time.perf_counter() - t0) * 1e3
        shown = wording.counted(len(results), "result")
        return path, f"{shown} exported as {fmt.upper()} in {ms:.0f} ms"

    def _attribution(self) -> str | None:
        try:
            return (self.corpus.root / "ATTRIBUTION.md").read_text()
        except OSError:
            return None

    def heat_map(
        self, path: object, query: str, filename: str | list[str] | None = None,
        progress=None, render: bool = True,
    ) -> HeatAnswer:  # fmt: skip
        """Where in the uploaded scene the text query fits: its similarity per 120 px window,
        drawn on the preview and on the map. `path` is what `upload_search` takes (one file,
        band files or one ZIP). `progress(fraction, text)` is called as it goes."""
        if path is None or path == "" or path == []:
            return HeatAnswer(message="Upload a GeoTIFF (or band files, or one ZIP) first.",
                              ok=False)  # fmt: skip
        paths, problem = upload_paths(path)
        names, problem = upload_names(paths, filename) if not problem else ([], problem)
        if problem:
            return HeatAnswer(message=problem, ok=False)
        t0 = time.perf_counter()
        try:
            words = clean_query(text(query, "query"))
            vector = self.encoder.encode_text([words])[0]
            qm = query_map(paths, self.encoder, vector, self.settings.limits, names, progress)
        except (InputError, UploadError, QueryError) as err:
            return HeatAnswer(message=str(err), ok=False)
        except Exception:
            log.exception("heat map failed for %r", names)
            return HeatAnswer(message="The heat map failed unexpectedly; please try again.",
                              ok=False)  # fmt: skip
        t1 = time.perf_counter()
        image = heat.on_preview(qm, words) if render else None
        map_html = ""
        if render:
            item = views.upload_result(qm.scene, "")
            map_html = render_map(views.map_items([], lambda _: None, item), self.asset_mode,
                                  heat=heat.map_cells(qm))  # fmt: skip
        n = int(np.isfinite(qm.scores).sum())
        lo, hi = heat.score_range(qm)
        message = (f"“{words}” over {qm.scene.filename}: {n} windows of 120×120 px scored "
                   f"({qm.shape[0]}×{qm.shape[1]} grid{', sampled evenly' if qm.sampled else ''})"
                   f", similarity {lo:.3f} to {hi:.3f}, in {(t1 - t0):.1f} s")  # fmt: skip
        return HeatAnswer(image, map_html, message, True, qm)

    def evaluation(self) -> tuple[str, object]:
        """Evaluation report (Markdown) and per-query chart on this corpus's labelled images."""
        from closp_demo.evaluation.chart import per_query_chart
        from closp_demo.evaluation.cli import evaluate_loaded

        report, result = evaluate_loaded(self.corpus, self.encoder, queries_kind="classes")
        if result is None:
            return report, None
        return report, per_query_chart(result)


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
