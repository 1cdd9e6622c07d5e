"""The one set of parameter checks (`closp_demo.service.inputs`) and the explorer's use of it:
a wrong shape or value gets a message naming the parameter and what it takes."""

from __future__ import annotations

import math

import pytest

from closp_demo.service.inputs import (
    InputError,
    check_filter_fields,
    choice,
    flag,
    names,
    result_count,
    shape,
    text,
)


@pytest.mark.parametrize("k", [1, 12, 100, 12.0, 50.0])
def test_result_count_takes_whole_numbers_from_1_to_100(k):
    assert result_count(k) == int(k) and isinstance(result_count(k), int)


@pytest.mark.parametrize(
    ("k", "got"),
    [("abc", "the text 'abc'"), ("12", "the text '12'"), (-1, "the number -1"),
     (0, "the number 0"), (2.7, "the number 2.7"), (1000, "the number 1000"),
     (101, "the number 101"), (None, "None"), (True, "the boolean true"),
     (math.nan, "the number nan"), (math.inf, "the number inf"), ([5], "a list of 1 item"),
     ({"k": 5}, "a dict (keys 'k')")],
)  # fmt: skip
def test_result_count_refuses_anything_else_by_name(k, got):
    with pytest.raises(InputError, match="k \\(how many results\\) must be a whole number from 1 "
                                         "to 100") as err:  # fmt: skip
        result_count(k)
    assert got in str(err.value)


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (["forest"], "a list of 1 item"),
        ({"a": 1}, "a dict (keys 'a')"),
        (3, "the number 3"),
        (False, "the boolean false"),
        ({}, "an empty dict"),
    ],
)
def test_text_refuses_what_is_not_a_string(value, got):
    with pytest.raises(InputError, match=r"^query must be text \(a string\); got ") as err:
        text(value, "query")
    assert got in str(err.value)


def test_text_takes_strings_and_none_as_blank():
    assert text("  a lake ", "query") == "  a lake "
    assert text(None, "query") == ""


def test_choice_and_flag():
    assert choice("S1", "sensor", ("both", "S1", "S2")) == "S1"
    for bad in ("s1", ["S1"], None, 1):
        with pytest.raises(InputError, match="sensor must be one of 'both', 'S1', 'S2'; got"):
            choice(bad, "sensor", ("both", "S1", "S2"))
    assert flag(True, "group") is True and flag(None, "group") is False
    for bad in ("yes", "true", 1, [True]):
        with pytest.raises(InputError, match="group must be true or false; got"):
            flag(bad, "group")


def test_names_take_a_list_or_a_comma_separated_string():
    assert names("bigearthnet, hydro", "sources") == "bigearthnet, hydro"  # split by the filter
    assert names(["hydro"], "sources") == ["hydro"] and names(None, "labels") is None
    for bad in (5, {"hydro": 1}, ["hydro", 3], [["x"]]):
        with pytest.raises(InputError, match="sources must be a list of names or one comma-"):
            names(bad, "sources")


def test_filter_fields_are_checked_for_shape():
    fields = check_filter_fields({"sources": ["hydro"], "date_from": "", "unlabelled": None})
    assert fields["sources"] == ["hydro"] and fields["date_from"] is None
    with pytest.raises(InputError, match="date_to must be text"):
        check_filter_fields({"date_to": ["2018-01-01"]})
    with pytest.raises(InputError, match="labels must be a list of names"):
        check_filter_fields({"labels": {"Water": True}})


def test_shape_keeps_quotes_short():
    assert shape("x" * 500) == f"the text {'x' * 40!r}"
    assert shape(object()).startswith("a value of type object")
