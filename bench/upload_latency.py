"""Upload to results: a 120 x 120 and a 2000 x 2000 Sentinel-2 GeoTIFF through `upload_search`.

    python -m bench.upload_latency [--runs 7]

The GeoTIFFs are real Sentinel-2 L2A data: the 12 bands of Major-TOM cell 199U_1099R (Laos /
Vietnam, shared samples) on its 10 m grid, the 120 x 120 cut from its centre, the 2000 x 2000 made
by mirroring the ~1068 px cell (np.pad "symmetric"), written tiled (256 px) and DEFLATE-compressed
with band descriptions, UTM CRS and geotransform, as a user's export would be. Each size runs in
a fresh process: Explorer start, one warm-up text query, then `--runs` uploads of the same file,
timed by the app's own breakdown (read = validate + read tiles + preview, embed, map, total) and
with the session overlay the app passes (so the preview thumbnail is written too). Peak RSS is
the process's high-water mark during the uploads, and its increase over the idle process.
Gradio's own handling of the upload (receiving the bytes, copying them to its cache, encoding
the preview PNG for the browser) is not included.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import (
    CORPUS_DIR,
    REPO_ROOT,
    SAMPLES_DIR,
    add_output_argument,
    command_line,
    md_table,
    p50_p95,
    proc_status_mb,
    reset_peak_rss,
    write_section,
)

SECTION = "upload-latency"
CELL = "199U_1099R"
PARTS = ("read_ms", "embed_ms", "map_ms", "total_ms")


def cell_stack(samples: Path = SAMPLES_DIR, cell: str = CELL):
    """(12, H, W) uint16 DN of a Major-TOM cell on its 10 m grid, and that grid."""
    from closp_demo.corpus.sources.majortom import product_folders
    from closp_demo.corpus.sources.tiling import (
        Grid,
        baseline_from_product,
        ordered_band_files,
        remove_dn_offset,
        s2_dn_offset,
        stack_on_grid,
    )
    from closp_demo.sensors import S2_BANDS

    products = [p for p in product_folders(samples) if p.parent.name == cell]
    if not products:
        raise FileNotFoundError(f"Major-TOM cell {cell} not found under {samples}")
    product = products[0]
    bands = ordered_band_files(product, S2_BANDS)
    grid = Grid.of(bands[S2_BANDS.index("B02")])
    dn = stack_on_grid(bands, grid)
    offset = s2_dn_offset(baseline_from_product(product.name))
    dn = np.clip(remove_dn_offset(dn, offset), 0, 65535).astype(np.uint16)
    return dn, grid


def write_scene(path: Path, side: int, samples: Path = SAMPLES_DIR) -> Path:
    """A `side` x `side` 12-band Sentinel-2 L2A GeoTIFF from real data (see module docstring)."""
    import rasterio

    from closp_demo.sensors import S2_BANDS

    dn, grid = cell_stack(samples)
    _, h, w = dn.shape
    if side <= min(h, w):
        top, left = (h - side) // 2, (w - side) // 2
        data = dn[:, top : top + side, left : left + side]
        transform = grid.transform * grid.transform.translation(left, top)
    else:
        reps = -(-side // min(h, w))  # mirrored copies needed per axis
        data = dn
        for _ in range(reps - 1):
            data = np.concatenate([data, data[:, ::-1]], axis=1)
        row = data
        for _ in range(reps - 1):
            row = np.concatenate([row, row[:, :, ::-1]], axis=2)
        data = row[:, :side, :side]
        transform = grid.transform
    profile = {
        "driver": "GTiff", "width": side, "height": side, "count": len(S2_BANDS),
        "dtype": "uint16", "crs": grid.crs, "transform": transform, "nodata": 0,
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate",
        "predictor": 2, "interleave": "pixel",
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ascontiguousarray(data))
        dst.descriptions = S2_BANDS
    return path


def child(path: Path, runs: int, corpus: Path) -> dict:
    """In a fresh process: start the explorer, then time `runs` uploads of `path`."""
    from closp_demo.search.engine import Overlay
    from closp_demo.service import Explorer

    explorer = Explorer(corpus)
    explorer.text_search("warm-up query")
    idle = proc_status_mb()
    reset = reset_peak_rss()
    timings: dict[str, list[float]] = {key: [] for key in PARTS}
    message = ""
    overlay = Overlay()
    for _ in range(runs):
        answer = explorer.upload_search(path, "both", 12, overlay, filename=path.name)
        if not answer.ok:
            raise RuntimeError(f"{path.name}: {answer.message}")
        for key in PARTS:
            timings[key].append(answer.timings_ms[key])
        message = answer.message
    peak = proc_status_mb()
    return {
        "timings": timings,
        "idle_rss": idle.get("VmRSS", 0.0),
        "peak_rss": peak.get("VmHWM", 0.0),
        "peak_reset": reset,
        "message": message,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="120,2000", help="square sides in pixels")
    parser.add_argument("--runs", type=int, default=7, help="uploads per size (median reported)")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--child", nargs=2, metavar=("TIF", "RUNS"), help=argparse.SUPPRESS)
    add_output_argument(parser)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child[0]), int(args.child[1]), args.corpus)))
        return 0
    started = time.perf_counter()
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="closp-upload-bench-") as tmp:
        for side in (int(s) for s in args.sizes.split(",")):
            path = write_scene(Path(tmp) / f"S2_L2A_{CELL}_{side}px.tif", side)
            cmd = [sys.executable, "-m", "bench.upload_latency", "--child", str(path),
                   str(args.runs), "--corpus", str(args.corpus)]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
            if out.returncode != 0:
                raise RuntimeError(f"upload child failed:\n{out.stderr[-3000:]}")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            t = res["timings"]
            cells = [f"{side} x {side}", f"{path.stat().st_size / 2**20:.2f}"]
            for key in PARTS:
                p50, p95 = p50_p95(t[key])
                cells.append(f"{p50:.0f} / {p95:.0f}")
            cells += [f"{res['peak_rss']:.0f}", f"{res['peak_rss'] - res['idle_rss']:+.0f}"]
            rows.append(cells)
            notes.append(f"- {side} px: {res['message']}")
    body = md_table(["raster", "file MB", "read p50 / p95 ms", "embed", "map", "total",
                     "peak RSS MB", "vs idle MB"], rows)  # fmt: skip
    body += (f"\n\n{args.runs} uploads per size in a fresh process each (after start-up and one "
             "warm-up text query); times from `Answer.timings_ms`. Target: 120 x 120 upload to "
             "results <= 300 ms.\n\n" + "\n".join(notes))  # fmt: skip
    write_section(args.benchmarks, SECTION, "Upload to results",
                  command_line("bench.upload_latency", argv), body, started)  # fmt: skip
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
