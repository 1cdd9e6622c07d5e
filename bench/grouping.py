"""Grouping by source scene and filters: variety, quality and cost on one corpus.

    python -m bench.grouping [--corpus precomputed]
    python -m bench.grouping --vectors 650000   # the cost at N vectors (section grouping-scale-N)
    python -m bench.grouping --vectors 100000 --set generic   # a learned encoder's stand-in

- distinct source scenes in the top 12 (both sensors), plain vs grouped, on the app's example
  queries, the issue's two problem queries and the evaluation queries;
- nDCG@10 per sensor, plain vs grouped, on the labelled images (graded relevance from labels,
  the evaluation's rule). A grouped list is scored as the list of tiles it shows (each scene's
  best tile, with that image's own relevance), condensed to labelled images like the plain list;
  the ideal DCG is the same for both (all labelled images of the sensor), so grouping is charged
  for every relevant tile it folds away;
- search p50 of plain, grouped and filtered queries (server side, encode included), as ratios
  to plain in the same run.

`--vectors N`: the same costs at N vectors instead (bench/grouping_scale.py): the realistic
vector set and index of bench.index_scale, metadata repeating the corpus's rows with one scene
per copy, and filters of several selectivities, each checked to return k results.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from bench.common import (
    CACHE_DIR,
    CORPUS_DIR,
    add_output_argument,
    command_line,
    md_table,
    write_section,
)
from closp_demo.evaluation.metrics import dcg_at_k
from closp_demo.evaluation.queries import load_queries
from closp_demo.evaluation.relevance import graded_relevance
from closp_demo.search.filters import parse_filters
from closp_demo.service import Explorer

SECTION = "grouping"
EXAMPLES = [  # app.py's examples (not imported: that would load gradio) + the two
    "a lake surrounded by forest", "river", "dense coniferous forest", "farmland with crop fields",
    "a town with buildings and roads", "snow covered land", "the sea", "wetland",
    "flooded fields after heavy rain", "airport runway",
]  # fmt: skip
LABELLED = parse_filters(unlabelled="drop")
ROUNDS = 3  # passes over the queries for the p50s (one pass is 71 queries of ~4 ms)
VARIANTS = {  # searches timed against plain (bench.grouping_scale adds filters of other shares)
    "plain": {},
    "grouped": {"group": True},
    "filtered (labelled, box Europe)": {
        "filters": parse_filters(unlabelled="drop", box="-30, 30, 40, 75")},
    "grouped + filtered (labelled)": {"group": True, "filters": LABELLED},
}  # fmt: skip


def distinct(explorer: Explorer, text: str, group: bool) -> int:
    results, _ = explorer.engine.search_text(text, "both", 12, group=group)
    return len({r.scene for r in results})


def ndcg10(explorer: Explorer, text: str, classes, sensor: str, group: bool) -> float:
    engine = explorer.engine
    lo, hi = engine.corpus.id_range(sensor)
    pool = [engine.rows.labels(i) for i in range(lo, hi)]
    ideal = np.sort(graded_relevance([p for p in pool if p], classes))[::-1]
    results, _ = engine.search_text(text, sensor, 10, filters=LABELLED, group=group)
    gains = graded_relevance([r.labels for r in results], classes)
    best = dcg_at_k(ideal, 10)
    return dcg_at_k(gains, 10) / best if best > 0 else math.nan


def hidden_tiles(explorer: Explorer, text: str) -> int:
    """Tiles behind the "+N more" of a grouped search (k = 12), not decoded unless opened."""
    results, _ = explorer.engine.search_text(text, "both", 12, group=True)
    return sum(r.more_in_scene for r in results)


def p50s_ms(
    explorer: Explorer, texts: list[str], variants: dict[str, dict], cold: bool = False
) -> dict[str, float]:
    """p50 per variant, the variants interleaved query by query (a shared machine's load then
    weighs on all of them alike). `cold`: every hit's row decoded anew (row cache emptied)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for text in texts:
        for name, kw in variants.items():
            if cold:
                explorer.engine.forget_rows()
            t0 = time.perf_counter()
            explorer.engine.search_text(text, "both", 12, **kw)
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: float(np.median(t)) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--vectors", type=int, help="measure the cost at N vectors instead")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR, help="vector sets (--vectors)")
    parser.add_argument("--augment", type=int, default=24, help="augmentations per real patch "
                        "of the --vectors set (bench.index_scale's)")  # fmt: skip
    parser.add_argument("--set", default="physics", choices=("physics", "generic"),
                        help="the --vectors set (bench/vectors.py): the shipped encoder's vectors "
                        "or a learned encoder's stand-in")  # fmt: skip
    parser.add_argument("--anchors", type=int, default=3000, help="captions of the generic set")
    add_output_argument(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    explorer = Explorer(args.corpus)
    if args.vectors:
        from bench.grouping_scale import at_scale

        body = at_scale(explorer, args.vectors, args.cache, args.augment, args.set, args.anchors)
        name = f"{SECTION}-scale-{args.vectors}" + ("" if args.set == "physics" else "-generic")
        write_section(args.benchmarks, name,
                      f"Grouping and filters at {args.vectors:,} vectors ({args.set} set)",
                      command_line("bench.grouping", argv), body, started)  # fmt: skip
        print(body)
        return 0
    queries = load_queries()
    rows = []
    for name, texts in (("examples + issue queries", EXAMPLES),
                        ("evaluation queries", [q.text for q in queries])):  # fmt: skip
        before = [distinct(explorer, t, False) for t in texts]
        after = [distinct(explorer, t, True) for t in texts]
        rows.append([name, len(texts), f"{np.mean(before):.1f}", min(before),
                     f"{np.mean(after):.1f}", min(after)])  # fmt: skip
    body = "Distinct source scenes in the top 12 (both sensors):\n\n" + md_table(
        ["queries", "n", "plain: mean", "plain: min", "grouped: mean", "grouped: min"], rows
    )
    per_query = [[t, distinct(explorer, t, False), distinct(explorer, t, True)] for t in EXAMPLES]
    body += "\n\n" + md_table(["query", "plain", "grouped"], per_query)
    quality = []
    for sensor in ("S1", "S2"):
        plain = [ndcg10(explorer, q.text, q.classes, sensor, False) for q in queries]
        grouped = [ndcg10(explorer, q.text, q.classes, sensor, True) for q in queries]
        quality.append([sensor, len(queries), f"{np.nanmean(plain):.3f}",
                        f"{np.nanmean(grouped):.3f}"])  # fmt: skip
    body += "\n\nMean nDCG@10 on the labelled images (all splits), graded relevance:\n\n"
    body += md_table(["sensor", "queries", "plain", "grouped"], quality)
    texts = [q.text for q in queries]
    explorer.engine.search_text("warm up", "both", 12, filters=LABELLED)  # untimed first query
    hidden = float(np.median([hidden_tiles(explorer, t) for t in texts]))
    warm = p50s_ms(explorer, texts * ROUNDS, VARIANTS)
    cold = p50s_ms(explorer, texts * ROUNDS, VARIANTS, cold=True)
    costs = [[n, f"{warm[n]:.1f}", f"{warm[n] / warm['plain']:.2f}", f"{cold[n]:.1f}",
              f"{cold[n] / cold['plain']:.2f}"] for n in VARIANTS]  # fmt: skip
    body += (f"\n\nSearch p50 ({len(texts)} queries x {ROUNDS} rounds, k = 12, encode included, "
             "the variants interleaved query by query). Warm: the hits' rows already decoded (the "
             "engine keeps the last 4096 rows, `ROW_CACHE`); cold: the cache emptied before every "
             "search, each row shown decoded anew (a grouped search groups its candidates by "
             "scene numbers, `SearchEngine.scene_ids`, and decodes only the tiles it shows; the "
             f"{hidden:.0f} behind their \"+N more\" (k = 12, median) only when their scene is "
             "opened):\n\n")  # fmt: skip
    body += md_table(["search", "warm p50 ms", "ratio", "cold p50 ms", "ratio"], costs)
    write_section(args.benchmarks, SECTION, "Grouping by scene and filters",
                  command_line("bench.grouping", argv), body, started)  # fmt: skip
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
