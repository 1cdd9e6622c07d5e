"""Grouped and filtered search at N vectors (`python -m bench.grouping --vectors N`).

A vector set (physics: the shipped encoder's; generic with `--set generic`: a learned encoder's
stand-in) and the index `corpus.index` chooses at N (bench.index_scale's builders),
served by the app's engine over metadata repeating the embedded corpus's rows, each copy of a
tiled scene a scene of its own (`scaled_explorer(scenes_per_copy=True)`). Filters of several
selectivities: the kept share decides the path (`search.candidates`: small sets
scored exactly, more through the index with a row selector), so each is timed, and each is
checked to return k results for every query (k rows always pass).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from bench.common import md_table
from bench.grouping import VARIANTS as BASE_VARIANTS
from bench.grouping import p50s_ms
from bench.index_scale import scaled_explorer
from bench.vectors import generic_set, physics_set
from closp_demo.corpus import index as ix
from closp_demo.encoders.minilm import shared_minilm
from closp_demo.evaluation.queries import load_queries
from closp_demo.search.candidates import EXACT_ROWS, EXACT_SHARE, top_k
from closp_demo.search.filters import parse_filters
from closp_demo.service import Explorer

K = 12
VARIANTS = {
    **BASE_VARIANTS,
    "filtered (source hydro)": {"filters": parse_filters(sources="hydro")},
    "filtered (box 10..20 E, 45..50 N)": {"filters": parse_filters(box="10, 45, 20, 50")},
    "filtered (box 0..10 E, 40..50 N)": {"filters": parse_filters(box="0, 40, 10, 50")},
    "grouped + filtered (box 0..10 E, 40..50 N)": {
        "group": True, "filters": parse_filters(box="0, 40, 10, 50")},
}  # fmt: skip


def short_lists(explorer: Explorer, texts: list[str], kw: dict) -> int:
    """Queries that got fewer than K results (K rows, and K scenes, pass every filter here)."""
    return sum(len(explorer.engine.search_text(t, "both", K, **kw)[0]) < K for t in texts)


def at_scale(
    explorer: Explorer, n: int, cache: Path, augment: int = 24, vector_set: str = "physics",
    anchors: int = 3000,
) -> str:  # fmt: skip
    """The tables at `n` vectors of `vector_set` ("physics": the shipped encoder's; "generic":
    a learned encoder's stand-in, its filter recall measured with raw MiniLM text queries, as
    bench.index_scale measures it; the timed searches encode with the app's encoder either way)."""
    if vector_set == "generic":
        minilm = shared_minilm()
        vs = generic_set(n, minilm, anchors, cache=cache)
        encode = minilm.encode
    else:
        vs = physics_set(n, explorer.encoder, augment, cache=cache)
        encode = explorer.encoder.encode_text
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
        widening = ""
        if ix.index_kind(index) == "ivf":  # the only kind whose probes a filter widens
            widening = widening_table(explorer, index, np.asarray(vs.vectors), texts, encode)
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
        + "\n\n"
        + widening
    )


CONCEPTS = ("a lake", "dense forest", "a city", "snow")  # filters correlated with content
SHELLS = ((1 / 8, 1 / 4), (1 / 20, 1 / 10))  # (nearest share left out, next share kept)
# The extension's patience compared (`corpus.index.IVF_EXTEND_PATIENCE`): 1, the first step that
# changes nothing ends it; shipped, more steps once one has paid.
PATIENCES = (1, ix.IVF_EXTEND_PATIENCE)


