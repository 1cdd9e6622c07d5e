"""What reading the query (p(c|q), nearest terms, out-of-scope decision) adds to a text search.

    python -m bench.query_reading [--repeats 5]

Budget (issue 13): query reading adds <= 2 ms. Per query, interleaved so load weighs alike:
- `encode_text` alone (what a search encoded before the reading existed);
- `read_and_embed` (the search vector and the reading, the text encoded once: what the search
  does now);
- the reading's own work on an already encoded text (vocabulary product, sort, the reading
  object, its message), timed in isolation.
20 queries: the app's examples, the issue's two, and ten of the scope lists.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import add_output_argument, command_line, md_table, write_section
from closp_demo.encoders import create_encoder
from closp_demo.search.reading import QueryReader

SECTION = "query-reading"
QUERIES = [
    "a lake surrounded by forest", "river", "dense coniferous forest", "farmland with crop fields",
    "a town with buildings and roads", "snow covered land", "the sea", "wetland",
    "flooded fields after heavy rain", "airport runway", "cloudy image", "a red sports car",
    "Tokyo", "a glacier", "birthday party", "rice fields", "a cup of coffee", "sandy desert",
    "a football match", "burnt land after a wildfire",
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    add_output_argument(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    encoder = create_encoder("physics-minilm")
    reader = QueryReader(encoder)
    reader.read("warm up")  # vocabulary and calibration, once per process
    times: dict[str, list[float]] = {"encode_text": [], "read_and_embed": [], "reading only": []}
    for _ in range(args.repeats):
        for q in QUERIES:
            t0 = time.perf_counter()
            encoder.encode_text([q])
            t1 = time.perf_counter()
            reader.read_and_embed(q)
            t2 = time.perf_counter()
            times["encode_text"].append((t1 - t0) * 1e3)
            times["read_and_embed"].append((t2 - t1) * 1e3)
    raw = encoder.text_vectors(QUERIES)
    for _ in range(args.repeats):
        for i, q in enumerate(QUERIES):
            t0 = time.perf_counter()
            reader.reading_from(q, raw[i : i + 1]).message()
            times["reading only"].append((time.perf_counter() - t0) * 1e3)
    p50 = {k: float(np.median(v)) for k, v in times.items()}
    rows = [[k, f"{v:.3f}"] for k, v in p50.items()]
    extra = p50["read_and_embed"] - p50["encode_text"]
    rows.append(["read_and_embed - encode_text", f"{extra:.3f}"])
    body = (
        f"{len(QUERIES)} queries x {args.repeats} repeats, physics-minilm (numpy MiniLM), p50 per "
        "query in ms; budget: the reading adds <= 2 ms.\n\n" + md_table(["step", "p50 ms"], rows)
    )
    write_section(args.benchmarks, SECTION, "Query reading", command_line("bench.query_reading",
                  argv), body, started)  # fmt: skip
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
