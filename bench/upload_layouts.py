"""Uploads as products: 12 band files, a zipped .SAFE, and peak memory on a large zipped GRD.

    python -m bench.upload_layouts [--runs 5] [--safe-mb 1000]

1. Twelve Sentinel-2 L2A band GeoTIFFs of one 1098 x 1098 px area (10.98 km at 10 m) at their
   native resolutions (10 m bands 1098 px, 20 m 549 px, 60 m 183 px; 20/60 m made by block means
   of the 10 m grid), real data: Major-TOM cell 199U_1099R (shared samples) mirrored to 1098 px,
   tiled 256 px, DEFLATE. Uploaded as a list through `Explorer.upload_search`: band recognition,
   checks, resampling to the 10 m grid, tiles, embedding, search, map. Target: <= 3 s.
2. The same bands as a zipped Sentinel-2 L2A .SAFE (lossless JPEG 2000 members, R10m/R20m/R60m).
3. A zipped Sentinel-1 GRD .SAFE of about `--safe-mb` MB (VV + VH uint16 digital numbers with
   GCPs and calibration tables, tests.helpers.products layout; DN are speckle noise around a
   calibrated level, written by windows and stored uncompressed, so the ZIP is that large). Read
   through /vsizip/, warped, calibrated; peak RSS of the process is the figure. Target: <= 1.5 GB.

Each case runs in a fresh process (Explorer start and one warm-up text query first); peak RSS is
the process's high-water mark (VmHWM) after the uploads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from bench.common import (
    CORPUS_DIR,
    REPO_ROOT,
    add_output_argument,
    command_line,
    load_average,
    md_table,
    p50_p95,
    proc_status_mb,
    write_section,
)

SECTION = "upload-layouts"
SIDE = 1098
RES = {"B01": 60, "B09": 60, "B05": 20, "B06": 20, "B07": 20, "B8A": 20, "B11": 20, "B12": 20}
PARTS = ("read_ms", "embed_ms", "total_ms")


def write_band_files(folder: Path) -> list[Path]:
    """12 band GeoTIFFs of a SIDE x SIDE area at native resolutions (see the module docstring)."""
    import rasterio
    from affine import Affine

    from bench.upload_latency import cell_stack
    from closp_demo.sensors import S2_BANDS

    dn, grid = cell_stack()
    while dn.shape[1] < SIDE or dn.shape[2] < SIDE:
        dn = np.concatenate([dn, dn[:, ::-1]], axis=1)
        dn = np.concatenate([dn, dn[:, :, ::-1]], axis=2)
    dn = dn[:, :SIDE, :SIDE]
    out = []
    for i, band in enumerate(S2_BANDS):
        k = RES.get(band, 10) // 10
        data = dn[i].reshape(SIDE // k, k, SIDE // k, k).mean(axis=(1, 3)).astype(np.uint16)
        t = grid.transform * Affine.scale(k)
        path = folder / f"T48QUE_20200223T032739_{band}_{RES.get(band, 10)}m.tif"
        profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0],
                   "count": 1, "dtype": "uint16", "crs": grid.crs, "transform": t,
                   "nodata": 0, "tiled": True, "blockxsize": 256, "blockysize": 256,
                   "compress": "deflate", "predictor": 2}  # fmt: skip
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data[None])
        out.append(path)
    return out


def write_s2_safe(path: Path, files: list[Path]) -> Path:
    from tests.helpers.products import write_s2_safe_zip

    bands = {f.stem.split("_")[2]: f for f in files}
    return write_s2_safe_zip(path, bands, safe="S2B_MSIL2A_20200223T032739_N9999_R018_T48QUE_X")


def write_big_grd(path: Path, megabytes: float) -> Path:
    """A zipped GRD .SAFE of about `megabytes` MB (see the module docstring), written by windows."""
    import rasterio
    from rasterio.control import GroundControlPoint
    from rasterio.windows import Window

    from tests.helpers.products import S1_SAFE, calibration_a

    side = int(math.sqrt(megabytes * 1e6 / 2 / 2))  # two uint16 polarisations
    lines = np.arange(0, side + 400, 400)
    pixels = np.arange(0, side + 400, 400)
    a = calibration_a(lines, pixels)
    px = " ".join(str(int(p)) for p in pixels)
    vectors = "".join(
        f"<calibrationVector><line>{int(line)}</line><pixel>{px}</pixel><sigmaNought>"
        + " ".join(f"{v:.6e}" for v in row)
        + "</sigmaNought></calibrationVector>"
        for line, row in zip(lines, a, strict=True)
    )
    xml = f"<calibration><calibrationVectorList>{vectors}</calibrationVectorList></calibration>"
    gcps = [GroundControlPoint(row=float(r), col=float(c), x=12.0 + c * 1.3e-4 + r * 1.5e-5,
                               y=47.0 - r * 9.0e-5 + c * 1.0e-5)
            for r in np.linspace(0, side, 6) for c in np.linspace(0, side, 6)]  # fmt: skip
    rng = np.random.default_rng(0)
    tmp = path.parent / "measurement.tiff"
    safe = f"{S1_SAFE}.SAFE"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for i, pol in enumerate(("vv", "vh")):
            level = 10 ** ((-10.0 - 7.0 * i) / 20)  # amplitude of -10 / -17 dB sigma0
            with rasterio.open(tmp, "w", driver="GTiff", width=side, height=side, count=1,
                               dtype="uint16", gcps=gcps, crs="EPSG:4326", tiled=True,
                               blockxsize=512, blockysize=512, BIGTIFF="YES") as dst:  # fmt: skip
                for r0 in range(0, side, 512):
                    h = min(512, side - r0)
                    amp = level * np.sqrt(rng.gamma(4.0, 0.25, (h, side)))
                    aa = (
                        400.0 + 0.5 * np.arange(side)[None, :] + 0.05 * (r0 + np.arange(h))[:, None]
                    )
                    dn = np.clip(amp * aa, 1, 65535).astype(np.uint16)
                    dst.write(dn[None], window=Window(0, r0, side, h))
            stem = f"s1a-iw-grd-{pol}-20200607t010800-20200607t010825-032904-03cfba-00{i + 1}"
            zf.write(tmp, f"{safe}/measurement/{stem}.tiff")
            zf.writestr(f"{safe}/annotation/calibration/calibration-{stem}.xml", xml)
            tmp.unlink()
    return path


def child(paths: list[str], runs: int, corpus: Path) -> dict:
    from closp_demo.search.engine import Overlay
    from closp_demo.service import Explorer

    explorer = Explorer(corpus)
    explorer.text_search("warm-up query")
    idle = proc_status_mb().get("VmRSS", 0.0)
    timings: dict[str, list[float]] = {key: [] for key in PARTS}
    message, notes = "", []
    for _ in range(runs):
        answer = explorer.upload_search(paths, "both", 12, Overlay())
        if not answer.ok:
            raise RuntimeError(answer.message)
        for key in PARTS:
            timings[key].append(answer.timings_ms[key])
        message, notes = answer.message, answer.notes
    peak = proc_status_mb().get("VmHWM", 0.0)
    return {"timings": timings, "idle": idle, "peak": peak, "message": message, "notes": notes}


def run_child(paths: list[Path], runs: int, corpus: Path, env: dict | None = None) -> dict:
    cmd = [sys.executable, "-m", "bench.upload_layouts", "--child", json.dumps(
        [str(p) for p in paths]), str(runs), "--corpus", str(corpus)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT,
                         env={**os.environ, **(env or {})})  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="uploads per case (median reported)")
    parser.add_argument("--safe-mb", type=float, default=1000.0, help="size of the GRD ZIP")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--child", nargs=2, metavar=("PATHS", "RUNS"), help=argparse.SUPPRESS)
    add_output_argument(parser)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child[0]), int(args.child[1]), args.corpus)))
        return 0
    started = time.perf_counter()
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="closp-layout-bench-") as tmp:
        folder = Path(tmp)
        files = write_band_files(folder)
        safe = write_s2_safe(folder / "S2B_MSIL2A_T48QUE.SAFE.zip", files)
        grd = write_big_grd(folder / "S1A_GRD.SAFE.zip", args.safe_mb)
        big = {"CLOSP_MAX_UPLOAD_MB": str(grd.stat().st_size / 1e6 + 10),
               "CLOSP_MAX_UNZIPPED_MB": str(grd.stat().st_size / 1e6 + 10),
               "CLOSP_MAX_PIXELS": "4e8"}  # fmt: skip
        cases = [("12 band files, 1098 px at 10/20/60 m", files, args.runs, None),
                 ("zipped S2 L2A .SAFE (JP2)", [safe], args.runs, None),
                 ("zipped S1 GRD .SAFE (DN + GCPs)", [grd], 1, big)]  # fmt: skip
        for label, paths, runs, env in cases:
            res = run_child(paths, runs, args.corpus, env)
            size = sum(p.stat().st_size for p in paths) / 1e6
            cells = [label, f"{size:,.1f}"]
            for key in PARTS:
                p50, p95 = p50_p95(res["timings"][key])
                cells.append(f"{p50:.0f} / {p95:.0f}")
            cells += [f"{res['peak']:.0f}", f"{res['peak'] - res['idle']:+.0f}", str(runs)]
            rows.append(cells)
            notes.append(f"- {label}: {res['message']}; " + "; ".join(res["notes"][:3]))
    body = md_table(["upload", "MB", "read p50 / p95 ms", "embed", "total", "peak RSS MB",
                     "vs idle MB", "runs"], rows)  # fmt: skip
    body += (
        "\n\nTargets (issue 15): 12 band files of a 1098 x 1098 area to results <= 3 s; a ~1 GB "
        "zipped product read with peak RSS <= 1.5 GB. Each case in a fresh process after start-up "
        f"and one warm-up text query; load average at the end {load_average()}.\n\n"
        + "\n".join(notes)
    )
    write_section(args.benchmarks, SECTION, "Uploads as products (band files, zipped .SAFE)",
                  command_line("bench.upload_layouts", argv), body, started)  # fmt: skip
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
