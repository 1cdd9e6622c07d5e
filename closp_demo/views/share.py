"""Share links: a search as URL query parameters, and back.

    ?q=forest&sensor=S2&k=12&lat=61&lon=25&radius=500&mode=within&group=1
     &sources=bigearthnet&labels=Water,Trees&from=2017-06-01&to=2017-08-31&unlabelled=drop
     &box=-10,35,30,60&present=1

`read_link` validates every parameter on its own: a bad value is left out (its field keeps the
default) with a plain-text note saying why, so the rest of the link still runs; nothing raises
and no value reaches the page except through the widgets' own values and that plain text.
`make_link` writes the query string for a search the way `read_link` reads it.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from closp_demo.geo.place import DEFAULT_RADIUS_KM, DEFAULT_WEIGHT, PlaceError, parse_place
from closp_demo.search.filters import FilterError, parse_filters

SENSORS = ("both", "S1", "S2")
MODES = ("off", "prefer", "within")
MAX_K = 50  # the UI slider's range
MAX_QUERY = 300  # characters kept of a linked query
MAX_VALUE = 500  # a longer raw parameter is refused before any parsing
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# Gradio's own page parameters; not ours to read or to complain about.
IGNORED = {"__theme", "view", "lang"}


@dataclass(frozen=True)
class Shared:
    """A search as the page's fields hold it; the defaults are the page's own."""

    q: str = ""
    sensor: str = "both"
    k: int = 12
    mode: str = "off"
    lat: float | None = None
    lon: float | None = None
    radius: float = DEFAULT_RADIUS_KM
    weight: float = DEFAULT_WEIGHT
    group: bool = True
    sources: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""
    labels: tuple[str, ...] = ()
    unlabelled: str = "keep"
    box: str = ""
    present: bool = False


@dataclass
class Reading:
    """What a link asked for (`shared`), whether it holds a search to run, and notes (plain
    text) on every parameter left out."""

    shared: Shared = field(default_factory=Shared)
    notes: list[str] = field(default_factory=list)

    @property
    def runs(self) -> bool:
        return bool(self.shared.q)


def _clean(text: str) -> str:
    """Control and format characters out (a query is one line of plain text)."""
    kept = (c if unicodedata.category(c)[0] != "C" else " " for c in text)
    return " ".join("".join(kept).split())


def _quote(value: str) -> str:
    return repr(_clean(value)[:40])


def _number(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {_quote(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, got {_quote(value)}")
    return number


def _choice(value: str, choices: tuple[str, ...], what: str) -> str:
    matches = [c for c in choices if c.lower() == value.strip().lower()]
    if not matches:
        raise ValueError(f"{what} must be one of {', '.join(choices)}, got {_quote(value)}")
    return matches[0]


def _flag(value: str, what: str) -> bool:
    text = value.strip().lower()
    if text in TRUE or text in FALSE:
        return text in TRUE
    raise ValueError(f"{what} must be 1 or 0, got {_quote(value)}")


def _names(value: str, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"{what}: unknown {', '.join(_quote(n) for n in unknown[:3])}")
    return names


def _k(value: str) -> int:
    number = _number(value, "k")
    if number != int(number) or not 1 <= number <= MAX_K:
        raise ValueError(f"k must be a whole number from 1 to {MAX_K}, got {_quote(value)}")
    return int(number)


def _query(value: str) -> str:
    text = _clean(value)
    return text[:MAX_QUERY]


def read_link(
    params: Mapping[str, str], sources: tuple[str, ...] = (), labels: tuple[str, ...] = ()
) -> Reading:
    """The search a link's query parameters describe. `sources`, `labels`: the names the
    corpus has (a link naming others gets a note)."""
    reading = Reading()
    values: dict[str, object] = {}
    parsers = {
        "q": ("q", _query),
        "sensor": ("sensor", lambda v: _choice(v, SENSORS, "sensor")),
        "k": ("k", _k),
        "mode": ("mode", lambda v: _choice(v, MODES, "mode")),
        "lat": ("lat", lambda v: _number(v, "lat")),
        "lon": ("lon", lambda v: _number(v, "lon")),
        "radius": ("radius", lambda v: _number(v, "radius")),
        "weight": ("weight", lambda v: _number(v, "weight")),
        "group": ("group", lambda v: _flag(v, "group")),
        "sources": ("sources", lambda v: _names(v, sources, "sources")),
        "labels": ("labels", lambda v: _names(v, labels, "labels")),
        "from": ("date_from", lambda v: _filter("date_from", v)),
        "to": ("date_to", lambda v: _filter("date_to", v)),
        "unlabelled": ("unlabelled", lambda v: _choice(v, ("keep", "drop"), "unlabelled")),
        "box": ("box", lambda v: _filter("box", v)),
        "present": ("present", lambda v: _flag(v, "present")),
    }
    for name, raw in params.items():
        if name in IGNORED:
            continue
        if name not in parsers:
            reading.notes.append(f"Ignored the unknown link parameter {_quote(str(name))}.")
            continue
        key, parse = parsers[name]
        text = str(raw)
        if len(text) > MAX_VALUE:
            reading.notes.append(f"Ignored {name}: longer than {MAX_VALUE} characters.")
            continue
        try:
            values[key] = parse(text)
        except ValueError as err:
            reading.notes.append(f"Ignored {name}: {err}.")
    if "mode" not in values and "lat" in values and "lon" in values:
        values["mode"] = "prefer"  # as on the page: giving a place switches "Anywhere" off
    shared = replace(Shared(), **values)
    shared = _check_place(shared, reading.notes)
    shared = _check_dates(shared, reading.notes)
    reading.shared = shared
    return reading


def _filter(what: str, value: str) -> str:
    """A date or box, checked by the search's own filter rules; returned as given."""
    try:
        parse_filters(**{what: value})
    except FilterError as err:
        raise ValueError(str(err)) from None
    return value.strip()


