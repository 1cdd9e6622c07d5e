"""MiniLM text backends side by side: import + load, query encode p50/p95, app cold start.

    python -m bench.text_backends [--runs 5] [--queries 120] [--skip-app]
                                  [--handwritten-tree DIR]

Backends (`MiniLMText(backend=...)`, `CLOSP_TEXT_BACKEND` for the app):
- onnx: onnxruntime over the cached torch.onnx export (closp_demo/encoders/bert_onnx.py), one
  intra-op thread; what the app runs on CPU;
- torch: transformers' BertModel, `CLOSP_TORCH_THREADS` (default 1) threads;
- numpy: the hand-written numpy BERT this branch deleted (bert_numpy.py + bert_checkpoint.py),
  measured from a worktree of the last commit that has it, in the same run:

      git worktree add --detach /tmp/bert-handwritten 265e9b7^   # = d5789e0
      python -m bench.text_backends --handwritten-tree /tmp/bert-handwritten

  That tree runs numpy and onnx (same app, same corpus, only CLOSP_TEXT_BACKEND differs), so
  numpy / onnx there is the backend's own effect; this tree runs onnx and torch (the app as it
  ships, Gradio start-up patches included; those came after that commit).

1. Fresh interpreter per run and row: "import + load" is the time from the first import to a
   model that has encoded one query (the network is built on the first encode), interpreter
   start excluded (the same for all). Then "encode": each of one fixed set of distinct queries
   (this tree's bench/workload.py, handed to every row) alone, as the app encodes them,
   tokenisation included; p50 / p95. One untimed child per row first (page cache, .pyc files,
   the ONNX export if it is missing).
2. `python app.py` of the row's tree with its backend, spawned until the first `/search` answer
   through gradio_client (bench.cold_start.run_app); rows interleaved run by run, so load drift
   hits all alike. The machine is shared: the 1-minute load average before each run is kept.
Compare ratios within one run, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECTION = "text-backends"
REPO_ROOT = Path(__file__).resolve().parents[1]
COLD_START_TARGET_S = 4.0  # issue 11: median over 5 runs, spawn -> first answered query


def child(backend: str, queries: list[str]) -> dict:
    """In a fresh interpreter (closp_demo from PYTHONPATH): import + load, then encode times."""
    t0 = time.perf_counter()
    from closp_demo.encoders.minilm import MiniLMText

    if backend == "torch":
        import torch

        torch.set_num_threads(int(os.environ.get("CLOSP_TORCH_THREADS", "1")))  # as the app
    text = MiniLMText(device="cpu", backend=backend)  # type: ignore[arg-type]
    text.encode(["warm-up: the network is built on the first encode"])
    load_s = time.perf_counter() - t0
    times = []
    for query in queries:
        t1 = time.perf_counter()
        text.encode([query])
        times.append((time.perf_counter() - t1) * 1e3)
    heavy = [m for m in ("torch", "transformers") if m in sys.modules]
    return {"load_s": load_s, "encode_ms": times, "runs": text.backend, "imports": heavy}


def run_child(backend: str, root: Path, queries_file: Path) -> dict:
    """This file's `child` in a fresh interpreter, importing closp_demo from `root`."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", backend,
           "--queries-file", str(queries_file)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{backend} child in {root} failed:\n{out.stderr[-3000:]}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if got["runs"] != backend:
        raise RuntimeError(f"{backend} child in {root} ran {got['runs']} instead")
    return got


