"""Tiles of one source scene, grouped: the best tile stands for its scene.

Several sources are cut into 120 x 120 tiles (closp_demo/corpus/sources/tiling.py): Major-TOM
cells, hydro patches and SSL4EO products carry a `-r<row>c<col>` suffix on the scene's id, and
BigEarthNet patches are named `<product>_<row>_<col>`. The scene is that id without the tile
suffix; an image of any other source (a CrisisLandMark sample, an upload) is its own scene.
One sensor's product is one scene: a BigEarthNet S1 patch and its S2 twin are two scenes (the
point of showing both sensors is lost if one hides the other).

Grouping keeps the ranking of scenes by their best tile: walk the ranked list, keep the first
tile of each scene, count the others as "+N more from this scene".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

TILE_SUFFIX = {
    "majortom": re.compile(r"-r\d+c\d+$"),
    "hydro": re.compile(r"-r\d+c\d+$"),
    "ssl4eo": re.compile(r"-r\d+c\d+$"),
    "bigearthnet": re.compile(r"_\d+_\d+$"),
}
GROUP_FETCH = 8  # candidates fetched per wanted scene (the densest scene here has 16 tiles)
MAX_FETCH = 800  # bound on the candidates ranked for one grouped query

T = TypeVar("T")


def scene_of(image_id: str, source: str) -> str:
    """The id of the source scene an image was cut from (itself if not tiled)."""
    suffix = TILE_SUFFIX.get(source)
    return suffix.sub("", image_id) if suffix is not None else image_id


def group_by_scene(ranked: Sequence[T], scene: Callable[[T], str], k: int) -> list[tuple[T, int]]:
    """The first k scenes of `ranked` (best first) as (best tile, number of other tiles of that
    scene within `ranked`)."""
    first: dict[str, int] = {}
    groups: list[list] = []
    for item in ranked:
        key = scene(item)
        at = first.get(key)
        if at is None:
            first[key] = len(groups)
            groups.append([item, 0])
        else:
            groups[at][1] += 1
    return [(item, more) for item, more in groups[:k]]
