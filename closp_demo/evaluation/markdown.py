"""The evaluation report as Markdown: method notes, one metric table per sensor subset (model,
random expectation, presence oracle, per query kind) and optional per-query nDCG tables."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from closp_demo.evaluation.scoring import RANKINGS, MetricReport
from closp_demo.sensors import SENSOR_NAMES

if TYPE_CHECKING:  # run.py imports this module to render its result
    from closp_demo.evaluation.run import EvaluationResult

SUBSET_NAMES: dict[str, str] = {**SENSOR_NAMES, "both": "S1 + S2, one mixed corpus"}
KIND_NAMES: dict[str, str] = {"class": "class names", "paraphrase": "paraphrases", "qrels": "qrels"}
RANKING_NAMES: dict[str, str] = {
    "model": "model",
    "random": "random, expected",
    "oracle": "presence oracle, expected",
}


def result_markdown(result: EvaluationResult, per_query: bool | str | Iterable[str] = False) -> str:
    """`EvaluationResult.to_markdown`: the report, with per-query tables for `per_query` kinds."""
    kinds: dict[str, int] = {}
    for q in result.queries:
        kinds[q.kind] = kinds.get(q.kind, 0) + 1
    counts = ", ".join(f"{n} {KIND_NAMES.get(k, k)}" for k, n in kinds.items())
    relevance = {
        "graded": "graded: share of an image's labels in the query's class set",
        "binary": "binary: the image carries one of the query's classes",
        "given": "gains given by the caller (e.g. CrisisLandMark qrels)",
    }.get(result.relevance, result.relevance)
    lines = [
        "## Retrieval evaluation",
        "",
        f"- Queries: {len(result.queries)} ({counts}).",
        f"- Relevance for nDCG: {relevance}; P@k, R@k and AP count any positive gain as "
        "relevant. nDCG uses linear gains and a log2 discount, the ideal taken over the "
        "judged pool.",
        "- Condensed lists: unlabelled (unjudged) images are removed from each ranking before "
        "scoring (Sakai 2007). Queries with no relevant image are left out of the means.",
        "- Random baseline: exact expectation over uniformly random rankings; Monte-Carlo "
        "estimate beside it as a check (mean ± standard error).",
        "- Presence oracle: exact expectation (closed form, no sampling) for a ranking that "
        "puts every relevant image above every irrelevant one, in random order within each: "
        "an encoder that knows which classes an image carries but not how many labels it "
        "has. Its P@k, R@k and MAP are the best possible; its nDCG stays below 1 under "
        "graded relevance, because the ideal ranking (nDCG 1.0 by definition) also puts "
        "single-label images, gain 1, before mixed ones, gain 1/(number of labels).",
        "- A metric @k is shown only when the judged list has at least k images.",
    ]
    lines += [f"- {note}" for note in result.notes]
    show = per_query is not False
    kinds = _per_query_kinds(per_query) if show else None
    for subset, rep in result.reports.items():
        lines += ["", *_subset_markdown(subset, rep, show, kinds)]
    return "\n".join(lines) + "\n"


def _subset_markdown(
    subset: str, rep: MetricReport, per_query: bool, kinds: set[str] | None
) -> list[str]:
    title = SUBSET_NAMES.get(subset, subset)
    lines = [
        f"### {subset} ({title}): {rep.n_images} images, {rep.n_judged} labelled",
        "",
    ]
    if not rep.metrics:
        return [*lines, "No metric reported.", *[f"- {n}" for n in rep.notes]]
    table = [["queries", "ranking", *[_metric_label(m) for m in rep.metrics]]]

    def add(group: str, ranking: str, values: dict[str, str]) -> None:
        table.append([group, ranking, *[values[m] for m in rep.metrics]])

    def fmt_all(means: dict[str, float]) -> dict[str, str]:
        return {m: _fmt(means.get(m, math.nan)) for m in rep.metrics}

    add(f"all (n={rep.n_scored})", "model", fmt_all(rep.means))
    add("", RANKING_NAMES["random"], fmt_all(rep.random_expected))
    if rep.random_monte_carlo:
        add(
            "",
            f"random, Monte-Carlo ({rep.n_shuffles} shuffles, seed {rep.seed})",
            {
                m: f"{_fmt(rep.random_monte_carlo[m])} ± {rep.random_stderr[m]:.1g}"
                for m in rep.metrics
            },
        )
    add("", RANKING_NAMES["oracle"], fmt_all(rep.oracle_expected))
    by_kind = {r: rep.kind_means(r) for r in RANKINGS}
    if len(by_kind["model"]) > 1:  # one kind only: its rows would repeat "all"
        n_by_kind = rep.per_query[rep.per_query["n_relevant"] > 0]["kind"].value_counts()
        for kind in by_kind["model"]:
            group = f"{KIND_NAMES.get(kind, kind)} (n={n_by_kind[kind]})"
            for i, r in enumerate(RANKINGS):
                add(group if i == 0 else "", RANKING_NAMES[r], fmt_all(by_kind[r][kind]))
    lines += markdown_table(table)
    if rep.notes:
        lines += ["", *[f"- {note}" for note in rep.notes]]
    if per_query:
        lines += ["", *_query_markdown(rep, kinds)]
    return lines


def _per_query_kinds(per_query: bool | str | Iterable[str]) -> set[str] | None:
    """The query kinds to list per query; None: every kind."""
    if per_query is True or per_query == "all":
        return None
    kinds = {per_query} if isinstance(per_query, str) else set(per_query)
    unknown = sorted(kinds - set(KIND_NAMES))
    if unknown:
        raise ValueError(f"unknown query kind(s) {unknown}; known: {list(KIND_NAMES)} or 'all'")
    return kinds


def _query_markdown(rep: MetricReport, kinds: set[str] | None) -> list[str]:
    """Per-query table of the first nDCG@k: model, random expectation, presence oracle."""
    ndcg = [m for m in rep.metrics if m.startswith("nDCG@")]
    if not ndcg:
        return []
    metric = ndcg[0]
    t = rep.query_table(metric)
    if kinds is not None:
        t = t[t["kind"].isin(kinds)]
    which = (
        "all queries" if kinds is None else ", ".join(KIND_NAMES.get(k, k) for k in sorted(kinds))
    )
    lines = [
        f"Per query ({which}, those with a relevant image): {metric} of the model, of a random "
        "ranking (expected) and of the presence oracle (expected); mean relevant gain = mean "
        "graded gain of the relevant images, what the oracle earns per position.",
        "",
    ]
    if t.empty:
        return [*lines, "No such query has a relevant image here."]
    with_kind = t["kind"].nunique() > 1
    with_id = bool((t["kind"] == "qrels").any())  # official queries are known by their id
    head = ["query", *(["id"] if with_id else []), *(["kind"] if with_kind else [])]
    head += ["relevant images", "mean relevant gain"]
    head += [f"{metric} {RANKING_NAMES[r]}" for r in RANKINGS]
    body = [
        [
            str(r.query),
            *([str(r.query_id)] if with_id else []),
            *([str(r.kind)] if with_kind else []),
            str(r.n_relevant),
            _fmt(r.mean_relevant_gain),
            _fmt(r.model),
            _fmt(r.random),
            _fmt(r.oracle),
        ]
        for r in t.itertuples(index=False)
    ]
    return lines + markdown_table([head, *body])


def _metric_label(name: str) -> str:
    return "MAP" if name == "AP" else name


def _fmt(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "n/a" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def markdown_table(rows: list[list[str]]) -> list[str]:
    """Lines of a Markdown table: `rows[0]` is the header; "|" in a cell is escaped."""

    def esc(cell: str) -> str:
        return str(cell).replace("|", "\\|")

    out = ["| " + " | ".join(esc(c) for c in rows[0]) + " |"]
    out.append("|" + "|".join("---" for _ in rows[0]) + "|")
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows[1:]]
    return out
