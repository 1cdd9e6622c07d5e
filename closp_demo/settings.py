"""Every setting of the app and its command-line tools, read from the environment once at start.

`Settings.from_env()` is the only place in the package that reads the environment. It returns a
frozen, validated object; a value the app cannot use raises `SettingsError` naming the variable
and the accepted values, so a misconfigured server fails at start, not at the first visitor.
Command-line flags override it with `Settings.override(...)` (`dataclasses.replace`, validated
again). `VARIABLES` documents each variable; README's "Configuration" table is generated from it
(`python -m closp_demo.settings`), and a test keeps the two equal.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from closp_demo.devices import DEVICE_CHOICES, device_name

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO_ROOT / "precomputed"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_COMMIT_SHA = re.compile(r"[0-9a-fA-F]{40}")
# Named because messages (CLOSP loaders, upload refusals) tell users which variable to set.
ENV_MODEL = "CLOSP_MODEL"
ENV_REVISION = "CLOSP_REVISION"
ENV_TRUST_REMOTE_CODE = "CLOSP_TRUST_REMOTE_CODE"
ENV_S2_INPUT = "CLOSP_S2_INPUT"
# What a CLOSP model is given for Sentinel-2: "reflectance" = digital numbers / 10000 (the
# authors' training code divides before the model), "dn" = digital numbers (a model that scales
# them itself). Which one the released hub models expect is not verifiable here (README, Models).
S2_INPUTS = ("reflectance", "dn")
ENV_TEXT_BACKEND = "CLOSP_TEXT_BACKEND"
ENV_CACHE_DIR = "CLOSP_CACHE_DIR"
# MiniLM's network: onnxruntime over a cached export (CPU only) or transformers' BertModel;
# "auto" = onnx on CPU, torch on CUDA (closp_demo/encoders/minilm.py).
TEXT_BACKENDS = ("auto", "onnx", "torch")
ENV_MAX_UPLOAD_MB = "CLOSP_MAX_UPLOAD_MB"
ENV_MAX_PIXELS = "CLOSP_MAX_PIXELS"
ENV_MAX_SIDE = "CLOSP_MAX_SIDE"
ENV_MAX_TILES = "CLOSP_MAX_TILES"
ENV_MAX_UNZIPPED_MB = "CLOSP_MAX_UNZIPPED_MB"
ENV_MAX_ZIP_RATIO = "CLOSP_MAX_ZIP_RATIO"
ENV_MAX_SESSION_MB = "CLOSP_MAX_SESSION_MB"
ENV_FILE_HOURS = "CLOSP_FILE_HOURS"

MB = 1_000_000  # upload sizes are shown in SI megabytes, as browsers and file managers show them
DEFAULT_MAX_UPLOAD_MB = 50.0
DEFAULT_MAX_PIXELS = 11_000 * 11_000
DEFAULT_MAX_SIDE = 30_000
DEFAULT_MAX_TILES = 64
DEFAULT_MAX_UNZIPPED_MB = 2000.0  # a zipped Sentinel-2 L2A .SAFE is about 1.1 GB unzipped
DEFAULT_MAX_ZIP_RATIO = 100.0  # JP2 members are stored ~1:1, GRD TIFFs deflate ~1.5:1
DEFAULT_MAX_SESSION_MB = 500.0  # ten uploads at the per-upload limit
# Longer than a demo or a lesson; short enough that a public Space's uploads do not fill its disk.
DEFAULT_FILE_HOURS = 6.0


class SettingsError(ValueError):
    """A setting the app cannot use; the message names the variable and the accepted values."""


@dataclass(frozen=True)
class Variable:
    name: str  # environment variable
    field: str  # Settings attribute; "limits.<name>" for the upload limits
    flag: str | None  # app.py's command-line flag that overrides it
    accepted: str
    default: str
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    Variable("CLOSP_CORPUS", "corpus", "--corpus", "a corpus folder (with manifest.json)",
             "`precomputed`", "the corpus to serve"),
    Variable("CLOSP_ENCODER", "encoder", "--encoder",
             "a registered encoder name (`python app.py --encoder list`)",
             "the corpus's encoder", "the model that embeds queries and uploads; must match the "
             "corpus"),
    Variable("CLOSP_DEVICE", "device", None, DEVICE_CHOICES, "`auto` (CUDA if present)",
             "where models run"),
    Variable(ENV_MODEL, "closp_model", None,
             "a released name (`CLOSP-RN`, ...), a hub id `Org/Name`, a model folder, or a "
             "`.safetensors` state dict", "unset",
             "the weights for `--encoder closp`; for a released encoder (`closp-rn`, ...) an "
             "optional local copy of its weights, a folder or state dict (see Models)"),
    Variable(ENV_REVISION, "closp_revision", None, "a 40-character hex commit sha", "unset",
             "the hub commit to load a CLOSP model at (branch names are refused)"),
    Variable(ENV_TRUST_REMOTE_CODE, "trust_remote_code", None,
             "`1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`", "`0`",
             "allow a CLOSP model repository's own Python code to run"),
    Variable(ENV_S2_INPUT, "s2_input", None, "`reflectance` or `dn`", "`reflectance`",
             "what a CLOSP model gets for Sentinel-2: `reflectance` = digital numbers / 10000 "
             "(the authors' training code), `dn` = digital numbers, for a model that divides "
             "itself; a start-up self-check warns when it looks wrong (see Models)"),
    Variable("CLOSP_CONCURRENCY", "concurrency", None, "a whole number >= 1", "`1`",
             "queued Gradio events run at once per handler (1 measured best, BENCHMARKS.md load "
             "test); the UI's text searches skip the queue"),
    Variable("CLOSP_TORCH_THREADS", "torch_threads", None, "a whole number >= 1", "`1`",
             "torch threads when torch runs (CLOSP models, MiniLM on CUDA or "
             "`CLOSP_TEXT_BACKEND=torch`); the default app on CPU runs MiniLM on onnxruntime "
             "and never imports torch"),
    Variable(ENV_TEXT_BACKEND, "text_backend", None, "`auto`, `onnx` or `torch`",
             "`auto` (onnx on CPU, torch on CUDA)",
             "MiniLM's network: `onnx` = onnxruntime over a cached ONNX export (CPU only), "
             "`torch` = transformers' BertModel (BENCHMARKS.md \"Text backends\")"),
    Variable(ENV_CACHE_DIR, "cache_dir", None, "a folder (created when missing)",
             "`$XDG_CACHE_HOME/closp-demo` or `~/.cache/closp-demo`",
             "where MiniLM's ONNX export is cached (made by `run.sh` at install, else at the "
             "first start; an unwritable folder means one export per process)"),
    Variable("GRADIO_SERVER_NAME", "host", "--host", "a host name or IP address", "`127.0.0.1`",
             "where to listen"),
    Variable("GRADIO_SERVER_PORT", "port", "--port", "a whole number 1-65535", "`7860`",
             "the port to listen on"),
    Variable(ENV_MAX_UPLOAD_MB, "limits.max_bytes", None, "a positive number",
             f"`{DEFAULT_MAX_UPLOAD_MB:g}`", "largest upload, in MB (10^6 bytes)"),
    Variable(ENV_MAX_PIXELS, "limits.max_pixels", None, "a positive number",
             f"`{DEFAULT_MAX_PIXELS:_}`", "largest upload raster, in pixels per band "
             "(bounds the time spent decoding a highly compressed file)"),
    Variable(ENV_MAX_SIDE, "limits.max_side", None, "a positive number",
             f"`{DEFAULT_MAX_SIDE:_}`", "longest upload side, in pixels"),
    Variable(ENV_MAX_TILES, "limits.max_tiles", None, "a positive number",
             f"`{DEFAULT_MAX_TILES}`", "most 120 x 120 tiles embedded per upload"),
    Variable(ENV_MAX_UNZIPPED_MB, "limits.max_unzipped_bytes", None, "a positive number",
             f"`{DEFAULT_MAX_UNZIPPED_MB:g}`", "largest uncompressed size of an uploaded ZIP, "
             "per member and all members together, in MB (declared sizes, checked before "
             "anything is read)"),
    Variable(ENV_MAX_ZIP_RATIO, "limits.max_zip_ratio", None, "a positive number",
             f"`{DEFAULT_MAX_ZIP_RATIO:g}`", "largest compression ratio of a ZIP member above "
             "1 MB (a higher one is refused as a ZIP bomb)"),
    Variable(ENV_MAX_SESSION_MB, "limits.max_session_bytes", None, "a positive number",
             f"`{DEFAULT_MAX_SESSION_MB:g}`", "most one browser session may upload, all files "
             "of all its uploads together, in MB (never less than `CLOSP_MAX_UPLOAD_MB`)"),
    Variable(ENV_FILE_HOURS, "limits.file_hours", None, "a positive number",
             f"`{DEFAULT_FILE_HOURS:g}`", "how long Gradio keeps the files sessions upload or "
             "are sent (uploads, thumbnails, composites, exports), in hours: swept every "
             "quarter of that (at most hourly), all removed when the app stops"),
)  # fmt: skip
_BY_FIELD = {v.field: v for v in VARIABLES}


@dataclass(frozen=True)
class Limits:
    """How large a GeoTIFF the public demo accepts (closp_demo.upload.reader checks them).

    `max_bytes` is the file size (all files of one upload together), `max_session_bytes` the
    same over all uploads of one browser session; `max_pixels` counts pixels
    of one band; `max_unzipped_bytes` and `max_zip_ratio` bound what an uploaded ZIP declares.
    Every limit is checked on the file size or the TIFF header, before any pixel is read, so a
    hostile upload is refused without allocating memory for it. The defaults accept a full
    Sentinel-2 tile (10980 x 10980 px, 12 bands) when it fits in the upload size; the reader only
    ever holds a 512 px preview and at most `max_tiles` 120 x 120 tiles of it in memory
    (windowed reads).
    """

    max_bytes: int = int(DEFAULT_MAX_UPLOAD_MB * MB)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_side: int = DEFAULT_MAX_SIDE
    max_tiles: int = DEFAULT_MAX_TILES
    max_unzipped_bytes: int = int(DEFAULT_MAX_UNZIPPED_MB * MB)
    max_zip_ratio: float = DEFAULT_MAX_ZIP_RATIO
    max_session_bytes: int = int(DEFAULT_MAX_SESSION_MB * MB)
    file_hours: float = DEFAULT_FILE_HOURS

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_side", "max_tiles", "max_unzipped_bytes",
                     "max_zip_ratio", "max_session_bytes"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be at least 1, got {getattr(self, name)}")
        if not (self.file_hours > 0 and math.isfinite(self.file_hours)):
            raise ValueError(f"Limits.file_hours must be positive, got {self.file_hours}")

    @property
    def file_sweep(self) -> tuple[int, int]:
        """Gradio's `delete_cache` (every how many seconds, files older than how many): whole
        seconds, at least 1."""
        age = max(1, round(self.file_hours * 3600))
        return max(1, min(3600, age // 4)), age

    @property
    def max_upload_mb(self) -> float:
        return self.max_bytes / MB


@dataclass(frozen=True)
class Settings:
    """The validated configuration. `encoder` None means: the encoder the corpus was built with."""

    corpus: Path = DEFAULT_CORPUS
    encoder: str | None = None
    device: str = "auto"
    closp_model: str | None = None
    closp_revision: str | None = None
    trust_remote_code: bool = False
    s2_input: str = "reflectance"
    concurrency: int = 1
    torch_threads: int = 1
    text_backend: str = "auto"
    cache_dir: Path | None = None  # None: default_cache_dir()
    host: str = "127.0.0.1"
    port: int = 7860
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        object.__setattr__(self, "corpus", Path(self.corpus))  # frozen: normalise once, here
        try:
            object.__setattr__(self, "device", device_name(self.device))
        except ValueError:
            refuse("device", self.device, "is not a device")
        # The encoder name is checked against the registry where the encoder is created
        # (service.Explorer): settings sit below the encoders and do not import them.
        if self.encoder is not None and not self.encoder.strip():
            refuse("encoder", self.encoder, "is empty")
        if self.closp_revision is not None and not _COMMIT_SHA.fullmatch(self.closp_revision):
            refuse("closp_revision", self.closp_revision, "is not a commit sha")
        if self.s2_input not in S2_INPUTS:
            refuse("s2_input", self.s2_input, "is not a Sentinel-2 input scaling")
        if self.text_backend not in TEXT_BACKENDS:
            refuse("text_backend", self.text_backend, "is not a text backend")
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        for name, low, high in (("concurrency", 1, None), ("torch_threads", 1, None),
                                ("port", 1, 65535)):  # fmt: skip
            value = getattr(self, name)
            if not _whole(value) or value < low or (high is not None and value > high):
                refuse(name, value, "is out of range")
        if not self.host or any(c.isspace() for c in self.host):
            refuse("host", self.host, "is not a host name")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default: os.environ). Unset or empty variables take their
        defaults; anything else must be valid (SettingsError otherwise)."""
        env = os.environ if environ is None else environ

        def raw(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        values: dict[str, object] = {}
        for var in VARIABLES:
            text = raw(var.name)
            if text is None or var.field.startswith("limits."):
                continue
            if var.field in ("concurrency", "torch_threads", "port"):
                if not text.isdigit():
                    refuse(var.field, text, "is not a whole number")
                values[var.field] = int(text)
            elif var.field in ("s2_input", "text_backend"):
                values[var.field] = text.lower()
            elif var.field == "trust_remote_code":
                if text.lower() not in _TRUE + _FALSE:
                    refuse(var.field, text, "is not a yes/no value")
                values[var.field] = text.lower() in _TRUE
            else:
                values[var.field] = text
        values["limits"] = _limits_from(env)
        return cls(**values)  # type: ignore[arg-type]

    def override(self, **changes: object) -> Settings:
        """A copy with the given fields replaced, skipping None (a flag that was not given)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **given) if given else self  # type: ignore[arg-type]


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$CLOSP_CACHE_DIR, else $XDG_CACHE_HOME/closp-demo, else ~/.cache/closp-demo."""
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_CACHE_DIR, "").strip()
    if explicit:
        return Path(explicit)
    base = env.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "closp-demo"


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def refuse(field_name: str, value: object, problem: str, accepted: str | None = None) -> NoReturn:
    """Raise SettingsError for the setting `field_name` (named by its variable and flag)."""
    var = _BY_FIELD[field_name]
    who = f"{var.name} ({var.flag})" if var.flag else var.name
    raise SettingsError(f"{who}={value!r} {problem}; accepted: {accepted or var.accepted}")


