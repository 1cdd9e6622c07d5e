"""Cloud and haze in search results, against judgements by eye (`sky_judgements.json`).

    python -m closp_demo.evaluation.sky --corpus precomputed --write BENCHMARKS.md

No per-pixel cloud mask exists for the embedded corpus (the Major-TOM masks are empty), so its
Sentinel-2 images were judged by eye on their thumbnails: obscured (cloud, haze or cloud shadow
over about a quarter of the tile or more), partly (less), clear, or unsure (left out). Two checks:
- cloud queries (`CLOUD_QUERIES`, written before any result was seen) over the judged S2 images:
  nDCG@10 (graded gain obscured 1, partly 0.5; binary: either), P@10 and AP (obscured or partly
  relevant), with the random baseline of the same run;
- class names: obscured images among the top `TOP` results of each class-name query, ranked over
  the S2 images and over the whole mixed corpus (as the app ranks), which should hold none: an
  image the ground does not show through belongs to the cloud queries. Images without a
  judgement (added to the corpus later) are counted apart.
Radar sees through clouds: the cloud queries' top results on the mixed corpus should hold no
Sentinel-1 image (their count is reported).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from closp_demo.corpus.store import Corpus, CorpusError, load_corpus
from closp_demo.encoders import Encoder, create_encoder
from closp_demo.evaluation.markdown import markdown_table
from closp_demo.evaluation.metrics import rank
from closp_demo.evaluation.queries import class_queries
from closp_demo.evaluation.report import publish
from closp_demo.evaluation.scoring import evaluate

JUDGEMENTS_FILE = Path(__file__).with_name("sky_judgements.json")
JUDGEMENTS = ("obscured", "partly", "clear", "unsure")
GAINS = {"obscured": 1.0, "partly": 0.5, "clear": 0.0}
CLOUD_QUERIES: tuple[str, ...] = (
    "cloudy image", "hazy", "clouds", "haze", "cloud cover", "overcast sky", "hazy image",
    "cloud shadow",
)  # fmt: skip
TOP = 12


def load_judgements(path: Path = JUDGEMENTS_FILE) -> dict[str, str]:
    """image id -> judgement ("obscured", "partly", "clear", "unsure")."""
    try:
        groups = json.loads(path.read_text(encoding="utf-8"))["groups"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read the sky judgements {path}: {exc}") from exc
    out: dict[str, str] = {}
    for group in groups:
        if group.get("judgement") not in JUDGEMENTS:
            raise ValueError(f"{path}: judgement {group.get('judgement')!r} not in {JUDGEMENTS}")
        for image_id in group["ids"]:
            if image_id in out:
                raise ValueError(f"{path}: {image_id!r} is judged twice")
            out[image_id] = group["judgement"]
    return out


@dataclass
class SkyReport:
    cloud_table: list[list[str]]  # per query and mean: model and random figures
    top_table: list[list[str]]  # per class-name query: obscured images in the top TOP
    s1_in_cloud_top: int  # S1 images among the top TOP of all cloud queries (mixed corpus)
    counts: dict[str, int]  # judged S2 images per judgement, and unjudged ones
    obscured_in_class_top: int  # summed over class-name queries and both rankings (S2, mixed)

    def to_markdown(self) -> str:
        c = self.counts
        lines = [
            f"Judged Sentinel-2 images: {c['obscured']} obscured, {c['partly']} partly cloudy, "
            f"{c['clear']} clear, {c['unsure']} unsure (left out); {c['unjudged']} images of "
            "the corpus have no judgement.",
            "",
            "Cloud and haze queries over the judged S2 images (graded nDCG: obscured 1, partly "
            "0.5; binary nDCG, P@10 and MAP: obscured or partly relevant):",
            "",
            *markdown_table(self.cloud_table),
            "",
            f"Sentinel-1 images among the top {TOP} of these queries on the mixed corpus: "
            f"{self.s1_in_cloud_top} (radar evidence never carries cloud).",
            "",
            f"Obscured images among the top {TOP} of each class-name query ({TOP} is the app's "
            f"default result count): {self.obscured_in_class_top} over both rankings.",
            "",
            *markdown_table(self.top_table),
        ]
        return "\n".join(lines) + "\n"


def sky_report(corpus: Corpus, encoder: Encoder, judgements: dict[str, str]) -> SkyReport:
    meta = corpus.metadata
    vectors = np.asarray(corpus.embeddings, dtype=np.float32)
    ids = meta["image_id"].tolist()
    sensors = meta["sensor"].to_numpy()
    judged = np.array([judgements.get(i, "") for i in ids], dtype=object)
    s2 = sensors == "S2"
    counts = {j: int((judged[s2] == j).sum()) for j in JUDGEMENTS}
    counts["unjudged"] = int((judged == "").sum() - (~s2).sum())
    scores = encoder.encode_text(list(CLOUD_QUERIES)) @ vectors.T
    pool = s2 & np.isin(judged, list(GAINS))
    graded = np.array([GAINS.get(j, 0.0) for j in judged])[None, :].repeat(len(CLOUD_QUERIES), 0)
    reports = {
        how: evaluate(scores[:, pool], g[:, pool], ks=(10,), n_shuffles=0)
        for how, g in (("graded", graded), ("binary", (graded > 0).astype(float)))
    }
    cloud_table = [["query", "nDCG@10 graded", "nDCG@10 binary", "P@10", "MAP"]]
    g, b = reports["graded"], reports["binary"]
    for q, text in enumerate(CLOUD_QUERIES):
        row = [g.per_query.loc[q, "nDCG@10"], b.per_query.loc[q, "nDCG@10"]]
        row += [b.per_query.loc[q, "P@10"], b.per_query.loc[q, "AP"]]
        cloud_table.append([text, *(f"{v:.3f}" for v in row)])
    for name, means in (("mean, model", "means"), ("mean, random (expected)", "random_expected")):
        row = [getattr(g, means)["nDCG@10"], getattr(b, means)["nDCG@10"]]
        row += [getattr(b, means)["P@10"], getattr(b, means)["AP"]]
        cloud_table.append([name, *(f"{v:.3f}" for v in row)])
    s1_top = sum(int((sensors[rank(row)[:TOP]] == "S1").sum()) for row in scores)

    queries = class_queries()
    class_scores = encoder.encode_text([q.text for q in queries]) @ vectors.T
    top_table = [["query", f"obscured in top {TOP}, S2", f"obscured in top {TOP}, S1 + S2",
                  f"unjudged S2 in top {TOP}, S2"]]  # fmt: skip
    total = 0
    s2_rows = np.flatnonzero(s2)
    for q, row in zip(queries, class_scores, strict=True):
        top_s2 = s2_rows[rank(row[s2])[:TOP]]
        top_all = rank(row)[:TOP]
        n_s2 = int((judged[top_s2] == "obscured").sum())
        n_all = int((judged[top_all] == "obscured").sum())
        total += n_s2 + n_all
        top_table.append([q.text, str(n_s2), str(n_all), str(int((judged[top_s2] == "").sum()))])
    return SkyReport(cloud_table, top_table, s1_top, counts, total)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m closp_demo.evaluation.sky", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpus", type=Path, default=Path("precomputed"))
    parser.add_argument("--encoder", default=None, help="default: the corpus's encoder")
    parser.add_argument("--write", type=Path, default=None, help="Markdown file to update")
    args = parser.parse_args(argv)
    try:
        corpus = load_corpus(args.corpus, verify_checksums=False)
        encoder = create_encoder(args.encoder or corpus.encoder_id)
        report = sky_report(corpus, encoder, load_judgements())
    except (CorpusError, FileNotFoundError, KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = (f"Encoder `{encoder.info.id}` v{encoder.info.version} on corpus "
            f"`{corpus.root.name}`.\n\n{report.to_markdown()}")  # fmt: skip
    publish("closp_demo.evaluation.sky", argv, text, args.write, "eval-sky")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
