"""The default tie order "expected": exact means over every order of tied items.

Checked by enumeration, not by a second copy of the closed forms: on tiny databases, the mean
of the index-tie value over every storage order of the database (all n! permutations; a
uniform storage order gives every group a uniform, independent order) must equal the
"expected" value, for every metric and convention that has one. On larger cases the binary
metrics are enumerated over every arrangement of relevant items inside every distance group.
A class-sorted database and the same database shuffled give identical default scores.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hashbench.metrics as M
from hashbench.errors import InputError
from tests.test_metrics_oracle import Oracle, random_case

TOL = 1e-9


def _tiny(seed: int, nd: int, bits: int, n_labels: int):
    rng = np.random.default_rng(seed)
    nq = int(rng.integers(1, 4))
    codes = rng.integers(0, 2, (nq + nd, bits))
    labels = (rng.random((nq + nd, n_labels)) < 0.5).astype(np.int64)
    return codes[:nq], codes[nq:], labels[:nq], labels[nq:]


def _per_query_index_values(o: Oracle, k: int) -> dict[str, list[float]]:
    """Every metric's per-query value under the index order of the database `o` holds."""
    qs = list(o.queries())
    n = len(o.items(0))
    out = {
        f"map@{k}:djsrh": [o.ap(i, k, "djsrh", "index") for i in qs],
        f"map@{k}:recall": [o.ap(i, k, "recall", "index") for i in qs],
        "map@all": [o.ap_all(i, "index") for i in qs],
        f"p@{k}": [o.precision(i, k, "index") for i in qs],
        f"r@{k}": [o.recall(i, k, "index") for i in qs],
        f"acg@{k}": [o.acg(i, k, "index") for i in qs],
        f"ndcg@{k}": [o.ndcg(i, k, "index") for i in qs],
        f"ndcg@{k}:spikinghash": [o.ndcg(i, k, "index", "spikinghash") for i in qs],
    }
    for kk in M.k_grid(n):
        out[f"pk{kk}"] = [o.precision(i, kk, "index") for i in qs]
    return out


def _mean_over_storage_orders(qc, dc, ql, dl, k):
    """Mean of each metric's per-query index-tie value over all orders of the database."""
    sums: dict[str, np.ndarray] = {}
    perms = list(itertools.permutations(range(len(dc))))
    for perm in perms:
        p = list(perm)
        values = _per_query_index_values(Oracle(qc, dc[p], ql, dl[p]), k)
        for name, v in values.items():
            sums[name] = sums.get(name, 0.0) + np.asarray(v, dtype=np.float64)
    return {name: v / len(perms) for name, v in sums.items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    nd=st.integers(1, 6),
    bits=st.integers(1, 3),
    n_labels=st.integers(1, 3),
    k=st.integers(1, 8),
)
def test_expected_equals_mean_over_all_storage_orders(seed, nd, bits, n_labels, k):
    qc, dc, ql, dl = _tiny(seed, nd, bits, n_labels)
    want = _mean_over_storage_orders(qc, dc, ql, dl, min(k, nd))
    kk = min(k, nd)
    args = (qc, dc, ql, dl)
    got = {
        f"map@{kk}:djsrh": M.compute_per_query(f"map@{k}", *args),
        f"map@{kk}:recall": M.compute_per_query(f"map@{k}:recall", *args),
        "map@all": M.compute_per_query("map@all", *args),
        f"p@{kk}": M.compute_per_query(f"p@{k}", *args),
        f"r@{kk}": M.compute_per_query(f"r@{k}", *args),
        f"acg@{kk}": M.compute_per_query(f"acg@{k}", *args),
        f"ndcg@{kk}": M.compute_per_query(f"ndcg@{k}", *args),
        f"ndcg@{kk}:spikinghash": M.compute_per_query(f"ndcg@{k}:spikinghash", *args),
    }
    for name, values in got.items():
        assert np.allclose(values, want[name], atol=TOL, rtol=0), (name, values, want[name])
    # the public functions and the standard set agree with the names (default = expected)
    assert abs(M.map_at_k(*args, k=k) - want[f"map@{kk}:djsrh"].mean()) < TOL
    assert abs(M.ndcg_at_k(*args, k=k) - want[f"ndcg@{kk}"].mean()) < TOL
    res = M.evaluate(*args, k=k)
    assert abs(res[f"map@{k}"] - want[f"map@{kk}:djsrh"].mean()) < TOL
    assert abs(res["map@all"] - want["map@all"].mean()) < TOL
    assert abs(res[f"acg@{k}"] - want[f"acg@{kk}"].mean()) < TOL
    assert abs(res[f"ndcg@{k}"] - want[f"ndcg@{kk}"].mean()) < TOL
    pk = res["curves"]["pk"]
    for kp, prec in zip(pk["k"], pk["precision"], strict=True):
        assert abs(prec - want[f"pk{kp}"].mean()) < TOL, kp