def _commit(root: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=root)  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                            ":!BENCHMARKS.md"],
                           capture_output=True, text=True, cwd=root).stdout.strip()  # fmt: skip
    return (out.stdout.strip() or "?") + ("+changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per row")
    parser.add_argument("--queries", type=int, default=120, help="distinct queries per process")
    parser.add_argument("--skip-app", action="store_true", help="no `python app.py` cold starts")
    parser.add_argument("--handwritten-tree", type=Path, default=None,
                        help="worktree of 265e9b7^ (the numpy BERT): adds its numpy and onnx "
                        "rows")  # fmt: skip
    parser.add_argument("--corpus", type=Path, default=None, help="this tree's corpus")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--benchmarks", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.child:  # runs as a script: only the standard library is imported before this
        queries = json.loads(args.queries_file.read_text())
        print(json.dumps(child(args.child, queries)))
        return 0
    from bench.cold_start import run_app
    from bench.common import (
        BENCHMARKS_MD,
        CORPUS_DIR,
        command_line,
        md_table,
        median,
        p50_p95,
        write_section,
    )  # fmt: skip
    from bench.workload import distinct_queries

    started = time.perf_counter()
    here = f"this tree ({_commit(REPO_ROOT)})"
    rows_spec: list[tuple[str, str, Path, Path]] = []  # label, backend, tree, corpus
    old = args.handwritten_tree
    if old is not None:
        old = old.resolve()
        if not (old / "closp_demo" / "encoders" / "bert_numpy.py").is_file():
            parser.error(f"{old} has no closp_demo/encoders/bert_numpy.py: see the docstring")
        where = f"{old.name} ({_commit(old)})"
        rows_spec += [(f"numpy, {where}", "numpy", old, old / "precomputed"),
                      (f"onnx, {where}", "onnx", old, old / "precomputed")]  # fmt: skip
    corpus = args.corpus or CORPUS_DIR
    rows_spec += [(f"onnx, {here}", "onnx", REPO_ROOT, corpus),
                  (f"torch, {here}", "torch", REPO_ROOT, corpus)]  # fmt: skip
    labels = [r[0] for r in rows_spec]
    loads: dict[str, list[float]] = {lb: [] for lb in labels}
    encodes: dict[str, list[float]] = {lb: [] for lb in labels}
    apps: dict[str, list[float]] = {lb: [] for lb in labels}
    rss: dict[str, list[float]] = {lb: [] for lb in labels}
    imports: dict[str, list[str]] = {}
    load_avgs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        queries_file = Path(tmp) / "queries.json"
        queries_file.write_text(json.dumps(distinct_queries(args.queries)))
        warm = Path(tmp) / "warm.json"
        warm.write_text(json.dumps(["a lake"]))
        for _, backend, tree, _ in rows_spec:  # untimed: page cache, .pyc, a missing export
            run_child(backend, tree, warm)
        for _ in range(args.runs):  # round-robin: load drift hits every row alike
            for label, backend, tree, _ in rows_spec:
                load_avgs.append(os.getloadavg()[0])
                got = run_child(backend, tree, queries_file)
                loads[label].append(got["load_s"])
                encodes[label] += got["encode_ms"]
                imports[label] = got["imports"]
            if args.skip_app:
                continue
            for label, backend, tree, corpus_dir in rows_spec:
                load_avgs.append(os.getloadavg()[0])
                app = run_app(corpus_dir, env={"CLOSP_TEXT_BACKEND": backend}, root=tree)
                apps[label].append(app["first_search_s"])
                rss[label].append(app["peak RSS MB"])

    base = f"onnx, {here}"
    base_load, base_p50 = median(loads[base]), p50_p95(encodes[base])[0]
    base_app = median(apps[base]) if apps[base] else float("nan")
    rows = []
    for label in labels:
        p50, p95 = p50_p95(encodes[label])
        app = median(apps[label]) if apps[label] else float("nan")
        rows.append([
            label, ", ".join(imports[label]) or "–",
            f"{median(loads[label]):.2f}", f"{median(loads[label]) / base_load:.1f}x",
            f"{p50:.1f}", f"{p95:.1f}", f"{p50 / base_p50:.1f}x",
            f"{app:.2f}" if apps[label] else "–",
            f"{app / base_app:.2f}x" if apps[label] else "–",
            f"{median(rss[label]):.0f}" if rss[label] else "–",
        ])  # fmt: skip
    body = md_table(
        ["backend, tree", "imports torch / transformers", "import + load s (median)", "vs onnx",
         "encode p50 ms", "encode p95 ms", "p50 vs onnx", "app cold start s (median)",
         "vs onnx", "app peak RSS MB"],
        rows,
    )  # fmt: skip
    body += (
        f"\n\n{args.runs} fresh processes per row, {args.queries} distinct queries each, encoded "
        "one at a time (tokenisation included); app cold start = spawn of `python app.py` with "
        "`CLOSP_TEXT_BACKEND=<backend>` to the first `/search` answer through gradio_client, "
        f"{args.runs} runs per row, interleaved. Ratios are to onnx in this tree. 1-minute load "
        f"average before each measurement: median {median(load_avgs):.2f}, "
        f"range {min(load_avgs):.2f}-{max(load_avgs):.2f} (2 vCPU).\n"
    )
    if apps[base]:
        verdict = "met" if base_app <= COLD_START_TARGET_S else "missed"
        body += (
            f"\nCold-start target <= {COLD_START_TARGET_S:.0f} s (median, onnx as shipped): "
            f"**{verdict}** ({base_app:.2f} s over {len(apps[base])} runs).\n"
        )
    write_section(args.benchmarks or BENCHMARKS_MD, SECTION, "Text backends (MiniLM on CPU)",
                  command_line("bench.text_backends", argv), body, started)  # fmt: skip
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
