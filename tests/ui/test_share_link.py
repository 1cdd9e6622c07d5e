"""The share link of the page's fields (`closp_demo.ui.share`): presentation mode goes in and
out of the link shown."""

from __future__ import annotations

from urllib.parse import parse_qs

from closp_demo.ui.share import search_link, with_present

FIELDS = ("the sea", "both", 12, "off", None, None, 250, 0.5, True, [], "", "", [], "keep", "")


def test_the_link_says_presentation_mode_when_it_is_on():
    assert search_link(*FIELDS, False) == "?q=the+sea&sensor=both&k=12"
    assert search_link(*FIELDS, True) == "?q=the+sea&sensor=both&k=12&present=1"


def test_switching_presentation_rewrites_the_link_shown():
    link = "?q=the+sea&sensor=S2&k=6&sources=hydro%2Cssl4eo"
    on = with_present(link, True)
    assert parse_qs(on[1:]) == {"q": ["the sea"], "sensor": ["S2"], "k": ["6"],
                                "sources": ["hydro,ssl4eo"], "present": ["1"]}  # fmt: skip
    assert with_present(on, True) == on  # once only
    assert with_present(on, False) == link
    assert with_present("", True) == "" and with_present(None, False) == ""  # no search yet