def _enumerated_binary(o: Oracle, i: int, k: int) -> dict[str, float]:
    """Exact means of the binary metrics of query i over every arrangement of its relevant
    items inside every distance group (each arrangement is equally likely)."""
    groups: dict[int, list[int]] = {}
    for j in o.items(i):
        groups.setdefault(o.dist(i, j), []).append(o.level(i, j))
    options = []
    for d in sorted(groups):
        n, r = len(groups[d]), sum(groups[d])
        options.append([[int(p in c) for p in range(n)]
                        for c in itertools.combinations(range(n), r)])
    big_r = sum(sum(g) for g in groups.values())
    n_all = sum(len(g) for g in groups.values())
    kk = min(k, n_all)
    totals = {"djsrh": 0.0, "recall": 0.0, "p": 0.0}
    count = 0
    for combo in itertools.product(*options):
        rel = [b for group in combo for b in group]
        hits, s = 0, 0.0
        for pos, b in enumerate(rel[:kk], 1):
            if b:
                hits += 1
                s += hits / pos
        totals["djsrh"] += s / hits if hits else 0.0
        totals["recall"] += s / min(kk, big_r) if big_r else 0.0
        totals["p"] += hits / kk
        count += 1
    return {name: v / count for name, v in totals.items()}


def _arrangements(o: Oracle, i: int) -> int:
    groups: dict[int, list[int]] = {}
    for j in o.items(i):
        groups.setdefault(o.dist(i, j), []).append(o.level(i, j))
    return math.prod(math.comb(len(g), sum(g)) for g in groups.values())


@pytest.mark.parametrize("seed", range(40))
def test_expected_binary_metrics_match_enumeration_on_larger_groups(seed):
    rng = np.random.default_rng(seed)
    excl = bool(seed % 2)
    qc, dc, ql, dl = random_case(seed, bits=int(rng.choice([2, 3, 4])),
                                 nd=int(rng.integers(2, 16)), exclude_self=excl)
    o = Oracle(qc, dc, ql, dl, excl)
    n = len(o.items(0))
    for k in sorted({1, 3, int(rng.integers(1, n + 1)), n}):
        kept = [i for i in o.queries() if _arrangements(o, i) <= 50_000]
        if not kept:
            continue
        want = [_enumerated_binary(o, i, k) for i in kept]
        for conv in ("djsrh", "recall"):
            got = M.compute_per_query(f"map@{k}:{conv}", qc, dc, ql, dl, exclude_self=excl)
            for i, w in zip(kept, want, strict=True):
                assert abs(got[i] - w[conv]) < TOL, (k, conv, i, got[i], w[conv])
        got = M.compute_per_query(f"p@{k}", qc, dc, ql, dl, exclude_self=excl)
        for i, w in zip(kept, want, strict=True):
            assert abs(got[i] - w["p"]) < TOL, (k, "p", i)


def _class_sorted_case(seed: int, nd: int = 400, bits: int = 6):
    """Coarse codes (few distinct values, heavy ties) correlated with single labels."""
    rng = np.random.default_rng(seed)
    n_cls = 5
    centers = rng.integers(0, 2, (n_cls, bits))
    labels_all = rng.integers(0, n_cls, 40 + nd)
    flip = rng.random((40 + nd, bits)) < 0.2
    codes = np.where(flip, 1 - centers[labels_all], centers[labels_all])
    onehot = np.eye(n_cls, dtype=np.int64)[labels_all]
    qc, ql = codes[:40], onehot[:40]
    order = np.argsort(labels_all[40:], kind="stable")  # the database stored class by class
    dc, dl = codes[40:][order], onehot[40:][order]
    shuffle = rng.permutation(nd)
    return (qc, dc, ql, dl), (qc, dc[shuffle], ql, dl[shuffle])


