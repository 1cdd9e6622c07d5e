"""Cross-sensor consistency: does the same place seen by S1 land near its S2 twin?

For every S1 image whose group (e.g. a BigEarthNet patch id) also has an S2 image, rank all S2
images by cosine similarity and record where the twin lands (and the reverse direction).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from closp_demo.evaluation.markdown import markdown_table


def twin_recall(
    vectors: np.ndarray,
    sensors: Sequence[str],
    groups: Sequence[str],
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, dict[str, float]]:
    """{"S1->S2": {"n": .., "R@1": .., "MRR": .., "random R@1": ..}, "S2->S1": {...}}."""
    sensors = np.asarray(sensors)
    groups = np.asarray(groups)
    out = {}
    for src, dst in (("S1", "S2"), ("S2", "S1")):
        q_idx = np.flatnonzero(sensors == src)
        d_idx = np.flatnonzero(sensors == dst)
        d_pos = {g: i for i, g in enumerate(groups[d_idx]) if g}
        pairs = [(qi, d_pos[groups[qi]]) for qi in q_idx if groups[qi] in d_pos]
        if not pairs:
            continue
        sims = vectors[[q for q, _ in pairs]] @ vectors[d_idx].T
        ranks = np.array(
            [int((row > row[t]).sum()) + 1 for row, (_, t) in zip(sims, pairs, strict=True)]
        )
        n_dst = len(d_idx)
        stats: dict[str, float] = {"n": float(len(pairs)), "candidates": float(n_dst)}
        for k in ks:
            stats[f"R@{k}"] = float((ranks <= k).mean())
            stats[f"random R@{k}"] = min(k, n_dst) / n_dst
        stats["MRR"] = float((1.0 / ranks).mean())
        stats["random MRR"] = float(np.mean(1.0 / np.arange(1, n_dst + 1)))
        out[f"{src}->{dst}"] = stats
    return out


def to_markdown(result: dict[str, dict[str, float]]) -> str:
    if not result:
        return "No S1/S2 pairs in this corpus.\n"
    keys = [k for k in next(iter(result.values())) if k not in ("n", "candidates")]
    rows = [["direction", "pairs", "candidates", *keys]]
    for direction, s in result.items():
        rows.append([direction, str(int(s["n"])), str(int(s["candidates"]))])
        rows[-1] += [f"{s[k]:.3f}" for k in keys]
    return "\n".join(markdown_table(rows)) + "\n"
