"""Reader for CrisisLandMark's `queries.jsonl` + `qrels/` relevance judgements.

CrisisLandMark ships these files without documenting their format. Assumptions, all checked:
- `folder` holds `queries.jsonl` and a `qrels/` folder (passing the `qrels/` folder itself also
  works when `queries.jsonl` sits beside it);
- `queries.jsonl` (BEIR style): one JSON object per line, the id under "_id", "query_id", "id" or
  "qid" (string or integer), the text under "text" or "query"; other keys are ignored; blank
  lines are skipped; ids are unique;
- `qrels/` holds one file per split, named `<split>.tsv` (or .txt, .qrels, .trec); the format of
  each file is detected from its first non-blank line:
  * BEIR TSV: `query-id<TAB>corpus-id<TAB>score`, with that header (or without one);
  * TREC: `qid 0 docid rel`, whitespace-separated, iteration column "0" or "Q0";
  scores are integers (a float like "1.0" is accepted when integral); every line of a file must
  follow its format; a (query, document) pair judged twice with different scores is an error;
- a qrels query id must appear in `queries.jsonl`; queries without judgements in the chosen split
  are dropped from the returned list;
- `split=None` picks the only split, else "test" (the BEIR convention), else it is an error;
- document ids are CrisisLandMark's h5 keys: `python -m closp_demo.evaluation --qrels` matches
  them to a built corpus's `source_key` column (its `group` column for corpora built before it).
Anything else raises `QrelsFormatError` naming the file and line. Scores <= 0 mean not relevant
(`qrels_gains` clamps negative TREC "junk" scores to 0).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from closp_demo.corpus.labels import ALL_CLASSES
from closp_demo.evaluation.queries import Query

QUERIES_FILE = "queries.jsonl"
QRELS_DIR = "qrels"
QRELS_SUFFIXES: tuple[str, ...] = (".tsv", ".txt", ".qrels", ".trec")
ID_KEYS: tuple[str, ...] = ("_id", "query_id", "id", "qid")
TEXT_KEYS: tuple[str, ...] = ("text", "query")
BEIR_HEADER: tuple[str, ...] = ("query-id", "corpus-id", "score")
QrelsFormat = Literal["beir", "trec"]
Qrels = dict[str, dict[str, int]]


class QrelsFormatError(ValueError):
    """A queries or qrels file that does not follow any supported format."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path, self.line = path, line


# --------------------------------------------------------------------------------------------
# queries.jsonl


def read_queries_jsonl(path: Path) -> list[Query]:
    """Queries of a BEIR-style JSONL file, kind "qrels", classes parsed from their text."""
    path = Path(path)
    queries: list[Query] = []
    seen: set[str] = set()
    for number, line in _lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QrelsFormatError(path, number, f"not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise QrelsFormatError(path, number, "expected a JSON object per line")
        qid = _first(obj, ID_KEYS, path, number, "id")
        text = _first(obj, TEXT_KEYS, path, number, "text")
        if isinstance(qid, bool) or not isinstance(qid, str | int) or not str(qid).strip():
            raise QrelsFormatError(path, number, f"query id must be a string or integer: {qid!r}")
        if not isinstance(text, str) or not text.strip():
            raise QrelsFormatError(path, number, f"query text must be a non-empty string: {text!r}")
        qid = str(qid).strip()
        if qid in seen:
            raise QrelsFormatError(path, number, f"query id {qid!r} appears twice")
        seen.add(qid)
        queries.append(Query(text.strip(), classes_in_text(text), "qrels", qid))
    if not queries:
        raise QrelsFormatError(path, None, "no query found")
    return queries


def _first(obj: dict, keys: Sequence[str], path: Path, number: int, what: str) -> object:
    for key in keys:
        if key in obj:
            return obj[key]
    raise QrelsFormatError(path, number, f"no {what} field (one of {list(keys)}): {sorted(obj)}")


_CLASS_PATTERNS = [
    (name, re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE))
    for name in sorted(ALL_CLASSES, key=len, reverse=True)  # "Shrub and Scrub" before "and"
]
_SEPARATORS = re.compile(r"(?:[\s,;/&|+.]|\band\b|\bor\b)+", re.IGNORECASE)


