"""The query-reading bar: classes as segments, the warning first when out of scope, all escaped."""

from __future__ import annotations

import re

from closp_demo.search.reading import QueryReading
from closp_demo.views.reading import reading_html

HOSTILE = '<img src=x onerror="alert(1)">&"\''


def reading(query: str = "a lake", scope: float = 0.6, **kw) -> QueryReading:
    defaults = {
        "threshold": 0.43,
        "terms": (("a water body", scope), ("trees", 0.4), ("grass", 0.3)),
        "classes": (("Water", 0.7), ("Trees", 0.295), ("Built", 0.005)),
    }
    return QueryReading(query=query, scope=scope, **{**defaults, **kw})


def test_nothing_to_show_without_a_reading():
    assert reading_html(None) == ""


def test_in_scope_reading_is_a_bar_of_the_classes_above_one_percent():
    html = reading_html(reading())
    assert 'data-in-scope="yes"' in html and "qr-warn" not in html
    widths = re.findall(r'class="qr-seg"[^>]*style="width:([0-9.]+)%', html)
    assert widths == ["70.00", "29.50"]  # Built at 0.5 % is left out of the bar
    assert "Water 70%" in html and "Trees 30%" in html and "Built" not in html
    assert "Nearest vocabulary terms" in html and "“a water body” 0.60" in html


def test_out_of_scope_warning_comes_first_and_says_what_was_read():
    html = reading_html(reading("airport runway", scope=0.26))
    assert 'data-in-scope="no"' in html
    assert html.index("qr-warn") < html.index("qr-bar")
    assert "outside what the model can see" in html and "70% Water" in html


def test_encoders_without_classes_show_terms_only():
    html = reading_html(reading(classes=()))
    assert "qr-bar" not in html and "Nearest vocabulary terms" in html


def test_query_terms_and_notes_are_escaped():
    html = reading_html(reading(HOSTILE, scope=0.1, terms=((HOSTILE, 0.1),), notes=(HOSTILE,)))
    assert "<img" not in html and 'onerror="' not in html
    assert html.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") >= 3
