"""Retrieval metrics on binary codes: exact, named conventions, one fast pass over the database.

Public API (all take query_codes, db_codes, query_labels, db_labels first; see docs/metrics.md):

- map_at_k(..., k=50, convention="djsrh"|"dcmh"|"recall", ties=None|"expected"|"index"|
  "relevant_first"|"relevant_last", zero_relevant="zero"|"skip", exclude_self=False) -> float
  (ties=None: "expected", the mean over all orders of tied items; dcmh: "index")
- map_at_all, precision_at_k, recall_at_k, acg_at_k, ndcg_at_k (ndcg_variant="dsrh"|
  "spikinghash"), tie_aware_ap, precision_at_radius -> float
- pk_curve -> PKCurve, pr_curve -> PRCurve (dataclasses with .to_dict())
- evaluate(..., *, k=50, exclude_self=False) -> dict: the standard set, JSON-serialisable;
  SCORING names its conventions (stored with every run: see hashbench.runner.rescore)
- compute(metric_name, ...) -> float | dict, with METRIC_FORMS listing the valid names
- compute_per_query(metric_name, ...) -> (n_query,) array; evaluate(..., per_query={}) fills one
"""

from hashbench.metrics._inputs import TIE_ORDERS
from hashbench.metrics.curves import PKCurve, PRCurve, k_grid
from hashbench.metrics.functions import (
    acg_at_k,
    map_at_all,
    map_at_k,
    ndcg_at_k,
    pk_curve,
    pr_curve,
    precision_at_k,
    precision_at_radius,
    recall_at_k,
    tie_aware_ap,
)
from hashbench.metrics.standard import (
    METRIC_FORMS,
    SCORING,
    compute,
    compute_per_query,
    evaluate,
)

__all__ = [
    "METRIC_FORMS",
    "PKCurve",
    "PRCurve",
    "SCORING",
    "TIE_ORDERS",
    "acg_at_k",
    "compute",
    "compute_per_query",
    "evaluate",
    "k_grid",
    "map_at_all",
    "map_at_k",
    "ndcg_at_k",
    "pk_curve",
    "pr_curve",
    "precision_at_k",
    "precision_at_radius",
    "recall_at_k",
    "tie_aware_ap",
]