@pytest.mark.parametrize("seed", range(3))
def test_class_sorted_database_scores_like_a_shuffled_one(seed):
    """The issue's case: storage order must not move the default score (index order does)."""
    sorted_db, shuffled = _class_sorted_case(seed)
    a, b = M.evaluate(*sorted_db, k=50), M.evaluate(*shuffled, k=50)
    for key, value in a.items():
        if key == "curves":
            assert np.allclose(value["pk"]["precision"], b[key]["pk"]["precision"], atol=1e-12)
        elif not key.endswith(":index"):
            assert abs(value - b[key]) < 1e-12, key
    # the test has teeth: the index order does move on these coarse codes
    assert abs(a["map@50:index"] - b["map@50:index"]) > 1e-3
    for fn in (M.map_at_k, M.precision_at_k, M.acg_at_k, M.ndcg_at_k, M.map_at_all):
        assert abs(fn(*sorted_db) - fn(*shuffled)) < 1e-12, fn.__name__
    per_a = M.compute_per_query("map@50", *sorted_db)
    per_b = M.compute_per_query("map@50", *shuffled)
    assert np.allclose(per_a, per_b, atol=1e-12)


def test_expected_lies_inside_the_tie_brackets():
    for seed in range(10):
        qc, dc, ql, dl = random_case(seed, bits=4)
        for k in (1, 5, 20):
            lo = M.compute_per_query(f"map@{k}:recall:relevant_last", qc, dc, ql, dl)
            mid = M.compute_per_query(f"map@{k}:recall", qc, dc, ql, dl)
            hi = M.compute_per_query(f"map@{k}:recall:relevant_first", qc, dc, ql, dl)
            assert np.all(lo - TOL <= mid) and np.all(mid <= hi + TOL)


def test_dcmh_defaults_to_index_and_refuses_expected():
    qc, dc, ql, dl = random_case(3, bits=4)
    index = M.map_at_k(qc, dc, ql, dl, k=10, convention="dcmh", ties="index")
    assert M.map_at_k(qc, dc, ql, dl, k=10, convention="dcmh") == index
    assert M.compute("map@10:dcmh", qc, dc, ql, dl) == index
    with pytest.raises(InputError, match=r"ties='expected' is not available for the dcmh.*index"):
        M.map_at_k(qc, dc, ql, dl, k=10, convention="dcmh", ties="expected")
    with pytest.raises(InputError, match=r"metric 'map@10:dcmh:expected'.*not available"):
        M.compute("map@10:dcmh:expected", qc, dc, ql, dl)


def test_large_boundary_group_is_exact_and_finite():
    """One huge tie group cut by K: the hypergeometric weights stay exact (no lgamma)."""
    n, r, k = 20000, 7000, 50
    db = np.zeros((n, 8), dtype=np.int64)
    dl = np.zeros((n, 2), dtype=np.int64)
    dl[:r, 0] = 1
    dl[r:, 1] = 1
    q, ql = np.zeros((1, 8), dtype=np.int64), np.array([[1, 0]])
    got = M.map_at_k(q, db, ql, dl, k=k)
    # j hits among the k slots is hypergeometric; given j, slot t holds a hit with probability
    # j/k and then 1 + (t-1)(j-1)/(k-1) hits are expected in the top t: exact rationals
    from fractions import Fraction

    total = Fraction(0)
    h = [Fraction(0)] * (k + 1)
    for t in range(1, k + 1):
        h[t] = h[t - 1] + Fraction(1, t)
    for j in range(1, k + 1):
        pj = Fraction(math.comb(r, j) * math.comb(n - r, k - j), math.comb(n, k))
        c = Fraction(j - 1, k - 1)
        inner = k * c + (1 - c) * h[k]  # sum_{t=1..k} (1 + (t-1) c) / t
        total += pj * Fraction(j, k) * inner / j
    assert abs(got - float(total)) < 1e-12
