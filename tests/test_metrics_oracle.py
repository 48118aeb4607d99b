"""The naive oracle for every metric, and the engine checked against it to 1e-9.

The oracle is deliberately obvious: per query, a Python loop computes Hamming distances,
sorts the database with an explicit tie key (distance, [relevance,] index), and applies each
definition from EVALUATION.md literally. The "expected" tie order is the literal per-rank mean
of each rank's distance group (linear metrics) and, for djsrh AP@K, a term-by-term sum over the
hypergeometric count of hits in the group cut by K (math.comb); tests/test_metrics_expected_ties.py
checks both against enumeration over all tie orders. Random cases use 4-, 8- and 16-bit codes
(heavy ties), single- and multi-label data, queries with no relevant item and databases smaller
than K.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

import hashbench.metrics as M
from hashbench.metrics import _engine, _labels
from hashbench.metrics._formulas import harmonic_gap

TOL = 1e-9
TIES = ("index", "relevant_first", "relevant_last", "expected")


# ----------------------------------------------------------------------------- the oracle


def _bits(codes):
    return [tuple(int(v > 0) for v in row) for row in np.asarray(codes)]


def _labelsets(labels):
    return [frozenset(int(j) for j in np.flatnonzero(np.asarray(row) > 0)) for row in labels]


def _level(q, d, kind):
    shared = len(q & d)
    if kind == "binary":
        return int(shared > 0)
    if kind == "grade":
        return shared
    return 0 if shared == 0 else (2 if q == d else 1)  # spikinghash: 1 / 0.5 / 0 as 2 / 1 / 0


class Oracle:
    """Per-query rankings and literal metric definitions."""

    def __init__(self, qc, dc, ql, dl, exclude_self=False):
        self.qb, self.db = _bits(qc), _bits(dc)
        self.ql, self.dl = _labelsets(ql), _labelsets(dl)
        self.exclude_self = exclude_self
        self._rankings = {}  # memo only: the same naive sort, not redone for every metric

    def items(self, i):
        return [j for j in range(len(self.db)) if not (self.exclude_self and j == i)]

    def dist(self, i, j):
        return sum(a != b for a, b in zip(self.qb[i], self.db[j], strict=True))

    def level(self, i, j, kind="binary"):
        return _level(self.ql[i], self.dl[j], kind)

    def ranking(self, i, ties, kind="binary"):
        if (i, ties, kind) not in self._rankings:
            self._rankings[i, ties, kind] = self._sorted(i, ties, kind)
        return self._rankings[i, ties, kind]

    def _sorted(self, i, ties, kind):
        def key(j):
            lev = self.level(i, j, kind)
            if ties == "index":
                return (self.dist(i, j), j)
            if ties == "relevant_first":
                return (self.dist(i, j), -lev, j)
            return (self.dist(i, j), lev, j)

        return sorted(self.items(i), key=key)

    def rel(self, i, ties):
        return [self.level(i, j) for j in self.ranking(i, ties)]

    # --- "expected": the mean over all orders of tied items, from literal definitions
    def groups(self, i, kind="binary"):
        """Levels of the items of each distance group, in distance order."""
        by_dist = {}
        for j in self.items(i):
            by_dist.setdefault(self.dist(i, j), []).append(self.level(i, j, kind))
        return [by_dist[d] for d in sorted(by_dist)]

    def expected_at_ranks(self, i, k, kind="binary", value=lambda lev: lev):
        """E[value(level)] at ranks 1..k: by linearity, the mean over the rank's group."""
        out = []
        for g in self.groups(i, kind):
            out += [sum(value(lev) for lev in g) / len(g)] * len(g)
        return out[:k]

    def expected_ap(self, i, k, convention):
        """E[AP@k]: P(j hits in the group cut by k) * E[P@ sum | j] / normaliser, with the
        hypergeometric pmf by math.comb and the P@ sums term by term."""
        def group_sum(r_pre, s, n, r, t):  # E[sum rel * P@ over the first t of a group]
            return sum(r / n * (r_pre + 1 + (u - 1) * ((r - 1) / (n - 1) if n > 1 else 0))
                       / (s + u) for u in range(1, t + 1)) if r else 0.0
        groups = self.groups(i)
        big_r = sum(map(sum, groups))
        k = min(k, sum(map(len, groups)))
        n_pre = r_pre = s = 0.0
        for g in groups:
            n, r = len(g), sum(g)
            if s + n <= k:  # wholly inside the top k
                n_pre += group_sum(r_pre, s, n, r, n)
                r_pre += r
                s += n
                continue
            m = int(k - s)
            if convention == "recall":
                n_pre += group_sum(r_pre, s, n, r, m)
                break
            total = 0.0
            for j in range(max(0, m - (n - r)), min(r, m) + 1):
                pj = math.comb(r, j) * math.comb(n - r, m - j) / math.comb(n, m)
                if r_pre + j > 0:
                    total += pj * (n_pre + group_sum(r_pre, s, m, j, m)) / (r_pre + j)
            return total
        if convention == "recall":
            return n_pre / min(k, big_r) if big_r else 0.0
        return n_pre / r_pre if r_pre else 0.0

    def n_rel(self, i):
        return sum(self.level(i, j) for j in self.items(i))

    # --- per-query definitions
    def ap(self, i, k, convention, ties):
        if ties == "expected":
            return self.expected_ap(i, k, convention)
        rel = self.rel(i, ties)
        big_r = sum(rel)
        if convention == "dcmh":
            m = min(k, big_r)
            ranks = [pos for pos, r in enumerate(rel, 1) if r][:m]
            return sum(t / rank for t, rank in enumerate(ranks, 1)) / m if m else 0.0
        hits, total = 0, 0.0
        for pos, r in enumerate(rel[:k], 1):
            if r:
                hits += 1
                total += hits / pos
        if convention == "djsrh":
            return total / hits if hits else 0.0
        return total / min(k, big_r) if big_r else 0.0  # recall-normalised

    def ap_all(self, i, ties):
        return self.ap(i, len(self.items(i)), "djsrh", ties)

    def hits(self, i, k, ties):
        if ties == "expected":
            return sum(self.expected_at_ranks(i, k))
        return sum(self.rel(i, ties)[:k])

    def precision(self, i, k, ties):
        return self.hits(i, k, ties) / min(k, len(self.items(i)))

    def recall(self, i, k, ties):
        big_r = self.n_rel(i)
        return self.hits(i, k, ties) / big_r if big_r else 0.0

    def acg(self, i, k, ties):
        if ties == "expected":
            top = self.expected_at_ranks(i, k, "grade")
            return sum(top) / len(top)
        top = self.ranking(i, ties, "grade")[:k]
        return sum(self.level(i, j, "grade") for j in top) / len(top)

    def ndcg(self, i, k, ties, variant="dsrh"):
        kind = "grade" if variant == "dsrh" else "spikinghash"
        levels = [self.level(i, j, kind) for j in self.ranking(i, "index", kind)]
        ideal = sorted(levels, reverse=True)

        def gain(lev):
            return 2**lev - 1 if variant == "dsrh" else lev / 2

        def dcg(gains):
            total = 0.0
            for pos, g in enumerate(gains[:k], 1):
                if variant == "dsrh":
                    total += g / math.log2(pos + 1)
                else:
                    total += g if pos == 1 else g / math.log2(pos)
            return total

        best = dcg([gain(lev) for lev in ideal])
        if ties == "expected":  # expected gain at each rank (not the gain of a mean level)
            got = dcg(self.expected_at_ranks(i, k, kind, gain))
        else:
            got = dcg([gain(self.level(i, j, kind)) for j in self.ranking(i, ties, kind)])
        return got / best if best > 0 else 0.0

    def ball(self, i, radius):
        inside = [j for j in self.items(i) if self.dist(i, j) <= radius]
        hits = sum(self.level(i, j) for j in inside)
        big_r = self.n_rel(i)
        prec = hits / len(inside) if inside else 0.0  # empty ball scores 0
        rec = hits / big_r if big_r else 0.0
        return prec, rec

    def tie_aware(self, i):
        """Expected AP: explicit distribution of a relevant item's position J in its group and
        of the relevant items X ahead of it (hypergeometric), summed term by term."""
        groups = {}
        for j in self.items(i):
            groups.setdefault(self.dist(i, j), []).append(self.level(i, j))
        big_r = sum(sum(g) for g in groups.values())
        if big_r == 0:
            return 0.0
        total, n_before, r_before = 0.0, 0, 0
        for d in sorted(groups):
            n, r = len(groups[d]), sum(groups[d])
            for pos in range(1, n + 1):
                for x in range(0, min(pos - 1, r - 1) + 1):
                    pmf = (math.comb(r - 1, x) * math.comb(n - r, pos - 1 - x)
                           / math.comb(n - 1, pos - 1)) if r else 0.0
                    total += r * (1 / n) * pmf * (r_before + 1 + x) / (n_before + pos)
            n_before += n
            r_before += r
        return total / big_r

    def mean(self, values, policy):
        keep = [v for i, v in enumerate(values) if policy == "zero" or self.n_rel(i) > 0]
        return sum(keep) / len(keep) if keep else 0.0

    def queries(self):
        return range(len(self.qb))


