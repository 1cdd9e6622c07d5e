"""The built-in query list and the Query type."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from closp_demo.corpus.labels import ALL_CLASSES, CRISIS_CLASSES, DW_CLASSES
from closp_demo.evaluation.queries import Query, load_queries


def test_class_queries_are_the_twelve_class_names() -> None:
    queries = load_queries("classes")
    assert [q.text for q in queries] == list(DW_CLASSES + CRISIS_CLASSES)
    assert all(q.classes == (q.text,) and q.kind == "class" for q in queries)


def test_every_class_has_three_to_six_single_class_paraphrases() -> None:
    paraphrases = load_queries("paraphrases")
    per_class = Counter(q.classes[0] for q in paraphrases if len(q.classes) == 1)
    assert set(per_class) == set(ALL_CLASSES)
    assert all(3 <= n <= 6 for n in per_class.values()), per_class
    texts = [q.text.lower() for q in paraphrases]
    assert len(texts) == len(set(texts))
    assert not set(texts) & {c.lower() for c in ALL_CLASSES}
    assert all(q.kind == "paraphrase" for q in paraphrases)


@pytest.mark.parametrize(
    ("text", "classes"),
    [
        ("lake", ("Water",)),
        ("river", ("Water",)),
        ("open water", ("Water",)),
        ("forest", ("Trees",)),
        ("woodland", ("Trees",)),
        ("farmland", ("Crops",)),
        ("fields of crops", ("Crops",)),
        ("city", ("Built",)),
        ("buildings and roads", ("Built",)),
        ("bare soil", ("Bare",)),
        ("desert sand", ("Bare",)),
        ("snow covered mountains", ("Snow and Ice",)),
        ("wetland marsh", ("Flooded Vegetation",)),
        ("meadow", ("Grass",)),
        ("shrubland", ("Shrub and Scrub",)),
        ("savanna", ("Grass", "Shrub and Scrub")),
    ],
)
def test_paraphrases_map_to_their_classes(text: str, classes: tuple[str, ...]) -> None:
    by_text = {q.text: q.classes for q in load_queries("paraphrases")}
    assert by_text[text] == classes


def test_all_is_classes_then_paraphrases() -> None:
    assert load_queries("all") == load_queries("classes") + load_queries("paraphrases")
    with pytest.raises(ValueError, match="kind must be"):
        load_queries("everything")  # type: ignore[arg-type]


def test_query_classes_are_a_canonical_set() -> None:
    q = Query("fields and forests", ("Trees", "Crops", "Trees"), "paraphrase")
    assert q.classes == ("Trees", "Crops")  # ALL_CLASSES order, no duplicates


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("lake", ("Lake",), "paraphrase"), "unknown class"),
        (("  ", ("Water",), "paraphrase"), "non-empty"),
        (("lake", (), "paraphrase"), "at least one"),
        (("lake", "Water", "paraphrase"), "not a string"),
        (("lake", ("Water",), "synonym"), "kind"),
    ],
)
def test_bad_queries_raise(args, message) -> None:
    with pytest.raises(ValueError, match=message):
        Query(*args)


def _write(path: Path, entries: list[dict]) -> Path:
    path.write_text(json.dumps({"paraphrases": entries}), encoding="utf-8")
    return path


def _full_list() -> list[dict]:
    return [{"text": f"{c} place {i}", "classes": [c]} for c in ALL_CLASSES for i in range(3)]


def test_a_valid_custom_list_loads(tmp_path: Path) -> None:
    queries = load_queries("paraphrases", _write(tmp_path / "q.json", _full_list()))
    assert len(queries) == 3 * len(ALL_CLASSES)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.append({"text": "x", "classes": ["Lake"]}), "unknown class"),
        (lambda e: e.append({"text": "water", "classes": ["Water"]}), "repeats a class name"),
        (lambda e: e.append(dict(e[0])), "duplicated"),
        (lambda e: e.pop(), "want 3-6"),
        (lambda e: e.append({"text": "x"}), "paraphrase #36"),
    ],
)
def test_bad_query_lists_raise_naming_the_file(tmp_path: Path, mutate, message) -> None:
    entries = _full_list()
    mutate(entries)
    path = _write(tmp_path / f"bad{abs(hash(message))}.json", entries)
    with pytest.raises(ValueError, match=message) as err:
        load_queries("paraphrases", path)
    assert str(path) in str(err.value)
