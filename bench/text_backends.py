"""MiniLM text backends side by side: import + load, query encode p50/p95, app cold start.

    python -m bench.text_backends [--runs 5] [--queries 120] [--skip-app]

Backends (`MiniLMText(backend=...)`, `CLOSP_TEXT_BACKEND` for the app):
- onnx: onnxruntime over the cached torch.onnx export (closp_demo/encoders/bert_onnx.py), one
  intra-op thread; what the app runs on CPU;
- torch: transformers' BertModel, `CLOSP_TORCH_THREADS` (default 1) threads.
The hand-written forwards this replaced (numpy, and plain torch without transformers) were
measured by this script at commit 177905b (BENCHMARKS.md keeps that table).

1. Fresh interpreter per run and backend: "import + load" is the time from the first import to a
   model that has encoded one query (the network is built on the first encode), interpreter
   start excluded (the same for all). Then "encode": each of a fixed set of distinct queries
   (bench/workload.py) alone, as the app encodes them, tokenisation included; p50 / p95.
2. `python app.py` with each backend, spawned until the first `/search` answer through
   gradio_client (bench.cold_start.run_app); runs interleaved backend by backend, so load drift
   hits all alike. The machine is shared: the 1-minute load average before each run is kept.
Ratios are to onnx within this run; compare those, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SECTION = "text-backends"
REPO_ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("onnx", "torch")


def _load(backend: str):
    """MiniLMText on `backend`, its network built (one query encoded)."""
    from closp_demo.encoders.minilm import MiniLMText

    if backend == "torch":
        import torch

        torch.set_num_threads(int(os.environ.get("CLOSP_TORCH_THREADS", "1")))  # as the app
    text = MiniLMText(device="cpu", backend=backend)
    text.encode(["warm-up: the network is built on the first encode"])
    return text


def child(backend: str, queries: int) -> dict:
    """In a fresh interpreter: import + load time, then per-query encode times (ms)."""
    t0 = time.perf_counter()
    text = _load(backend)
    load_s = time.perf_counter() - t0
    from bench.workload import distinct_queries

    times = []
    for query in distinct_queries(queries):
        t1 = time.perf_counter()
        text.encode([query])
        times.append((time.perf_counter() - t1) * 1e3)
    heavy = [m for m in ("torch", "transformers") if m in sys.modules]
    return {"load_s": load_s, "encode_ms": times, "runs": text.backend, "imports": heavy}


def run_child(backend: str, queries: int) -> dict:
    cmd = [sys.executable, "-m", "bench.text_backends", "--child", backend,
           "--queries", str(queries)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{backend} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per backend")
    parser.add_argument("--queries", type=int, default=120, help="distinct queries per process")
    parser.add_argument("--skip-app", action="store_true", help="no `python app.py` cold starts")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, default=None)
    from bench.common import add_output_argument

    add_output_argument(parser)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.queries)))
        return 0
    from bench.cold_start import run_app
    from bench.common import CORPUS_DIR, command_line, md_table, median, p50_p95, write_section

    started = time.perf_counter()
    backends = BACKENDS
    loads: dict[str, list[float]] = {b: [] for b in backends}
    encodes: dict[str, list[float]] = {b: [] for b in backends}
    apps: dict[str, list[float]] = {b: [] for b in backends}
    load_avgs: list[float] = []
    imports: dict[str, list[str]] = {}
    for _ in range(args.runs):  # round-robin: load drift hits every backend alike
        for backend in backends:
            load_avgs.append(os.getloadavg()[0])
            got = run_child(backend, args.queries)
            loads[backend].append(got["load_s"])
            encodes[backend] += got["encode_ms"]
            imports[backend] = got["imports"]
        if args.skip_app:
            continue
        for backend in backends:
            load_avgs.append(os.getloadavg()[0])
            env = {"CLOSP_TEXT_BACKEND": backend}
            apps[backend].append(run_app(args.corpus or CORPUS_DIR, env=env)["first_search_s"])

    base_load = median(loads["onnx"])
    base_p50 = p50_p95(encodes["onnx"])[0]
    base_app = median(apps["onnx"]) if apps["onnx"] else float("nan")
    rows = []
    for backend in backends:
        p50, p95 = p50_p95(encodes[backend])
        app = median(apps[backend]) if apps[backend] else float("nan")
        rows.append([
            backend, ", ".join(imports[backend]) or "–",
            f"{median(loads[backend]):.2f}", f"{median(loads[backend]) / base_load:.1f}x",
            f"{p50:.1f}", f"{p95:.1f}", f"{p50 / base_p50:.1f}x",
            f"{app:.2f}" if apps[backend] else "–",
            f"{app / base_app:.2f}x" if apps[backend] else "–",
        ])  # fmt: skip
    body = md_table(
        ["backend", "imports torch / transformers", "import + load s (median)", "vs onnx",
         "encode p50 ms", "encode p95 ms", "p50 vs onnx", "app cold start s (median)",
         "vs onnx"],
        rows,
    )  # fmt: skip
    body += (
        f"\n\n{args.runs} fresh processes per backend, {args.queries} distinct queries each, "
        "encoded one at a time (tokenisation included); app cold start = spawn of "
        "`python app.py` with `CLOSP_TEXT_BACKEND=<backend>` to the first `/search` answer "
        f"through gradio_client, {args.runs} runs per backend, interleaved. 1-minute load "
        f"average before each measurement: median {median(load_avgs):.2f}, "
        f"range {min(load_avgs):.2f}-{max(load_avgs):.2f}.\n"
    )
    write_section(args.benchmarks, SECTION, "Text backends (MiniLM on CPU)",
                  command_line("bench.text_backends", argv), body, started)  # fmt: skip
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
