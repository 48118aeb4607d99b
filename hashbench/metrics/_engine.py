"""The ranking engine: Hamming rankings of packed codes, one pass over the database per query chunk.

A metric asks (`Request`) for the per-query products it needs; the engine picks the cheapest pass:

- knn:  faiss `IndexBinaryFlat` top-K (ties by ascending database index) when only the top K
        is needed.
- scan: faiss Hamming distances for a chunk of queries, then per query one histogram of
        (relevance level, distance): tie bounds, precision/recall by radius and tie-aware AP
        need nothing else. The index-tie top K is picked from the same distance row.
- full: scan plus a stable bucket sort of each distance row (O(n), no comparison sort), i.e.
        the exact index-tie ranking: AP over the whole ranking, ranks of the first m relevant
        items, relevant counts at any K. Large databases are sorted in column blocks that fit
        in cache; exact global ranks are rebuilt from per-(block, distance) counts.

The ranking order is (distance, database index): a stable sort of the distances keeps index
order inside every group of equal distance, which is the order faiss returns. With
`exclude_self`, query i's own database item i is moved into an extra bucket past the largest
distance, so it takes no part in any count and shifts no rank.

Query chunks (grouped by label set, so relevance rows are reused) run on a thread pool; faiss
releases the GIL, so the threads keep all cores busy. Buffers are allocated once per thread
and sized by the database, so memory stays flat in the number of queries.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import faiss
import numpy as np

from hashbench.metrics._inputs import Problem
from hashbench.metrics._labels import LabelIndex, n_levels

# faiss IndexBinaryFlat keeps a heap of size K per query: beyond this the scan pass is cheaper.
KNN_MAX_K = 2048
# Below this many (query, item) pairs, thread start-up (ours and faiss's OpenMP, ~20 ms) costs
# more than the work: run the scan pass on one thread instead.
SMALL_PAIRS = 1 << 20
# Target size of one chunk's distance matrix (int32) per thread: fewer, larger faiss calls.
CHUNK_BYTES = 8 << 20
# The full pass sorts the database in column blocks of at most this many items, so that one
# thread's working set (~22 bytes per item) stays in cache and time stays linear in its size.
COL_BLOCK = 1 << 18


@dataclass(frozen=True)
class Request:
    """What a metric needs from the ranking (ties by database index unless noted)."""

    topk: int = 0  # database indices of the top K
    head: int = 0  # 1-based ranks of the first `head` relevant items (beyond K needs `full`)
    levels: str | None = None  # per-distance histogram by relevance level: binary/grade/spikinghash
    full: bool = False  # exact full ranking: AP over it, complete `head`, `cuts`
    cuts: tuple[int, ...] = ()  # number of relevant items in the top K, for each K (needs `full`)


@dataclass
class RankStats:
    """Per-query products of one pass. Arrays have one row per query, in query order."""

    n_ranked: int
    topk: np.ndarray | None = None  # (n_query, k) int64 database indices, rank order
    head: np.ndarray | None = None  # (n_query, m) int64 1-based ranks of relevant items; 0 = none
    hist: np.ndarray | None = None  # (n_query, levels, bits + 1) int32 counts per level, distance
    ap_all: np.ndarray | None = None  # (n_query,) float64 AP over the full ranking
    cuts: np.ndarray | None = None  # (n_query, len(cut_ks)) int64 relevant items in the top K
    cut_ks: tuple[int, ...] = ()  # the K of each column of `cuts`


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _stable_bucket_sort(
    keys: np.ndarray, n_buckets: int, lims: np.ndarray, perm: np.ndarray
) -> None:
    """perm <- stable argsort of small non-negative integer keys; lims <- bucket starts."""
    sorter = getattr(faiss, "swigfaiss", None)
    sorter = getattr(sorter, "bucket_sort", None)
    if sorter is not None:  # counting sort in C, GIL released
        sorter(
            keys.size,
            faiss.swig_ptr(keys),
            n_buckets,
            faiss.swig_ptr(lims),
            faiss.swig_ptr(perm),
            0,
        )
        return
    perm[:] = np.argsort(keys, kind="stable")
    lims[0] = 0
    np.cumsum(np.bincount(keys.astype(np.intp), minlength=n_buckets)[:n_buckets], out=lims[1:])


def _run_chunks(
    bounds: list[tuple[int, int]],
    threads: int,
    make_worker: Callable[[], Callable[[int, int], None]],
) -> None:
    """Run worker(lo, hi) over all bounds on a pool of threads, each with its own worker.

    Work always runs on pool threads, each limiting faiss's OpenMP to itself: OpenMP's setting
    is per thread, so the caller's thread is never touched, and spinning OpenMP teams cannot
    fight our threads (or other processes) for the cores.
    """
    pending = iter(bounds)
    lock = threading.Lock()

    def loop() -> None:
        faiss.omp_set_num_threads(1)
        work = make_worker()
        while True:
            with lock:
                nxt = next(pending, None)
            if nxt is None:
                return
            work(*nxt)

    threads = max(1, min(threads, len(bounds)))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(loop) for _ in range(threads)]:
            future.result()


class _Pass:
    """Shared state of one scan/full pass over the database."""

    def __init__(
        self,
        problem: Problem,
        labels: LabelIndex,
        req: Request,
        k_eff: int,
        out: RankStats,
        threads: int,
    ):
        self.p = problem
        self.labels = labels
        self.req = req
        self.k_eff = k_eff
        self.out = out
        self.nd = problem.n_db
        self.n_buckets = problem.bits + 2  # distances 0..bits, plus one bucket for "self"
        self.order = labels.query_order()
        labels.inverse  # noqa: B018 -- build the lazy pattern index before threads share it
        self.width = min(self.nd, COL_BLOCK)  # column block of the full pass
        self.threads = threads
        self.one_to = np.arange(self.nd + 1, dtype=np.float64)
        self.cuts = np.asarray(req.cuts, dtype=np.int64)

    def run(self, full: bool) -> None:
        self.rows = int(np.clip(CHUNK_BYTES // (4 * (self.width if full else self.nd)), 1, 64))
        if full and self.width < self.nd:
            self.rows = min(self.rows, 2)  # each row holds its blocks' ranks until its last block
        nq = self.p.n_query
        bounds = [(lo, min(lo + self.rows, nq)) for lo in range(0, nq, self.rows)]
        _run_chunks(bounds, self.threads, self._full_worker if full else self._scan_worker)

    def _distances(self, qs: np.ndarray, buf: np.ndarray, c0: int = 0, c1: int | None = None
                   ) -> np.ndarray:
        """(len(qs), c1 - c0) Hamming distances to database items c0..c1, in a flat buffer."""
        c1 = self.nd if c1 is None else c1
        codes = np.ascontiguousarray(self.p.q_codes[qs])
        out = buf[: len(qs) * (c1 - c0)].reshape(len(qs), c1 - c0)
        faiss.hammings(faiss.swig_ptr(codes), faiss.swig_ptr(self.p.db_codes[c0:c1]), len(qs),
                       c1 - c0, self.p.q_codes.shape[1], faiss.swig_ptr(out))
        return out

    def _level_hist(self, own: int, row: np.ndarray, lev: np.ndarray, key32: np.ndarray,
                    hbuf: np.ndarray, n_lev: int) -> np.ndarray:
        """Histogram of (level, distance) of one row: key = level * n_buckets + distance.

        own: position of the query's own item in the row (left out), or -1.
        """
        np.multiply(lev, self.n_buckets, out=key32)
        np.add(key32, row, out=key32)
        if own >= 0:
            key32[own] = -1  # out of range: ivec_hist skips it
        faiss.ivec_hist(len(row), faiss.swig_ptr(key32), self.n_buckets * n_lev,
                        faiss.swig_ptr(hbuf))
        return hbuf.reshape(n_lev, self.n_buckets)[:, : self.p.bits + 1]

    def _scan_worker(self) -> Callable[[int, int], None]:
        nd, req, out = self.nd, self.req, self.out
        kind = req.levels or "binary"
        n_lev = n_levels(kind, self.p.n_labels)
        dist = np.empty(self.rows * nd, dtype=np.int32)
        lev = np.empty(nd, dtype=np.int32)
        key32 = np.empty(nd, dtype=np.int32)
        hbuf = np.empty(self.n_buckets * n_lev, dtype=np.int32)
        cached = [-1]  # label set whose level row is in `lev`

        def work(lo: int, hi: int) -> None:
            qs = self.order[lo:hi]
            dist_rows = self._distances(qs, dist)
            for r, qi in enumerate(qs):
                row = dist_rows[r]
                if self.p.exclude_self:
                    row[qi] = self.p.bits + 1
                pattern = self.labels.q_inverse[qi]
                if pattern != cached[0]:
                    self.labels.level_row(qi, kind, out=lev)
                    cached[0] = pattern
                h = self._level_hist(qi if self.p.exclude_self else -1, row, lev, key32, hbuf,
                                     n_lev)
                out.hist[qi] = h
                if req.topk:
                    # boundary distance of the top K, then index order inside it
                    cum = np.cumsum(h.sum(axis=0))
                    d_k = int(np.searchsorted(cum, self.k_eff))
                    cand = np.flatnonzero(row <= d_k)
                    pick = np.argsort(row[cand], kind="stable")[: self.k_eff]
                    out.topk[qi] = cand[pick]

        return work

    def _full_worker(self) -> Callable[[int, int], None]:
        nd, out = self.nd, self.out
        bits, n_buckets, n_dist = self.p.bits, self.n_buckets, self.p.bits + 1
        excl = self.p.exclude_self
        width = self.width
        blocks = [(c0, min(c0 + width, nd)) for c0 in range(0, nd, width)]
        dist = np.empty(self.rows * width, dtype=np.int32)
        keys = np.empty(width, dtype=np.uint64)
        perm = np.empty(width, dtype=np.int64)
        lims = np.empty(n_buckets + 1, dtype=np.int64)
        rel = np.empty(width, dtype=np.bool_)
        rel_sorted = np.empty(width, dtype=np.bool_)
        work_f = np.empty(width, dtype=np.float64)
        cached = [None]  # (label set, block) whose relevance row is loaded

        def sort_block(qi: int, row: np.ndarray, c0: int, c1: int) -> _Block:
            """Stable bucket sort of one block of a distance row, and what it yields."""
            nb = c1 - c0
            pattern = self.labels.q_inverse[qi]
            if cached[0] != (pattern, c0):
                self.labels.level_row(qi, "binary", out=rel[:nb], lo=c0, hi=c1)
                cached[0] = (pattern, c0)
            k, p, rs = keys[:nb], perm[:nb], rel_sorted[:nb]
            np.copyto(k, row, casting="unsafe")
            own = qi - c0 if excl and c0 <= qi < c1 else -1
            if own >= 0:
                k[own] = bits + 1  # the query's own item: alone in the last bucket
            _stable_bucket_sort(k, n_buckets, lims, p)
            np.take(rel[:nb], p, out=rs, mode="clip")  # indices are in range: skip the checks
            if own >= 0:
                rs[nb - 1] = False
            top = p[: min(self.k_eff, nb)] if out.topk is not None else p[:0]
            return _Block(ranks0=np.flatnonzero(rs), lims=lims[: n_dist + 1].copy(),
                          top_idx=top + c0, top_dist=k[top].astype(np.int64))

        def work(lo: int, hi: int) -> None:
            qs = self.order[lo:hi]
            parts: list[list[_Block]] = [[] for _ in qs]
            for c0, c1 in blocks:
                dist_rows = self._distances(qs, dist, c0, c1)
                for r, qi in enumerate(qs):
                    part = sort_block(qi, dist_rows[r], c0, c1)
                    if len(blocks) == 1:
                        self._finish_one(qi, part, work_f)
                    else:
                        parts[r].append(part)
            if len(blocks) > 1:
                for r, qi in enumerate(qs):
                    self._finish_blocks(qi, parts[r])

        return work

    def _finish_one(self, qi: int, part: _Block, work_f: np.ndarray) -> None:
        """Products of a row sorted in one piece: ranks0 are the global 0-based ranks."""
        out, ranks0 = self.out, part.ranks0
        n_rel = ranks0.size
        if out.ap_all is not None:
            if n_rel:
                f = work_f[:n_rel]
                np.add(ranks0, 1, out=f, casting="unsafe")
                np.divide(self.one_to[1 : n_rel + 1], f, out=f)  # P@rank at each hit
                out.ap_all[qi] = f.sum() / n_rel
            else:
                out.ap_all[qi] = 0.0
        if out.hist is not None:
            n_hit = np.diff(np.searchsorted(ranks0, part.lims))
            out.hist[qi, 0] = np.diff(part.lims) - n_hit
            out.hist[qi, 1] = n_hit
        if out.topk is not None:
            out.topk[qi] = part.top_idx
        if out.head is not None:
            m = min(out.head.shape[1], n_rel)
            out.head[qi, :m] = ranks0[:m] + 1
        if out.cuts is not None:
            out.cuts[qi] = np.searchsorted(ranks0, self.cuts)

    def _finish_blocks(self, qi: int, parts: list[_Block]) -> None:
        """Exact global ranks from blocks sorted separately.

        The global order is (distance, index) and blocks are index ranges, so an item of
        block b at local position p in bucket d has global rank
            (items at smaller distances) + (items at distance d in blocks before b)
            + (p - start of bucket d in block b),
        and the same holds for t, its position among the relevant items.
        """
        out = self.out
        cnt = np.stack([np.diff(pt.lims) for pt in parts])  # (blocks, distances)
        rstart = np.stack([np.searchsorted(pt.ranks0, pt.lims) for pt in parts])
        rcnt = np.diff(rstart, axis=1)
        n_d, r_d = cnt.sum(axis=0), rcnt.sum(axis=0)
        off = (np.cumsum(n_d) - n_d) + (np.cumsum(cnt, axis=0) - cnt)
        roff = (np.cumsum(r_d) - r_d) + (np.cumsum(rcnt, axis=0) - rcnt)
        ap_sum = 0.0
        cut_hits = np.zeros(len(self.cuts), dtype=np.int64)
        head = np.zeros(out.head.shape[1] if out.head is not None else 0, dtype=np.int64)
        for b, pt in enumerate(parts):
            if not pt.ranks0.size:
                continue
            rank = pt.ranks0 + np.repeat(off[b] - pt.lims[:-1], rcnt[b]) + 1
            t = np.repeat(roff[b] - rstart[b, :-1], rcnt[b]) + np.arange(1, pt.ranks0.size + 1)
            ap_sum += float((t / rank).sum())
            cut_hits += np.searchsorted(rank, self.cuts, side="right")
            first = t <= head.size
            head[t[first] - 1] = rank[first]
        total = int(r_d.sum())
        if out.ap_all is not None:
            out.ap_all[qi] = ap_sum / total if total else 0.0
        if out.hist is not None:
            out.hist[qi, 0] = n_d - r_d
            out.hist[qi, 1] = r_d
        if out.topk is not None:
            idx = np.concatenate([pt.top_idx for pt in parts])
            d = np.concatenate([pt.top_dist for pt in parts])
            # the query's own item (distance bits + 1) sorts after all others, and K <= n - 1
            out.topk[qi] = idx[np.lexsort((idx, d))[: self.k_eff]]
        if out.head is not None:
            out.head[qi] = head
        if out.cuts is not None:
            out.cuts[qi] = cut_hits


@dataclass
class _Block:
    """One column block of one sorted distance row."""

    ranks0: np.ndarray  # 0-based positions of relevant items in the block's sorted order
    lims: np.ndarray  # start of each distance bucket 0..bits in that order, plus its end
    top_idx: np.ndarray  # database indices of the block's first K items
    top_dist: np.ndarray  # and their distances


def _knn_topk(problem: Problem, k_eff: int, threads: int) -> np.ndarray:
    """Index-tie top K by faiss IndexBinaryFlat (k-NN on packed codes), query chunks on threads."""
    excl = int(problem.exclude_self)
    index = faiss.IndexBinaryFlat(problem.db_codes.shape[1] * 8)
    index.add(problem.db_codes)
    kk = min(k_eff + excl, problem.n_db)
    nq = problem.n_query
    dist = np.empty((nq, kk), dtype=np.int32)
    idx = np.empty((nq, kk), dtype=np.int64)

    def make_worker() -> Callable[[int, int], None]:
        def work(lo: int, hi: int) -> None:
            dist[lo:hi], idx[lo:hi] = index.search(problem.q_codes[lo:hi], kk)

        return work

    step = max(16, -(-nq // (8 * threads)))  # a few chunks per thread, for load balance
    _run_chunks([(lo, min(lo + step, nq)) for lo in range(0, nq, step)], threads, make_worker)
    # faiss already returns (distance, index) order; re-sorting the K results makes that a
    # guarantee rather than an implementation detail, at negligible cost
    order = np.lexsort((idx, dist), axis=-1)
    idx = np.take_along_axis(idx, order, axis=-1)
    if excl:
        keep = idx != np.arange(nq)[:, None]
        # stable: kept entries first, in rank order; self (if retrieved) or the K+1-th dropped
        idx = np.take_along_axis(idx, np.argsort(~keep, axis=-1, kind="stable"), axis=-1)
    return np.ascontiguousarray(idx[:, :k_eff])


def _head_from_topk(labels: LabelIndex, topk: np.ndarray, m: int) -> np.ndarray:
    """1-based ranks of the relevant items inside the top K, first m of them, 0-padded."""
    n_q, k = topk.shape
    rel = labels.pair_levels(np.arange(n_q), topk, "binary").astype(bool)
    ranks = np.where(rel, np.arange(1, k + 1), k + 1)
    ranks = np.sort(ranks, axis=1)[:, :m]
    ranks[ranks > k] = 0
    return ranks.astype(np.int64)


def run(
    problem: Problem, labels: LabelIndex, req: Request, threads: int | None = None
) -> RankStats:
    """Compute the requested per-query products in as few passes as possible (usually one)."""
    nq, n = problem.n_query, problem.n_ranked
    small = nq * problem.n_db < SMALL_PAIRS
    if threads is None:
        threads = 1 if small else default_threads()
    k_eff = min(max(req.topk, 0), n)
    full = req.full or bool(req.cuts)
    need_hist = req.levels is not None
    if full and req.levels not in (None, "binary"):
        raise ValueError("the full pass counts binary relevance only")  # internal misuse
    out = RankStats(n_ranked=n)
    if k_eff:
        out.topk = np.zeros((nq, k_eff), dtype=np.int64)
    if full:
        out.ap_all = np.zeros(nq)
        if req.head:
            out.head = np.zeros((nq, min(req.head, n)), dtype=np.int64)
        if req.cuts:
            out.cuts = np.zeros((nq, len(req.cuts)), dtype=np.int64)
            out.cut_ks = tuple(req.cuts)
    if need_hist:
        n_lev = n_levels(req.levels, problem.n_labels)
        out.hist = np.zeros((nq, n_lev, problem.bits + 1), dtype=np.int32)

    if full or need_hist or k_eff > KNN_MAX_K or small:
        if not full and out.hist is None:  # large K without histogram: scan computes one anyway
            out.hist = np.zeros((nq, 2, problem.bits + 1), dtype=np.int32)
        _Pass(problem, labels, req, k_eff, out, threads).run(full)
    elif k_eff:
        out.topk = _knn_topk(problem, k_eff, threads)
    if not full and req.head and out.topk is not None:
        out.head = _head_from_topk(labels, out.topk, min(req.head, k_eff))
    return out
