"""Shared fixtures. Real data only: the shared Sentinel samples and GeoTIFFs written by rasterio."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Gradio's file caches (the test apps' uploads and outputs, the clients' downloads; ~12 MB a run)
# go to one folder per run, removed at its end, not to /tmp/gradio for good. Set before gradio
# is imported: it reads the variable once.
_GRADIO_CACHE = tempfile.TemporaryDirectory(prefix="closp-tests-gradio-")
os.environ["GRADIO_TEMP_DIR"] = _GRADIO_CACHE.name


def samples_root() -> Path:
    """The shared real Sentinel samples (../shared/data/sentinel-samples beside the checkout)."""
    env = os.environ.get("CLOSP_SAMPLES_DIR")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "data" / "sentinel-samples"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    root = samples_root()
    if not (root / "README.md").exists():
        pytest.fail(f"shared Sentinel samples not found at {root} (set CLOSP_SAMPLES_DIR)")
    return root


@pytest.fixture(scope="session")
def small_corpus(samples_dir, tmp_path_factory) -> Path:
    """A real corpus built by the real build path from the BigEarthNet slice of the samples."""
    from closp_demo.corpus.build import build

    out = tmp_path_factory.mktemp("corpus") / "precomputed"
    build(samples_dir, out, "physics-minilm", ["bigearthnet"], "pytest small_corpus")
    return out


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through playwright (helpers/browser.py), one per test module."""
    from tests.helpers.browser import CHROMIUM, CHROMIUM_MISSING, launch

    if CHROMIUM is None:
        pytest.skip(CHROMIUM_MISSING)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = launch(pw)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def app_url(small_corpus):
    """One app (`python app.py`) on the small corpus, shared by the test modules that only read
    from it; a module needing its own settings defines its own `app_url`."""
    from tests.helpers.app_server import running_app

    with running_app(small_corpus) as url:
        yield url