def brute_force_tie_aware(o: Oracle, i: int) -> float:
    """Average AP over every arrangement of relevance bits inside every tie group (tiny cases)."""
    groups = {}
    for j in o.items(i):
        groups.setdefault(o.dist(i, j), []).append(o.level(i, j))
    options = []
    for d in sorted(groups):
        bits = groups[d]
        n, r = len(bits), sum(bits)
        options.append([[int(p in c) for p in range(n)]
                        for c in itertools.combinations(range(n), r)])
    total, count = 0.0, 0
    for combo in itertools.product(*options):
        rel = [b for group in combo for b in group]
        hits, s = 0, 0.0
        for pos, b in enumerate(rel, 1):
            if b:
                hits += 1
                s += hits / pos
        total += s / hits if hits else 0.0
        count += 1
    return total / count


# ----------------------------------------------------------------------------- random cases


def random_case(seed, bits=None, nq=None, nd=None, n_labels=None, single_label=None,
                fmt=None, exclude_self=False):
    rng = np.random.default_rng(seed)
    bits = bits or int(rng.choice([4, 8, 16]))
    nd = nd or int(rng.integers(1, 60))
    nq = nq or int(rng.integers(1, 10))
    if exclude_self:
        nd = max(nd, nq, 2)
    n_labels = n_labels or int(rng.choice([1, 3, 5, 70]))
    single_label = bool(rng.integers(2)) if single_label is None else single_label
    fmt = fmt or str(rng.choice(["pm_int8", "pm_float", "01_int", "bool"]))
    n_all = nd if exclude_self else nq + nd
    raw = rng.integers(0, 2, (n_all, bits))
    if single_label:
        labels = np.zeros((n_all, n_labels), dtype=np.int64)
        labels[np.arange(n_all), rng.integers(0, n_labels, n_all)] = 1
    else:
        labels = (rng.random((n_all, n_labels)) < rng.uniform(0.1, 0.6)).astype(np.int64)
        labels[rng.random(n_all) < 0.15] = 0  # some items (queries) without labels
    codes = {"pm_int8": (2 * raw - 1).astype(np.int8), "pm_float": (2.0 * raw - 1.0),
             "01_int": raw, "bool": raw.astype(bool)}[fmt]
    if exclude_self:
        return codes[:nq], codes, labels[:nq], labels
    return codes[:nq], codes[nq:], labels[:nq], labels[nq:]


