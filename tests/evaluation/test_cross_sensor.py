"""Cross-sensor consistency: each S1 image against its S2 twin, and back."""

import numpy as np

from closp_demo.evaluation.cross_sensor import to_markdown, twin_recall

SENSORS = ["S1"] * 5 + ["S2"] * 5
GROUPS = [f"g{i}" for i in range(5)] * 2


def twin_vectors() -> np.ndarray:
    """Five S2 vectors and their S1 twins, each a slightly noisy copy (unit length)."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 16))
    s1 = base + 0.01 * rng.normal(size=base.shape)
    vectors = np.concatenate([s1, base])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_twin_recall_on_constructed_pairs():
    vectors = twin_vectors()
    out = twin_recall(vectors, SENSORS, GROUPS)
    assert out["S1->S2"]["R@1"] == 1.0 and out["S2->S1"]["MRR"] == 1.0
    shuffled = twin_recall(vectors, SENSORS, [f"g{i}" for i in (0, 1, 2, 3, 4, 1, 2, 3, 4, 0)])
    assert shuffled["S1->S2"]["R@1"] < 1.0


def test_markdown_table():
    # Every twin found first among 5 candidates; random: R@1 = 1/5, MRR = H_5 / 5 = 0.457.
    text = to_markdown(twin_recall(twin_vectors(), SENSORS, GROUPS, ks=(1,)))
    assert text.splitlines() == [
        "| direction | pairs | candidates | R@1 | random R@1 | MRR | random MRR |",
        "|---|---|---|---|---|---|---|",
        "| S1->S2 | 5 | 5 | 1.000 | 0.200 | 1.000 | 0.457 |",
        "| S2->S1 | 5 | 5 | 1.000 | 0.200 | 1.000 | 0.457 |",
    ]
    assert to_markdown({}) == "No S1/S2 pairs in this corpus.\n"
