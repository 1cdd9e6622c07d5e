"""Helpers shared by the benchmark scripts: percentiles, memory, Markdown tables, output."""

from __future__ import annotations

import os
import resource
import shlex
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from closp_demo.evaluation.report import machine_line, replace_section

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = REPO_ROOT / "BENCHMARKS.md"
SAMPLES_DIR = Path(os.environ.get("CLOSP_SAMPLES_DIR", REPO_ROOT.parent / "shared" / "data" /
                                  "sentinel-samples"))  # fmt: skip
CORPUS_DIR = REPO_ROOT / "precomputed"
CACHE_DIR = Path(os.environ.get("CLOSP_BENCH_CACHE", "/tmp/closp-bench-cache"))


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in 0..100."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def p50_p95(values: Sequence[float]) -> tuple[float, float]:
    return percentile(values, 50), percentile(values, 95)


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def proc_status_mb() -> dict[str, float]:
    """VmRSS / VmHWM (peak) / RssAnon / RssFile of this process in MB (Linux /proc)."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[key] = int(value.split()[0]) / 1024
    except OSError:  # not Linux: the peak is all getrusage offers
        out["VmHWM"] = peak_rss_mb()
    return out


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so a later peak covers one phase only."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def load_average() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.1f} / {five:.1f}"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            if v != v:  # NaN
                return "–"
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}" if abs(v) < 1 else f"{v:.1f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def command_line(module: str, argv: Sequence[str] | None = None) -> str:
    args = sys.argv[1:] if argv is None else list(argv)
    return shlex.join(["python", "-m", module, *args])


def write_section(
    path: str | Path, name: str, title: str, command: str, body: str, started: float
) -> None:
    """One benchmark's block in BENCHMARKS.md: title, command, machine, load, table(s), notes."""
    header = (
        f"## {title}\n\n"
        f"`{command}`  \n"
        f"Machine: {machine_line()}; load average at the end (1 / 5 min): {load_average()}; "
        f"ran {time.strftime('%Y-%m-%d %H:%M', time.localtime())}, "
        f"{time.perf_counter() - started:.0f} s.\n\n"
    )
    replace_section(path, name, header + body.strip() + "\n")


def add_output_argument(parser) -> None:
    parser.add_argument(
        "--benchmarks", type=Path, default=BENCHMARKS_MD,
        help="Markdown file the table is written into (default: BENCHMARKS.md of the repo)",
    )  # fmt: skip


def profile_lines(fn, lines: int = 30, flat: bool = False, interval: float = 0.001) -> str:
    """Run `fn()` under pyinstrument (a dev requirement) and return the top of its report."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        fn()
        return "(pyinstrument not installed: pip install -r requirements-dev.txt)"
    profiler = Profiler(interval=interval)
    profiler.start()
    try:
        fn()
    finally:
        profiler.stop()
    text = profiler.output_text(unicode=False, color=False, flat=flat, time="percent_of_total",
                                short_mode=not flat)  # fmt: skip
    kept = [ln.rstrip() for ln in text.splitlines() if ln.strip()][:lines]
    return "\n".join(kept)
