"""The ranking engine: Hamming rankings of packed codes, one pass over the database per query chunk.

A metric asks (`Request`) for the per-query products it needs; the engine picks the cheapest pass:

- knn:  faiss `IndexBinaryFlat` top-K (ties by ascending database index) when only the top K
        is needed.
- scan: faiss Hamming distances for a chunk of queries, then per query one histogram of
        (relevance level, distance): tie bounds, precision/recall by radius, tie-aware AP and
        level counts need nothing else. A walk over the items up to the bucket of rank K
        gives the index-tie top K and the relevant ranks inside it.
- full: the walk covers the whole row: the exact index-tie ranking without sorting (see
        `_kernels`): AP over the whole ranking, ranks of the first m relevant items, relevant
        counts at any K.

The ranking order is (distance, database index), the order faiss returns. With
`exclude_self`, query i's own database item i is left out of every count and rank.

Query chunks (grouped by label set, so relevance rows are reused) run on a thread pool; faiss
and the compiled kernels release the GIL, so the threads keep all cores busy. Buffers are
allocated once per thread and sized by the database, so memory stays flat in the number of
queries. A chunk's distance rows are kept small enough to stay in cache between the passes.
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
from hashbench.metrics._kernels import scan_row
from hashbench.metrics._labels import LabelIndex, n_levels

# faiss IndexBinaryFlat keeps a heap of size K per query: beyond this the scan pass is cheaper.
KNN_MAX_K = 2048
# Below this many (query, item) pairs, thread start-up (ours and faiss's OpenMP, ~20 ms) costs
# more than the work: run the scan pass on one thread instead.
SMALL_PAIRS = 1 << 20
# Size of one chunk's distance rows (int32) per thread: rows stay in cache for the kernels.
CHUNK_BYTES = 512 << 10


@dataclass(frozen=True)
class Request:
    """What a metric needs from the ranking (ties by database index unless noted)."""

    topk: int = 0  # database indices of the top K
    head: int = 0  # 1-based ranks of the first `head` relevant items (beyond K needs `full`)
    levels: str | None = None  # per-distance histogram by relevance level: binary/grade/spikinghash
    counts: str | None = None  # items per relevance level of this kind (for R, ideal DCG)
    full: bool = False  # exact full ranking: AP over it, complete `head`, `cuts`
    cuts: tuple[int, ...] = ()  # number of relevant items in the top K, for each K (needs `full`)


@dataclass
class RankStats:
    """Per-query products of one pass. Arrays have one row per query, in query order."""

    n_ranked: int
    topk: np.ndarray | None = None  # (n_query, k) int64 database indices, rank order
    head: np.ndarray | None = None  # (n_query, m) int64 1-based ranks of relevant items; 0 = none
    hist: np.ndarray | None = None  # (n_query, levels, bits + 1) int32 counts per level, distance
    levels: str | None = None  # the level kind of `hist` (see _labels.LEVEL_KINDS)
    counts: np.ndarray | None = None  # (n_query, levels) int64 items per level of `counts_kind`
    counts_kind: str | None = None
    ap_all: np.ndarray | None = None  # (n_query,) float64 AP over the full ranking
    cuts: np.ndarray | None = None  # (n_query, len(cut_ks)) int64 relevant items in the top K
    cut_ks: tuple[int, ...] = ()  # the K of each column of `cuts`


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


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
    """One scan or full pass over the database: per query chunk, faiss distances, then the
    compiled two-pass kernels on each distance row."""

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
        self.order = labels.query_order()
        labels.compact_inverse  # noqa: B018 -- build the lazy index before threads share it
        self.threads = threads
        self.cut_ks = np.asarray(req.cuts, dtype=np.int64)

    def run(self, full: bool) -> None:
        self.full = full
        rows = int(np.clip(CHUNK_BYTES // (4 * self.nd), 1, 64))
        nq = self.p.n_query
        bounds = [(lo, min(lo + rows, nq)) for lo in range(0, nq, rows)]
        self.rows = rows
        _run_chunks(bounds, self.threads, self._worker)

    def _distances(self, qs: np.ndarray, buf: np.ndarray) -> np.ndarray:
        """(len(qs), n_db) Hamming distances, in a flat per-thread buffer."""
        codes = np.ascontiguousarray(self.p.q_codes[qs])
        out = buf[: len(qs) * self.nd].reshape(len(qs), self.nd)
        faiss.hammings(
            faiss.swig_ptr(codes),
            faiss.swig_ptr(self.p.db_codes),
            len(qs),
            self.nd,
            self.p.q_codes.shape[1],
            faiss.swig_ptr(out),
        )
        return out

    def _worker(self) -> Callable[[int, int], None]:
        nd, out, full = self.nd, self.out, self.full
        kind = _kernel_levels(self.req)
        n_lev = n_levels(kind, self.p.n_labels)
        # the kernel counts at the finer kind; a binary histogram is then collapsed from it
        collapse = out.hist is not None and out.hist.shape[1] != n_lev
        pattern = self.labels.compact_inverse
        dist = np.empty(self.rows * nd, dtype=np.int32)
        # 2 * distance + relevant per item, uint16 where it fits: the walk reads half the bytes
        packed = np.empty(nd, dtype=np.uint16 if 2 * self.p.bits + 1 <= 0xFFFF else np.int32)
        hist_buf = np.empty((n_lev, self.p.bits + 1), dtype=np.int32)
        mark = np.empty(nd, dtype=np.uint8)
        by_t = np.empty(nd + 1, dtype=np.int32 if nd < 2**31 - 1 else np.int64)
        none = np.empty(0, dtype=np.int64)
        walk = full or self.k_eff > 0
        lut = [-1, None]  # (query label set, its level against every database label set)

        def work(lo: int, hi: int) -> None:
            qs = self.order[lo:hi]
            dist_rows = self._distances(qs, dist)
            for r, qi in enumerate(qs):
                if self.labels.q_inverse[qi] != lut[0]:
                    lut[0] = self.labels.q_inverse[qi]
                    lut[1] = self.labels.pattern_levels(qi, kind).astype(np.uint8)
                own = int(qi) if self.p.exclude_self else -1
                hist = hist_buf if out.hist is None or collapse else out.hist[qi]
                ap = scan_row(
                    dist_rows[r],
                    lut[1],
                    pattern,
                    own,
                    hist,
                    packed,
                    out.counts[qi] if out.counts is not None else none,
                    mark,
                    by_t,
                    out.topk[qi] if out.topk is not None else none,
                    out.head[qi] if out.head is not None else none,
                    self.cut_ks,
                    out.cuts[qi] if out.cuts is not None else none,
                    walk,
                    full,
                )
                if collapse:
                    out.hist[qi, 0] = hist[0]
                    out.hist[qi, 1] = hist[1:].sum(axis=0)
                if out.ap_all is not None:
                    out.ap_all[qi] = ap

        return work


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


def _kernel_levels(req: Request) -> str:
    """The level kind the pass counts: the histogram's, or the finer one `counts` asks for
    (every kind has level 0 = not relevant, so a binary histogram collapses from any)."""
    kinds = {req.levels, req.counts} - {None}
    if len(kinds) > 1:
        kinds.discard("binary")
    if len(kinds) > 1:
        raise ValueError(f"one pass cannot count level kinds {kinds}")  # internal misuse
    return kinds.pop() if kinds else "binary"


def run(
    problem: Problem, labels: LabelIndex, req: Request, threads: int | None = None
) -> RankStats:
    """Compute the requested per-query products in one pass over the database."""
    nq, n = problem.n_query, problem.n_ranked
    small = nq * problem.n_db < SMALL_PAIRS
    if threads is None:
        threads = 1 if small else default_threads()
    k_eff = min(max(req.topk, 0), n)
    full = req.full or bool(req.cuts)
    scan = full or req.levels is not None or req.counts is not None or k_eff > KNN_MAX_K or small
    _kernel_levels(req)  # fail early on kinds one pass cannot count
    out = RankStats(n_ranked=n, levels=req.levels, counts_kind=req.counts)
    if k_eff:
        out.topk = np.zeros((nq, k_eff), dtype=np.int64)
    if full:
        out.ap_all = np.zeros(nq)
        if req.cuts:
            out.cuts = np.zeros((nq, len(req.cuts)), dtype=np.int64)
            out.cut_ks = tuple(req.cuts)
    if req.head and scan:
        out.head = np.zeros((nq, min(req.head, n if full else k_eff)), dtype=np.int64)
    if req.levels is not None:
        n_lev = n_levels(req.levels, problem.n_labels)
        out.hist = np.zeros((nq, n_lev, problem.bits + 1), dtype=np.int32)
    if req.counts is not None:
        out.counts = np.zeros((nq, n_levels(req.counts, problem.n_labels)), dtype=np.int64)

    if scan:
        _Pass(problem, labels, req, k_eff, out, threads).run(full)
    elif k_eff:
        out.topk = _knn_topk(problem, k_eff, threads)
        if req.head:
            out.head = _head_from_topk(labels, out.topk, min(req.head, k_eff))
    return out