def before_rule(index, query: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The rule shipped before: the nprobe x min(4, 1 / share) best lists, any content."""
    n = len(mask)
    bits = np.packbits(mask, bitorder="little")
    ivf = faiss.extract_index_ivf(index)
    widen = min(ix.IVF_MAX_WIDEN, n / np.count_nonzero(mask))
    sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))  # kept alive through the search
    nprobe = min(ivf.nlist, math.ceil(ivf.nprobe * widen))
    params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
    return index.search(query.reshape(1, -1), K, params=params)[0][0]


def widening_table(
    explorer: Explorer, index, vectors: np.ndarray, texts: list[str],
    encode: Callable[[list[str]], np.ndarray],
) -> str:  # fmt: skip
    """How many IVF lists a filtered search probes: the rule shipped before (widened by
    1 / share) vs `corpus.index`'s, its extension's patience at 1 and as shipped, as the
    index-search p50
    ratio to the unfiltered search (same queries, interleaved) and recall@12 against exact
    search over the kept rows. Filters: the metadata filters above that go through the index,
    filters correlated with content (the rows most similar to a concept, 30 % / 15 %) and
    shells around each query (its nearest rows left out, the next kept: per query, so no
    ratio; the hardest case for any probe rule)."""
    engine = explorer.engine
    queries = encode(texts).astype(np.float32)
    masks = {name: engine.filter_mask(kw["filters"]) for name, kw in VARIANTS.items()
             if "filters" in kw and "grouped" not in name}  # fmt: skip
    masks = {k: m for k, m in masks.items() if m.sum() > min(EXACT_ROWS, EXACT_SHARE * len(m))}
    for concept, c in zip(CONCEPTS, encode(list(CONCEPTS)), strict=True):
        sims = vectors @ c.astype(np.float32)
        for share in (0.3, 0.15):
            masks[f"nearest {share:.0%} to '{concept}'"] = sims >= np.quantile(sims, 1 - share)
    for out, share in SHELLS:
        masks[f"shell: nearest {out:.1%} left out, next {share:.0%} kept"] = (out, share)
    n = len(vectors)
    rules = ["before", *PATIENCES]
    rows = []
    saved = ix.IVF_EXTEND_PATIENCE
    try:
        for name, mask in masks.items():
            shell = isinstance(mask, tuple)
            times = {rule: ([], []) for rule in rules}
            recall: dict = {rule: [] for rule in rules}
            for q in queries:
                if shell:
                    sims = vectors @ q
                    order = np.argsort(-sims)
                    lo, hi = int(mask[0] * n), int((mask[0] + mask[1]) * n)
                    m = np.zeros(n, dtype=bool)
                    m[order[lo:hi]] = True
                    bar = sims[order[lo + K - 1]]
                else:
                    m = mask
                    bar = np.sort(vectors[np.flatnonzero(m)] @ q)[-K]  # exact K-th score
                for rule in rules:
                    t0 = time.perf_counter()
                    top_k(index, vectors, q, K)
                    t1 = time.perf_counter()
                    if rule == "before":
                        scores = before_rule(index, q, m)
                    else:
                        ix.IVF_EXTEND_PATIENCE = rule
                        scores = [h.score for h in ix.search_mask(index, q, K, m)]
                    times[rule][0].append(t1 - t0)
                    times[rule][1].append(time.perf_counter() - t1)
                    recall[rule].append(np.mean([s >= bar - 1e-5 for s in scores]))
            share = mask[1] if shell else np.count_nonzero(mask) / n
            cells = [name, f"{share:.1%}"]
            for rule in rules:
                plain, filtered = times[rule]
                ratio = "-" if shell else f"{np.median(filtered) / np.median(plain):.2f}"
                cells += [ratio, f"{np.mean(recall[rule]):.3f}", f"{np.min(recall[rule]):.2f}"]
            rows.append(cells)
    finally:
        ix.IVF_EXTEND_PATIENCE = saved
    headers = ["filter", "share"]
    for rule in rules:
        label = "before: 1 / share" if rule == "before" else f"now, patience {rule}"
        label += " (shipped)" if rule == saved else ""
        headers += [f"{label}: ratio", "recall@12", "min"]
    return (
        "IVF lists probed by a filtered search: before, the nprobe best lists widened by "
        "1 / share kept (at most 4x); now lists in the query's order, those without a kept row "
        "skipped, until the kept rows reached are `corpus.index.IVF_KEPT_PROBED` x the rows an "
        "unfiltered search probes (at least nprobe lists), then nprobe / 4 more at a time while "
        "they improve the top k, at most 4x nprobe in all: with patience 1 the first step that "
        "changes nothing ends it; with patience p, once a step has changed the top k, p in a "
        "row must change nothing (`corpus.index.IVF_EXTEND_PATIENCE`). Index search alone "
        "(`search.candidates.top_k`), p50 ratio to the unfiltered search of the same queries, "
        f"and recall@{K} against exact search over the kept rows (mean, worst query):\n\n"
        + md_table(headers, rows)
    )