def close(a, b):
    return abs(a - b) <= TOL


CASES = [(seed, excl) for seed in range(24) for excl in (False, True)]


@pytest.mark.parametrize("seed,excl", CASES)
def test_map_conventions_and_ties_match_oracle(seed, excl):
    qc, dc, ql, dl = random_case(seed, exclude_self=excl)
    o = Oracle(qc, dc, ql, dl, excl)
    n = len(o.items(0))
    for k in sorted({1, 5, 50, n, n + 3}):
        for conv in ("djsrh", "dcmh", "recall"):
            for ties in TIES if conv != "dcmh" else TIES[:3]:  # dcmh has no expected form
                for policy in ("zero", "skip"):
                    want = o.mean([o.ap(i, k, conv, ties) for i in o.queries()], policy)
                    got = M.map_at_k(qc, dc, ql, dl, k=k, convention=conv, ties=ties,
                                     zero_relevant=policy, exclude_self=excl)
                    assert close(got, want), (k, conv, ties, policy, got, want)


@pytest.mark.parametrize("seed,excl", CASES)
def test_full_ranking_metrics_match_oracle(seed, excl):
    qc, dc, ql, dl = random_case(1000 + seed, exclude_self=excl)
    o = Oracle(qc, dc, ql, dl, excl)
    for policy in ("zero", "skip"):
        for ties in TIES:
            want = o.mean([o.ap_all(i, ties) for i in o.queries()], policy)
            got = M.map_at_all(qc, dc, ql, dl, ties=ties, zero_relevant=policy,
                               exclude_self=excl)
            assert close(got, want), (ties, policy, got, want)
        want = o.mean([o.tie_aware(i) for i in o.queries()], policy)
        got = M.tie_aware_ap(qc, dc, ql, dl, zero_relevant=policy, exclude_self=excl)
        assert close(got, want), ("tie_aware", policy, got, want)


