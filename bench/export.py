"""Export of the current results: CSV, GeoJSON and ZIP (thumbnails + GeoJSON + CSV), 50 results.

    python -m bench.export [--corpus precomputed] [--k 50] [--runs 20]

Times `Explorer.export` (what the UI's export buttons and the /export endpoint run after the
search): building the rows and footprint geometries, writing the file, for the ZIP reading every
thumbnail. Formats interleaved run by run, so a shared machine's load weighs on all alike.
Budget (issue 13): 50 results <= 500 ms.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import (
    CORPUS_DIR,
    add_output_argument,
    command_line,
    md_table,
    p50_p95,
    write_section,
)
from closp_demo.service import Explorer
from closp_demo.views.export import FORMATS

SECTION = "export"
BUDGET_MS = 500.0
QUERY = "forest"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--k", type=int, default=50, help="results exported")
    parser.add_argument("--runs", type=int, default=20, help="exports per format")
    add_output_argument(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    explorer = Explorer(args.corpus)
    answer = explorer.text_search(QUERY, "both", args.k, render=False)
    if not answer.ok:
        raise SystemExit(answer.message)
    results = answer.results
    times: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
    sizes: dict[str, int] = {}
    for fmt in FORMATS:  # warm-up: first file system touches, imports
        explorer.export(results, fmt)
    for _ in range(args.runs):
        for fmt in FORMATS:
            t0 = time.perf_counter()
            path, message = explorer.export(results, fmt)
            times[fmt].append((time.perf_counter() - t0) * 1e3)
            if path is None:
                raise SystemExit(message)
            sizes[fmt] = path.stat().st_size
    rows = []
    for fmt in FORMATS:
        p50, p95 = p50_p95(times[fmt])
        verdict = "within" if p95 <= BUDGET_MS else "OVER"
        rows.append([fmt, len(results), f"{p50:.1f}", f"{p95:.1f}", f"{sizes[fmt] / 1024:.0f}",
                     f"{verdict} ({BUDGET_MS:.0f} ms)"])  # fmt: skip
    body = (
        f"`Explorer.export` of the top {len(results)} results for “{QUERY}” (both sensors), "
        f"{args.runs} runs per format, server side (the search itself not included):\n\n"
    )
    body += md_table(["format", "results", "p50 ms", "p95 ms", "file KiB", "budget (p95)"], rows)
    write_section(args.benchmarks, SECTION, "Export (CSV, GeoJSON, ZIP)",
                  command_line("bench.export", argv), body, started)  # fmt: skip
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
