"""Text query latency, server side: tokenise+encode, search, gallery/table views, map HTML, total.

    python -m bench.query_latency [--queries 240]

Runs the app's own `Explorer.text_search` on the embedded corpus (precomputed/) for distinct
queries (bench/workload.py; the sensor filter cycles both / S1 / S2, k = 12), after 3 warm-up
queries. Thumbnails are pre-rendered .webp files that the browser fetches as static files, so the
server's per-query thumbnail work is the gallery entries (part of "views").

A second arm, interleaved query by query with the first (so machine noise hits both alike),
runs the same pipeline with PyTorch limited to one thread (`torch.set_num_threads(1)`): on 2 vCPU
shared with other work, PyTorch's default of one thread per core makes its OpenMP workers spin
and wait for a busy core. Each arm gets its own distinct queries. A pyinstrument profile of the
shipped pipeline follows the table.
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
    peak_rss_mb,
    proc_status_mb,
    profile_lines,
    write_section,
)
from bench.workload import distinct_queries

SECTION = "query-latency"
PARTS = (("tokenise_ms", "tokenise (part of encode)"), ("encode_ms", "tokenise + encode"),
         ("search_ms", "search (FAISS + results)"), ("views_ms", "gallery + table views"),
         ("map_ms", "map HTML"), ("total_ms", "total server-side"))  # fmt: skip
SENSORS = ("both", "S1", "S2")


def run_arm(explorer, texts: list[str], threads: int | None) -> dict[str, list[float]]:
    import torch

    default = torch.get_num_threads()
    out: dict[str, list[float]] = {key: [] for key, _ in PARTS}
    for i, text in enumerate(texts):
        if threads:
            torch.set_num_threads(threads)
        try:
            answer = explorer.text_search(text, SENSORS[i % 3], 12)
            t0 = time.perf_counter()
            explorer.encoder.text.tokenize([text])
            tokenise_ms = (time.perf_counter() - t0) * 1e3
        finally:
            torch.set_num_threads(default)
        if not answer.ok:
            raise RuntimeError(f"query {text!r} failed: {answer.message}")
        for key, _ in PARTS:
            out[key].append(tokenise_ms if key == "tokenise_ms" else answer.timings_ms[key])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=240, help="distinct queries per arm")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--profile-queries", type=int, default=40)
    add_output_argument(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    from closp_demo.service import Explorer

    explorer = Explorer(args.corpus)
    # Only now: importing torch before Explorer() would let its FAISS thread setting (shared
    # OpenMP runtime) pin PyTorch to one thread, which is not what the app runs with.
    import torch

    shipped_threads = torch.get_num_threads()
    texts = distinct_queries(2 * args.queries + args.profile_queries + 3)
    for text in texts[:3]:
        explorer.text_search(text)
    idle_rss = proc_status_mb().get("VmRSS", float("nan"))
    shipped_q = texts[3 : 3 + 2 * args.queries : 2]
    one_q = texts[4 : 4 + 2 * args.queries : 2]
    shipped: dict[str, list[float]] = {key: [] for key, _ in PARTS}
    one: dict[str, list[float]] = {key: [] for key, _ in PARTS}
    for a, b in zip(shipped_q, one_q, strict=True):  # interleaved arms
        for arm, text, threads in ((shipped, a, None), (one, b, 1)):
            for key, values in run_arm(explorer, [text], threads).items():
                arm[key] += values
    profile_q = texts[3 + 2 * args.queries :]
    profile = profile_lines(
        lambda: [explorer.text_search(t, SENSORS[i % 3], 12) for i, t in enumerate(profile_q)]
    )
    rows = []
    for key, label in PARTS:
        a, b = p50_p95(shipped[key]), p50_p95(one[key])
        rows.append([label, f"{a[0]:.1f}", f"{a[1]:.1f}", f"{b[0]:.1f}", f"{b[1]:.1f}"])
    body = md_table(
        ["part", f"p50 ms (shipped: torch {shipped_threads} threads)", "p95 ms",
         "p50 ms (torch 1 thread)", "p95 ms"], rows)  # fmt: skip
    body += (
        f"\n\n{len(shipped_q)} + {len(one_q)} distinct queries, k = 12, sensor cycling "
        f"both / S1 / S2, corpus `{args.corpus.name}/` ({len(explorer.corpus)} images). "
        f"RSS after start-up {idle_rss:.0f} MB, peak RSS {peak_rss_mb():.0f} MB.\n\n"
        f"pyinstrument profile of {len(profile_q)} more queries (shipped settings, % of time):\n\n"
        f"```\n{profile}\n```\n"
    )
    write_section(args.benchmarks, SECTION, "Text query latency (server side)",
                  command_line("bench.query_latency", argv), body, started)  # fmt: skip
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
