"""Text query latency, server side: tokenise+encode, search, gallery/table views, map HTML, total.

    python -m bench.query_latency [--queries 240]

Runs the app's own `Explorer.text_search` on the embedded corpus (precomputed/) for distinct
queries (bench/workload.py; the sensor filter cycles both / S1 / S2, k = 12), after 3 warm-up
queries. Thumbnails are pre-rendered .webp files that the browser fetches as static files, so the
server's per-query thumbnail work is the gallery entries (part of "views").

A second arm, interleaved query by query with the first (so machine noise hits both alike),
runs the same pipeline with MiniLM on its PyTorch backend (one thread, `CLOSP_TORCH_THREADS`'s
default) instead of the numpy backend the app ships on CPU (closp_demo/encoders/bert_numpy.py,
chosen so that the default app never imports torch). Each arm gets its own distinct queries.
A pyinstrument profile of the shipped pipeline follows the table.
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


def measure(explorer, text: str, sensor: str, text_model=None) -> dict[str, float]:
    """One query's timings; `text_model` replaces the encoder's MiniLM for this query only."""
    shipped = explorer.encoder.text
    if text_model is not None:
        explorer.encoder.text = text_model
    try:
        answer = explorer.text_search(text, sensor, 12)
        t0 = time.perf_counter()
        explorer.encoder.text.tokenize([text])
        tokenise_ms = (time.perf_counter() - t0) * 1e3
    finally:
        explorer.encoder.text = shipped
    if not answer.ok:
        raise RuntimeError(f"query {text!r} failed: {answer.message}")
    return {**answer.timings_ms, "tokenise_ms": tokenise_ms}


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
    shipped_backend = explorer.encoder.text.backend
    import torch

    from closp_demo.encoders.minilm import MiniLMText

    torch.set_num_threads(explorer.settings.torch_threads)  # as the app does
    torch_text = MiniLMText(device="cpu", pooling="mean", backend="torch")
    texts = distinct_queries(2 * args.queries + args.profile_queries + 3)
    for text in texts[:3]:
        explorer.text_search(text)
    idle_rss = proc_status_mb().get("VmRSS", float("nan"))
    shipped_q = texts[3 : 3 + 2 * args.queries : 2]
    other_q = texts[4 : 4 + 2 * args.queries : 2]
    shipped: dict[str, list[float]] = {key: [] for key, _ in PARTS}
    other: dict[str, list[float]] = {key: [] for key, _ in PARTS}
    for j, (a, b) in enumerate(zip(shipped_q, other_q, strict=True)):  # interleaved arms
        for arm, text, model in ((shipped, a, None), (other, b, torch_text)):
            timings = measure(explorer, text, SENSORS[j % 3], model)
            for key, _ in PARTS:
                arm[key].append(timings[key])
    profile_q = texts[3 + 2 * args.queries :]
    profile = profile_lines(
        lambda: [explorer.text_search(t, SENSORS[i % 3], 12) for i, t in enumerate(profile_q)]
    )
    rows = []
    for key, label in PARTS:
        a, b = p50_p95(shipped[key]), p50_p95(other[key])
        rows.append([label, f"{a[0]:.1f}", f"{a[1]:.1f}", f"{b[0]:.1f}", f"{b[1]:.1f}"])
    body = md_table(
        ["part", f"p50 ms (shipped: MiniLM on {shipped_backend})", "p95 ms",
         f"p50 ms (MiniLM on torch, {torch.get_num_threads()} thread)", "p95 ms"],
        rows,
    )  # fmt: skip
    body += (
        f"\n\n{len(shipped_q)} + {len(other_q)} distinct queries, k = 12, sensor cycling "
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
