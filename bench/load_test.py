"""Bounded load test: N concurrent gradio_client sessions x M distinct text queries each.

    python -m bench.load_test                                  # 20 x 50, queue settings 1, 2, 4
    python -m bench.load_test --write BENCHMARKS.md            # ... and record the figures
    python -m bench.load_test --url http://127.0.0.1:7860/     # an app you started yourself

Without --url it starts the real app (`python app.py`, tests/helpers/app_server.py) on a free
127.0.0.1 port once per queue setting (CLOSP_CONCURRENCY = Gradio's default_concurrency_limit),
on a temporary copy of the corpus, so the shipped corpus is never touched. Loopback only: any
other host is refused. It stops by itself: every call has a timeout and the whole round a
deadline; calls not made before the deadline count as errors.

Each client is its own gradio_client.Client (its own session) and sends its queries one after
another through the public "/search" endpoint; latency is measured around each call, so it
includes the client's own work and the queue wait. The client threads run on the same machine
as the server (the figures are for that machine as a whole).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `python bench/load_test.py` as well as `-m bench.load_test`
    sys.path.insert(0, str(REPO_ROOT))

from bench.common import command_line, load_average, percentile, write_section  # noqa: E402
from bench.workload import distinct_queries  # noqa: E402

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
CONCURRENCY_ENV = "CLOSP_CONCURRENCY"
SECTION = "load-test"
DEFAULT_CONCURRENCY = (1, 2, 4)
SOLO_LABEL = "alone"


class LoadTestError(RuntimeError):
    """A load test that cannot run as asked; the message says why."""


def check_loopback(url: str) -> str:
    """Return `url` if it points at this machine (http on a loopback host); refuse otherwise."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or parsed.hostname not in LOOPBACK_HOSTS:
        raise LoadTestError(
            f"refusing to load-test {url!r}: only http://127.0.0.1 / localhost URLs are allowed"
        )
    return url


@dataclass
class RoundResult:
    """One round: `clients` sessions x `queries` calls against one app."""

    label: str  # the queue setting, e.g. "4"
    clients: int
    queries: int
    latencies_ms: list[float] = field(default_factory=list)  # successful calls only
    errors: list[str] = field(default_factory=list)  # one line per failed or unmade call
    wall_s: float = 0.0

    @property
    def calls(self) -> int:
        return self.clients * self.queries

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.ok / self.wall_s if self.wall_s > 0 else 0.0

    def stat(self, q: float) -> float:
        return percentile(self.latencies_ms, q)  # NaN when no call succeeded


