"""Retrieval evaluation, encoder-agnostic: queries, relevance, metrics, CrisisLandMark qrels.

Typical use (an encoder and a built corpus supply the vectors, labels and sensors):

    queries = load_queries("all")
    result = run_evaluation(
        encoder.encode_text([q.text for q in queries]), image_vectors,
        image_labels, image_sensors, queries,
    )
    print(result.to_markdown())
"""

from closp_demo.evaluation.metrics import (
    DEFAULT_KS,
    average_precision,
    condense,
    ndcg_at_k,
    precision_at_k,
    rank,
    recall_at_k,
)
from closp_demo.evaluation.qrels import (
    QrelsFormatError,
    load_crisislandmark_qrels,
    qrels_gains,
)
from closp_demo.evaluation.queries import Query, load_queries
from closp_demo.evaluation.relevance import (
    binary_relevance,
    graded_relevance,
    judged_mask,
    relevance_matrix,
)
from closp_demo.evaluation.run import EvaluationResult, run_evaluation
from closp_demo.evaluation.scoring import MetricReport, evaluate

__all__ = [
    "DEFAULT_KS",
    "EvaluationResult",
    "MetricReport",
    "QrelsFormatError",
    "Query",
    "average_precision",
    "binary_relevance",
    "condense",
    "evaluate",
    "graded_relevance",
    "judged_mask",
    "load_crisislandmark_qrels",
    "load_queries",
    "ndcg_at_k",
    "precision_at_k",
    "qrels_gains",
    "rank",
    "recall_at_k",
    "relevance_matrix",
    "run_evaluation",
]
