"""Upload limits from the environment (`closp_demo.upload.limits`)."""

from __future__ import annotations

import pytest

from closp_demo.upload.limits import MB, Limits


def test_limits_from_env(monkeypatch: pytest.MonkeyPatch):
    for var in ("CLOSP_MAX_UPLOAD_MB", "CLOSP_MAX_PIXELS", "CLOSP_MAX_SIDE", "CLOSP_MAX_TILES"):
        monkeypatch.delenv(var, raising=False)
    default = Limits.from_env()
    assert default == Limits()
    assert default.max_bytes == 50 * MB and default.max_tiles == 64
    assert default.max_pixels >= 10980 * 10980 and default.max_side >= 10980
    monkeypatch.setenv("CLOSP_MAX_UPLOAD_MB", "2.5")
    monkeypatch.setenv("CLOSP_MAX_PIXELS", "1_000_000")
    monkeypatch.setenv("CLOSP_MAX_TILES", "9")
    assert Limits.from_env() == Limits(2_500_000, 1_000_000, default.max_side, 9)
    for bad in ("lots", "-1", "0", "inf", "nan"):
        monkeypatch.setenv("CLOSP_MAX_TILES", bad)
        with pytest.raises(ValueError, match="CLOSP_MAX_TILES"):
            Limits.from_env()
