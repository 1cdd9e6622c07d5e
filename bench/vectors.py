"""Realistic vector sets for ANN benchmarks (recall on i.i.d. random vectors means nothing).

Two sets, both in the MiniLM text space the app searches, rows sorted by sensor (S1 first) like a
corpus, so sensor filters are id ranges:

- "physics": what this app's offline encoder really produces. Every real patch of the shared
  samples (BigEarthNet S1+S2, Major-TOM, SSL4EO, hydro) is augmented (random crop of 60-120 px
  resized back to 120 by pixel repetition, flip / rot90, noise, per-band gain or dB jitter) and
  run through `PhysicsEncoder.class_fractions`: these are the anchors. Further vectors are drawn
  around them in the encoder's own fraction space (Dirichlet mixtures of an anchor and its
  same-sensor neighbours + small noise) and mapped by `embed_fractions`, the encoder's last stage.
  Caveat: these embeddings are functions of 10 class scores (dual basis of the class
  prototypes + one padding direction), i.e. they live in an 11-d subspace with many near-ties,
  and text queries are prototype mixtures in the same subspace. Not what a learned encoder
  gives: strict id recall@10 is ill-defined among ties (`bench.index_scale.recall_at_k`), and
  graph indexes (HNSW) navigate such degenerate data badly.
- "generic": a proxy for a learned encoder's image space: MiniLM embeddings of distinct generated
  captions (bench/workload.py) are the anchors; vectors are Dirichlet mixtures of an anchor and
  its nearest anchors plus isotropic noise scaled to the local neighbour distance, re-normalised.
  That keeps the anchors' global structure (clusters, hubs, intrinsic dimension) and fills the
  space between semantically close captions, the way image embeddings sit between concepts.

Queries: "text" = the benchmark queries (bench/workload.py, a vocabulary apart from the captions)
encoded as each set's encoder does: the physics encoder's `encode_text` for "physics", the raw
MiniLM for "generic" (out-of-distribution for the database, as text queries against image
embeddings are); "image" = fresh draws from the same generator (held out), like an upload.
Sets are cached as .npy under CACHE_DIR; a cached set is reused when its parameters match.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import CACHE_DIR, SAMPLES_DIR
from closp_demo.encoders.base import l2_normalise

GENERATOR_VERSION = 1
CHUNK = 65_536


@dataclass
class VectorSet:
    name: str
    vectors: np.ndarray  # (N, d) float32, unit rows, memory-mapped from the cache
    n_s1: int  # rows [0, n_s1) are S1, the rest S2
    image_queries: np.ndarray  # (Q, d) held-out draws, first half S1-like, second S2-like
    description: str

    @property
    def sensor_ranges(self) -> dict[str, tuple[int, int]]:
        return {"S1": (0, self.n_s1), "S2": (self.n_s1, len(self.vectors))}

    def subset(self, n: int) -> VectorSet:
        """The first `n` rows in the same S1/S2 proportion (draws are i.i.d. within a sensor)."""
        total = len(self.vectors)
        if n > total:
            raise ValueError(f"{self.name}: {n} vectors asked, {total} generated")
        if n == total:
            return self
        a = round(n * self.n_s1 / total)
        rows = np.concatenate([self.vectors[:a], self.vectors[self.n_s1 : self.n_s1 + n - a]])
        return VectorSet(self.name, rows, a, self.image_queries, self.description)


# --- anchors ------------------------------------------------------------------------------------


def augment(image: np.ndarray, sensor: str, rng: np.random.Generator) -> np.ndarray:
    """One random augmentation of a (B, 120, 120) patch: crop+resize, flip/rot90, noise, jitter."""
    side = image.shape[-1]
    crop = int(rng.integers(60, side + 1))
    y, x = rng.integers(0, side - crop + 1, size=2)
    idx = (np.arange(side) * crop // side).astype(int)  # pixel repetition back to 120
    out = image[:, y + idx][:, :, x + idx]
    out = np.rot90(out, int(rng.integers(4)), axes=(1, 2))
    if rng.random() < 0.5:
        out = out[:, :, ::-1]
    out = np.array(out, dtype=np.float32)
    if sensor == "S2":
        out *= rng.normal(1.0, 0.05, size=(out.shape[0], 1, 1)).astype(np.float32)
        out += rng.normal(0.0, rng.uniform(0, 150), size=out.shape).astype(np.float32)
        np.clip(out, 1, None, out=out)  # DN 0 is no-data: noise must not create holes
    else:
        out += rng.normal(0.0, 1.0, size=(out.shape[0], 1, 1)).astype(np.float32)
        out += rng.normal(0.0, rng.uniform(0, 1.5), size=out.shape).astype(np.float32)
    return out


def physics_anchor_fractions(
    encoder, per_patch: int, seed: int, samples: Path = SAMPLES_DIR
) -> tuple[np.ndarray, np.ndarray]:
    """Class fractions of `per_patch` augmentations of every real sample patch + the originals.

    Returns (fractions (M, C) float32, is_s1 (M,) bool)."""
    from closp_demo.corpus import sources

    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    flags: list[np.ndarray] = []
    by_sensor: dict[str, list[np.ndarray]] = {"S1": [], "S2": []}
    for record in sources.iter_all(samples):
        by_sensor[record.sensor].append(record.image)
    for sensor, images in by_sensor.items():
        batch: list[np.ndarray] = []
        for image in images:
            batch.append(image)
            batch += [augment(image, sensor, rng) for _ in range(per_patch)]
            if len(batch) >= 64:
                out.append(_fractions(encoder, batch, sensor))
                flags.append(np.full(len(batch), sensor == "S1"))
                batch = []
        if batch:
            out.append(_fractions(encoder, batch, sensor))
            flags.append(np.full(len(batch), sensor == "S1"))
    return np.concatenate(out), np.concatenate(flags)


def _fractions(encoder, batch: list[np.ndarray], sensor: str) -> np.ndarray:
    with np.errstate(over="ignore"):  # the soft thresholds saturate exp() on extreme pixels
        fractions, _ = encoder.class_fractions(np.stack(batch), sensor)
    return fractions


# --- drawing around anchors ---------------------------------------------------------------------


def neighbours(anchors: np.ndarray, k: int, metric: str = "cosine") -> np.ndarray:
    """Indices of each anchor's k nearest other anchors (M, k), computed in row blocks."""
    a = np.asarray(anchors, dtype=np.float32)
    sq = (a * a).sum(1)
    out = np.empty((len(a), k), dtype=np.int64)
    for start in range(0, len(a), 2048):
        block = a[start : start + 2048]
        if metric == "cosine":
            d = -(block @ a.T)
        else:
            d = sq[start : start + 2048, None] - 2 * block @ a.T + sq[None]
        d[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf  # not itself
        part = np.argpartition(d, k, axis=1)[:, :k]
        out[start : start + len(block)] = part
    return out


def draw_mixtures(
    anchors: np.ndarray, knn: np.ndarray, n: int, rng: np.random.Generator, noise: float
) -> np.ndarray:
    """`n` Dirichlet mixtures of a random anchor (weight ~2/3 on average) and its neighbours, plus
    isotropic noise of `noise` x that anchor's mean neighbour distance (per dimension scaled)."""
    k = knn.shape[1]
    centre = rng.integers(0, len(anchors), size=n)
    members = np.concatenate([centre[:, None], knn[centre]], axis=1)  # (n, k+1)
    alpha = np.array([2.0 * k] + [1.0] * k)
    weights = rng.dirichlet(alpha, size=n).astype(np.float32)
    mix = np.einsum("nk,nkd->nd", weights, anchors[members])
    spread = np.linalg.norm(anchors[knn[centre]] - anchors[centre][:, None], axis=2).mean(1)
    eps = rng.normal(size=mix.shape).astype(np.float32) / np.sqrt(mix.shape[1])
    return mix + noise * spread[:, None] * eps


def _expand(
    path: Path, anchors: np.ndarray, is_s1: np.ndarray, n: int, s1_share: float, seed: int,
    noise: float, finish: Callable[[np.ndarray], np.ndarray], dim: int, k: int = 8,
) -> tuple[np.ndarray, int, np.ndarray]:  # fmt: skip
    """Write `n` draws (S1 rows first) to `path`; return (memmap, n_s1, held-out image queries)."""
    rng = np.random.default_rng(seed)
    n_s1 = round(n * s1_share)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    queries = []
    metric = "cosine" if anchors.shape[1] == dim else "euclidean"
    for sensor_rows, mask in (((0, n_s1), is_s1), ((n_s1, n), ~is_s1)):
        group = anchors[mask]
        knn = neighbours(group, min(k, len(group) - 1), metric)
        for start in range(sensor_rows[0], sensor_rows[1], CHUNK):
            stop = min(start + CHUNK, sensor_rows[1])
            out[start:stop] = finish(draw_mixtures(group, knn, stop - start, rng, noise))
        queries.append(finish(draw_mixtures(group, knn, 100, rng, noise)))
    out.flush()
    return out, n_s1, np.concatenate(queries)


def _cached(name: str, params: dict, n: int, cache: Path) -> tuple[Path, Path, bool]:
    """Cache paths for a set; fresh when a set of at least `n` rows with these params exists."""
    cache.mkdir(parents=True, exist_ok=True)
    key = "-".join(f"{k}{v}" for k, v in sorted(params.items()))
    vec, meta = cache / f"{name}-{key}.npy", cache / f"{name}-{key}.json"
    fresh = meta.is_file() and vec.is_file() and json.loads(meta.read_text())["n"] >= n
    return vec, meta, fresh


def _save_meta(meta: Path, n: int, n_s1: int, anchors: int, queries: np.ndarray) -> None:
    info = {"n": n, "n_s1": n_s1, "anchors": anchors, "image_queries": queries.tolist()}
    meta.write_text(json.dumps(info))


def _load(name: str, vec: Path, meta: Path, description: str, n: int) -> VectorSet:
    info = json.loads(meta.read_text())
    full = VectorSet(name, np.load(vec, mmap_mode="r"), info["n_s1"],
                     np.asarray(info["image_queries"], dtype=np.float32), description)  # fmt: skip
    return full.subset(n)


def physics_set(
    n: int, encoder, per_patch: int = 24, seed: int = 0, cache: Path = CACHE_DIR
) -> VectorSet:
    """`n` physics-encoder vectors (see module docstring); generated once, then cached."""
    info = encoder.info
    params = {"v": GENERATOR_VERSION, "enc": f"{info.id}.{info.version}", "aug": per_patch,
              "seed": seed}  # fmt: skip
    vec, meta, fresh = _cached("physics", params, n, cache)
    description = (f"physics encoder: {per_patch} augmentations x every real sample patch, then "
                   "Dirichlet mixtures in its class-fraction space")  # fmt: skip
    if not fresh:
        fractions, is_s1 = physics_anchor_fractions(encoder, per_patch, seed)

        def finish(f: np.ndarray) -> np.ndarray:
            return encoder.embed_fractions(np.clip(f, 0.0, 1.0))

        dim = encoder.info.dim
        s1_share = float(is_s1.mean())
        _, n_s1, queries = _expand(vec, fractions, is_s1, n, s1_share, seed + 1, 0.05, finish, dim)
        _save_meta(meta, n, n_s1, len(fractions), queries)
    return _load("physics", vec, meta, description, n)


def generic_set(
    n: int, text_model, anchors: int = 3000, seed: int = 0, cache: Path = CACHE_DIR
) -> VectorSet:
    """`n` caption-derived vectors (see module docstring); generated once, then cached.

    `text_model`: the raw MiniLM (`closp_demo.encoders.minilm.MiniLMText`, `.encode(texts)`),
    not the physics encoder, whose `encode_text` maps every text into its 10-d class subspace."""
    params = {"v": GENERATOR_VERSION, "text": "minilm-mean", "anchors": anchors, "seed": seed}
    vec, meta, fresh = _cached("generic", params, n, cache)
    description = (f"MiniLM embeddings of {anchors} distinct generated captions, then Dirichlet "
                   "mixtures of neighbouring captions + noise")  # fmt: skip
    if not fresh:
        emb = caption_embeddings(text_model, anchors, seed, cache)
        is_s1 = np.random.default_rng(seed).random(len(emb)) < 0.3
        _, n_s1, queries = _expand(vec, emb, is_s1, n, 0.3, seed + 1, 0.5, l2_normalise,
                                   emb.shape[1])  # fmt: skip
        _save_meta(meta, n, n_s1, len(emb), queries)
    return _load("generic", vec, meta, description, n)


def caption_embeddings(text_model, count: int, seed: int, cache: Path) -> np.ndarray:
    """Raw MiniLM embeddings of `count` distinct captions (cached: encoding is the slow part)."""
    from bench.workload import distinct_captions

    path = cache / f"captions-v{GENERATOR_VERSION}-minilm-mean-n{count}-seed{seed}.npy"
    if path.is_file():
        return np.load(path)
    cache.mkdir(parents=True, exist_ok=True)
    emb = text_model.encode(distinct_captions(count, seed + 1)).astype(np.float32)
    np.save(path, emb)
    return emb
