"""Properties of the metrics (hypothesis, small bounded cases) and the EVALUATION.md example."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import hashbench.metrics as M

TOL = 1e-9
FAST = settings(max_examples=40, deadline=None)


def _pm(bits01: np.ndarray) -> np.ndarray:
    return (2 * np.asarray(bits01, dtype=np.int8) - 1).astype(np.int8)


@FAST
@given(seed=st.integers(0, 2**31), n_classes=st.integers(1, 6), bits=st.sampled_from([4, 8, 16]),
       nq=st.integers(1, 5), extra=st.integers(0, 30), k=st.integers(1, 60))
def test_perfect_codes_score_one(seed, n_classes, bits, nq, extra, k):
    # one distinct code per class: relevant items at distance 0, everything else further away
    rng = np.random.default_rng(seed)
    class_codes = rng.permutation(2**bits)[:n_classes]
    code_bits = (class_codes[:, None] >> np.arange(bits)) & 1
    db_cls = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, extra)])
    q_cls = rng.integers(0, n_classes, nq)
    eye = np.eye(n_classes, dtype=np.int64)
    args = (_pm(code_bits[q_cls]), _pm(code_bits[db_cls]), eye[q_cls], eye[db_cls])
    for ties in ("expected", "index", "relevant_first", "relevant_last"):
        for conv in ("djsrh", "dcmh", "recall") if ties != "expected" else ("djsrh", "recall"):
            assert abs(M.map_at_k(*args, k=k, convention=conv, ties=ties) - 1) < TOL
        assert abs(M.map_at_all(*args, ties=ties) - 1) < TOL
        assert abs(M.ndcg_at_k(*args, k=k, ties=ties) - 1) < TOL
        assert abs(M.ndcg_at_k(*args, k=k, ties=ties, ndcg_variant="spikinghash") - 1) < TOL
    assert abs(M.tie_aware_ap(*args) - 1) < TOL


def _within_tie_permutation(q, db, rng):
    """A database order that only moves items among others at the same distance to q."""
    dist = (q[None, :] != db).sum(axis=1)
    order = np.arange(len(db))
    for d in np.unique(dist):
        members = np.flatnonzero(dist == d)
        order[members] = rng.permutation(members)
    return order


@FAST
@given(seed=st.integers(0, 2**31), bits=st.sampled_from([4, 8]), nd=st.integers(2, 40),
       n_labels=st.integers(1, 4), k=st.integers(1, 45))
def test_tie_permutations_only_move_index_order_within_the_brackets(seed, bits, nd, n_labels, k):
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 2, (1, bits))
    db = rng.integers(0, 2, (nd, bits))
    ql = (rng.random((1, n_labels)) < 0.6).astype(int)
    dl = (rng.random((nd, n_labels)) < 0.4).astype(int)
    perm = _within_tie_permutation(q[0], db, rng)
    a = (q, db, ql, dl)
    b = (q, db[perm], ql, dl[perm])

    # tie-order-free values cannot move when the database is permuted within tie groups
    assert abs(M.tie_aware_ap(*a) - M.tie_aware_ap(*b)) < TOL
    assert abs(M.precision_at_radius(*a) - M.precision_at_radius(*b)) < TOL
    for ties in ("relevant_first", "relevant_last", "expected"):
        for conv in ("djsrh", "dcmh", "recall") if ties != "expected" else ("djsrh", "recall"):
            va = M.map_at_k(*a, k=k, convention=conv, ties=ties)
            assert abs(va - M.map_at_k(*b, k=k, convention=conv, ties=ties)) < TOL
    # the defaults are the expected order: they cannot move either
    for fn in (M.map_at_k, M.map_at_all, M.precision_at_k, M.acg_at_k, M.ndcg_at_k):
        assert abs(fn(*a) - fn(*b)) < TOL, fn.__name__

    # The index-order value may move, but for metrics that only grow when a relevant item moves
    # ahead of an irrelevant one (recall-normalised and dcmh AP@K, AP over the full ranking,
    # P@K, NDCG) it stays between the relevant-last and relevant-first values. This does NOT
    # hold for djsrh AP@K (its normaliser R_K changes with the tie order; see the
    # counter-example test below), so it is deliberately not asserted for djsrh.
    for args in (a, b):
        for conv in ("recall", "dcmh"):
            lo = M.map_at_k(*args, k=k, convention=conv, ties="relevant_last")
            hi = M.map_at_k(*args, k=k, convention=conv, ties="relevant_first")
            mid = M.map_at_k(*args, k=k, convention=conv, ties="index")
            assert lo - TOL <= mid <= hi + TOL, (conv, lo, mid, hi)
            if conv == "recall":  # an average of tie orders lies inside too
                assert lo - TOL <= M.map_at_k(*args, k=k, convention=conv) <= hi + TOL
        for fn in (M.map_at_all, M.precision_at_k, M.ndcg_at_k):
            kw = {} if fn is M.map_at_all else {"k": k}
            lo, mid, avg, hi = (fn(*args, ties=t, **kw)
                                for t in ("relevant_last", "index", "expected", "relevant_first"))
            assert lo - TOL <= mid <= hi + TOL, fn.__name__
            assert lo - TOL <= avg <= hi + TOL, fn.__name__
        lo, hi = (M.map_at_all(*args, ties=t) for t in ("relevant_last", "relevant_first"))
        assert lo - TOL <= M.tie_aware_ap(*args) <= hi + TOL  # an average of tie orders


def _groups_example():
    """Query 0000. Items 0 (relevant) and 1 at distance 0; items 2 and 3 (relevant) at 1."""
    q = np.zeros((1, 4), dtype=int)
    db = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    ql = np.array([[1]])
    dl = np.array([[1], [0], [0], [1]])
    return q, db, ql, dl


def test_index_order_value_changes_under_a_within_tie_permutation():
    q, db, ql, dl = _groups_example()
    before = M.map_at_k(q, db, ql, dl, k=3, ties="index")
    swap = np.array([1, 0, 3, 2])  # swaps inside both tie groups
    after = M.map_at_k(q, db[swap], ql, dl[swap], k=3, ties="index")
    assert abs(before - 1.0) < TOL and abs(after - 7 / 12) < TOL  # [0, 1, 1]: (1/2 + 2/3) / 2
    for ties in ("relevant_first", "relevant_last", "expected"):
        assert (abs(M.map_at_k(q, db, ql, dl, k=3, ties=ties)
                    - M.map_at_k(q, db[swap], ql, dl[swap], k=3, ties=ties)) < TOL)


def test_djsrh_index_value_can_leave_the_tie_brackets():
    # index order [rel, irr | irr, rel]: the top 3 hold one hit at rank 1 -> AP 1.0
    # relevant_first [rel, irr | rel, irr]: (1 + 2/3) / 2 = 0.833; relevant_last: 0.5
    q, db, ql, dl = _groups_example()
    index = M.map_at_k(q, db, ql, dl, k=3, ties="index")
    first = M.map_at_k(q, db, ql, dl, k=3, ties="relevant_first")
    last = M.map_at_k(q, db, ql, dl, k=3, ties="relevant_last")
    assert abs(index - 1.0) < TOL and abs(first - 5 / 6) < TOL and abs(last - 0.5) < TOL
    assert index > max(first, last)


def test_worked_example_from_evaluation_md():
    # K = 50, ten relevant items at ranks 1-5 and 60-64; item j is at distance j from the query
    n = 100
    db = (np.arange(128)[None, :] < np.arange(n)[:, None]).astype(int)
    q = np.zeros((1, 128), dtype=int)
    relevant = np.r_[0:5, 59:64]
    dl = np.zeros((n, 1), dtype=int)
    dl[relevant] = 1
    ql = np.ones((1, 1), dtype=int)
    djsrh = M.map_at_k(q, db, ql, dl, k=50)
    dcmh = M.map_at_k(q, db, ql, dl, k=50, convention="dcmh")
    want = np.mean([t / r for t, r in zip(range(1, 11), [1, 2, 3, 4, 5, 60, 61, 62, 63, 64],
                                          strict=True)])
    assert abs(djsrh - 1.0) < TOL
    assert abs(dcmh - want) < TOL and abs(dcmh - 0.564) < 1e-3
    assert abs(M.map_at_k(q, db, ql, dl, k=50, convention="recall") - 0.5) < TOL


@FAST
@given(seed=st.integers(0, 2**31), bits=st.integers(1, 70), nd=st.integers(1, 30),
       nq=st.integers(1, 4))
def test_code_formats_are_interchangeable(seed, bits, nd, nq):
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 2, (nq, bits))
    db = rng.integers(0, 2, (nd, bits))
    ql = rng.integers(0, 2, (nq, 3))
    dl = rng.integers(0, 2, (nd, 3))
    ref = M.evaluate(q, db, ql, dl, k=5)
    for fq, fd in ((_pm(q), _pm(db)), (q.astype(bool), db.astype(float)),
                   (2.0 * q - 1, db.astype(np.uint8))):
        assert M.evaluate(fq, fd, ql.astype(bool), dl.astype(np.float32), k=5) == ref


@FAST
@given(seed=st.integers(0, 2**31), nd=st.integers(1, 30), k=st.integers(1, 40))
def test_values_are_probabilities_and_precision_recall_agree(seed, nd, k):
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 2, (3, 8))
    db = rng.integers(0, 2, (nd, 8))
    ql = rng.integers(0, 2, (3, 4))
    dl = rng.integers(0, 2, (nd, 4))
    res = M.evaluate(q, db, ql, dl, k=k)
    for key, value in res.items():
        if key != "curves" and not key.startswith("acg"):
            assert -TOL <= value <= 1 + TOL, key
    pk = res["curves"]["pk"]
    assert pk["k"][-1] == nd and pk["recall"][-1] <= 1 + TOL
    pr = res["curves"]["pr"]
    assert pr["recall"] == sorted(pr["recall"])  # balls only grow with the radius