@pytest.mark.parametrize("seed,excl", CASES)
def test_precision_recall_graded_match_oracle(seed, excl):
    qc, dc, ql, dl = random_case(2000 + seed, exclude_self=excl)
    o = Oracle(qc, dc, ql, dl, excl)
    n = len(o.items(0))
    policy = "skip" if seed % 2 else "zero"
    for k in sorted({1, 7, 50, n + 1}):
        for ties in TIES:
            checks = {
                "p": (M.precision_at_k, lambda i, k=k, t=ties: o.precision(i, k, t)),
                "r": (M.recall_at_k, lambda i, k=k, t=ties: o.recall(i, k, t)),
                "acg": (M.acg_at_k, lambda i, k=k, t=ties: o.acg(i, k, t)),
                "ndcg": (M.ndcg_at_k, lambda i, k=k, t=ties: o.ndcg(i, k, t)),
            }
            for name, (fn, per) in checks.items():
                want = o.mean([per(i) for i in o.queries()], policy)
                got = fn(qc, dc, ql, dl, k=k, ties=ties, zero_relevant=policy,
                         exclude_self=excl)
                assert close(got, want), (name, k, ties, got, want)
            want = o.mean([o.ndcg(i, k, ties, "spikinghash") for i in o.queries()], policy)
            got = M.ndcg_at_k(qc, dc, ql, dl, k=k, ndcg_variant="spikinghash", ties=ties,
                              zero_relevant=policy, exclude_self=excl)
            assert close(got, want), ("ndcg spikinghash", k, ties, got, want)