def classes_in_text(text: str) -> tuple[str, ...]:
    """The classes a query text lists, when it is only class names ("Trees, Crops and Water").

    Any other word makes it free text and gives (): relevance then comes from the qrels alone.
    """
    rest, found = text, set()
    for name, pattern in _CLASS_PATTERNS:
        rest, hits = pattern.subn(" ", rest)
        if hits:
            found.add(name)
    if not found or _SEPARATORS.sub("", rest):
        return ()
    return tuple(c for c in ALL_CLASSES if c in found)


# --------------------------------------------------------------------------------------------
# qrels files


def _lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, text) of the non-blank lines."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise QrelsFormatError(path, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QrelsFormatError(path, None, f"cannot read as UTF-8 text ({exc})") from None
    return [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def _score(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        f = float(value)
    except ValueError:
        return None
    return int(f) if f.is_integer() else None


def _is_beir_header(fields: list[str]) -> bool:
    return tuple(f.strip().lower().replace("_", "-") for f in fields) == BEIR_HEADER


def detect_qrels_format(path: Path) -> QrelsFormat:
    """ "beir" or "trec", from the first non-blank line; anything else raises."""
    path = Path(path)
    lines = _lines(path)
    if not lines:
        raise QrelsFormatError(path, None, "empty qrels file")
    number, line = lines[0]
    tabbed = line.split("\t")
    if len(tabbed) == 3 and (_is_beir_header(tabbed) or _score(tabbed[2].strip()) is not None):
        return "beir"
    words = line.split()
    if len(words) == 4 and _score(words[3]) is not None:
        return "trec"
    raise QrelsFormatError(
        path,
        number,
        "unrecognised qrels format: expected BEIR 'query-id<TAB>corpus-id<TAB>score' or TREC "
        f"'qid 0 docid rel', got {line[:120]!r}",
    )


def read_qrels_file(path: Path) -> Qrels:
    """{query id: {document id: score}} from one BEIR or TREC qrels file (auto-detected)."""
    path = Path(path)
    fmt = detect_qrels_format(path)
    lines = _lines(path)
    if fmt == "beir" and _is_beir_header(lines[0][1].split("\t")):
        lines = lines[1:]
    qrels: Qrels = {}
    for number, line in lines:
        if fmt == "beir":
            fields = [f.strip() for f in line.split("\t")]
            expected = "3 tab-separated fields 'query-id<TAB>corpus-id<TAB>score'"
            ok = len(fields) == 3
        else:
            fields = line.split()
            expected = "4 fields 'qid 0 docid rel'"
            ok = len(fields) == 4 and (fields[1] == "Q0" or _score(fields[1]) is not None)
            fields = [fields[0], fields[2], fields[3]] if ok else fields
        if not ok:
            raise QrelsFormatError(path, number, f"expected {expected} ({fmt}), got {line[:120]!r}")
        qid, docid, raw = fields
        score = _score(raw)
        if not qid or not docid or score is None:
            raise QrelsFormatError(
                path, number, f"need a query id, a document id and an integer score: {line[:120]!r}"
            )
        judged = qrels.setdefault(qid, {})
        if judged.get(docid, score) != score:
            raise QrelsFormatError(
                path, number, f"({qid!r}, {docid!r}) judged {judged[docid]} earlier, now {score}"
            )
        judged[docid] = score
    if not qrels:
        raise QrelsFormatError(path, None, "no judgement found (only a header?)")
    return qrels


# --------------------------------------------------------------------------------------------
# The dataset folder


def _layout(folder: Path) -> tuple[Path, Path]:
    """(queries.jsonl, qrels folder) for a dataset root or its qrels folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"CrisisLandMark folder not found: {folder}")
    if (folder / QRELS_DIR).is_dir():
        root, qrels_dir = folder, folder / QRELS_DIR
    elif folder.name == QRELS_DIR:
        root, qrels_dir = folder.parent, folder
    else:
        contents = sorted(p.name for p in folder.iterdir())
        raise FileNotFoundError(f"{folder} has no '{QRELS_DIR}/' folder (contents: {contents})")
    queries = root / QUERIES_FILE
    if not queries.is_file():
        raise FileNotFoundError(f"{QUERIES_FILE} not found beside the qrels folder, in {root}")
    return queries, qrels_dir


def available_splits(folder: Path) -> dict[str, Path]:
    """{split name: qrels file} in a dataset root (or its qrels folder)."""
    _, qrels_dir = _layout(folder)
    splits: dict[str, Path] = {}
    for path in sorted(qrels_dir.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.suffix not in QRELS_SUFFIXES:
            continue
        if path.stem in splits:
            raise QrelsFormatError(
                path, None, f"split {path.stem!r} also in {splits[path.stem].name}"
            )
        splits[path.stem] = path
    if not splits:
        raise FileNotFoundError(f"no qrels file ({', '.join(QRELS_SUFFIXES)}) in {qrels_dir}")
    return splits


def choose_split(folder: Path, split: str | None = None) -> str:
    """`split` when the folder has it; None: the only split, else "test"; anything else raises."""
    splits = available_splits(folder)
    if split is None:
        if len(splits) == 1:
            return next(iter(splits))
        if "test" in splits:
            return "test"
        raise ValueError(f"several qrels splits {sorted(splits)}: choose one with split=...")
    if split not in splits:
        raise ValueError(f"no qrels split {split!r}; available: {sorted(splits)}")
    return split


def load_crisislandmark_qrels(folder: Path, split: str | None = None) -> tuple[list[Query], Qrels]:
    """Queries judged in `split` and their qrels {query id: {document id: score}}."""
    queries_path, _ = _layout(folder)
    path = available_splits(folder)[choose_split(folder, split)]
    queries = read_queries_jsonl(queries_path)
    qrels = read_qrels_file(path)
    by_id = {q.query_id: q for q in queries}
    unknown = sorted(set(qrels) - set(by_id))
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5])
        raise QrelsFormatError(
            path, None, f"{len(unknown)} query id(s) not in {queries_path.name}: {shown}"
        )
    return [q for q in queries if q.query_id in qrels], qrels


def qrels_gains(qrels: Qrels, queries: Sequence[Query], corpus_ids: Sequence[str]) -> np.ndarray:
    """(Q, N) gains for `scoring.evaluate` / `run_evaluation`; negative scores clamp to 0.

    Documents missing from the qrels count as not relevant (BEIR); qrels documents missing from
    the corpus are ignored, but none matching at all is an error (ids in a different form?).
    """
    column = {str(d): j for j, d in enumerate(corpus_ids)}
    if len(column) != len(corpus_ids):
        raise ValueError("corpus ids are not unique")
    gains = np.zeros((len(queries), len(column)), dtype=np.float64)
    matched = 0
    for i, q in enumerate(queries):
        if q.query_id not in qrels:
            raise ValueError(f"query {q.query_id!r} ({q.text!r}) has no qrels")
        for docid, score in qrels[q.query_id].items():
            j = column.get(docid)
            if j is not None:
                gains[i, j] = max(score, 0)
                matched += 1
    if matched == 0 and any(qrels.get(q.query_id) for q in queries):
        some_doc = next(d for q in queries for d in qrels.get(q.query_id, {}))
        some_corpus = next(iter(column), "<empty corpus>")
        raise ValueError(
            f"no qrels document id is in the corpus (qrels: {some_doc!r}, corpus: {some_corpus!r})"
        )
    return gains
