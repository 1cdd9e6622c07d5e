"""The per-query chart of a live evaluation."""

from matplotlib.figure import Figure

from closp_demo.evaluation.chart import per_query_chart


def test_chart_draws_queries_with_a_relevant_image(live_report):
    _, result = live_report
    fig = per_query_chart(result)
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "Water" in labels and "Earthquake Damage" not in labels  # no relevant image: not drawn
