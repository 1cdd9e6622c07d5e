"""The evaluation on a built corpus: CLI report, live report and chart, cross-sensor consistency."""

import numpy as np
from matplotlib.figure import Figure

from closp_demo.corpus.store import load_corpus
from closp_demo.encoders import create_encoder
from closp_demo.evaluation.chart import per_query_chart
from closp_demo.evaluation.cli import evaluate_loaded, main
from closp_demo.evaluation.cross_sensor import twin_recall


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


def test_live_report_and_chart(small_corpus):
    corpus = load_corpus(small_corpus, verify_checksums=False)
    text, result = evaluate_loaded(corpus, create_encoder("physics-minilm"), queries_kind="classes")
    assert result is not None and "Cross-sensor" in text
    s2 = result.reports["S2"]
    # the physics baseline must beat random on the labelled real patches
    assert s2.means["nDCG@10"] > s2.random_expected["nDCG@10"]
    fig = per_query_chart(result)
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "Water" in labels and "Earthquake Damage" not in labels  # no relevant image: not drawn


def test_twin_recall_on_constructed_pairs():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 16))
    s1 = base + 0.01 * rng.normal(size=base.shape)
    vectors = np.concatenate([s1, base])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    out = twin_recall(vectors, ["S1"] * 5 + ["S2"] * 5, [f"g{i}" for i in range(5)] * 2)
    assert out["S1->S2"]["R@1"] == 1.0 and out["S2->S1"]["MRR"] == 1.0
    shuffled = twin_recall(
        vectors, ["S1"] * 5 + ["S2"] * 5, [f"g{i}" for i in (0, 1, 2, 3, 4, 1, 2, 3, 4, 0)]
    )
    assert shuffled["S1->S2"]["R@1"] < 1.0
