"""The evaluation CLI on a built corpus: report sections, per-query tables, the live report."""

from closp_demo.evaluation.cli import main


def test_cli_writes_a_section_and_keeps_the_rest(small_corpus, tmp_path):
    out = tmp_path / "B.md"
    out.write_text("# Title\n\nkeep me\n")
    main(["--corpus", str(small_corpus), "--source", "bigearthnet", "--split", "train",
          "--queries", "classes", "--write", str(out)])  # fmt: skip
    text = out.read_text()
    assert "keep me" in text and "<!-- eval-bigearthnet-train:start -->" in text
    assert "### S1" in text and "### S2" in text and "nDCG@10" in text and "random" in text
    main(["--corpus", str(small_corpus), "--source", "bigearthnet", "--split", "train",
          "--queries", "classes", "--write", str(out)])  # fmt: skip
    assert out.read_text().count("eval-bigearthnet-train:start") == 1  # replaced, not appended
    assert "presence oracle, expected" in text and "Per query" not in text


def test_cli_per_query_tables(small_corpus, capsys):
    main(["--corpus", str(small_corpus), "--source", "bigearthnet", "--per-query"])
    text = capsys.readouterr().out
    # One per-query table per sensor subset, class-name queries only (the bare flag).
    assert text.count("Per query (class names") == 3
    header = "| query | relevant images | mean relevant gain | nDCG@10 model |"
    assert text.count(header) == 3
    assert "| Water |" in text and "| open water |" not in text


def test_live_report(live_report):
    text, result = live_report
    assert result is not None and "Cross-sensor" in text
    s2 = result.reports["S2"]
    # the physics baseline must beat random on the labelled real patches
    assert s2.means["nDCG@10"] > s2.random_expected["nDCG@10"]


def test_cli_binary_relevance_has_its_own_section(small_corpus, tmp_path):
    out = tmp_path / "B.md"
    args = ["--corpus", str(small_corpus), "--source", "bigearthnet", "--split", "train",
            "--queries", "classes", "--write", str(out)]  # fmt: skip
    main(args)
    main([*args, "--relevance", "binary"])
    text = out.read_text()
    assert text.count("eval-bigearthnet-train:start") == 1
    assert text.count("eval-bigearthnet-train-binary:start") == 1
    binary = text.split("eval-bigearthnet-train-binary:start")[1]
    assert "binary: the image carries one of the query's classes" in binary
    # Under binary relevance the presence oracle is a perfect ranking (nDCG 1).
    oracle = next(line for line in binary.splitlines() if "presence oracle, expected" in line)
    assert oracle.split("|")[3].strip() == "1.000"
