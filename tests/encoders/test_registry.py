"""The encoder registry: released CLOSP models as names with their data, `--encoder list`, and
what a corpus manifest's encoder name means (tiny local checkpoints; no network)."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from closp_demo.corpus import build, build_subset
from closp_demo.corpus.build import embed_records, write_corpus
from closp_demo.corpus.sources import bigearthnet
from closp_demo.corpus.store import CorpusError, load_corpus
from closp_demo.encoders import available, create_encoder
from closp_demo.encoders.closp import CLOSPLoadError
from closp_demo.encoders.registry import listing, load_models, releases
from closp_demo.evaluation import cli as evaluation_cli
from closp_demo.evaluation import flood
from closp_demo.settings import Settings
from tests.conftest import REPO_ROOT
from tests.encoders import closp_fixtures as fx
from tests.encoders.test_closp import REVISION, offline_hub, s2_images

RELEASED = {"closp-rn": "CLOSP-RN", "closp-vs": "CLOSP-VS", "closp-vl": "CLOSP-VL",
            "geoclosp-rn": "GeoCLOSP-RN"}  # fmt: skip


def test_every_released_model_is_its_own_name_with_its_data():
    models = load_models()
    assert set(models) == {"physics-minilm", "closp", *RELEASED}
    for name, release in RELEASED.items():
        spec = models[name]
        assert spec["family"] == "closp" and spec["release"] == release
        assert spec["repo_id"] == f"DarthReca/{release}"
        assert spec["revision"].startswith("UNPINNED")  # the real sha is unknown here
        assert releases()[release]["encoder"] == name
    assert models["geoclosp-rn"]["location_encoder"] and not models["closp-rn"]["location_encoder"]


def test_listing_describes_every_encoder():
    text = listing()
    for name, description in available().items():
        assert any(line.startswith(name + " ") and description in line for line in text.split("\n"))
    for release in RELEASED.values():
        assert f"hub DarthReca/{release} @ unpinned: set CLOSP_REVISION" in text


@pytest.mark.parametrize("main", [build.main, build_subset.main, evaluation_cli.main, flood.main],
                         ids=["build", "build_subset", "evaluate", "flood"])  # fmt: skip
def test_the_clis_list_the_encoders_and_exit_0(main, capsys):
    with pytest.raises(SystemExit) as done:
        main(["--encoder", "list"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == listing()
    with pytest.raises(SystemExit) as done:
        main(["--encoder", "closp_rn"])
    assert done.value.code == 2 and "--encoder list" in capsys.readouterr().err


def test_the_app_lists_the_encoders_and_exits_0():
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py"), "--encoder", "list"],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == listing()


def test_released_names_refuse_the_placeholder_revision():
    trusted = Settings(trust_remote_code=True, device="cpu")
    for name in RELEASED:
        with pytest.raises(CLOSPLoadError, match="UNPINNED"):
            create_encoder(name, trusted)
    with pytest.raises(CLOSPLoadError, match="names another model"):
        create_encoder("closp-rn", Settings(closp_model="Someone/Else", device="cpu"))


def test_a_released_name_builds_the_released_architecture(tmp_path):
    # a tiny checkpoint as CLOSP_MODEL for closp-rn: the registry's ResNet-50 arch is what it
    # is checked against, so it does not fit
    text = fx.write_text_model(tmp_path / "text")
    sd = fx.write_state_dict(tmp_path / "tiny.safetensors",
                             fx.closp_state_dict(fx.TINY_RESNET_ARCH, text))  # fmt: skip
    with pytest.raises(CLOSPLoadError, match="does not fit the CLOSP image backbones"):
        create_encoder("closp-rn", Settings(closp_model=str(sd), device="cpu"), text_model=text)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """Tiny weights cached as if they were DarthReca/CLOSP-RN at REVISION, and as a folder."""
    root = tmp_path_factory.mktemp("registry")
    text = fx.write_text_model(root / "text")
    state = fx.closp_state_dict(fx.TINY_RESNET_ARCH, text, seed=4)
    fx.write_hub_cache(root / "hub", "DarthReca/CLOSP-RN", REVISION, state, fx.TINY_RESNET_ARCH)
    folder = fx.write_model_dir(root / "CLOSP-RN-copy", state, fx.TINY_RESNET_ARCH)
    settings = Settings(closp_revision=REVISION, trust_remote_code=True, device="cpu")
    local = settings.override(closp_model=str(folder))
    with offline_hub(root / "modules"):
        encoders = {
            "closp-rn": create_encoder("closp-rn", settings, cache_dir=root / "hub"),
            "closp=CLOSP-RN": create_encoder(
                "closp", settings.override(closp_model="CLOSP-RN"), cache_dir=root / "hub"
            ),
            "closp=hub id": create_encoder(
                "closp", settings.override(closp_model="DarthReca/CLOSP-RN"),
                cache_dir=root / "hub",
            ),
            "closp-rn=folder": create_encoder("closp-rn", local),
            "closp=folder": create_encoder("closp", local),
        }  # fmt: skip
    return root, encoders


def test_a_release_has_one_identity_however_it_is_named(hub):
    _, enc = hub
    named = enc["closp-rn"].info
    assert (named.id, named.version, named.name) == ("closp-rn", "1+" + REVISION[:12], "CLOSP-RN")
    for key in ("closp=CLOSP-RN", "closp=hub id"):
        info = enc[key].info
        assert (info.id, info.version, info.dim) == (named.id, named.version, named.dim), key
    # the same weights from a local folder: the same name, another version (the file's digest)
    copy = enc["closp-rn=folder"].info
    assert copy.id == "closp-rn" and copy.version.startswith("1+dir-")
    # a folder through the generic name is not claimed to be a release
    assert enc["closp=folder"].info.id == "closp"
    images = s2_images(2, seed=8)
    reference = enc["closp-rn"].encode_images(images, "S2")
    for e in enc.values():
        np.testing.assert_allclose(e.encode_images(images, "S2"), reference, atol=1e-5)


def test_corpora_are_matched_by_name_then_version(hub, samples_dir):
    """A corpus built with `closp` + CLOSP_MODEL=CLOSP-RN is served by `closp-rn` (one model);
    one built from a folder through `closp` is refused by `closp-rn` by name."""
    root, enc = hub
    records = list(itertools.islice(bigearthnet.iter_records(samples_dir), 4))

    def corpus(key: str):
        out = root / f"corpus-{key.replace('=', '-').replace(' ', '-')}"
        thumbs = out.parent / f"{out.name}-thumbs"
        thumbs.mkdir()
        rows, vectors = embed_records(records, enc[key], thumbs, progress=False)
        write_corpus(out, rows, vectors, enc[key], "pytest", thumbs)
        return out

    by_alias = corpus("closp=CLOSP-RN")
    assert load_corpus(by_alias).encoder_id == "closp-rn"  # a registered name: the app picks it
    load_corpus(by_alias, expected_encoder=enc["closp-rn"].info)  # accepted
    with pytest.raises(CorpusError, match=r"built with encoder closp-rn .* loaded closp v"):
        load_corpus(by_alias, expected_encoder=enc["closp=folder"].info)
    with pytest.raises(CorpusError, match="rebuild the corpus"):  # same name, other weights
        load_corpus(by_alias, expected_encoder=enc["closp-rn=folder"].info)
    by_folder = corpus("closp=folder")
    with pytest.raises(CorpusError, match=r"built with encoder closp v.* loaded closp-rn v"):
        load_corpus(by_folder, expected_encoder=enc["closp-rn"].info)
