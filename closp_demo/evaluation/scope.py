"""Out-of-scope queries: how often the app says "I can't see that", measured.

    python -m closp_demo.evaluation.scope --write BENCHMARKS.md

The query reading (closp_demo.search.reading) flags a query whose scope score (its highest
cosine to the model's vocabulary) lies below a threshold calibrated on the written lists of
`closp_demo/search/scope_queries.json`. A flagged query's results all carry the warning, so the
share of results flagged is the share of queries flagged. Reported per list:
- calibration lists (the threshold was set on them) and the held-out check lists: false alarms
  on the in-domain lists, detection on the off-domain lists;
- the evaluation's own queries (class names and paraphrases, `queries.json`), the flood queries
  (`flood.FLOOD_QUERIES`) and the cloud queries (`sky.CLOUD_QUERIES`), all written for classes
  the app knows; crisis classes the physics baseline has no rule for (earthquake damage, flood)
  are shown apart, since a warning there is arguably right.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from closp_demo.encoders import Encoder, create_encoder
from closp_demo.encoders.registry import add_encoder_argument
from closp_demo.evaluation.flood import FLOOD_QUERIES
from closp_demo.evaluation.markdown import markdown_table
from closp_demo.evaluation.queries import load_queries
from closp_demo.evaluation.report import publish
from closp_demo.evaluation.sky import CLOUD_QUERIES
from closp_demo.search.reading import QueryReader, store_calibration

SECTION = "eval-scope"
NO_RULE = ("Earthquake Damage", "Flooded Area")  # crisis classes with no physics rule


@dataclass(frozen=True)
class ScopeRow:
    name: str
    kind: str  # "in-domain" or "off-domain"
    queries: tuple[str, ...]
    flagged: tuple[str, ...]

    @property
    def share(self) -> float:
        return len(self.flagged) / len(self.queries) if self.queries else float("nan")


def scope_rows(reader: QueryReader) -> list[ScopeRow]:
    lists = reader.scope_queries
    t = reader.calibration.threshold
    groups: list[tuple[str, str, list[str]]] = [
        ("in-domain, calibration", "in-domain", lists["in_domain"]["calibration"]),
        ("off-domain, calibration", "off-domain", lists["off_domain"]["calibration"]),
        ("in-domain, check (held out)", "in-domain", lists["in_domain"]["check"]),
        ("off-domain, check (held out)", "off-domain", lists["off_domain"]["check"]),
    ]
    evaluation = load_queries("all")
    known = [q.text for q in evaluation if not set(q.classes) & set(NO_RULE)]
    no_rule = [q.text for q in evaluation if set(q.classes) & set(NO_RULE)]
    groups += [
        ("evaluation queries, classes with a rule", "in-domain", known),
        ("evaluation queries, flood / earthquake (no rule)", "in-domain", no_rule),
        ("flood queries (Sen1Floods11)", "in-domain", list(FLOOD_QUERIES)),
        ("cloud queries", "in-domain", list(CLOUD_QUERIES)),
    ]
    rows = []
    for name, kind, texts in groups:
        scores = reader.scores(texts)
        flagged = tuple(q for q, s in zip(texts, scores, strict=True) if s < t)
        rows.append(ScopeRow(name, kind, tuple(texts), flagged))
    return rows


def scope_report(encoder: Encoder) -> tuple[str, list[ScopeRow]]:
    reader = QueryReader(encoder)
    cal = reader.calibration
    rows = scope_rows(reader)
    table = [["queries", "n", "flagged out of scope", "share flagged", "reads as"]]
    for r in rows:
        reads = "false alarms" if r.kind == "in-domain" else "detection"
        table.append([r.name, str(len(r.queries)), str(len(r.flagged)), f"{r.share:.3f}", reads])
    info = encoder.info
    lines = [
        f"Encoder `{info.id}` v{info.version}; vocabulary: {len(reader.vocabulary)} terms; "
        f"threshold {cal.threshold:.4f} (calibration: false alarms {cal.false_alarm:.3f}, "
        f"detection {cal.detection:.3f}).",
        "",
        *markdown_table(table),
        "",
    ]
    for r in rows:
        if r.flagged and r.kind == "in-domain":
            lines.append(f"- flagged in {r.name}: " + ", ".join(f"'{q}'" for q in r.flagged))
        missed = [q for q in r.queries if q not in r.flagged]
        if r.kind == "off-domain" and missed:
            lines.append(f"- not flagged in {r.name}: " + ", ".join(f"'{q}'" for q in missed))
    return "\n".join(lines), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m closp_demo.evaluation.scope", description=__doc__.split("\n\n")[0]
    )
    add_encoder_argument(parser, "physics-minilm", "encoder whose query reading is measured")
    parser.add_argument("--write", type=Path, default=None, help="Markdown file to update")
    parser.add_argument(
        "--store", action="store_true",
        help="calibrate afresh; record the threshold in closp_demo/search/scope_calibration.json",
    )  # fmt: skip
    args = parser.parse_args(argv)
    encoder = create_encoder(args.encoder)
    if args.store:
        reader = QueryReader(encoder)
        path = store_calibration(reader.stored_key(), reader.calibrate())
        print(f"stored {reader.stored_key()} in {path}")
    text, _ = scope_report(encoder)
    publish("closp_demo.evaluation.scope", argv, text, args.write, SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