@pytest.mark.parametrize("seed,excl", CASES[:16])
def test_radius_metrics_and_curves_match_oracle(seed, excl):
    qc, dc, ql, dl = random_case(3000 + seed, exclude_self=excl)
    o = Oracle(qc, dc, ql, dl, excl)
    bits = np.asarray(qc).shape[1]
    for policy in ("zero", "skip"):
        pr = M.pr_curve(qc, dc, ql, dl, zero_relevant=policy, exclude_self=excl)
        assert pr.radius == list(range(bits + 1))
        for r in pr.radius:
            balls = [o.ball(i, r) for i in o.queries()]
            assert close(pr.precision[r], o.mean([b[0] for b in balls], policy))
            assert close(pr.recall[r], o.mean([b[1] for b in balls], policy))
        for radius in (0, 2, bits + 3):
            want = o.mean([o.ball(i, radius)[0] for i in o.queries()], policy)
            got = M.precision_at_radius(qc, dc, ql, dl, radius=radius, zero_relevant=policy,
                                        exclude_self=excl)
            assert close(got, want)
        for ties in TIES:
            pk = M.pk_curve(qc, dc, ql, dl, ties=ties, zero_relevant=policy, exclude_self=excl)
            for k, p, rc in zip(pk.k, pk.precision, pk.recall, strict=True):
                assert close(p, o.mean([o.precision(i, k, ties) for i in o.queries()], policy))
                assert close(rc, o.mean([o.recall(i, k, ties) for i in o.queries()], policy))


@pytest.mark.parametrize("seed,excl", [(s, e) for s in range(8) for e in (False, True)])
def test_evaluate_matches_oracle(seed, excl):
    qc, dc, ql, dl = random_case(4000 + seed, exclude_self=excl)
    o = Oracle(qc, dc, ql, dl, excl)
    k = [3, 50][seed % 2]
    res = M.evaluate(qc, dc, ql, dl, k=k, exclude_self=excl)
    json.dumps(res, allow_nan=False)
    qs = o.queries()
    want = {
        f"map@{k}": o.mean([o.ap(i, k, "djsrh", "expected") for i in qs], "zero"),
        f"map@{k}:index": o.mean([o.ap(i, k, "djsrh", "index") for i in qs], "zero"),
        f"map@{k}:relevant_first": o.mean([o.ap(i, k, "djsrh", "relevant_first") for i in qs],
                                          "zero"),
        f"map@{k}:relevant_last": o.mean([o.ap(i, k, "djsrh", "relevant_last") for i in qs],
                                         "zero"),
        "map@all": o.mean([o.ap_all(i, "expected") for i in qs], "zero"),
        "tie_aware_ap@all": o.mean([o.tie_aware(i) for i in qs], "zero"),
        f"acg@{k}": o.mean([o.acg(i, k, "expected") for i in qs], "zero"),
        f"ndcg@{k}": o.mean([o.ndcg(i, k, "expected") for i in qs], "zero"),
        "precision@radius2": o.mean([o.ball(i, 2)[0] for i in qs], "zero"),
    }
    assert set(want) == set(res) - {"curves"}
    for key, value in want.items():
        assert close(res[key], value), (key, res[key], value)
        assert close(M.compute(key, qc, dc, ql, dl, exclude_self=excl), value), key
    pk = res["curves"]["pk"]
    for kk, p in zip(pk["k"], pk["precision"], strict=True):
        assert close(p, o.mean([o.precision(i, kk, "expected") for i in qs], "zero"))


def test_tie_aware_formula_equals_brute_force_over_tie_orders():
    for seed in range(30):
        qc, dc, ql, dl = random_case(5000 + seed, bits=4, nq=2, nd=int(5 + seed % 6),
                                     single_label=False, n_labels=3)
        o = Oracle(qc, dc, ql, dl)
        want = sum(brute_force_tie_aware(o, i) for i in o.queries()) / 2
        assert close(M.tie_aware_ap(qc, dc, ql, dl), want)
        assert close(o.mean([o.tie_aware(i) for i in o.queries()], "zero"), want)


# ----------------------------------------------------------------------------- engine paths


