"""A Sentinel-2 tile-sized raster (10980 x 10980, 12 bands) heat-mapped by windows: time, memory.

    python -m bench.tile_raster [--side 10980] [--query "a river"]

The raster is real data repeated: the two Major-TOM L2A cells of the shared samples (Laos /
Vietnam, clear; Congo basin, hazy; ~1068 px each, 12 bands on the 10 m grid) laid out as a
checkerboard of mirrored copies up to `--side` px, georeferenced on the Laos cell's UTM grid,
written strip by strip (never whole in memory) as a tiled (512 px), ZSTD-compressed uint16
GeoTIFF under the bench cache (reused when present). `upload.heatmap.heat_map` then runs in a
fresh process: physics encoder, one text query, every 120 x 120 window -> class fractions +
similarity; the peak RSS is that process's high-water mark (model included) and its increase
over the idle process with the model loaded.
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
    CACHE_DIR,
    REPO_ROOT,
    SAMPLES_DIR,
    add_output_argument,
    command_line,
    md_table,
    proc_status_mb,
    reset_peak_rss,
    write_section,
)

SECTION = "tile-raster"
TARGET_MB = 2048
STRIP = 512  # rows written at a time (one block row)


def write_tile(path: Path, side: int, samples: Path = SAMPLES_DIR) -> float:
    """Write the checkerboard raster (see module docstring); returns seconds taken."""
    import rasterio
    from rasterio.windows import Window

    from bench.upload_latency import cell_stack
    from closp_demo.sensors import S2_BANDS

    t0 = time.perf_counter()
    laos, grid = cell_stack(samples, "199U_1099R")
    congo, _ = cell_stack(samples, "0U_199R")
    period = min(laos.shape[1], laos.shape[2], congo.shape[1], congo.shape[2])
    cells = (laos[:, :period, :period], congo[:, :period, :period])

    def mirrored(n: int) -> tuple[np.ndarray, np.ndarray]:
        """Pixel index inside a cell and the cell's number along one axis of the raster."""
        pos = np.arange(n)
        block, offset = pos // period, pos % period
        return np.where(block % 2 == 0, offset, period - 1 - offset), block

    xidx, xblock = mirrored(side)
    profile = {
        "driver": "GTiff", "width": side, "height": side, "count": len(S2_BANDS),
        "dtype": "uint16", "crs": grid.crs, "transform": grid.transform, "nodata": 0,
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "zstd",
        "predictor": 2, "interleave": "pixel", "BIGTIFF": "IF_SAFER",
    }  # fmt: skip
    tmp = path.with_suffix(".partial.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        for y0 in range(0, side, STRIP):
            h = min(STRIP, side - y0)
            yidx, yblock = mirrored(y0 + h)
            yidx, yblock = yidx[y0:], yblock[y0:]
            strip = np.empty((len(S2_BANDS), h, side), dtype=np.uint16)
            for which in (0, 1):  # checkerboard: cell = (row block + column block) % 2
                rows = (yblock[:, None] + xblock[None, :]) % 2 == which
                src = cells[which][:, yidx][:, :, xidx]
                strip[:, rows] = src[:, rows]
            dst.write(strip, window=Window(0, y0, side, h))
        dst.descriptions = S2_BANDS
    tmp.rename(path)
    return time.perf_counter() - t0


def child(path: Path, query: str, out_dir: Path) -> dict:
    """Fresh process: load the encoder, then heat-map the raster; time and peak memory."""
    from closp_demo.encoders import create_encoder
    from closp_demo.upload.heatmap import heat_map, save_heat_map

    encoder = create_encoder("physics-minilm")
    vector = encoder.encode_text([query])[0]
    idle = proc_status_mb()
    reset_peak_rss()
    t0 = time.perf_counter()
    heat = heat_map(path, encoder, vector, progress=True)
    seconds = time.perf_counter() - t0
    peak = proc_status_mb()
    saved = save_heat_map(heat, out_dir / "heat_map.tif")
    sim = heat.similarity
    flat = np.nan_to_num(sim, nan=-np.inf).ravel()
    best = np.argsort(-flat)[:3]
    dominant = np.nanmean(heat.fractions, axis=(0, 1)) if heat.fractions is not None else []
    mean_fractions = {c: round(float(f), 3) for c, f in zip(heat.classes, dominant, strict=False)}
    return {
        "seconds": seconds, "windows": int(heat.valid.size), "grid": list(heat.shape),
        "valid_windows": int(np.isfinite(sim).sum()), "idle_rss": idle.get("VmRSS", 0.0),
        "peak_rss": peak.get("VmHWM", 0.0), "heat_map_bytes": saved.stat().st_size,
        "best": [[int(i // sim.shape[1]), int(i % sim.shape[1]), float(flat[i])] for i in best],
        "mean_fractions": mean_fractions,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=10980, help="raster side in pixels")
    parser.add_argument("--query", default="a river")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument("--child", nargs=2, metavar=("TIF", "OUT"), help=argparse.SUPPRESS)
    add_output_argument(parser)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.query, Path(args.child[1]))))
        return 0
    started = time.perf_counter()
    args.cache.mkdir(parents=True, exist_ok=True)
    path = args.cache / f"S2_L2A_tile_{args.side}px.tif"
    write_s = write_tile(path, args.side) if not path.is_file() else float("nan")
    with tempfile.TemporaryDirectory(prefix="closp-tile-bench-") as tmp:
        cmd = [sys.executable, "-m", "bench.tile_raster", "--query", args.query,
               "--child", str(path), tmp]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
        if out.returncode != 0:
            raise RuntimeError(f"tile child failed:\n{out.stderr[-3000:]}")
        res = json.loads(out.stdout.strip().splitlines()[-1])
    raw_gb = args.side**2 * 12 * 2 / 1e9
    verdict = "met" if res["peak_rss"] <= TARGET_MB else "MISSED"
    rows = [[
        f"{args.side} x {args.side} x 12 (uint16, {raw_gb:.1f} GB raw)",
        f"{path.stat().st_size / 1e9:.2f}", "cached" if write_s != write_s else f"{write_s:.0f}",
        f"{res['grid'][0]} x {res['grid'][1]} ({res['valid_windows']} valid)",
        f"{res['seconds']:.1f}", f"{res['windows'] / res['seconds']:.0f}",
        f"{res['peak_rss']:.0f}", f"{res['peak_rss'] - res['idle_rss']:+.0f}",
    ]]  # fmt: skip
    body = md_table(["raster", "file GB", "write s", "windows (heat-map grid)", "heat map s",
                     "windows/s", "peak RSS MB", "vs idle MB"], rows)  # fmt: skip
    best = ", ".join(f"row {r} col {c} ({s:.3f})" for r, c, s in res["best"])
    body += (
        f'\n\nQuery "{args.query}" (physics encoder). Peak memory target <= {TARGET_MB} MB: '
        f"**{verdict}**. Best windows: {best}. Mean class fractions: "
        f"{', '.join(f'{c} {f:.2f}' for c, f in res['mean_fractions'].items() if f >= 0.01)}. "
        f"Heat-map GeoTIFF {res['heat_map_bytes'] / 1e3:.0f} kB. Windows are processed one strip "
        "(120 px x full width) at a time with a 256 MB GDAL block cache; "
        "see closp_demo/upload/heatmap.py.\n"
    )
    write_section(args.benchmarks, SECTION, "Tile-sized raster, windowed heat map",
                  command_line("bench.tile_raster", argv), body, started)  # fmt: skip
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
