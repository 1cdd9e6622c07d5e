"""Index at CrisisLandMark scale: build, load, memory, latency and recall@10 vs exact search.

    python -m bench.index_scale [--sizes 10000,100000,650000] [--sets physics,generic]

For every vector set (bench/vectors.py: realistic vectors, not i.i.d. random ones) and size, the
index `corpus.index.build_index` chooses ("auto") is built, saved and loaded memory-mapped;
extra kinds (`--kinds`, default HNSW) are built beside it for comparison. Per index:
- build time; load time and memory (RSS: anonymous vs file-backed pages) in a fresh process;
- single-query latency p50/p95 of `corpus.index.search` (one FAISS thread, as the app runs),
  and of numpy brute force (`emb @ q` + argpartition) in the same run, as a ratio;
- recall@10 against exact search for text queries and image queries, unfiltered and with the
  sensor filter (S1 is the minority sensor: the harder case for ANN);
- a sweep of the probe breadth (nprobe / efSearch): the recall/latency trade-off behind the
  chosen parameters;
- the server-side query time at that size: the app's real `Explorer.text_search` (encode,
  search, views, map) over a corpus whose metadata repeats the embedded corpus's rows (per-result
  work does not depend on N); the time and memory of `SearchEngine`'s metadata preparation at N
  rows are reported too.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.common import (
    CACHE_DIR,
    CORPUS_DIR,
    add_output_argument,
    command_line,
    md_table,
    median,
    p50_p95,
    proc_status_mb,
    write_section,
)
from bench.vectors import VectorSet, generic_set, physics_set
from bench.workload import distinct_queries
from closp_demo.corpus import index as ix
from closp_demo.encoders.minilm import shared_minilm

SECTION = "index-scale"
K = 10


# --- exact search and recall --------------------------------------------------------------------


TIE_EPS = 1e-5  # scores this close to the k-th exact score count as hits (see recall_at_k)


def exact_topk(
    vectors: np.ndarray, queries: np.ndarray, k: int, lo: int = 0, hi: int | None = None
) -> np.ndarray:
    """Exact k-th best score per query (Q,) over rows [lo, hi), in row blocks (bounded memory)."""
    hi = len(vectors) if hi is None else hi
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(lo, hi, 131_072):
        stop = min(start + 131_072, hi)
        s = queries @ np.asarray(vectors[start:stop]).T
        cand_s = np.concatenate([best_s, s], axis=1)
        cand_i = np.concatenate([best_i, np.broadcast_to(np.arange(start, stop), s.shape)], axis=1)
        keep = np.argpartition(-cand_s, min(k, cand_s.shape[1] - 1), axis=1)[:, :k]
        best_s = np.take_along_axis(cand_s, keep, 1)
        best_i = np.take_along_axis(cand_i, keep, 1)
    return best_s.min(axis=1)


def recall_at_k(found_scores: np.ndarray, kth_exact: np.ndarray, k: int = K) -> float:
    """Share of the exact top-k found, ties included: a returned row whose (exact, unquantised)
    score reaches the k-th exact score counts. Physics vectors have many near-ties (mixtures of
    10 prototypes), where two correct engines return different ids; id overlap would call that
    an error. Every index here stores vectors unquantised, so its returned scores are exact."""
    hits = (found_scores[:, :k] >= kth_exact[:, None] - TIE_EPS).sum(axis=1)
    return float(np.mean(np.minimum(hits, k) / k))


def numpy_topk(vectors: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """What a plain numpy explorer does: every score, then argpartition."""
    scores = vectors @ q
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


def time_each(fn, items) -> list[float]:
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def alternating(
    index, x: np.ndarray, queries: np.ndarray, block: int = 20
) -> tuple[tuple[float, float], tuple[float, float]]:
    """p50/p95 of the index and of numpy brute force on the same queries, in alternating blocks
    of `block` queries, so that machine noise (other processes on the 2 CPUs) hits both alike
    while each keeps its own caches warm within a block, as a server answering a stream would."""
    ours: list[float] = []
    theirs: list[float] = []
    for start in range(0, len(queries), block):
        chunk = queries[start : start + block]
        ours += time_each(lambda q: ix.search(index, q, K), chunk)
        theirs += time_each(lambda q: numpy_topk(x, q, K), chunk)
    return p50_p95(ours), p50_p95(theirs)


# --- the load probe: a fresh process, so memory and time are the index's own ----------------------


def probe_load(path: Path, queries_path: Path) -> dict:
    before = proc_status_mb()
    t0 = time.perf_counter()
    index = ix.load_index(path)
    load_ms = (time.perf_counter() - t0) * 1e3
    after_load = proc_status_mb()
    ix.set_single_query_threads()
    queries = np.load(queries_path)
    t0 = time.perf_counter()
    ix.search(index, queries[0], K)
    first_ms = (time.perf_counter() - t0) * 1e3
    for q in queries[1:]:
        ix.search(index, q, K)
    after = proc_status_mb()
    return {
        "load_ms": load_ms,
        "first_query_ms": first_ms,
        "anon_load_mb": after_load["RssAnon"] - before["RssAnon"],
        "file_load_mb": after_load["RssFile"] - before["RssFile"],
        "anon_mb": after["RssAnon"] - before["RssAnon"],
        "file_mb": after["RssFile"] - before["RssFile"],
    }


def run_probe(path: Path, queries: np.ndarray, tmp: Path) -> dict:
    qpath = tmp / "probe-queries.npy"
    np.save(qpath, queries)
    cmd = [sys.executable, "-m", "bench.index_scale", "--probe-load", str(path), str(qpath)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- one index ---------------------------------------------------------------------------------


@dataclass
class Row:
    set_name: str
    n: int
    kind: str
    describe: str
    build_s: float
    file_mb: float
    probe: dict
    lat: tuple[float, float]
    numpy_lat: tuple[float, float]
    recall_text: float
    recall_image: float
    recall_s1: float
    recall_s2: float
    sweep: list[tuple] = field(default_factory=list)
    server: dict = field(default_factory=dict)


def sweep_values(index) -> tuple[str, list[int]]:
    kind = ix.index_kind(index)
    if kind == "ivf":
        nlist = index.nlist
        return "nprobe", sorted({max(1, nlist // d) for d in (128, 64, 32, 16, 8)})
    if kind == "hnsw":
        return "efSearch", [16, 32, 64, 128, 256]
    return "", []


def set_breadth(index, value: int) -> None:
    if ix.index_kind(index) == "ivf":
        index.nprobe = value
    else:
        index.hnsw.efSearch = value


def measure_index(
    vs: VectorSet, x: np.ndarray, kind: str, text_q: np.ndarray, truth: dict, tmp: Path,
    sweep: bool,
) -> Row:  # fmt: skip
    n = len(x)
    spec = ix.choose_spec(n, kind)
    t0 = time.perf_counter()
    built = ix.build_index(x, spec=spec)
    build_s = time.perf_counter() - t0
    path = tmp / f"{vs.name}-{n}-{spec.kind}.faiss"
    ix.save_index(built, path)
    del built
    gc.collect()
    probe = run_probe(path, text_q, tmp)
    index = ix.load_index(path)
    ranges = vs.sensor_ranges
    for q in vs.image_queries[:20]:  # warm-up: page in the mapped file
        ix.search(index, q, K)
    lat, numpy_lat = alternating(index, x, text_q)

    def recall(queries: np.ndarray, key: str, rng: tuple[int, int] | None) -> float:
        scores, ids = ix.search_many(index, queries, K, rng)
        return recall_at_k(np.where(ids >= 0, scores, -np.inf), truth[key])

    row = Row(
        vs.name, n, spec.kind, ix.describe(index), build_s, path.stat().st_size / 2**20, probe,
        lat, numpy_lat, recall(text_q, "text", None), recall(vs.image_queries, "image", None),
        recall(text_q, "text-S1", ranges["S1"]), recall(text_q, "text-S2", ranges["S2"]),
    )  # fmt: skip
    name, values = sweep_values(index)
    if sweep and values:
        default = index.nprobe if spec.kind == "ivf" else index.hnsw.efSearch
        for value in values:
            set_breadth(index, value)
            p50 = median(time_each(lambda q: ix.search(index, q, K), text_q[:100]))
            row.sweep.append((f"{name}={value}", recall(text_q, "text", None),
                              recall(vs.image_queries, "image", None),
                              recall(text_q, "text-S1", ranges["S1"]), p50))  # fmt: skip
        set_breadth(index, default)
    row.server = {"index": index}
    return row


# --- server side at N rows ---------------------------------------------------------------------


def scaled_explorer(explorer, vs: VectorSet, index, scenes_per_copy: bool = False):
    """The app's Explorer serving `index`, with metadata repeating the embedded corpus's rows.

    `scenes_per_copy`: copy c > 0 of a row gets the id `<scene>~c<tile suffix>`, so each copy of
    a tiled scene is a scene of its own with the same tiles (as a larger corpus has many scenes),
    where plain repetition makes one scene of every copy: thousands of tiles, grouping's
    unrealistic worst case. Copies past the first then name thumbnails that do not exist (the
    server side only builds their paths)."""
    import pandas as pd

    from closp_demo.corpus.store import Corpus, _sensor_ranges
    from closp_demo.search.engine import SearchEngine
    from closp_demo.search.grouping import scene_of

    real = explorer.corpus.metadata
    parts = []
    for sensor, count in (("S1", vs.n_s1), ("S2", len(vs.vectors) - vs.n_s1)):
        rows = real.index[real["sensor"] == sensor].to_numpy()
        part = real.loc[np.resize(rows, count)]
        if scenes_per_copy:
            ids = real.loc[rows, "image_id"].tolist()
            scenes = [scene_of(i, s) for i, s in zip(ids, real.loc[rows, "source"], strict=True)]
            tails = [i[len(s) :] for i, s in zip(ids, scenes, strict=True)]
            copies = zip(*np.divmod(np.arange(count), len(rows)), strict=True)
            new = [ids[j] if c == 0 else f"{scenes[j]}~{c}{tails[j]}" for c, j in copies]
            part = part.assign(
                image_id=pd.Series(new, index=part.index, dtype=real["image_id"].dtype)
            )
        parts.append(part)
    meta = pd.concat(parts, ignore_index=True)
    corpus = Corpus(explorer.corpus.root, explorer.corpus.manifest, meta, vs.vectors, index,
                    _sensor_ranges(meta["sensor"]))  # fmt: skip
    before = proc_status_mb()["RssAnon"]
    t0 = time.perf_counter()
    engine = SearchEngine(corpus, explorer.encoder)
    prep = {"engine_init_s": time.perf_counter() - t0,
            "engine_mb": proc_status_mb()["RssAnon"] - before}  # fmt: skip
    saved = explorer.corpus, explorer.engine
    explorer.corpus, explorer.engine = corpus, engine
    return saved, prep


SERVER_PARTS = ("encode_ms", "search_ms", "views_ms", "map_ms", "total_ms")


def server_side(explorer, vs: VectorSet, index, texts: list[str]) -> dict:
    saved, prep = scaled_explorer(explorer, vs, index)
    parts: dict[str, list[float]] = {key: [] for key in SERVER_PARTS}
    try:
        for i, text in enumerate(texts):
            answer = explorer.text_search(text, ("both", "S1", "S2")[i % 3], 12)
            if not answer.ok:
                raise RuntimeError(f"query {text!r} failed: {answer.message}")
            for key in SERVER_PARTS:
                parts[key].append(answer.timings_ms[key])
    finally:
        explorer.corpus, explorer.engine = saved
    return {**{key: p50_p95(values) for key, values in parts.items()}, **prep}


# --- the run -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,650000")
    parser.add_argument("--sets", default="physics,generic")
    parser.add_argument(
        "--kinds",
        default="hnsw",
        help="kinds built beside the auto choice, comma-separated ('' for none)",
    )
    parser.add_argument(
        "--hnsw-max",
        type=int,
        default=650_000,
        help="largest size at which HNSW is built (its build is slow)",
    )
    parser.add_argument("--queries", type=int, default=200, help="distinct text queries")
    parser.add_argument("--server-queries", type=int, default=60)
    parser.add_argument("--augment", type=int, default=24, help="augmentations per real patch")
    parser.add_argument("--anchors", type=int, default=3000, help="captions of the generic set")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument(
        "--probe-load", nargs=2, metavar=("INDEX", "QUERIES"), help=argparse.SUPPRESS
    )  # internal: the fresh-process load probe
    add_output_argument(parser)
    args = parser.parse_args(argv)
    if args.probe_load:
        print(json.dumps(probe_load(Path(args.probe_load[0]), Path(args.probe_load[1]))))
        return 0
    started = time.perf_counter()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    extra = [k for k in args.kinds.split(",") if k]

    from closp_demo.service import Explorer

    # Explorer() sets FAISS to one thread before PyTorch loads, as in the app; calling
    # set_single_query_threads() again now would also pin PyTorch to one thread (shared OpenMP).
    explorer = Explorer(args.corpus)
    texts = distinct_queries(args.queries)
    # Text queries as each set's encoder makes them: the app's physics encoder for "physics";
    # the raw MiniLM (a learned text tower's stand-in) for "generic".
    minilm = explorer.encoder.text if hasattr(explorer.encoder, "text") else shared_minilm()
    queries_by_set = {"physics": explorer.encoder.encode_text(texts),
                      "generic": minilm.encode(texts)}  # fmt: skip
    rows: list[Row] = []
    descriptions = {}
    with tempfile.TemporaryDirectory(prefix="closp-index-scale-") as tmp_name:
        tmp = Path(tmp_name)
        for set_name in args.sets.split(","):
            if set_name == "physics":
                full = physics_set(sizes[-1], explorer.encoder, args.augment, cache=args.cache)
            elif set_name == "generic":
                full = generic_set(sizes[-1], minilm, args.anchors, cache=args.cache)
            else:
                parser.error(f"unknown set {set_name!r}: physics or generic")
            descriptions[set_name] = full.description
            text_q = queries_by_set[set_name]
            for n in sizes:
                vs = full.subset(n)
                x = np.ascontiguousarray(vs.vectors)
                ranges = vs.sensor_ranges
                truth = {
                    "text": exact_topk(x, text_q, K),
                    "image": exact_topk(x, vs.image_queries, K),
                    "text-S1": exact_topk(x, text_q, K, *ranges["S1"]),
                    "text-S2": exact_topk(x, text_q, K, *ranges["S2"]),
                }
                kinds = ["auto"] + [k for k in extra if k != ix.choose_spec(n).kind]
                for kind in kinds:
                    if kind == "hnsw" and n > args.hnsw_max:
                        continue
                    row = measure_index(vs, x, kind, text_q, truth, tmp, not args.no_sweep)
                    index = row.server.pop("index")
                    if kind == "auto":
                        row.server = server_side(explorer, vs, index,
                                                 texts[: args.server_queries])  # fmt: skip
                    del index
                    rows.append(row)
                    print(
                        f"{set_name} n={n} {row.describe}: build {row.build_s:.1f} s, "
                        f"p50 {row.lat[0]:.2f} ms, recall {row.recall_text:.3f}",
                        flush=True,
                    )
                del x
                gc.collect()
    body = report(rows, descriptions, args)
    write_section(args.benchmarks, SECTION, "Index at scale (recall, latency, memory)",
                  command_line("bench.index_scale", argv), body, started)  # fmt: skip
    print(body)
    return 0


def report(rows: list[Row], descriptions: dict[str, str], args) -> str:
    main_rows = []
    for r in rows:
        p = r.probe
        main_rows.append([
            r.set_name, f"{r.n:,}", r.describe, f"{r.build_s:.1f}", f"{p['load_ms']:.1f}",
            f"{p['anon_mb']:.0f} + {p['file_mb']:.0f}", f"{r.file_mb:.0f}",
            f"{r.lat[0]:.2f} / {r.lat[1]:.2f}", f"{r.numpy_lat[0]:.1f} / {r.numpy_lat[1]:.1f}",
            f"{r.numpy_lat[0] / r.lat[0]:.0f}x", f"{r.recall_text:.3f}", f"{r.recall_image:.3f}",
            f"{r.recall_s1:.3f} / {r.recall_s2:.3f}",
        ])  # fmt: skip
    out = [md_table(
        ["set", "N", "index", "build s", "load ms", "RSS anon + file MB", "file MB",
         "search p50 / p95 ms", "numpy p50 / p95 ms", "speed-up (p50)", "recall@10 text",
         "recall@10 image", "filtered recall S1 / S2"], main_rows)]  # fmt: skip
    server = [r for r in rows if r.server]
    if server:
        out.append(
            "\nServer-side query at N: the app's `Explorer.text_search` (sensor cycling both / S1 "
            "/ S2, k = 12), p50 / p95 ms, over metadata repeating the embedded corpus's rows; and "
            "`SearchEngine`'s per-row metadata preparation (start-up time, memory) at N rows:\n"
        )

        def cell(r: Row, key: str) -> str:
            return f"{r.server[key][0]:.1f} / {r.server[key][1]:.1f}"

        out.append(md_table(
            ["set", "N", "index", "encode", "search", "views", "map", "total server-side",
             "engine init s", "engine metadata MB"],
            [[r.set_name, f"{r.n:,}", r.describe, *(cell(r, k) for k in SERVER_PARTS),
              f"{r.server['engine_init_s']:.2f}", f"{r.server['engine_mb']:.0f}"]
             for r in server]))  # fmt: skip
    swept = [r for r in rows if r.sweep]
    if swept:
        out.append(
            "\nProbe-breadth sweep (recall@10 text / image / S1-filtered, search p50 ms); "
            "the row marked * is the default:\n"
        )
        sweep_rows = []
        for r in swept:
            for label, rt, ri, rs1, p50 in r.sweep:
                mark = " *" if _is_default(r, label) else ""
                sweep_rows.append([r.set_name, f"{r.n:,}", r.kind, label + mark, f"{rt:.3f}",
                                   f"{ri:.3f}", f"{rs1:.3f}", f"{p50:.2f}"])  # fmt: skip
        out.append(md_table(["set", "N", "kind", "setting", "recall text", "recall image",
                             "recall S1-filtered", "p50 ms"], sweep_rows))  # fmt: skip
    out.append("\nVector sets (cached in `--cache`):\n")
    out += [f"- **{name}**: {text}" for name, text in descriptions.items()]
    out.append(
        f"- Queries: {args.queries} distinct text queries (bench/workload.py) encoded by "
        "MiniLM; image queries: 200 held-out draws of the same generator."
    )
    out.append(
        f"- Machine load during the run makes absolute times noisy; the numpy ratio is "
        f"measured in the same run on the same queries. {os.cpu_count()} CPUs."
    )
    return "\n".join(out)


def _is_default(row: Row, label: str) -> bool:
    name, value = label.split("=")
    if name == "nprobe":
        return f"nprobe={value}" in row.describe
    return f"efS={value}" in row.describe


if __name__ == "__main__":
    raise SystemExit(main())
