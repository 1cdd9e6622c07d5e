#!/usr/bin/env bash
# Reproduce the vendored map assets from npm (run from anywhere; needs npm and python3, no other deps):
#   assets/vendor/leaflet/   leaflet@1.9.4 dist: leaflet.js, leaflet.css, images/, LICENSE (BSD-2-Clause)
#   assets/basemap/          world-atlas@2.0.2 countries-50m TopoJSON -> simplified GeoJSON (ISC;
#                            data: Natural Earth, public domain)
# Tarball hashes are pinned, so a re-run produces byte-identical files or fails loudly.
set -euo pipefail

LEAFLET_VERSION=1.9.4
LEAFLET_SHA256=84c65a256e50657896f54c33bd857b6849ebe94c817803be818bf32a3dde0b77
WORLD_ATLAS_VERSION=2.0.2
WORLD_ATLAS_SHA256=032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97
# Basemap: 50m countries, Douglas-Peucker on the shared TopoJSON arcs (so neighbouring borders
# stay identical), 0.02 deg (~2 km) tolerance, coordinates rounded to 3 decimals.
RESOLUTION=50m
TOLERANCE_DEG=0.02
DECIMALS=3

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "leaflet@${LEAFLET_VERSION}" "world-atlas@${WORLD_ATLAS_VERSION}" >/dev/null
echo "${LEAFLET_SHA256}  leaflet-${LEAFLET_VERSION}.tgz" | sha256sum -c -
echo "${WORLD_ATLAS_SHA256}  world-atlas-${WORLD_ATLAS_VERSION}.tgz" | sha256sum -c -
mkdir leaflet world-atlas
tar xzf "leaflet-${LEAFLET_VERSION}.tgz" -C leaflet
tar xzf "world-atlas-${WORLD_ATLAS_VERSION}.tgz" -C world-atlas

# Leaflet: only the minified build, its stylesheet, the control images and the licence.
DEST="$ROOT/assets/vendor/leaflet"
rm -rf "$DEST"
mkdir -p "$DEST/images"
cp leaflet/package/dist/leaflet.js leaflet/package/dist/leaflet.css "$DEST/"
cp leaflet/package/dist/images/*.png "$DEST/images/"
cp leaflet/package/LICENSE "$DEST/LICENSE"

BASEMAP="$ROOT/assets/basemap"
mkdir -p "$BASEMAP"
cp world-atlas/package/LICENSE "$BASEMAP/LICENSE-world-atlas"
python3 - "world-atlas/package/countries-${RESOLUTION}.json" "$BASEMAP/countries.geo.json" \
    "$TOLERANCE_DEG" "$DECIMALS" <<'PY'
"""TopoJSON (quantised, delta-encoded arcs) -> compact GeoJSON FeatureCollection of MultiPolygons."""

import json
import math
import sys

src, dst, tolerance, decimals = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
topo = json.load(open(src, encoding="utf-8"))
(sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]


def simplify(pts):
    """Iterative Douglas-Peucker; arc end points (junctions between countries) are kept."""
    if len(pts) < 3:
        return pts
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        a, b = stack.pop()
        (ax, ay), (bx, by) = pts[a], pts[b]
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy)
        far, far_i = -1.0, -1
        for i in range(a + 1, b):
            px, py = pts[i]
            d = abs(dy * (px - ax) - dx * (py - ay)) / length if length else math.hypot(px - ax, py - ay)
            if d > far:
                far, far_i = d, i
        if far > tolerance:
            keep[far_i] = True
            stack += [(a, far_i), (far_i, b)]
    return [p for p, k in zip(pts, keep) if k]


arcs = []
for arc in topo["arcs"]:
    x = y = 0
    pts = []
    for dx, dy in arc:
        x, y = x + dx, y + dy
        pts.append((x * sx + tx, y * sy + ty))
    arcs.append([(round(px, decimals), round(py, decimals)) for px, py in simplify(pts)])


def ring(indices):
    out = []
    for i in indices:
        pts = arcs[i] if i >= 0 else arcs[~i][::-1]
        out.extend(pts if not out else pts[1:])
    out = [p for k, p in enumerate(out) if k == 0 or p != out[k - 1]]
    return out if len(out) >= 4 else None  # islands below the tolerance collapse: drop them


def num(v):
    s = f"{v:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


features = []
for geom in topo["objects"]["countries"]["geometries"]:
    if geom["type"] == "Polygon":
        polygons = [geom["arcs"]]
    elif geom["type"] == "MultiPolygon":
        polygons = geom["arcs"]
    else:
        continue
    polygons = [p for p in ([r for r in map(ring, poly) if r] for poly in polygons) if p]
    if not polygons:
        continue
    coords = ",".join(
        "[" + ",".join("[" + ",".join(f"[{num(x)},{num(y)}]" for x, y in r) + "]" for r in poly) + "]"
        for poly in polygons
    )
    name = json.dumps(geom.get("properties", {}).get("name", ""), ensure_ascii=True)
    features.append(
        '{"type":"Feature","properties":{"name":%s},'
        '"geometry":{"type":"MultiPolygon","coordinates":[%s]}}' % (name, coords)
    )
with open(dst, "w", encoding="ascii", newline="\n") as f:
    f.write('{"type":"FeatureCollection","features":[\n' + ",\n".join(features) + "\n]}\n")
print(f"{dst}: {len(features)} countries")
PY

ls -l "$DEST" "$DEST/images" "$BASEMAP"
