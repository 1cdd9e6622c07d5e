"""Grouped and filtered search at N vectors (`python -m bench.grouping --vectors N`).

The physics vector set and the index `corpus.index` chooses at N (bench.index_scale's builders),
served by the app's engine over metadata repeating the embedded corpus's rows, each copy of a
tiled scene a scene of its own (`scaled_explorer(scenes_per_copy=True)`). Filters of several
selectivities: the kept share decides the path (`search.candidates`: small sets
scored exactly, more through the index with a row selector), so each is timed, and each is
checked to return k results for every query (k rows always pass).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench.common import md_table
from bench.grouping import LABELLED, p50s_ms
from bench.index_scale import scaled_explorer
from bench.vectors import physics_set
from closp_demo.corpus import index as ix
from closp_demo.evaluation.queries import load_queries
from closp_demo.search.candidates import EXACT_ROWS, EXACT_SHARE
from closp_demo.search.filters import parse_filters
from closp_demo.service import Explorer

K = 12
VARIANTS = {
    "plain": {},
    "grouped": {"group": True},
    "filtered (labelled, box Europe)": {
        "filters": parse_filters(unlabelled="drop", box="-30, 30, 40, 75")},
    "grouped + filtered (labelled)": {"group": True, "filters": LABELLED},
    "filtered (source hydro)": {"filters": parse_filters(sources="hydro")},
    "filtered (box 10..20 E, 45..50 N)": {"filters": parse_filters(box="10, 45, 20, 50")},
    "filtered (box 0..10 E, 40..50 N)": {"filters": parse_filters(box="0, 40, 10, 50")},
    "grouped + filtered (box 0..10 E, 40..50 N)": {
        "group": True, "filters": parse_filters(box="0, 40, 10, 50")},
}  # fmt: skip


def short_lists(explorer: Explorer, texts: list[str], kw: dict) -> int:
    """Queries that got fewer than K results (K rows, and K scenes, pass every filter here)."""
    return sum(len(explorer.engine.search_text(t, "both", K, **kw)[0]) < K for t in texts)


def at_scale(explorer: Explorer, n: int, cache: Path, augment: int = 24) -> str:
    vs = physics_set(n, explorer.encoder, augment, cache=cache)
    t0 = time.perf_counter()
    index = ix.build_index(np.ascontiguousarray(vs.vectors), spec=ix.choose_spec(n))
    build_s = time.perf_counter() - t0
    saved, _ = scaled_explorer(explorer, vs, index, scenes_per_copy=True)
    try:
        engine = explorer.engine
        t0 = time.perf_counter()
        scenes = engine.scene_ids()
        scene_s = time.perf_counter() - t0
        texts = [q.text for q in load_queries()]
        kept = {}
        for name, kw in VARIANTS.items():  # warm-up: filter columns and masks built
            f = kw.get("filters")
            kept[name] = int(engine.filter_mask(f).sum()) if f is not None else n
            engine.search_text(texts[0], "both", K, **kw)
        short = {name: short_lists(explorer, texts, kw) for name, kw in VARIANTS.items()}
        warm = p50s_ms(explorer, texts, VARIANTS)
        cold = p50s_ms(explorer, texts, VARIANTS, cold=True)
    finally:
        explorer.corpus, explorer.engine = saved
    exact_max = min(EXACT_ROWS, EXACT_SHARE * n)

    def path(name: str) -> str:
        if "filters" not in VARIANTS[name]:
            return "index"
        return "exact" if kept[name] <= exact_max else "index + bitmap"

    rows = [[name, f"{kept[name]:,}", f"{kept[name] / n:.1%}", path(name), f"{warm[name]:.1f}",
             f"{warm[name] / warm['plain']:.2f}", f"{cold[name]:.1f}",
             f"{cold[name] / cold['plain']:.2f}", f"{short[name]} / {len(texts)}"]
            for name in VARIANTS]  # fmt: skip
    headers = ["search", "kept", "share", "path", "warm p50 ms", "ratio", "cold p50 ms", "ratio",
               "short"]  # fmt: skip
    return (
        f"{n:,} vectors ({vs.name} set, bench/vectors.py), index {ix.describe(index)} built in "
        f"{build_s:.0f} s; metadata repeating the embedded corpus's rows, one scene per copy "
        f"({len(np.unique(scenes)):,} scenes; numbering them, `SearchEngine.scene_ids`, took "
        f"{scene_s:.2f} s once). Search p50 over {len(texts)} evaluation queries, both sensors, "
        f"k = {K}, encode included, the variants interleaved query by query; warm / cold as in "
        "the section above. Kept: rows the filter passes; path: how `search.candidates` ranks "
        f"them (up to {exact_max:,.0f} rows scored exactly, more through the index with a "
        f"bitmap selector); short: queries that got fewer than {K} results.\n\n"
        + md_table(headers, rows)
    )
