"""The standard metric set (`evaluate`) and metrics by name (`compute`, `METRIC_FORMS`).

`evaluate` is what the runner stores for every (method, dataset, bits, direction): one engine
pass over the database gives every number in it. `compute` evaluates one metric given by a
name such as "map@100" or "ndcg@50:spikinghash"; the names of `evaluate`'s keys are valid names.
"""

from __future__ import annotations

import re

import numpy as np

from hashbench.errors import InputError
from hashbench.metrics import _engine
from hashbench.metrics._engine import Request
from hashbench.metrics._inputs import (
    CONVENTIONS,
    NDCG_VARIANTS,
    TIE_ORDERS,
    ZERO_RELEVANT,
    check_k,
    check_option,
    prepare,
    resolve_ties,
)
from hashbench.metrics._perquery import Context, Spec, curve_request, merge, request
from hashbench.metrics._perquery import per_query as per_query_values
from hashbench.metrics.curves import k_grid
from hashbench.metrics.functions import _pk_curve, _pr_curve, masked_mean, query_mask

SCORING = "ties=expected"
"""How `evaluate` scores: stored with every run so that rows scored under an older convention
(before this one: ties by database index under the same keys) can be told apart and rescored."""

METRIC_FORMS: list[tuple[str, str]] = [
    (
        "map@<K>[:<convention>][:<ties>]",
        "mean average precision over the top K; convention djsrh (default), dcmh or recall",
    ),
    ("map@all[:<ties>]", "mean average precision over the full ranking"),
    ("p@<K>[:<ties>]", "mean Precision@K"),
    ("r@<K>[:<ties>]", "mean Recall@K"),
    ("acg@<K>[:<ties>]", "mean ACG@K (average number of shared labels in the top K)"),
    (
        "ndcg@<K>[:dsrh|spikinghash][:<ties>]",
        "mean NDCG@K, DSRH graded definition (default) or Spikinghash's variant",
    ),
    (
        "tie_aware_ap",
        "mean tie-aware AP over the full ranking (He et al. 2018); also tie_aware_ap@all",
    ),
    ("precision@radius<R>", "mean precision within Hamming radius R (empty ball scores 0)"),
    ("pr", "precision-recall curve by Hamming radius (a dict of lists)"),
    ("pk", "Precision@K and Recall@K curve over K = 1, 5, 10, 20, 50, ... (a dict of lists)"),
]
"""Valid metric name patterns with one-line descriptions. <ties> is expected (the default: the
mean over all orders of tied items), index, relevant_first or relevant_last and overrides the
`ties` argument; <convention> overrides `convention` (dcmh: ties default to index)."""

_NAME = re.compile(r"^(?P<base>[a-z_]+)(?:@(?P<arg>[a-z0-9]+))?(?P<mods>(?::[a-z_]+)*)$")


def _bad_name(metric: object, why: str) -> InputError:
    forms = "; ".join(form for form, _ in METRIC_FORMS)
    return InputError(f"metric {metric!r} is not valid ({why}); valid forms: {forms}")


def _parse(
    metric: object, convention: str, ties: str | None, variant: str = "dsrh"
) -> tuple[str, Spec | None]:
    """Turn a metric name into ("scalar", Spec) or (curve name, None).

    ties: the caller's tie order, or None for the default (`resolve_ties`); a name's own
    <ties> modifier wins. A curve ("pk") gets its tie order in `compute`."""
    if not isinstance(metric, str):
        raise _bad_name(metric, "a metric name must be a string")
    name = metric.strip().lower()
    if name in ("pr", "pk"):
        return name, None
    if name == "tie_aware_ap" or name == "tie_aware_ap@all":
        return "scalar", Spec("tie_aware")
    radius = re.fullmatch(r"precision@radius(\d+)", name)
    if radius:
        return "scalar", Spec("radius_precision", radius=int(radius.group(1)))
    m = _NAME.match(name)
    if not m or m.group("base") not in ("map", "p", "r", "acg", "ndcg") or not m.group("arg"):
        raise _bad_name(metric, "unknown name")
    base, arg = m.group("base"), m.group("arg")
    for mod in [x for x in m.group("mods").split(":") if x]:
        if mod in TIE_ORDERS:
            ties = mod
        elif base == "map" and mod in CONVENTIONS:
            convention = mod
        elif base == "ndcg" and mod in NDCG_VARIANTS:
            variant = mod
        else:
            raise _bad_name(metric, f"unknown modifier {mod!r} for {base}")
    if arg == "all":
        if base != "map":
            raise _bad_name(metric, f"{base} needs a number K, not 'all'")
        return "scalar", Spec("map_all", ties=resolve_ties(ties))
    if not arg.isdigit():
        raise _bad_name(metric, f"K must be a positive integer, got {arg!r}")
    k = check_k(int(arg), f"K in {metric!r}")
    if base == "map":
        ties = _ties_for(metric, ties, convention)
    else:
        ties = resolve_ties(ties)
    return "scalar", Spec(base, k=k, convention=convention, ties=ties, variant=variant)


def _ties_for(metric: object, ties: str | None, convention: str) -> str:
    """resolve_ties, with the metric's name in the message when the pair is refused."""
    try:
        return resolve_ties(ties, convention)
    except InputError as exc:
        raise InputError(f"metric {metric!r}: {exc}") from None


def _check_ties(ties: object) -> str | None:
    return None if ties is None else check_option(ties, "ties", TIE_ORDERS)