def _check_place(shared: Shared, notes: list[str]) -> Shared:
    """The place fields together, by the search's own rule; a place that does not hold is
    dropped (mode off) with the rule's message."""
    if shared.mode == "off":  # no place search: the fields stay blank
        return replace(shared, lat=None, lon=None)
    try:
        parse_place(shared.lat, shared.lon, shared.radius, shared.mode, shared.weight)
    except PlaceError as err:
        notes.append(f"Ignored the place: {err}.")
        return replace(shared, mode="off", lat=None, lon=None, radius=DEFAULT_RADIUS_KM,
                       weight=DEFAULT_WEIGHT)  # fmt: skip
    return shared


def _check_dates(shared: Shared, notes: list[str]) -> Shared:
    try:
        parse_filters(date_from=shared.date_from, date_to=shared.date_to)
    except FilterError as err:
        notes.append(f"Ignored the dates: {err}.")
        return replace(shared, date_from="", date_to="")
    return shared


def make_link(shared: Shared) -> str:
    """The query string ("?q=...") for a search, only the parameters that differ from the
    page's defaults (and q, sensor, k always)."""
    default = Shared()
    params: dict[str, str] = {"q": shared.q, "sensor": shared.sensor, "k": str(int(shared.k))}
    if shared.mode != "off" and shared.lat is not None and shared.lon is not None:
        params |= {"mode": shared.mode, "lat": f"{shared.lat:g}", "lon": f"{shared.lon:g}",
                   "radius": f"{shared.radius:g}"}  # fmt: skip
        if shared.weight != default.weight:
            params["weight"] = f"{shared.weight:g}"
    if shared.group != default.group:
        params["group"] = "1" if shared.group else "0"
    names = {"sources": shared.sources, "labels": shared.labels}
    params |= {key: ",".join(v) for key, v in names.items() if v}
    texts = {"from": shared.date_from, "to": shared.date_to, "box": shared.box}
    params |= {key: v.strip() for key, v in texts.items() if v and v.strip()}
    if shared.unlabelled != default.unlabelled:
        params["unlabelled"] = shared.unlabelled
    if shared.present:
        params["present"] = "1"
    return "?" + urlencode(params)


def _float(value: object, default: float | None) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _text(value: object) -> str:
    return "" if value is None else str(value)


def shared_from_fields(
    q: object, sensor: object, k: object, mode: object, lat: object, lon: object,
    radius: object, weight: object, group: object, sources: object, date_from: object,
    date_to: object, labels: object, unlabelled: object, box: object, present: object = False,
) -> Shared:  # fmt: skip
    """The page's widget values (of a search that ran with them) as a `Shared`."""
    return Shared(
        q=_clean(_text(q)), sensor=_text(sensor) or "both", k=int(_float(k, 12) or 12),
        mode=_text(mode) or "off", lat=_float(lat, None), lon=_float(lon, None),
        radius=_float(radius, DEFAULT_RADIUS_KM) or DEFAULT_RADIUS_KM,
        weight=_float(weight, DEFAULT_WEIGHT) or 0.0, group=bool(group),
        sources=tuple(map(str, sources or ())), date_from=_text(date_from).strip(),
        date_to=_text(date_to).strip(), labels=tuple(map(str, labels or ())),
        unlabelled=_text(unlabelled) or "keep", box=_text(box).strip(), present=bool(present),
    )  # fmt: skip
