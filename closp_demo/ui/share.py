"""Share links between the page's fields and `closp_demo.views.share` (which validates)."""

from __future__ import annotations

from closp_demo.views.share import Shared, make_link, shared_from_fields


def search_link(q, s, n, mode, la, lo, r, w, g, src, d0, d1, lab, unl, box, ok: bool) -> str:
    """The share link (query string) of a search that ran; "" for one that failed."""
    if not ok:
        return ""
    return make_link(shared_from_fields(q, s, n, mode, la, lo, r, w, g, src, d0, d1, lab, unl, box))


def link_values(shared: Shared) -> list:
    """A share link's search as the values of the page's fields (`link_fields` order)."""
    v = shared
    return [v.q, v.sensor, v.k, v.mode, v.lat, v.lon, v.radius, v.weight, v.group,
            list(v.sources), v.date_from, v.date_to, list(v.labels), v.unlabelled, v.box,
            v.present]  # fmt: skip
