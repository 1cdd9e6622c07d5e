"""Disk a long-running app uses for the files it sends: exports, the API's detail composites
and heat maps (each answer one folder of the explorer's scratch, the newest `scratch.KEEP` kept),
and upload previews (one per upload, removed when Gradio drops the session).

    python -m bench.disk [--corpus precomputed] [--answers 200] [--uploads 20]

Runs each kind of answer `--answers` times in-process, as the endpoints do, and reads the
scratch folder's size as it goes: it must stop growing at KEEP answers. Gradio's own copies of
what it sends are swept by age (`CLOSP_FILE_HOURS`), which tests/test_app_disk.py checks on the
running app; they are not counted here.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.common import (
    CORPUS_DIR,
    SAMPLES_DIR,
    add_output_argument,
    command_line,
    md_table,
    write_section,
)
from closp_demo.search.engine import Overlay
from closp_demo.service import Explorer
from closp_demo.service.scratch import KEEP
from closp_demo.ui.heat import heatmap_api

SECTION = "disk"
SCENE = Path("sen1floods11") / "Spain_7370579_S1Hand.tif"  # 512 x 512 px, Sentinel-1


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--samples", type=Path, default=SAMPLES_DIR)
    parser.add_argument("--answers", type=int, default=200, help="answers of each kind")
    parser.add_argument("--uploads", type=int, default=20, help="uploads (one session)")
    add_output_argument(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    explorer = Explorer(args.corpus)
    results = explorer.text_search("a lake", "both", 12, render=False).results
    scene = str(args.samples / SCENE)
    heat = heatmap_api(explorer)
    answer = {
        "exports": lambda i: explorer.export(results, "zip"),
        "detail": lambda i: explorer.composite_files(
            explorer.detail(results[i % len(results)].image_id, "a lake")
        ),
        "heat": lambda i: heat(scene, "flooded area"),
    }
    rows = []
    for kind, run in answer.items():
        folder = explorer.scratch.root / kind
        sizes, after_keep = [], 0
        for i in range(args.answers):
            before = folder_bytes(folder) if folder.exists() else 0
            run(i)
            now = folder_bytes(folder)
            if i < KEEP:
                sizes.append(now - before)
            if i == KEEP - 1:
                after_keep = now
        folders = sum(1 for _ in folder.iterdir())
        rows.append([kind, args.answers, f"{statistics.median(sizes) / 1024:.0f}",
                     f"{after_keep / 1e6:.1f}", f"{now / 1e6:.1f}", folders])  # fmt: skip
    overlay = Overlay()
    for _ in range(args.uploads):
        explorer.upload_search(scene, "both", 12, overlay)
    uploads = folder_bytes(explorer.scratch.uploads)
    per_upload = f"{uploads / args.uploads / 1024:.0f}"
    rows.append(["upload previews (one session)", args.uploads, per_upload, "–",
                 f"{uploads / 1e6:.2f}", "–"])  # fmt: skip
    body = (
        f"The explorer's scratch folder, embedded corpus, answers run in-process as the endpoints "
        f"run them (exports: ZIP of 12 results; detail: every composite of a result and its "
        f"twin as PNG; heat: a 512 px Sentinel-1 scene's tinted preview). An answer's folder "
        f"is kept until {KEEP} newer ones of its kind exist; Gradio's copies (swept after "
        f"`CLOSP_FILE_HOURS`) are not counted. Upload previews stay until their session "
        f"goes.\n\n"
    )
    body += md_table(["kind", "answers", "KiB per answer (median)", f"MB after {KEEP}",
                      "MB at the end", "folders at the end"], rows)  # fmt: skip
    explorer.scratch.cleanup()
    write_section(args.benchmarks, SECTION, "Disk: the files the app sends",
                  command_line("bench.disk", argv), body, started)  # fmt: skip
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
