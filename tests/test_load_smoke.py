"""The load test (bench/load_test.py) at CI size: 4 sessions x 5 queries against the real app.

Full size (20 x 50, queue settings 1, 2, 4): `python -m bench.load_test --write BENCHMARKS.md`.
No timing assertions: only that every call is answered correctly and failures are counted.
"""

from __future__ import annotations

import pytest

from bench.common import write_section
from bench.load_test import (
    SECTION,
    TITLE,
    LoadTestError,
    check_loopback,
    recommend,
    report_body,
    run_round,
)
from tests.helpers.app_server import running_app

CLIENTS, QUERIES = 4, 5


@pytest.fixture(scope="module")
def app_url(small_corpus):
    with running_app(small_corpus, env={"CLOSP_CONCURRENCY": "2"}) as url:
        yield url


@pytest.mark.slow
def test_concurrent_sessions_get_every_answer_without_errors(app_url, tmp_path):
    result = run_round(app_url, CLIENTS, QUERIES, label="2", k=5, call_timeout_s=120)
    assert result.errors == []
    assert result.ok == CLIENTS * QUERIES == result.calls
    assert result.wall_s > 0 and result.throughput > 0
    report = tmp_path / "BENCHMARKS.md"
    report.write_text("# Benchmarks\n\nkept as is\n")
    command = f"python -m bench.load_test --clients {CLIENTS} --queries {QUERIES}"
    write_section(report, SECTION, TITLE, command, report_body([result], "0.5 / 0.5"), 0.0)
    text = report.read_text()
    assert "kept as is" in text and f"<!-- {SECTION}:start -->" in text and command in text
    p50, p95 = result.stat(50), result.stat(95)
    assert f"| 2 | {CLIENTS} x {QUERIES} | 0 | {p50:.0f} | {p95:.0f} |" in text


@pytest.mark.slow
def test_refused_queries_are_counted_as_errors(app_url):
    # An unknown sensor filter is refused by the app: every call must show up as an error.
    result = run_round(app_url, 2, 2, sensor="nowhere", call_timeout_s=120)
    assert result.ok == 0
    assert len(result.errors) == 4
    assert all("sensor must be one of" in line for line in result.errors), result.errors
    assert recommend([result]) is None


@pytest.mark.parametrize(
    "url", ["http://example.com:7860/", "http://10.0.0.5:7860/", "ftp://127.0.0.1/", "127.0.0.1"]
)
def test_only_loopback_urls_are_load_tested(url):
    with pytest.raises(LoadTestError, match="only http://127.0.0.1"):
        check_loopback(url)
    assert check_loopback("http://127.0.0.1:7860/") == "http://127.0.0.1:7860/"
