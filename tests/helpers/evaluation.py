"""The shared BigEarthNet samples as an evaluation corpus, and a label-share 'encoder' whose
scores are the graded gains themselves (so it ranks every list in ideal order)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from closp_demo.corpus.labels import ALL_CLASSES, clc19_to_dw
from closp_demo.evaluation.queries import Query
from closp_demo.evaluation.run import EvaluationResult, run_evaluation


def load_ben_samples(samples_dir: Path) -> dict:
    """The shared BigEarthNet patches as a corpus: one entry per available S1 / S2 image."""
    folder = samples_dir / "bigearthnet"
    with open(folder / "ben_patches.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with np.load(folder / "ben_patches.npz") as npz:  # each npz[key] re-reads: load once
        arrays = {"s1": npz["s1"], "s2": npz["s2"]}
    labels, sensors, images = [], [], []
    for i, row in enumerate(rows):
        dw = clc19_to_dw(row["labels_clc19"].split("|"))
        for sensor, key in (("S1", "has_s1"), ("S2", "has_s2")):
            if row[key] == "True":
                labels.append(dw)
                sensors.append(sensor)
                images.append(arrays[sensor.lower()][i])
    return {"labels": labels, "sensors": sensors, "images": images}


def label_share_vectors(labels) -> np.ndarray:
    """An oracle 'encoder': each image embeds as the share of each class among its labels."""
    out = np.zeros((len(labels), len(ALL_CLASSES)), np.float32)
    for i, ls in enumerate(labels):
        for c in ls:
            out[i, ALL_CLASSES.index(c)] = 1 / len(ls)
    return out


def class_indicator_vectors(queries: list[Query]) -> np.ndarray:
    return np.array(
        [[float(c in q.classes) for c in ALL_CLASSES] for q in queries], dtype=np.float32
    )


def label_share_result(ben: dict, queries: list[Query], n_shuffles: int) -> EvaluationResult:
    """`run_evaluation` of the label-share 'encoder' on `ben`: dot products of its vectors equal
    the graded gains, so every list is in ideal order."""
    return run_evaluation(
        class_indicator_vectors(queries),
        label_share_vectors(ben["labels"]),
        ben["labels"],
        ben["sensors"],
        queries,
        n_shuffles=n_shuffles,
    )