def test_many_chunks_and_threads_match_oracle(monkeypatch):
    monkeypatch.setattr(_engine, "CHUNK_BYTES", 1)  # one query per chunk, spread on threads
    monkeypatch.setattr(_engine, "SMALL_PAIRS", 0)
    monkeypatch.setattr(_engine, "default_threads", lambda: 3)
    qc, dc, ql, dl = random_case(6000, bits=8, nq=90, nd=120, n_labels=5, single_label=False)
    o = Oracle(qc, dc, ql, dl)
    for ties in TIES[:3]:  # dcmh has no expected form
        want = o.mean([o.ap(i, 20, "dcmh", ties) for i in o.queries()], "zero")
        assert close(M.map_at_k(qc, dc, ql, dl, k=20, convention="dcmh", ties=ties), want)
    for ties in ("index", "expected"):
        want = o.mean([o.ap_all(i, ties) for i in o.queries()], "zero")
        assert close(M.map_at_all(qc, dc, ql, dl, ties=ties), want)
    want = o.mean([o.ndcg(i, 20, "expected") for i in o.queries()], "zero")
    assert close(M.ndcg_at_k(qc, dc, ql, dl, k=20), want)
    want = o.mean([o.acg(i, 20, "relevant_last") for i in o.queries()], "zero")
    assert close(M.acg_at_k(qc, dc, ql, dl, k=20, ties="relevant_last"), want)


@pytest.mark.parametrize("seed,excl", [(s, e) for s in range(6) for e in (False, True)])
def test_full_pass_matches_oracle(seed, excl):
    # one full pass (histogram, then the rank walk) gives every number of the standard set
    qc, dc, ql, dl = random_case(7000 + seed, nd=40 + seed, exclude_self=excl)
    o = Oracle(qc, dc, ql, dl, excl)
    qs = o.queries()
    for k in (1, 9, 60):
        want = o.mean([o.ap(i, k, "dcmh", "index") for i in qs], "zero")
        assert close(M.map_at_k(qc, dc, ql, dl, k=k, convention="dcmh", exclude_self=excl), want)
    want = o.mean([o.ap_all(i, "index") for i in qs], "zero")
    assert close(M.map_at_all(qc, dc, ql, dl, ties="index", exclude_self=excl), want)
    for ties in ("index", "expected"):
        pk = M.pk_curve(qc, dc, ql, dl, ties=ties, exclude_self=excl)
        for k, p, r in zip(pk.k, pk.precision, pk.recall, strict=True):
            assert close(p, o.mean([o.precision(i, k, ties) for i in qs], "zero"))
            assert close(r, o.mean([o.recall(i, k, ties) for i in qs], "zero"))
    res = M.evaluate(qc, dc, ql, dl, k=9, exclude_self=excl)
    want = {"map@9": o.mean([o.ap(i, 9, "djsrh", "expected") for i in qs], "zero"),
            "map@9:index": o.mean([o.ap(i, 9, "djsrh", "index") for i in qs], "zero"),
            "map@9:relevant_last": o.mean([o.ap(i, 9, "djsrh", "relevant_last") for i in qs],
                                          "zero"),
            "map@all": o.mean([o.ap_all(i, "expected") for i in qs], "zero"),
            "tie_aware_ap@all": o.mean([o.tie_aware(i) for i in qs], "zero"),
            "acg@9": o.mean([o.acg(i, 9, "expected") for i in qs], "zero"),
            "ndcg@9": o.mean([o.ndcg(i, 9, "expected") for i in qs], "zero"),
            "precision@radius2": o.mean([o.ball(i, 2)[0] for i in qs], "zero")}
    for key, value in want.items():
        assert close(res[key], value), (key, res[key], value)


