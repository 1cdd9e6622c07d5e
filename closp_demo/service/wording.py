"""Status-line wording shared by the use cases: counts with the right number ("1 result",
"2 results") and why a search found nothing."""

from __future__ import annotations

from closp_demo.geo.place import Place
from closp_demo.search.engine import SearchEngine
from closp_demo.search.filters import Filters


def counted(n: int, noun: str) -> str:
    """ "1 result", "0 results", "3 nearest images": the last word takes the plural."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def why_none(engine: SearchEngine, place: Place | None, filters: Filters | None) -> str:
    """Appended to a status line with 0 results: what most likely emptied the list, and what to
    change; "" when nothing but the query and sensor restricted the search."""
    if filters is not None and filters.unlabelled == "drop":
        labelled = Filters(sources=filters.sources, unlabelled="drop")
        if not engine.filter_mask(labelled).any():
            chosen = filters.sources
            if not chosen:
                who = "this corpus has"
            elif len(chosen) == 1:
                who = f"the chosen source {chosen[0]} has"
            else:
                who = f"the chosen sources {', '.join(chosen)} have"
            return f": {who} no labelled images; choose “Keep unlabelled images”"
    if place is not None and place.mode == "within":
        return ": no image lies there; widen the radius or choose 'Prefer nearby'"
    if filters is not None and filters.active():
        return ": no image passes these filters; loosen them"
    return ""
