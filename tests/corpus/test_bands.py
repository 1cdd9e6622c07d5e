"""Compact band storage: round trip within the stated quantisation, no-data kept, deterministic
archives, and an honest message when a corpus stores no bands."""

import hashlib

import numpy as np
import pytest

from closp_demo.corpus.bands import BandsMissing, BandStore, decode, encode, write_bands


def test_s2_round_trip_error_is_below_the_sqrt_step():
    dn = np.array([[[0.0, 30.0, 300.0, 3000.0, 9000.0, 12000.0]]], dtype=np.float32)
    back = decode(encode(dn, "S2"), "S2")
    assert back[0, 0, 0] == 0.0  # no-data stays exactly 0
    refl = dn / 10000
    # half a step of v = 255 sqrt(r): |dr| <= sqrt(r)/255 + 1/(4 * 255^2)
    bound = np.sqrt(np.minimum(refl, 1.0)) / 255 + 1 / (4 * 255**2)
    assert np.all(np.abs(back / 10000 - np.minimum(refl, 1.0)) <= bound + 1e-7)
    assert back[0, 0, -1] == pytest.approx(10000.0)  # reflectance above 1 clips to 1


def test_s1_round_trip_keeps_nan_and_0_05_db():
    db = np.array([[[-25.04, np.nan, 3.3]], [[-59.9, -12.0, 10.0]]], dtype=np.float32)
    back = decode(encode(db, "S1"), "S1")
    assert np.isnan(back[0, 0, 1])
    finite = np.isfinite(db)
    assert np.all(np.abs(back[finite] - db[finite]) <= 0.05 + 1e-5)  # half a 0.1 dB step


def test_archive_is_byte_identical_when_rebuilt(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [encode(rng.uniform(0, 4000, (12, 8, 8)).astype(np.float32), "S2") for _ in range(3)]
    digests = []
    for name in ("a.zip", "b.zip"):
        write_bands(tmp_path / name, arrays)
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    (tmp_path / "bands.zip").write_bytes((tmp_path / "a.zip").read_bytes())
    store = BandStore(tmp_path)
    assert np.array_equal(store.image(1, "S2"), decode(arrays[1], "S2"))
    with pytest.raises(BandsMissing, match="row 7"):
        store.image(7, "S2")


def test_a_corpus_without_bands_says_so(tmp_path):
    with pytest.raises(BandsMissing, match="not stored in this corpus"):
        BandStore(tmp_path).image(0, "S1")
