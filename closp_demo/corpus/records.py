"""The internal image record, in the CrisisLandMark sample layout.

Every source (BigEarthNet, Major-TOM, SSL4EO, hydro, Sen1Floods11, CrisisLandMark, an upload)
produces these; every encoder consumes them. Images are float32 (B, 120, 120):
- S1: B=2, VV and VH backscatter in dB;
- S2: B=12, L2A band order (`sensors.S2_BANDS`), digital numbers (reflectance x 10000).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

from closp_demo.geo.place import ring_centre
from closp_demo.sensors import PATCH_SIZE, S1_BANDS, S2_BANDS, Sensor

BANDS_BY_SENSOR: dict[str, int] = {"S1": len(S1_BANDS), "S2": len(S2_BANDS)}


@dataclass
class ImageRecord:
    image_id: str
    sensor: Sensor
    image: np.ndarray  # float32 (B, 120, 120), see module docstring
    crs: str  # e.g. "EPSG:32633"
    bounds: tuple[float, float, float, float]  # (minx, miny, maxx, maxy) in `crs`
    timestamp: str | None = None  # ISO 8601 date or datetime, UTC
    labels: tuple[str, ...] = ()  # Dynamic World + crisis classes; empty = unlabelled
    source: str = ""  # dataset the image comes from, e.g. "bigearthnet"
    place: str = ""  # human-readable location (country, region)
    level: str = ""  # processing level: "GRD", "L1C", "L2A"
    group: str = ""  # images of the same place share a group (e.g. a BigEarthNet S1/S2 pair)
    split: str = ""  # dataset split when the source defines one
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        want = BANDS_BY_SENSOR.get(self.sensor)
        if want is None:
            raise ValueError(f"unknown sensor {self.sensor!r}")
        shape = (want, PATCH_SIZE, PATCH_SIZE)
        if self.image.shape != shape:
            raise ValueError(f"{self.image_id}: image shape {self.image.shape}, expected {shape}")
        if self.image.dtype != np.float32:
            self.image = self.image.astype(np.float32)

    def footprint_lonlat(self) -> list[tuple[float, float]]:
        """Corners of the footprint in lon/lat (closed ring), reprojected from `crs`."""
        return footprint_lonlat(self.crs, self.bounds)

    def centre_lonlat(self) -> tuple[float, float]:
        """Mean of the corners, antimeridian-safe (a plain mean of 179.9 and -179.9 is 0)."""
        return ring_centre(self.footprint_lonlat()[:-1])


def footprint_lonlat(
    crs: str | CRS, bounds: tuple[float, float, float, float]
) -> list[tuple[float, float]]:
    """Rectangle `bounds` in `crs` -> closed ring of lon/lat corners (EPSG:4326)."""
    minx, miny, maxx, maxy = bounds
    xs = [minx, maxx, maxx, minx, minx]
    ys = [maxy, maxy, miny, miny, maxy]
    lons, lats = warp_transform(CRS.from_user_input(crs), CRS.from_epsg(4326), xs, ys)
    return [(float(x), float(y)) for x, y in zip(lons, lats, strict=True)]
