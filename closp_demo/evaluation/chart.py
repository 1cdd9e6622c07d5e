"""Per-query bar chart of an evaluation, so a visitor sees how far to trust each sensor."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure  # not pyplot: no global state shared by server threads

from closp_demo.evaluation.metrics import EvaluationResult

SENSOR_COLOURS = {"S1": "#e4572e", "S2": "#2e86de", "both": "#7f8c8d"}


def per_query_chart(result: EvaluationResult, metric: str = "nDCG@10", kind: str = "class"):
    """Grouped horizontal bars: one row per query of `kind`, one bar per sensor subset, plus each
    subset's random-ranking expectation as a dashed line."""
    subsets = [s for s in ("S1", "S2") if s in result.reports]
    tables = {s: result.reports[s].per_query for s in subsets}
    queries = [q.text for q in result.queries if q.kind == kind]
    queries = [q for q in queries if any(_value(tables[s], q, metric) is not None for s in subsets)]
    fig = Figure(figsize=(7, 0.45 * max(len(queries), 3) + 1.2))
    ax = fig.subplots()
    height = 0.8 / max(len(subsets), 1)
    y = np.arange(len(queries))
    for i, s in enumerate(subsets):
        vals = [_value(tables[s], q, metric) for q in queries]
        ax.barh(y + i * height, [v if v is not None else 0 for v in vals], height,
                color=SENSOR_COLOURS[s], label=s)  # fmt: skip
        rnd = result.reports[s].random_expected.get(metric)
        if rnd is not None:
            ax.axvline(rnd, color=SENSOR_COLOURS[s], ls="--", lw=1)
    ax.set_yticks(y + height * (len(subsets) - 1) / 2, queries)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"{metric} (dashed: random ranking, same run)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def _value(table, query: str, metric: str) -> float | None:
    rows = table[(table["query"] == query) & (table["n_relevant"] > 0)]
    if rows.empty or not np.isfinite(rows[metric].iloc[0]):
        return None
    return float(rows[metric].iloc[0])
