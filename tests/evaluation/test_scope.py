"""The out-of-scope report: shares flagged per list, written as a section (real MiniLM)."""

from __future__ import annotations

import pytest

from closp_demo.encoders import create_encoder
from closp_demo.evaluation import scope


@pytest.fixture(scope="module")
def report():
    return scope.scope_report(create_encoder("physics-minilm"))


def test_every_list_is_measured_with_its_flags(report):
    _, rows = report
    names = [r.name for r in rows]
    assert names[:4] == ["in-domain, calibration", "off-domain, calibration",
                         "in-domain, check (held out)", "off-domain, check (held out)"]  # fmt: skip
    by_name = {r.name: r for r in rows}
    assert by_name["off-domain, check (held out)"].share >= 0.9
    assert by_name["in-domain, check (held out)"].share <= 0.1
    assert by_name["cloud queries"].flagged == ()
    for r in rows:
        assert set(r.flagged) <= set(r.queries) and 0 <= r.share <= 1


def test_report_names_the_misses(report):
    text, rows = report
    assert "threshold" in text and "| off-domain, check (held out) | 24 |" in text
    for r in rows:
        for q in r.flagged if r.kind == "in-domain" else []:
            assert f"'{q}'" in text


def test_cli_writes_its_section(tmp_path, capsys):
    out = tmp_path / "B.md"
    out.write_text("# Benchmarks\n")
    assert scope.main(["--write", str(out)]) == 0
    text = out.read_text()
    assert "<!-- eval-scope:start -->" in text and "python -m closp_demo.evaluation.scope" in text
    assert "share flagged" in capsys.readouterr().out
