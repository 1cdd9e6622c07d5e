"""'+N more from this scene', expanded in place: a grouped list with one scene's other tiles
shown right after the tile that stood for it, the list renumbered, nothing searched again."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from closp_demo.search.engine import QueryError, Result, SceneTile


def expand_scene(
    results: Sequence[Result], image_id: str, decode: Callable[[SceneTile], Result]
) -> list[Result]:
    """`results` with the scene of `image_id` (a shown result with "+N more") opened: its other
    tiles (best first, their own scores, decoded now by `decode`, the engine's `tile_result`)
    follow it, each marked as a tile of that scene, and every result is ranked anew from 1.
    QueryError when there is nothing to expand."""
    image_id = str(image_id or "").strip()
    at = next((i for i, r in enumerate(results) if r.image_id == image_id), None)
    if at is None:
        raise QueryError("Click a result shown in the gallery first, then expand its scene.")
    head = results[at]
    if not head.scene_tiles:
        raise QueryError(f"{image_id[:80]} has no other tiles of its scene in this list.")
    tiles = [replace(decode(t), tile_of=head.image_id, scene_tiles=[], more_in_scene=0)
             for t in head.scene_tiles]  # fmt: skip
    opened = replace(head, scene_tiles=[], more_in_scene=0)
    out = [*results[:at], opened, *tiles, *results[at + 1 :]]
    return [replace(r, rank=rank) for rank, r in enumerate(out, start=1)]