def compute(
    metric: str,
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    convention: str = "djsrh",
    ties: str | None = None,
    zero_relevant: str = "zero",
    exclude_self: bool = False,
) -> float | dict:
    """Evaluate one metric given by name (see METRIC_FORMS); curves ("pr", "pk") return dicts.

    Examples: "map@100", "map@50:dcmh", "map@50:relevant_last", "map@all", "p@1000", "r@100",
    "acg@50", "ndcg@50", "ndcg@50:spikinghash", "precision@radius2", "tie_aware_ap", "pr".
    Unknown names raise InputError listing the valid forms. ties=None: "expected" (dcmh: "index").
    """
    convention = check_option(convention, "convention", CONVENTIONS)
    ties = _check_ties(ties)
    zero_relevant = check_option(zero_relevant, "zero_relevant", ZERO_RELEVANT)
    what, spec = _parse(metric, convention, ties)
    ctx = Context(prepare(query_codes, db_codes, query_labels, db_labels, exclude_self))
    if what == "pr":
        return _pr_curve(ctx, zero_relevant).to_dict()
    if what == "pk":
        return _pk_curve(ctx, tuple(k_grid(ctx.n)), resolve_ties(ties), zero_relevant).to_dict()
    stats = _engine.run(ctx.problem, ctx.labels, request(spec, ctx))
    return float(masked_mean(per_query_values(spec, ctx, stats), query_mask(ctx, zero_relevant)))


def compute_per_query(
    metric: str,
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    convention: str = "djsrh",
    ties: str | None = None,
    exclude_self: bool = False,
) -> np.ndarray:
    """(n_query,) float64 values of one scalar metric (a name as in `compute`), one per query.

    Every query is kept (the "zero" policy: a query without relevant items scores 0), so the
    mean of the result is `compute(metric, ...)`. Curves ("pr", "pk") are not per-query scalars.
    """
    convention = check_option(convention, "convention", CONVENTIONS)
    ties = _check_ties(ties)
    what, spec = _parse(metric, convention, ties)
    if spec is None:
        raise _bad_name(metric, f"'{what}' is a curve, not a per-query scalar")
    ctx = Context(prepare(query_codes, db_codes, query_labels, db_labels, exclude_self))
    stats = _engine.run(ctx.problem, ctx.labels, request(spec, ctx))
    return np.asarray(per_query_values(spec, ctx, stats), dtype=np.float64)


def evaluate(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    k: int = 50,
    exclude_self: bool = False,
    per_query: dict[str, np.ndarray] | None = None,
) -> dict:
    """The standard metric set in one pass over the database; a JSON-serialisable dict.

    Keys (shown for k = 50; the actual k is used in the names). "expected": the exact mean over
    all orders of tied items (independent of the order the database stores its items):
      "map@50"                 mAP@50, djsrh convention, ties expected
      "map@50:index"           the same with ties by ascending database index
      "map@50:relevant_first"  ... with relevant items first inside tied groups
      "map@50:relevant_last"   ... and last: the two bracket the tie effect
      "map@all"                mAP over the full ranking, ties expected (= tie_aware_ap@all)
      "tie_aware_ap@all"       expected AP over all tie orders (He et al. 2018)
      "acg@50", "ndcg@50"      graded relevance = shared labels (DSRH), ties expected
      "precision@radius2"      precision within Hamming radius 2 (empty ball scores 0)
      "curves": {"pk": {"k": [...], "precision": [...], "recall": [...]},
                 "pr": {"radius": [0..bits], "precision": [...], "recall": [...],
                        "pooled_precision": [...], "pooled_recall": [...]}}
                 (pooled: counts summed over queries; see `PRCurve`)
    Queries without relevant items score 0 and count (zero_relevant="zero"). The P@K curve
    (ties expected) samples K = 1, 5, 10, 20, 50, 100, 200, 500, ... and ends at the database
    size. `SCORING` names these conventions; the runner stores it beside the values.

    per_query: a dict to fill with every scalar key's (n_query,) float64 values per query, from
    the same pass (their mean is the key's value), for confidence intervals and query-level tests.
    """
    k = check_k(k)
    ctx = Context(prepare(query_codes, db_codes, query_labels, db_labels, exclude_self))
    key = str(k)
    specs = {
        f"map@{key}": Spec("map", k=k, ties="expected"),
        f"map@{key}:index": Spec("map", k=k, ties="index"),
        f"map@{key}:relevant_first": Spec("map", k=k, ties="relevant_first"),
        f"map@{key}:relevant_last": Spec("map", k=k, ties="relevant_last"),
        "map@all": Spec("map_all", ties="expected"),
        "tie_aware_ap@all": Spec("tie_aware"),
        f"acg@{key}": Spec("acg", k=k, ties="expected"),
        f"ndcg@{key}": Spec("ndcg", k=k, ties="expected"),
        "precision@radius2": Spec("radius_precision", radius=2),
    }
    ks = tuple(k_grid(ctx.n))
    req = merge(
        [request(s, ctx) for s in specs.values()]
        + [curve_request("pk", ks, "expected"), curve_request("pr", (), "expected")]
        + [Request(counts="grade")]  # R and the ideal DCG from the same pass
    )
    stats = _engine.run(ctx.problem, ctx.labels, req)
    ctx.absorb(stats)
    mask = query_mask(ctx, "zero")
    values = {name: per_query_values(spec, ctx, stats) for name, spec in specs.items()}
    if per_query is not None:
        per_query.update({name: np.asarray(v, dtype=np.float64) for name, v in values.items()})
    result: dict = {name: float(masked_mean(v, mask)) for name, v in values.items()}
    result["curves"] = {
        "pk": _pk_curve(ctx, ks, "expected", "zero", stats).to_dict(),
        "pr": _pr_curve(ctx, "zero", stats).to_dict(),
    }
    return result
