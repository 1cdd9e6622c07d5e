"""Settings: every variable parsed, bad values refused naming the variable, defaults, overrides."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from closp_demo import settings as settings_module
from closp_demo.settings import DEFAULT_CORPUS, MB, VARIABLES, Limits, Settings, SettingsError
from tests.conftest import REPO_ROOT

SHA = "0123456789abcdef0123456789abcdef01234567"
# One valid, non-default value per variable and the attribute it must arrive at.
GOOD: dict[str, tuple[str, str, object]] = {
    "CLOSP_CORPUS": ("/data/corpus", "corpus", Path("/data/corpus")),
    "CLOSP_ENCODER": ("closp", "encoder", "closp"),
    "CLOSP_DEVICE": ("CUDA:1", "device", "cuda:1"),
    "CLOSP_MODEL": ("DarthReca/CLOSP-RN", "closp_model", "DarthReca/CLOSP-RN"),
    "CLOSP_REVISION": (SHA, "closp_revision", SHA),
    "CLOSP_TRUST_REMOTE_CODE": ("1", "trust_remote_code", True),
    "CLOSP_S2_INPUT": ("DN", "s2_input", "dn"),
    "CLOSP_CONCURRENCY": ("4", "concurrency", 4),
    "CLOSP_TORCH_THREADS": ("2", "torch_threads", 2),
    "CLOSP_TEXT_BACKEND": ("ONNX", "text_backend", "onnx"),
    "CLOSP_CACHE_DIR": ("/var/cache/closp", "cache_dir", Path("/var/cache/closp")),
    "GRADIO_SERVER_NAME": ("0.0.0.0", "host", "0.0.0.0"),
    "GRADIO_SERVER_PORT": ("8080", "port", 8080),
    "CLOSP_MAX_UPLOAD_MB": ("2.5", "limits.max_bytes", 2_500_000),
    "CLOSP_MAX_PIXELS": ("1_000_000", "limits.max_pixels", 1_000_000),
    "CLOSP_MAX_SIDE": ("2e4", "limits.max_side", 20_000),
    "CLOSP_MAX_TILES": ("9", "limits.max_tiles", 9),
    "CLOSP_MAX_UNZIPPED_MB": ("500", "limits.max_unzipped_bytes", 500_000_000),
    "CLOSP_MAX_ZIP_RATIO": ("20", "limits.max_zip_ratio", 20.0),
    "CLOSP_MAX_SESSION_MB": ("1_000", "limits.max_session_bytes", 1_000_000_000),
    "CLOSP_FILE_HOURS": ("0.5", "limits.file_hours", 0.5),
}
# Values each variable must refuse (with its name and accepted values in the message).
BAD: dict[str, list[str]] = {
    "CLOSP_DEVICE": ["tpu", "cuda:x", "gpu"],
    "CLOSP_REVISION": ["main", "v1.0", SHA[:-1], SHA + "0"],
    "CLOSP_TRUST_REMOTE_CODE": ["maybe", "2"],
    "CLOSP_S2_INPUT": ["reflectances", "10000", "raw"],
    "CLOSP_CONCURRENCY": ["0", "-1", "two", "1.5"],
    "CLOSP_TORCH_THREADS": ["0", "many"],
    "CLOSP_TEXT_BACKEND": ["numpy", "tensorflow"],
    "GRADIO_SERVER_PORT": ["0", "65536", "http", "-80"],
    "GRADIO_SERVER_NAME": ["local host"],
    "CLOSP_MAX_UPLOAD_MB": ["fifty", "0", "-1", "inf", "nan"],
    "CLOSP_MAX_PIXELS": ["lots", "0"],
    "CLOSP_MAX_SIDE": ["-5"],
    "CLOSP_MAX_TILES": ["lots", "-1", "0", "inf", "nan"],
    "CLOSP_MAX_UNZIPPED_MB": ["big", "0", "inf"],
    "CLOSP_MAX_ZIP_RATIO": ["-3", "nan"],
    "CLOSP_MAX_SESSION_MB": ["lots", "0", "-1"],
    "CLOSP_FILE_HOURS": ["a day", "0", "-6", "inf", "nan"],
}


def _get(settings: Settings, field: str) -> object:
    obj: object = settings
    for part in field.split("."):
        obj = getattr(obj, part)
    return obj


def test_every_variable_is_documented_and_tested():
    names = {v.name for v in VARIABLES}
    assert names == set(GOOD)
    assert len(names) == len(VARIABLES)
    for var in VARIABLES:  # each documented field exists on Settings
        _get(Settings(), var.field)


def test_defaults():
    s = Settings.from_env({})
    assert s == Settings()
    assert s.corpus == DEFAULT_CORPUS and s.encoder is None and s.device == "auto"
    assert s.closp_model is None and s.closp_revision is None and not s.trust_remote_code
    assert s.s2_input == "reflectance"  # the authors' training code divides before the model
    assert (s.concurrency, s.torch_threads, s.host, s.port) == (1, 1, "127.0.0.1", 7860)
    assert s.limits == Limits() and s.limits.max_bytes == 50 * MB and s.limits.max_tiles == 64
    assert s.limits.max_pixels >= 10980 * 10980 and s.limits.max_side >= 10980  # a full S2 tile
    # empty or blank is unset
    assert Settings.from_env({v.name: " " for v in VARIABLES}) == s


@pytest.mark.parametrize("name", sorted(GOOD))
def test_each_variable_is_parsed(name):
    raw, field, want = GOOD[name]
    s = Settings.from_env({name: raw})
    assert _get(s, field) == want
    untouched = Settings()
    for other in VARIABLES:  # and nothing else changed
        if other.name != name:
            assert _get(s, other.field) == _get(untouched, other.field), other.name


def test_yes_no_values():
    for raw in ("1", "true", "YES", "on"):
        assert Settings.from_env({"CLOSP_TRUST_REMOTE_CODE": raw}).trust_remote_code
    for raw in ("0", "false", "No", "off"):
        assert not Settings.from_env({"CLOSP_TRUST_REMOTE_CODE": raw}).trust_remote_code


@pytest.mark.parametrize(("name", "raw"), [(n, r) for n, values in BAD.items() for r in values])
def test_bad_values_are_refused_naming_the_variable_and_the_accepted_values(name, raw):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({name: raw})
    message = str(err.value)
    var = next(v for v in VARIABLES if v.name == name)
    assert message.startswith(name) and raw in message
    assert var.accepted in message


def test_flags_override_and_are_validated_too():
    base = Settings.from_env({"CLOSP_CORPUS": "/a", "GRADIO_SERVER_PORT": "8000"})
    s = base.override(corpus="/b", encoder=None, port=9000)
    assert (s.corpus, s.port, s.encoder) == (Path("/b"), 9000, None)
    assert base.override() is base and base.override(port=None) is base
    with pytest.raises(SettingsError, match=r"GRADIO_SERVER_PORT \(--port\)=70000"):
        base.override(port=70000)
    with pytest.raises(SettingsError, match=r"GRADIO_SERVER_NAME \(--host\)='my host'"):
        base.override(host="my host")


@pytest.mark.parametrize("name", ["clip", "CLOSP", "closp_rn"])
def test_an_unregistered_encoder_is_refused_at_start_naming_the_variable(name):
    # checked where encoders are created (settings sit below the encoders), before any loading
    from closp_demo.service import Explorer

    with pytest.raises(SettingsError) as err:
        Explorer(settings=Settings(encoder=name))
    assert str(err.value).startswith(f"CLOSP_ENCODER (--encoder)={name!r} is not a registered")
    assert "physics-minilm" in str(err.value)  # the accepted names themselves


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]


def test_readme_documents_every_variable_in_one_table(repo_root):
    readme = (repo_root / "README.md").read_text()
    assert settings_module.markdown_table() in readme
    for var in VARIABLES:  # one table: each variable has exactly one row
        assert readme.count(f"| `{var.name}` |") == 1, var.name


def test_package_reads_the_environment_only_in_settings(repo_root):
    # Setting a variable for a library is no setting read (gradio_compat: MPLBACKEND for
    # matplotlib, os.environ.setdefault); every other use of os.environ or getenv is.
    reads = re.compile(r"os\.environ(?!\.setdefault\()|getenv\(")
    offenders = [
        str(path.relative_to(repo_root))
        for path in [*(repo_root / "closp_demo").rglob("*.py"), repo_root / "app.py"]
        if path.name != "settings.py" and reads.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.slow
def test_app_refuses_to_start_with_a_bad_setting(tmp_path):
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py"), "--corpus", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CLOSP_")},
             "CLOSP_MAX_TILES": "lots"},
    )  # fmt: skip
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "cannot start: CLOSP_MAX_TILES='lots' is not a number" in out.stderr


@pytest.mark.parametrize(
    ("hours", "sweep"),
    [(6.0, (3600, 21600)), (2.0, (1800, 7200)), (0.01, (9, 36)), (0.0001, (1, 1))],
)
def test_file_hours_become_gradio_cache_sweeps(hours, sweep):
    # (every how many seconds, files older than how many seconds): swept every quarter of the
    # age, at most hourly, never every 0 s.
    assert Limits(file_hours=hours).file_sweep == sweep
