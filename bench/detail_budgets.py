"""Budgets of the detail view, the occlusion map and the upload heat map (issue 12), server side.

    python -m bench.detail_budgets [--corpus precomputed] [--opens 60] [--repeats 3]

- opening a detail view: `Explorer.detail` (facts, counterpart, score by class for a query)
  plus both images' default composites as the page shows them (`Explorer.composite`), on
  `--opens` corpus images spread over the corpus, p50 and p95;
- an occlusion map of one 120 x 120 image (36 windows of 20 x 20 masked, each re-embedded),
  computed from scratch (a fresh cache each time), S1 and S2;
- the heat map of a 2000 x 2000 px upload (`Explorer.heat_map`: read, 256 windows embedded,
  drawn on the preview and the map): a mosaic of real BigEarthNet Sentinel-2 patches (uint16,
  deflate) and of their Sentinel-1 twins (float32 dB), written with rasterio to a temp folder,
  with an upload size limit raised so the 12-band file (~70 MB) is accepted.
Budgets: detail p50 <= 150 ms, occlusion <= 2 s, heat map <= 3 s (CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from bench.common import CORPUS_DIR, add_output_argument, command_line, md_table, write_section
from bench.common import p50_p95 as p50_p95_ms
from closp_demo.search.occlusion import OcclusionCache
from closp_demo.service import Explorer
from closp_demo.settings import Settings

SECTION = "detail-budgets"
SIDE = 2000
QUERY = "a lake surrounded by forest"


def time_detail(explorer: Explorer, n: int) -> list[float]:
    rows = np.linspace(0, len(explorer.corpus) - 1, n).round().astype(int)
    times = []
    for row in rows:
        image_id = explorer.corpus.rows.row(int(row)).image_id
        t0 = time.perf_counter()
        d = explorer.detail(image_id, QUERY)
        explorer.composite(d.main)
        if d.twin is not None:
            explorer.composite(d.twin)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def time_occlusion(explorer: Explorer, sensor: str, repeats: int) -> list[float]:
    lo, _ = explorer.corpus.sensor_ranges[sensor]
    pixels = explorer.corpus.bands.image(lo, sensor)
    q = explorer.encoder.encode_text([QUERY])[0]
    times = []
    for _ in range(repeats):
        cache = OcclusionCache(explorer.encoder)  # from scratch: nothing cached
        t0 = time.perf_counter()
        cache.occlusion(pixels, sensor, q)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def write_mosaic(explorer: Explorer, sensor: str, folder: Path) -> Path:
    """A SIDE x SIDE GeoTIFF of the corpus's own `sensor` patches, repeated in a grid."""
    lo, hi = explorer.corpus.sensor_ranges[sensor]
    patches = [explorer.corpus.bands.image(r, sensor) for r in range(lo, hi)]
    n = -(-SIDE // 120)
    rows = [np.concatenate([patches[(i * n + j) % len(patches)] for j in range(n)], axis=2)
            for i in range(n)]  # fmt: skip
    data = np.concatenate(rows, axis=1)[:, :SIDE, :SIDE]
    dtype = "uint16" if sensor == "S2" else "float32"
    path = folder / f"mosaic_{sensor}_{SIDE}.tif"
    profile = {"driver": "GTiff", "width": SIDE, "height": SIDE, "count": data.shape[0],
               "dtype": dtype, "crs": "EPSG:32633", "compress": "deflate", "tiled": True,
               "transform": from_origin(500000, 5200000, 10, 10)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.nan_to_num(data).astype(dtype))
    return path


def time_heat(explorer: Explorer, path: Path, repeats: int) -> tuple[list[float], str]:
    times, message = [], ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        answer = explorer.heat_map(path, QUERY)
        times.append((time.perf_counter() - t0) * 1e3)
        if not answer.ok:
            raise SystemExit(f"heat map failed: {answer.message}")
        message = answer.message
    return times, message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--opens", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    add_output_argument(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = Settings.from_env()
    limits = dataclasses.replace(settings.limits, max_bytes=500_000_000)
    explorer = Explorer(args.corpus, settings=dataclasses.replace(settings, limits=limits))
    time_detail(explorer, 5)  # warm up: class profiles, id map, first zip reads
    rows = []
    p50, p95 = p50_p95_ms(time_detail(explorer, args.opens))
    rows.append([f"open a detail view ({args.opens} images, both sides, default composites)",
                 f"{p50:.1f}", f"{p95:.1f}", "p50 ≤ 150"])  # fmt: skip
    for sensor in ("S1", "S2"):
        t = time_occlusion(explorer, sensor, args.repeats)
        rows.append([f"occlusion map, one 120×120 {sensor} image (36 windows, no cache)",
                     f"{np.median(t):.0f}", f"{max(t):.0f}", "≤ 2000"])  # fmt: skip
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        for sensor in ("S2", "S1"):
            path = write_mosaic(explorer, sensor, Path(tmp))
            t, message = time_heat(explorer, path, args.repeats)
            mb = path.stat().st_size / 1e6
            rows.append([f"heat map, {SIDE}×{SIDE} px {sensor} upload ({mb:.0f} MB file)",
                         f"{np.median(t):.0f}", f"{max(t):.0f}", "≤ 3000"])  # fmt: skip
            notes.append(f"- {sensor}: {message}")
    enc = explorer.encoder.info
    body = (
        f"Encoder `{enc.id}` on CPU; {args.repeats} runs of each occlusion and heat map; "
        "the heat map includes reading, embedding, drawing the preview and the map.\n\n"
    )
    body += md_table(["step", "p50 / median ms", "p95 / max ms", "budget ms"], rows)
    body += "\n\n" + "\n".join(notes)
    write_section(args.benchmarks, SECTION, "Detail view, occlusion and heat-map budgets",
                  command_line("bench.detail_budgets", argv), body, started)  # fmt: skip
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
