"""Share links read back: every parameter validated on its own, hostile values become plain-text
notes (never an exception, never markup), and a link made from a search reads back to it."""

from __future__ import annotations

import pytest

from closp_demo.geo.place import DEFAULT_RADIUS_KM
from closp_demo.views.escape import escape_markdown
from closp_demo.views.share import MAX_QUERY, Shared, make_link, read_link, shared_from_fields

SOURCES = ("bigearthnet", "majortom")
LABELS = ("Water", "Trees", "Flooded Area")
MARKUP = '"><img src=x onerror=alert(1)>'


def read(**params: str):
    return read_link(params, SOURCES, LABELS)


def test_a_full_link_reads_into_every_field():
    reading = read(q="a lake", sensor="s2", k="7", mode="within", lat="61.5", lon="25",
                   radius="500", weight="0.3", group="0", sources="bigearthnet",
                   labels="Water,Trees", **{"from": "2017-06-01", "to": "2017-08-31"},
                   unlabelled="drop", box="-10, 35, 30, 60", present="1")  # fmt: skip
    assert reading.notes == [] and reading.runs
    assert reading.shared == Shared(
        q="a lake", sensor="S2", k=7, mode="within", lat=61.5, lon=25.0, radius=500.0,
        weight=0.3, group=False, sources=("bigearthnet",), labels=("Water", "Trees"),
        date_from="2017-06-01", date_to="2017-08-31", unlabelled="drop", box="-10, 35, 30, 60",
        present=True,
    )  # fmt: skip


def test_no_parameters_is_the_default_page_and_runs_nothing():
    reading = read()
    assert reading.shared == Shared() and not reading.runs and reading.notes == []
    assert not read(__theme="dark").notes  # Gradio's own parameter


HOSTILE = [
    ("sensor", MARKUP, "sensor must be one of"),
    ("k", "1e400", "finite"),
    ("k", "0", "whole number from 1 to 50"),
    ("k", "51", "whole number from 1 to 50"),
    ("k", "2.5", "whole number"),
    ("k", "NaN", "finite"),
    ("lat", "Infinity", "finite"),
    ("lat", "12; DROP TABLE", "must be a number"),
    ("radius", "-inf", "finite"),
    ("mode", "javascript:alert(1)", "mode must be one of"),
    ("group", "maybe", "1 or 0"),
    ("present", MARKUP, "1 or 0"),
    ("sources", "bigearthnet,<script>", "unknown"),
    ("labels", "Water,Lava", "unknown"),
    ("from", "2020-13-45", "not a calendar date"),
    ("to", MARKUP, "YYYY-MM-DD"),
    ("unlabelled", "all", "unlabelled must be one of"),
    ("box", "1,2,3", "four numbers"),
    ("box", "0, 80, 10, 10", "south <= north"),
    ("q", "x" * 600, "longer than"),
    ("<svg onload=alert(1)>", "1", "unknown link parameter"),
]


@pytest.mark.parametrize(("name", "value", "why"), HOSTILE)
def test_a_bad_value_is_left_out_with_a_note_and_the_rest_still_runs(name, value, why):
    reading = read(**{"q": "forest", "k": "5", name: value})
    (note,) = reading.notes
    assert why in note and note.startswith("Ignored")
    assert reading.runs == (name != "q")
    expected_k = 5 if name != "k" else Shared().k
    assert reading.shared.k == expected_k
    # Shown as Markdown through the escape: no tag survives as markup.
    shown = escape_markdown(note)
    assert "<img" not in shown and "<script" not in shown and "<svg" not in shown


@pytest.mark.parametrize("params", [
    {"mode": "within"},  # no place given
    {"mode": "prefer", "lat": "95", "lon": "10"},
    {"mode": "within", "lat": "10", "lon": "10", "radius": "0"},
    {"mode": "prefer", "lat": "10", "lon": "10", "weight": "7"},
])  # fmt: skip
def test_a_place_that_does_not_hold_is_dropped_by_the_search_rule(params):
    reading = read(q="forest", **params)
    (note,) = reading.notes
    assert note.startswith("Ignored the place")
    assert (reading.shared.mode, reading.shared.lat, reading.shared.radius) == (
        "off",
        None,
        DEFAULT_RADIUS_KM,
    )
    assert reading.runs


def test_a_place_without_a_mode_prefers_it_and_mode_off_forgets_it():
    assert read(q="x", lat="10", lon="20").shared.mode == "prefer"
    off = read(q="x", lat="10", lon="20", mode="off").shared
    assert (off.mode, off.lat, off.lon) == ("off", None, None)


def test_dates_in_the_wrong_order_are_dropped_together():
    reading = read(q="x", **{"from": "2020-02-01", "to": "2020-01-01"})
    assert reading.notes and "after the end date" in reading.notes[0]
    assert (reading.shared.date_from, reading.shared.date_to) == ("", "")


def test_a_query_is_one_line_of_plain_text():
    reading = read(q="  a\tlake\n\u202eforest\x00  ")
    assert reading.shared.q == "a lake forest"
    assert len(read(q="y" * 450).shared.q) == MAX_QUERY


@pytest.mark.parametrize("shared", [
    Shared(q="forest"),
    Shared(q="a lake & trees?#", sensor="S1", k=30, mode="prefer", lat=-33.5, lon=151.25,
           radius=1200.0, weight=0.2, group=False, sources=("majortom",), labels=("Water",),
           date_from="2020-01-01", date_to="2020-12-31", unlabelled="drop",
           box="140, -40, 155, -30", present=True),
])  # fmt: skip
def test_a_link_reads_back_to_its_search(shared):
    from urllib.parse import parse_qsl

    link = make_link(shared)
    assert link.startswith("?q=")
    reading = read(**dict(parse_qsl(link[1:])))
    assert reading.notes == [] and reading.shared == shared


def test_the_page_fields_make_the_link_of_the_search_they_ran():
    shared = shared_from_fields("forest", "S2", 12.0, "within", 61, 25, 500, 0.5, True,
                                ["bigearthnet"], "", "", [], "keep", "")  # fmt: skip
    assert (
        make_link(shared) == "?q=forest&sensor=S2&k=12&mode=within&lat=61&lon=25&radius=500"
        "&sources=bigearthnet"
    )
    blank = shared_from_fields("x", "both", 12, "off", None, None, None, None, True, None, None,
                               None, None, "keep", None)  # fmt: skip
    assert make_link(blank) == "?q=x&sensor=both&k=12"