def _limits_from(env: Mapping[str, str]) -> Limits:
    """Upload limits; numbers may use underscores (121_000_000) or exponents (1.21e8)."""

    def number(field_name: str, default: float) -> float:
        var = _BY_FIELD[field_name]
        text = env.get(var.name, "").strip().replace("_", "")
        if not text:
            return float(default)
        try:
            value = float(text)
        except ValueError:
            refuse(field_name, env[var.name], "is not a number")
        if not (value > 0 and math.isfinite(value)):
            refuse(field_name, env[var.name], "is not positive and finite")
        return value

    return Limits(
        max_bytes=max(1, int(number("limits.max_bytes", DEFAULT_MAX_UPLOAD_MB) * MB)),
        max_pixels=max(1, int(number("limits.max_pixels", DEFAULT_MAX_PIXELS))),
        max_side=max(1, int(number("limits.max_side", DEFAULT_MAX_SIDE))),
        max_tiles=max(1, int(number("limits.max_tiles", DEFAULT_MAX_TILES))),
        max_unzipped_bytes=max(
            1, int(number("limits.max_unzipped_bytes", DEFAULT_MAX_UNZIPPED_MB) * MB)
        ),
        max_zip_ratio=max(1.0, number("limits.max_zip_ratio", DEFAULT_MAX_ZIP_RATIO)),
        max_session_bytes=max(
            1, int(number("limits.max_session_bytes", DEFAULT_MAX_SESSION_MB) * MB)
        ),
        file_hours=number("limits.file_hours", DEFAULT_FILE_HOURS),
    )


def markdown_table() -> str:
    """README's configuration table, one row per variable."""
    rows = ["| variable | flag | accepted values | default | meaning |", "|---|---|---|---|---|"]
    for v in VARIABLES:
        flag = f"`{v.flag}`" if v.flag else ""
        rows.append(f"| `{v.name}` | {flag} | {v.accepted} | {v.default} | {v.meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