def test_large_k_paths_match_oracle(monkeypatch):
    # K above the faiss k-NN limit goes through the scan pass (top K from the distance row)
    monkeypatch.setattr(_engine, "SMALL_PAIRS", 0)
    qc, dc, ql, dl = random_case(6100, bits=8, nq=3, nd=2600, n_labels=4, single_label=False)
    o = Oracle(qc, dc, ql, dl)
    k = 2300
    assert k > _engine.KNN_MAX_K
    for ties in ("index", "expected"):
        for fn, per in ((M.precision_at_k, o.precision), (M.recall_at_k, o.recall)):
            want = o.mean([per(i, k, ties) for i in o.queries()], "zero")
            assert close(fn(qc, dc, ql, dl, k=k, ties=ties), want)
        want = o.mean([o.ap(i, k, "djsrh", ties) for i in o.queries()], "zero")
        assert close(M.map_at_k(qc, dc, ql, dl, k=k, ties=ties), want)
        want = o.mean([o.acg(i, k, ties) for i in o.queries()], "zero")
        assert close(M.acg_at_k(qc, dc, ql, dl, k=k, ties=ties), want)


def test_faiss_knn_ties_are_by_index_on_heavy_ties(monkeypatch):
    # 4-bit codes, 600 items: every distance group is large, the K boundary cuts through one
    monkeypatch.setattr(_engine, "SMALL_PAIRS", 0)  # force the faiss k-NN path
    qc, dc, ql, dl = random_case(6200, bits=4, nq=6, nd=600, n_labels=3, single_label=False)
    o = Oracle(qc, dc, ql, dl)
    for k in (1, 37, 100, 599):
        want = o.mean([o.ap(i, k, "djsrh", "index") for i in o.queries()], "zero")
        assert close(M.map_at_k(qc, dc, ql, dl, k=k, ties="index"), want)
        want = o.mean([o.precision(i, k, "index") for i in o.queries()], "zero")
        assert close(M.precision_at_k(qc, dc, ql, dl, k=k, ties="index"), want)
    qc2, dc2, ql2, dl2 = random_case(6201, bits=4, nq=30, nd=200, exclude_self=True)
    o2 = Oracle(qc2, dc2, ql2, dl2, True)
    want = o2.mean([o2.ap(i, 60, "djsrh", "index") for i in o2.queries()], "zero")
    assert close(M.map_at_k(qc2, dc2, ql2, dl2, k=60, ties="index", exclude_self=True), want)


def test_fallback_sort_without_faiss_bucket_sort(monkeypatch):
    import faiss

    if hasattr(faiss.swigfaiss, "bucket_sort"):
        monkeypatch.delattr(faiss.swigfaiss, "bucket_sort")
    qc, dc, ql, dl = random_case(6300, bits=8, nq=8, nd=80, exclude_self=True)
    o = Oracle(qc, dc, ql, dl, True)
    want = o.mean([o.ap_all(i, "index") for i in o.queries()], "zero")
    assert close(M.map_at_all(qc, dc, ql, dl, ties="index", exclude_self=True), want)


def test_popcount_fallback_matches_numpy(monkeypatch):
    words = np.random.default_rng(0).integers(0, 2**63, (50, 3), dtype=np.uint64)
    fast = _labels.popcount(words)
    if hasattr(np, "bitwise_count"):
        monkeypatch.delattr(np, "bitwise_count")
    slow = _labels.popcount(words)
    assert np.array_equal(fast.astype(int), slow.astype(int))
    want = [[bin(int(w)).count("1") for w in row] for row in words]
    assert np.array_equal(slow.astype(int), np.array(want))


@pytest.mark.parametrize("lo,hi", [(0, 0), (0, 1), (0, 40), (5, 31), (31, 33), (32, 32),
                                   (30, 5000), (10**6, 10**6 + 3), (123456, 987654)])
def test_harmonic_gap_is_exact(lo, hi):
    want = math.fsum(1.0 / j for j in range(lo + 1, hi + 1))
    got = float(harmonic_gap(np.array([lo]), np.array([hi]))[0])
    assert abs(got - want) <= 1e-15 * max(1.0, want)
