"""Benchmark workloads: distinct text queries and distinct captions, generated deterministically.

Queries start from the evaluation texts (closp_demo/evaluation/queries.json, the class names and
their paraphrases) combined with adjectives and places, so a benchmark never repeats a string (a
repeated query could hit a cache and flatter the numbers). Captions use a separate vocabulary:
they stand in for a learned image space (bench/vectors.py) and must not contain the queries.
"""

from __future__ import annotations

import itertools
import random

from closp_demo.evaluation.queries import load_queries

ADJECTIVES = (
    "small", "large", "dense", "sparse", "dry", "green", "flat", "hilly", "remote", "coastal",
    "northern", "southern", "muddy", "bright", "dark", "patchy",
)  # fmt: skip
PLACES = (
    "in Portugal", "near Helsinki", "in the Alps", "along the coast", "in Lithuania",
    "near a city", "in Ireland", "in the Congo basin", "in Laos", "in Punjab", "in Serbia",
    "next to a river", "in winter", "in summer", "after heavy rain", "seen from orbit",
)  # fmt: skip

# Caption vocabulary (disjoint from the query modifiers above).
_COVER = (
    "broadleaf woodland", "conifer plantation", "irrigated cropland", "terraced rice fields",
    "olive groves", "vineyards", "pasture with hedgerows", "alpine meadow", "salt marsh",
    "peat bog", "mangrove swamp", "open ocean", "a reservoir", "a braided river", "an estuary",
    "a glacier tongue", "sea ice", "snowfields", "sand dunes", "a gravel quarry", "an open pit",
    "a dense city centre", "suburban housing", "an industrial harbour", "an airport runway",
    "a highway interchange", "a burn scar", "a flooded plain", "earthquake rubble", "savanna",
    "thorn scrub", "heathland", "tundra", "rainforest canopy", "a clear-cut forest",
    "greenhouses", "solar farm panels", "a golf course", "a river delta", "volcanic rock",
)  # fmt: skip
_NEXT_TO = (
    "beside", "surrounded by", "bordering", "crossed by", "dotted with", "north of", "mixed with",
    "fragmented by",
)  # fmt: skip
_SCENE = (
    "on a clear morning", "under thin haze", "with cloud shadows", "in late autumn",
    "in early spring", "during the dry season", "during the monsoon", "at high latitude",
    "in the tropics", "in a mountain valley", "on a coastal plain", "on a plateau",
)  # fmt: skip


def distinct_queries(n: int, seed: int = 0) -> list[str]:
    """`n` distinct query strings (case-insensitively), diverse from the first one on."""
    bases = [q.text for q in load_queries("all")]
    forms = [bases]
    lower = [b.lower() for b in bases]
    forms.append([f"{a} {b}" for a, b in itertools.product(ADJECTIVES, lower)])
    forms.append([f"{b} {p}" for b, p in itertools.product(lower, PLACES)])
    forms.append([f"{a} {b} {p}" for a, b, p in itertools.product(ADJECTIVES, lower, PLACES)])
    rng = random.Random(seed)
    for form in forms[1:]:
        rng.shuffle(form)
    out: list[str] = []
    seen: set[str] = set()
    # Round-robin over the forms so short and long queries mix from the start.
    for text in itertools.chain.from_iterable(itertools.zip_longest(*forms)):
        if text is None or text.lower() in seen:
            continue
        seen.add(text.lower())
        out.append(text)
        if len(out) == n:
            return out
    raise ValueError(f"only {len(out)} distinct queries can be generated, {n} asked")


def distinct_captions(n: int, seed: int = 1) -> list[str]:
    """`n` distinct image-caption-like strings from a vocabulary disjoint from the queries."""
    combos = [
        f"satellite image of {a} {rel} {b} {scene}"
        for a, rel, b, scene in itertools.product(_COVER, _NEXT_TO, _COVER, _SCENE)
        if a != b
    ]
    if n > len(combos):
        raise ValueError(f"only {len(combos)} distinct captions can be generated, {n} asked")
    return random.Random(seed).sample(combos, n)
