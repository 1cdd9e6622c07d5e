"""Run every benchmark, each writing its table into BENCHMARKS.md.

    python -m bench.run_all [--tiny] [--only query_latency,cold_start] [--benchmarks FILE]

Full sizes take ~30-40 min on 2 vCPU (index_scale at 650k vectors dominates; its vector sets
are cached under /tmp/closp-bench-cache for later runs). The load test is not among them (it
serves the app to 20 clients for several minutes): `python -m bench.load_test --write
BENCHMARKS.md`. `--tiny` runs each at a size that takes
seconds (the smoke test's sizes; the figures are meaningless).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from bench.common import BENCHMARKS_MD

# Order: the quick, app-level ones first; the long index run last.
BENCHES = ("query_latency", "query_reading", "export", "disk", "grouping", "detail_budgets",
           "cold_start", "text_backends", "browser_latency", "upload_latency", "upload_layouts",
           "tile_raster", "index_scale")  # fmt: skip
TINY: dict[str, list[str]] = {
    "query_latency": ["--queries", "4", "--profile-queries", "2"],
    "query_reading": ["--repeats", "1"],
    "export": ["--k", "5", "--runs", "1"],
    "disk": ["--answers", "3", "--uploads", "1"],
    "grouping": [],  # the evaluation's 71 queries: under a minute
    "detail_budgets": ["--opens", "2", "--repeats", "1"],
    "cold_start": ["--runs", "1"],
    "text_backends": ["--runs", "1", "--queries", "3", "--skip-app"],
    "browser_latency": ["--queries", "2", "--warmup", "1"],
    "upload_latency": ["--sizes", "120,300", "--runs", "1"],
    "upload_layouts": ["--runs", "1", "--safe-mb", "20"],
    "tile_raster": ["--side", "500"],
    "index_scale": ["--sizes", "1500", "--augment", "1", "--anchors", "40", "--queries", "8",
                    "--server-queries", "3", "--kinds", "ivf,hnsw"],
}  # fmt: skip
CACHED = ("index_scale", "tile_raster")  # benches that take --cache


def bench_args(name: str, tiny: bool, benchmarks: Path, cache: Path | None) -> list[str]:
    args = list(TINY[name]) if tiny else []
    if cache is not None and name in CACHED:
        args += ["--cache", str(cache)]
    if benchmarks.resolve() != BENCHMARKS_MD.resolve():  # the default stays out of the record
        args += ["--benchmarks", str(benchmarks)]
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="smoke-test sizes (seconds each)")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(BENCHES)}")
    parser.add_argument("--benchmarks", type=Path, default=BENCHMARKS_MD)
    parser.add_argument("--cache", type=Path, default=None, help="vector / raster cache folder")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHES)}")
    for name in names:
        t0 = time.perf_counter()
        print(f"== bench.{name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        code = module.main(bench_args(name, args.tiny, args.benchmarks, args.cache))
        print(f"== bench.{name}: done in {time.perf_counter() - t0:.0f} s", flush=True)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