def _check_rows(rows: object, k: int) -> str | None:
    """Why a /search answer is wrong, or None if it is a ranked list of k results."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return f"answer is not a list of rows: {type(rows).__name__}"
    if [r.get("rank") for r in rows] != list(range(1, len(rows) + 1)) or len(rows) != k:
        return f"expected ranks 1..{k}, got {[r.get('rank') for r in rows][:5]}..."
    return None


def run_round(
    url: str, clients: int, queries: int, *, label: str = "", k: int = 12, sensor: str = "both",
    call_timeout_s: float = 60.0, deadline_s: float = 900.0, seed: int = 0,
) -> RoundResult:  # fmt: skip
    """`clients` threads, each with its own gradio_client session, send `queries` distinct queries
    one after another; all start together. Never raises for a failed call: it is an error line."""
    from gradio_client import Client

    check_loopback(url)
    try:
        texts = distinct_queries(clients * queries, seed)
    except ValueError as err:
        raise LoadTestError(f"{clients} x {queries} queries: {err}") from None
    result = RoundResult(label, clients, queries)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at: list[float] = []  # the round's deadline, set before the start barrier opens

    def worker(i: int) -> None:
        mine = texts[i * queries : (i + 1) * queries]
        client, no_client = None, ""
        try:
            client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        except Exception as err:  # this session's calls all count as errors below
            no_client = f"no session ({type(err).__name__}: {err})"
        try:
            try:
                start.wait(timeout=call_timeout_s)
            except threading.BrokenBarrierError:
                with lock:
                    result.errors += [f"client {i} query {j}: round never started"
                                      for j in range(len(mine))]  # fmt: skip
                return
            for j, text in enumerate(mine):
                if client is None:
                    with lock:
                        result.errors.append(f"client {i} query {j}: {no_client}")
                    continue
                if time.monotonic() > stop_at[0]:
                    with lock:
                        result.errors.append(f"client {i} query {j}: not sent, round deadline")
                    continue
                t0 = time.perf_counter()
                try:
                    job = client.submit(text, sensor, k, api_name="/search")
                    rows = job.result(timeout=call_timeout_s)
                    problem = _check_rows(rows, k)
                except Exception as err:  # any failure is a data point, not a crash
                    problem = f"{type(err).__name__}: {err}"
                elapsed_ms = (time.perf_counter() - t0) * 1e3
                with lock:
                    if problem is None:
                        result.latencies_ms.append(elapsed_ms)
                    else:
                        result.errors.append(f"client {i} query {j} ({text!r}): {problem}")
        finally:
            if client is not None:
                client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at.append(time.monotonic() + deadline_s)
    # Every client connects first, then all start together; if one cannot, the workers record it.
    with suppress(threading.BrokenBarrierError):
        start.wait(timeout=call_timeout_s)
    t0 = time.perf_counter()
    for thread in threads:
        # A call can outlast the deadline by at most its own timeout.
        thread.join(timeout=max(0.0, stop_at[0] - time.monotonic()) + call_timeout_s + 5)
    result.wall_s = time.perf_counter() - t0
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        result.errors.append(f"{stuck} client thread(s) still running at the deadline")
    return result


@contextmanager
def _app(corpus: Path, concurrency: int):
    """The real app on a temporary copy of `corpus` (its log lands there too)."""
    from tests.helpers.app_server import running_app

    with tempfile.TemporaryDirectory(prefix="closp-load-") as tmp:
        copy = Path(tmp) / "precomputed"
        shutil.copytree(corpus, copy)
        with running_app(copy, env={CONCURRENCY_ENV: str(concurrency)}) as url:
            yield url


def warm_up(url: str) -> None:
    """One query before timing, so model and caches are loaded; raises if the app cannot answer."""
    from gradio_client import Client

    client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
    try:
        rows = client.submit("warm up query", "both", 3, api_name="/search").result(timeout=120)
        if _check_rows(rows, 3) is not None:
            raise LoadTestError(f"warm-up query got a wrong answer from {url}: {rows!r}")
    finally:
        client.close()


def run_benchmark(
    settings: Sequence[int], clients: int, queries: int, *, corpus: Path | None = None,
    url: str | None = None, solo: int = 0, **round_kwargs,
) -> list[RoundResult]:  # fmt: skip
    """One round per queue setting on a freshly started app, or one round against `url`; with
    `solo` > 0, first a single session sending `solo` queries (reported, never recommended)."""
    if url is not None:
        check_loopback(url)
        warm_up(url)
        return [run_round(url, clients, queries, label="as configured", **round_kwargs)]
    if corpus is None or not (corpus / "manifest.json").is_file():
        raise LoadTestError(
            f"no built corpus at {corpus} (build one: python -m closp_demo.corpus.build)"
        )
    results = []
    for n, setting in enumerate(settings):
        if setting < 1:
            raise LoadTestError(f"queue concurrency must be a positive integer, got {setting}")
        with _app(corpus, setting) as app_url:
            warm_up(app_url)
            if n == 0 and solo > 0:  # one visitor alone: the latency without any queue
                results.append(run_round(app_url, 1, solo, label=SOLO_LABEL, **round_kwargs))
            results.append(run_round(app_url, clients, queries, label=str(setting),
                                     **round_kwargs))  # fmt: skip
    return results


def recommend(results: Sequence[RoundResult]) -> RoundResult | None:
    """The error-free setting with the lowest p95 (ties within 5 %: higher throughput wins)."""
    clean = [r for r in results if not r.errors and r.latencies_ms and r.label != SOLO_LABEL]
    if not clean:
        return None
    best_p95 = min(r.stat(95) for r in clean)
    close = [r for r in clean if r.stat(95) <= best_p95 * 1.05]
    return max(close, key=lambda r: r.throughput)


TITLE = "Load test: concurrent sessions against the running app"


def report_body(results: Sequence[RoundResult], load_before: str) -> str:
    """The section's text below write_section's title/command/machine lines."""
    head = next((r for r in results if r.label != SOLO_LABEL), results[0])
    lines = [
        f"{head.clients} concurrent gradio_client sessions x {head.queries} distinct text queries "
        "each, through the `/search` endpoint on 127.0.0.1, after one warm-up query; latency per "
        "call as the client sees it, queue wait included (in this closed loop, p50 is about "
        "sessions / throughput). "
        + (
            "Row `alone`: one session by itself (on the first setting's app), the latency "
            "without a queue. "
            if any(r.label == SOLO_LABEL for r in results)
            else ""
        )
        + "The client threads share the machine with the server. Load average before the "
        f"run (1 / 5 min): {load_before}.",
        "",
        "| CLOSP_CONCURRENCY | sessions x queries | errors | p50 ms | p95 ms | max ms | queries/s"
        " |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.label} | {r.clients} x {r.queries} | {len(r.errors)} | {r.stat(50):.0f} "
            f"| {r.stat(95):.0f} "
            f"| {r.stat(100):.0f} | {r.throughput:.1f} |"
        )
    best = recommend(results)
    lines.append("")
    if best is None:
        lines.append("No setting ran without errors: see the errors printed by the run.")
    elif len([r for r in results if r.label != SOLO_LABEL]) > 1:
        lines.append(
            f"Chosen: **CLOSP_CONCURRENCY={best.label}** (lowest p95 without errors; within 5 % "
            "of it, the higher throughput)."
        )
    return "\n".join(lines)


def print_results(results: Sequence[RoundResult]) -> None:
    for r in results:
        print(
            f"[{r.label}: {r.clients} x {r.queries}] {r.ok}/{r.calls} ok, {len(r.errors)} errors,"
            f" p50 {r.stat(50):.0f} ms, p95 {r.stat(95):.0f} ms, max {r.stat(100):.0f} ms,"
            f" {r.throughput:.1f} queries/s over {r.wall_s:.1f} s"
        )
        for line in r.errors[:10]:
            print(f"  error: {line}")
        if len(r.errors) > 10:
            print(f"  ... and {len(r.errors) - 10} more errors")


def _settings(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,2,4, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="load-test an app already running on 127.0.0.1")
    parser.add_argument("--corpus", type=Path, default=REPO_ROOT / "precomputed")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--queries", type=int, default=50, help="queries per client")
    parser.add_argument(
        "--concurrency",
        type=_settings,
        default=list(DEFAULT_CONCURRENCY),
        help="queue settings to compare, e.g. 1,2,4 (ignored with --url)",
    )
    parser.add_argument(
        "--solo",
        type=int,
        default=20,
        help="queries of a single session first (0: none; ignored with --url)",
    )
    parser.add_argument("--k", type=int, default=12, help="results per query")
    parser.add_argument("--call-timeout", type=float, default=60.0, help="seconds per call")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds per round")
    parser.add_argument("--write", type=Path, help="Markdown file to update (e.g. BENCHMARKS.md)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.queries < 1:
        parser.error("--clients and --queries must be at least 1")
    command = command_line("bench.load_test", argv)
    started, load_before = time.perf_counter(), load_average()
    try:
        results = run_benchmark(
            args.concurrency, args.clients, args.queries, corpus=args.corpus, url=args.url,
            solo=args.solo, k=args.k, call_timeout_s=args.call_timeout, deadline_s=args.deadline,
        )  # fmt: skip
    except LoadTestError as err:
        print(f"load test not run: {err}", file=sys.stderr)
        return 2
    print_results(results)
    best = recommend(results)
    if best is not None and args.url is None:
        print(f"recommended: {CONCURRENCY_ENV}={best.label}")
    if args.write:
        write_section(args.write, SECTION, TITLE, command, report_body(results, load_before),
                      started)  # fmt: skip
        print(f"wrote section '{SECTION}' of {args.write}")
    return 0 if all(not r.errors for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
