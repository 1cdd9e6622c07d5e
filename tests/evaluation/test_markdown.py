"""The evaluation report as Markdown: metric tables per sensor, per-query tables."""

from __future__ import annotations

import pytest

from closp_demo.evaluation.markdown import markdown_table
from closp_demo.evaluation.queries import load_queries
from tests.helpers.evaluation import label_share_result


def test_markdown_report(ben: dict) -> None:
    queries = load_queries("all")
    result = label_share_result(ben, queries, n_shuffles=10)
    text = result.to_markdown(per_query=True)
    assert "### S1 (Sentinel-1 SAR)" in text and "### S2 (Sentinel-2 MSI)" in text
    assert "### both (S1 + S2, one mixed corpus)" in text
    assert "@100, @1000 not reported" in text and "@1000 not reported" in text
    assert "random, Monte-Carlo (10 shuffles, seed 0)" in text
    # The label-share encoder ranks ideally: nDCG and MAP 1, at or above the presence oracle.
    assert "| all (n=" in text and "| model | 1.000 |" in text
    assert "|  | presence oracle, expected |" in text
    for report in result.reports.values():
        assert report.means["nDCG@10"] >= report.oracle_expected["nDCG@10"]
        assert report.oracle_expected["AP"] == 1.0
    assert "| snow covered mountains |" not in text  # no relevant image: not listed per query
    assert "| Water | class |" in text and "| lake | paraphrase |" in text


def test_per_query_markdown_matches_the_query_table(mixed_kinds_result) -> None:
    result = mixed_kinds_result
    table = result.reports["S2"].query_table("nDCG@3")
    text = result.to_markdown(per_query="class")
    assert "| presence oracle, expected |" in text
    water_row = table.iloc[0]
    assert (
        f"| Water | 3 | {water_row.mean_relevant_gain:.3f} | {water_row.model:.3f} | "
        f"{water_row.random:.3f} | {water_row.oracle:.3f} |"
    ) in text
    assert "| a lake |" not in text and "| Snow and Ice |" not in text  # other kind / no R
    assert "| a lake | paraphrase |" in result.to_markdown(per_query=True)
    assert "| Water | 3 |" not in result.to_markdown()
    with pytest.raises(ValueError, match="unknown query kind"):
        result.to_markdown(per_query="classes")


def test_markdown_table_escapes_pipes() -> None:
    assert markdown_table([["a|b", "c"], ["1", "2"]]) == ["| a\\|b | c |", "|---|---|", "| 1 | 2 |"]
