"""The stable public contract: evaluate's keys and types, compute's names, curves, k grid."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hashbench.metrics as M


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    q = rng.choice([-1, 1], (12, 16)).astype(np.int8)
    db = rng.choice([-1, 1], (150, 16)).astype(np.int8)
    ql = (rng.random((12, 6)) < 0.3).astype(np.int64)
    dl = (rng.random((150, 6)) < 0.3).astype(np.int64)
    return q, db, ql, dl


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return type(value) in (float, int) or value is None  # None: a pooled precision of no pair


@pytest.mark.parametrize("k", [50, 100])
def test_evaluate_keys_and_types(data, k):
    res = M.evaluate(*data, k=k)
    assert list(res) == [
        f"map@{k}",
        f"map@{k}:index",
        f"map@{k}:relevant_first",
        f"map@{k}:relevant_last",
        "map@all",
        "tie_aware_ap@all",
        f"acg@{k}",
        f"ndcg@{k}",
        "precision@radius2",
        "curves",
    ]
    assert list(res["curves"]) == ["pk", "pr"]
    assert list(res["curves"]["pk"]) == ["k", "precision", "recall"]
    assert list(res["curves"]["pr"]) == [
        "radius",
        "precision",
        "recall",
        "pooled_precision",
        "pooled_recall",
    ]
    assert _plain(res)
    json.dumps(res, allow_nan=False)
    assert res["curves"]["pk"]["k"] == [1, 5, 10, 20, 50, 100, 150]
    assert res["curves"]["pr"]["radius"] == list(range(17))


def test_compute_names_agree_with_functions_and_evaluate(data):
    res = M.evaluate(*data, k=50)
    for key in (
        "map@50",
        "map@50:index",
        "map@50:relevant_first",
        "map@50:relevant_last",
        "map@all",
        "tie_aware_ap@all",
        "acg@50",
        "ndcg@50",
        "precision@radius2",
    ):
        assert M.compute(key, *data) == pytest.approx(res[key], abs=1e-12), key
    assert M.compute("pr", *data) == res["curves"]["pr"]
    pk = M.compute("pk", *data)
    assert pk["k"] == res["curves"]["pk"]["k"]
    assert np.allclose(pk["precision"], res["curves"]["pk"]["precision"], atol=1e-12)
    pairs = [
        ("map@30:dcmh", M.map_at_k(*data, k=30, convention="dcmh")),
        (
            "map@30:recall:relevant_last",
            M.map_at_k(*data, k=30, convention="recall", ties="relevant_last"),
        ),
        ("MAP@30", M.map_at_k(*data, k=30)),
        ("map@all:relevant_first", M.map_at_all(*data, ties="relevant_first")),
        ("p@7", M.precision_at_k(*data, k=7)),
        ("r@100:relevant_first", M.recall_at_k(*data, k=100, ties="relevant_first")),
        ("acg@10", M.acg_at_k(*data, k=10)),
        ("ndcg@10:spikinghash", M.ndcg_at_k(*data, k=10, ndcg_variant="spikinghash")),
        ("tie_aware_ap", M.tie_aware_ap(*data)),
        ("precision@radius0", M.precision_at_radius(*data, radius=0)),
    ]
    for name, value in pairs:
        assert M.compute(name, *data) == pytest.approx(value, abs=1e-12), name
    # keyword arguments set defaults; name modifiers override them
    assert M.compute("map@30", *data, convention="dcmh", ties="relevant_last") == pytest.approx(
        M.map_at_k(*data, k=30, convention="dcmh", ties="relevant_last"), abs=1e-12
    )
    assert M.compute("map@30:index", *data, ties="relevant_last") == pytest.approx(
        M.map_at_k(*data, k=30, ties="index"), abs=1e-12
    )
    # the default tie order is "expected" everywhere (dcmh: "index", its only default)
    assert M.compute("map@30", *data) == pytest.approx(
        M.map_at_k(*data, k=30, ties="expected"), abs=1e-12
    )
    assert M.compute("map@30", *data) != pytest.approx(M.map_at_k(*data, k=30, ties="index"))
    assert M.compute("map@30:dcmh", *data) == M.map_at_k(*data, k=30, convention="dcmh",
                                                         ties="index")


def test_metric_forms_describe_every_name():
    assert all(isinstance(f, str) and isinstance(d, str) and d for f, d in M.METRIC_FORMS)
    forms = " ".join(f for f, _ in M.METRIC_FORMS)
    for token in (
        "map@<K>",
        "map@all",
        "p@<K>",
        "r@<K>",
        "acg@<K>",
        "ndcg@<K>",
        "tie_aware_ap",
        "precision@radius<R>",
        "pr",
        "pk",
    ):
        assert token in forms


def test_k_grid():
    assert M.k_grid(1) == [1]
    assert M.k_grid(5) == [1, 5]
    assert M.k_grid(7) == [1, 5, 7]
    grid = M.k_grid(184577)
    assert grid[:9] == [1, 5, 10, 20, 50, 100, 200, 500, 1000] and grid[-1] == 184577
    assert grid == sorted(set(grid))


def test_k_beyond_the_database_is_clipped(data):
    q, db, ql, dl = data
    for conv in ("djsrh", "dcmh", "recall"):
        assert M.map_at_k(q, db, ql, dl, k=10**6, convention=conv) == pytest.approx(
            M.map_at_k(q, db, ql, dl, k=150, convention=conv), abs=1e-12
        )
    assert M.map_at_k(q, db, ql, dl, k=150) == pytest.approx(M.map_at_all(q, db, ql, dl))
    assert M.precision_at_k(q, db, ql, dl, k=10**6) == pytest.approx(
        M.precision_at_k(q, db, ql, dl, k=150)
    )


def test_exclude_self_ranks_everything_but_the_query(data):
    _, db, _, dl = data
    res = M.evaluate(db[:20], db, dl[:20], dl, k=10, exclude_self=True)
    assert res["curves"]["pk"]["k"][-1] == 149
    # with the query kept, it is always at distance 0 and relevant iff it has a label
    kept = M.precision_at_radius(db[:20], db, dl[:20], dl, radius=0)
    dropped = M.precision_at_radius(db[:20], db, dl[:20], dl, radius=0, exclude_self=True)
    assert kept >= dropped


def test_zero_relevant_policy(data):
    q, db, ql, dl = data
    ql = ql.copy()
    ql[:6] = 0  # six queries without any label: nothing is relevant to them
    has_relevant = ((ql @ dl.T) > 0).any(axis=1)
    assert 0 < has_relevant.sum() <= 6
    zero = M.map_at_k(q, db, ql, dl, k=20)
    skip = M.map_at_k(q, db, ql, dl, k=20, zero_relevant="skip")
    assert zero == pytest.approx(skip * has_relevant.mean())
    none = np.zeros_like(ql)
    assert M.map_at_k(q, db, none, dl, zero_relevant="skip") == 0.0
    assert M.pr_curve(q, db, none, dl, zero_relevant="skip").precision == [0.0] * 17


def test_curve_dataclasses(data):
    pk = M.pk_curve(*data, ks=[3, 1, 3, 500])
    assert pk.k == [3, 1, 3, 150]
    assert pk.precision[0] == pk.precision[2]
    assert pk.to_dict() == {"k": pk.k, "precision": pk.precision, "recall": pk.recall}
    pr = M.pr_curve(*data)
    assert pr.to_dict()["radius"] == list(range(17))
    assert pr.recall[-1] == pytest.approx(np.mean(M.evaluate(*data)["curves"]["pr"]["recall"][-1]))
