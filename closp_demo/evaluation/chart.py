"""Per-query bar chart of an evaluation, so a visitor sees how far to trust each sensor."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # not pyplot: no global state shared by server threads

from closp_demo.evaluation.run import EvaluationResult

SENSOR_COLOURS = {"S1": "#e4572e", "S2": "#2e86de", "both": "#7f8c8d"}


def per_query_chart(result: EvaluationResult, metric: str = "nDCG@10", kind: str = "class"):
    """Grouped horizontal bars: one row per query of `kind`, one bar per sensor subset, plus each
    subset's random-ranking expectation as a dashed line and each query's presence-oracle
    expectation (relevant images first, random order among them) as a black tick on its bar."""
    subsets = [s for s in ("S1", "S2") if s in result.reports]
    tables = {s: result.reports[s].per_query for s in subsets}
    queries = [q.text for q in result.queries if q.kind == kind]
    queries = [q for q in queries if any(_value(tables[s], q, metric) is not None for s in subsets)]
    fig = Figure(figsize=(7, 0.45 * max(len(queries), 3) + 1.6))
    ax = fig.subplots()
    height = 0.8 / max(len(subsets), 1)
    y = np.arange(len(queries))
    for i, s in enumerate(subsets):
        vals = [_value(tables[s], q, metric) for q in queries]
        ax.barh(y + i * height, [v if v is not None else 0 for v in vals], height,
                color=SENSOR_COLOURS[s], label=s)  # fmt: skip
        oracle = result.reports[s].oracle_per_query
        ticks = [(y[j] + i * height, o) for j, q in enumerate(queries)
                 if (o := _value(tables[s], q, metric, oracle)) is not None]  # fmt: skip
        if ticks:
            ax.scatter([o for _, o in ticks], [t for t, _ in ticks], marker="|", s=120,
                       color="black", label="presence oracle" if i == 0 else None)  # fmt: skip
        rnd = result.reports[s].random_expected.get(metric)
        if rnd is not None:
            ax.axvline(rnd, color=SENSOR_COLOURS[s], ls="--", lw=1)
    ax.set_yticks(y + height * (len(subsets) - 1) / 2, queries)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"{metric} (dashed: random ranking; tick: presence oracle; same run)")
    # below the axes: inside, it hid the ticks of the last rows
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def _value(
    table: pd.DataFrame, query: str, metric: str, values: pd.DataFrame | None = None
) -> float | None:
    """`metric` of `query` from `table` (or `values`, row-aligned with it); None if unscored."""
    rows = table[(table["query"] == query) & (table["n_relevant"] > 0)]
    if rows.empty:
        return None
    value = (table if values is None else values).loc[rows.index[0], metric]
    return float(value) if np.isfinite(value) else None
