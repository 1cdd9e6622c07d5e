"""Share links between the page's fields and `closp_demo.views.share` (which validates)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from closp_demo.views.share import Shared, make_link, shared_from_fields


def search_link(q, s, n, mode, la, lo, r, w, g, src, d0, d1, lab, unl, box, present) -> str:
    """The share link (query string) of a search that ran, with present=1 in presentation mode."""
    fields = (q, s, n, mode, la, lo, r, w, g, src, d0, d1, lab, unl, box, present)
    return make_link(shared_from_fields(*fields))


def with_present(link: str | None, present: bool) -> str:
    """The shown link with presentation mode switched on or off ("" stays "": no search yet)."""
    if not link:
        return ""
    params = [(key, v) for key, v in parse_qsl(link.lstrip("?"), keep_blank_values=True)
              if key != "present"]  # fmt: skip
    if present:
        params.append(("present", "1"))
    return "?" + urlencode(params)


def link_values(shared: Shared) -> list:
    """A share link's search as the values of the page's fields (`link_fields` order)."""
    v = shared
    return [v.q, v.sensor, v.k, v.mode, v.lat, v.lon, v.radius, v.weight, v.group,
            list(v.sources), v.date_from, v.date_to, list(v.labels), v.unlabelled, v.box,
            v.present]  # fmt: skip
