"""CrisisLandMark queries.jsonl + qrels reader, on fixtures written in each plausible format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from closp_demo.evaluation.qrels import (
    QrelsFormatError,
    available_splits,
    classes_in_text,
    detect_qrels_format,
    load_crisislandmark_qrels,
    qrels_gains,
    read_qrels_file,
    read_queries_jsonl,
)
from closp_demo.evaluation.run import run_evaluation

QUERIES = [
    {"_id": "q1", "text": "Water", "metadata": {}},
    {"_id": "q2", "text": "Trees, Crops and Water"},
    {"_id": "q3", "text": "a flooded town"},
]
EXPECTED = {"q1": {"img-a": 1, "img-b": 2}, "q2": {"img-c": 1}}
BEIR = "query-id\tcorpus-id\tscore\nq1\timg-a\t1\nq1\timg-b\t2\n\nq2\timg-c\t1\n"
TREC = "q1 0 img-a 1\nq1 Q0 img-b 2\nq2\t0\timg-c\t1\n"


def make_dataset(root: Path, files: dict[str, str], queries: list[dict] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(q) for q in (QUERIES if queries is None else queries)]
    (root / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "qrels").mkdir(exist_ok=True)
    for name, text in files.items():
        (root / "qrels" / name).write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        (BEIR, "beir"),
        (BEIR.split("\n", 1)[1], "beir"),  # BEIR without its header
        (BEIR.replace("query-id", "query_id").replace("corpus-id", "corpus_id"), "beir"),
        (TREC, "trec"),
        ("\ufeff" + TREC.replace("\n", "\r\n"), "trec"),  # BOM and Windows line ends
        (BEIR.replace("\t1\n", "\t1.0\n"), "beir"),
    ],
)
def test_each_format_reads_the_same_judgements(tmp_path: Path, text: str, fmt: str) -> None:
    path = tmp_path / "test.tsv"
    path.write_text(text, encoding="utf-8")
    assert detect_qrels_format(path) == fmt
    assert read_qrels_file(path) == EXPECTED


def test_load_dataset_returns_judged_queries_and_qrels(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "clm", {"test.tsv": BEIR})
    queries, qrels = load_crisislandmark_qrels(root, "test")
    assert qrels == EXPECTED
    # q3 has no judgement in this split: dropped.
    assert [q.query_id for q in queries] == ["q1", "q2"]
    assert queries[0].classes == ("Water",) and queries[0].kind == "qrels"
    assert queries[1].classes == ("Water", "Trees", "Crops")
    # The qrels folder itself works too, and None picks the only split.
    assert load_crisislandmark_qrels(root / "qrels", None) == (queries, qrels)


@pytest.mark.parametrize(
    ("id_key", "text_key", "qid"),
    [("query_id", "query", "q1"), ("id", "text", 7), ("qid", "query", "x")],
)
def test_query_id_and_text_keys(tmp_path: Path, id_key: str, text_key: str, qid) -> None:
    path = tmp_path / "queries.jsonl"
    path.write_text(json.dumps({id_key: qid, text_key: " burned area "}) + "\n\n", encoding="utf-8")
    (query,) = read_queries_jsonl(path)
    assert query.query_id == str(qid) and query.text == "burned area"
    assert query.classes == ("Burned Area",)


def test_split_choice(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "a", {"dev.tsv": "q1\timg-z\t1\n", "test.txt": TREC})
    assert sorted(available_splits(root)) == ["dev", "test"]
    assert load_crisislandmark_qrels(root)[1] == EXPECTED  # None -> "test"
    assert load_crisislandmark_qrels(root, "dev")[1] == {"q1": {"img-z": 1}}
    with pytest.raises(ValueError, match=r"no qrels split 'val'; available: \['dev', 'test'\]"):
        load_crisislandmark_qrels(root, "val")
    other = make_dataset(tmp_path / "b", {"dev.tsv": BEIR, "train.tsv": BEIR})
    with pytest.raises(ValueError, match="choose one"):
        load_crisislandmark_qrels(other)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("q1 img-a 1\n", 1, "unrecognised qrels format"),
        ("query-id\tcorpus-id\tscore\nq1\timg-a\n", 2, "3 tab-separated fields"),
        ("q1\timg-a\t1\nq1\timg-b\thigh\n", 2, "integer score"),
        ("q1\timg-a\t1\nq1\timg-a\t2\n", 2, "judged 1 earlier, now 2"),
        ("q1 0 img-a 1\n\nq1 0 img-b\n", 3, "4 fields"),
        ("q1 0 img-a 1\nq1 X img-b 1\n", 2, "4 fields"),
        ("q1 0 img-a 1\nq1 0 img-b 0.5\n", 2, "integer score"),
        ("query-id\tdoc\tscore\n", 1, "unrecognised"),
        ("q1\t\t1\n", 1, "document id"),
    ],
)
def test_malformed_qrels_name_file_and_line(tmp_path: Path, text: str, line: int, message) -> None:
    path = tmp_path / "test.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QrelsFormatError, match=message) as err:
        read_qrels_file(path)
    assert f"{path}, line {line}:" in str(err.value)
    assert err.value.line == line


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty qrels file"), ("query-id\tcorpus-id\tscore\n", "no judgement")],
)
def test_empty_qrels_raise(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "test.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QrelsFormatError, match=message):
        read_qrels_file(path)


@pytest.mark.parametrize(
    ("lines", "line", "message"),
    [
        (['{"_id": "q1", "text": "Water"}', "{not json"], 2, "not valid JSON"),
        (['["q1", "Water"]'], 1, "JSON object"),
        (['{"name": "q1", "text": "Water"}'], 1, "no id field"),
        (['{"_id": "q1", "title": "Water"}'], 1, "no text field"),
        (['{"_id": "q1", "text": ""}'], 1, "non-empty string"),
        (['{"_id": null, "text": "Water"}'], 1, "string or integer"),
        (['{"_id": "q1", "text": "a"}', '{"_id": "q1", "text": "b"}'], 2, "appears twice"),
    ],
)
def test_malformed_queries_name_file_and_line(tmp_path: Path, lines, line, message) -> None:
    path = tmp_path / "queries.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(QrelsFormatError, match=message) as err:
        read_queries_jsonl(path)
    assert f"{path}, line {line}:" in str(err.value)


def test_qrels_naming_an_unknown_query_raise(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "c", {"test.tsv": BEIR + "q9\timg-a\t1\n"})
    with pytest.raises(QrelsFormatError, match=r"1 query id\(s\) not in queries.jsonl: 'q9'"):
        load_crisislandmark_qrels(root)


def test_missing_files_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_crisislandmark_qrels(tmp_path / "nowhere")
    (tmp_path / "d").mkdir()
    with pytest.raises(FileNotFoundError, match="no 'qrels/' folder"):
        load_crisislandmark_qrels(tmp_path / "d")
    (tmp_path / "d" / "qrels").mkdir()
    with pytest.raises(FileNotFoundError, match=r"queries\.jsonl not found"):
        load_crisislandmark_qrels(tmp_path / "d")
    (tmp_path / "d" / "queries.jsonl").write_text(json.dumps(QUERIES[0]) + "\n")
    (tmp_path / "d" / "qrels" / "README.md").write_text("not qrels")
    with pytest.raises(FileNotFoundError, match="no qrels file"):
        load_crisislandmark_qrels(tmp_path / "d")


@pytest.mark.parametrize(
    ("text", "classes"),
    [
        ("Water", ("Water",)),
        ("water", ("Water",)),
        ("Shrub and Scrub", ("Shrub and Scrub",)),
        ("Crops; Shrub and Scrub & Built.", ("Crops", "Shrub and Scrub", "Built")),
        ("Flooded Area or Flooded Vegetation", ("Flooded Vegetation", "Flooded Area")),
        ("an image of water", ()),
        ("Waterfront", ()),
        ("", ()),
    ],
)
def test_classes_in_text(text: str, classes: tuple[str, ...]) -> None:
    assert classes_in_text(text) == classes


def test_qrels_gains_and_an_evaluation_from_them(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "e", {"test.tsv": BEIR + "q2\timg-a\t-1\n"})
    queries, qrels = load_crisislandmark_qrels(root)
    corpus = ["img-a", "img-b", "img-c", "img-d"]
    gains = qrels_gains(qrels, queries, corpus)
    # q1: a=1, b=2; q2: c=1, a=-1 (TREC "junk") clamped to 0; img-d unjudged -> 0.
    np.testing.assert_array_equal(gains, [[1, 2, 0, 0], [0, 0, 1, 0]])
    # Scores that follow the gains rank perfectly: nDCG and AP are 1 for both queries.
    images = np.eye(4, dtype=np.float32)
    result = run_evaluation(
        gains.astype(np.float32), images, None, ["S2"] * 4, queries, ks=(1, 2), gains=gains
    )
    report = result.reports["S2"]
    assert set(result.reports) == {"S2"} and result.relevance == "given"
    assert report.means["nDCG@2"] == pytest.approx(1.0) and report.means["AP"] == 1.0


def test_qrels_gains_rejects_id_mismatch(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "f", {"test.tsv": BEIR})
    queries, qrels = load_crisislandmark_qrels(root)
    with pytest.raises(ValueError, match="no qrels document id is in the corpus"):
        qrels_gains(qrels, queries, ["S2_0001", "S2_0002"])
    with pytest.raises(ValueError, match="not unique"):
        qrels_gains(qrels, queries, ["img-a", "img-a"])
