"""Speed and peak memory of hashbench.metrics at NUS-WIDE scale (a script, not a test).

Random {-1,+1} codes and 10 labels (multi-hot, ~1.7 labels per item) for an image and a text
modality; every part runs both retrieval directions (image->text, text->image):

  (a) hashbench map_at_k(k)        mAP@K, djsrh, default ties (expected; from raw int8 codes)
  (b) hashbench evaluate(k)        the whole standard metric set
  (c) faiss IndexBinaryFlat k-NN   k = K, search alone on pre-packed codes (the floor for (a))
  (d) reference per-query loop     dot product + argsort per query + djsrh AP, as in the
                                   published toolboxes; run on --subset queries, extrapolated

Each part runs in fresh subprocesses (data generated there, then a warm-up call): one for the
time (best of --repeat), one for the memory. Peak memory is the rise of the resident set (VmRSS)
over its value before the part: the kernel's high-water mark is reset first
(/proc/self/clear_refs) and a sampling thread reads /proc/self/status as a fallback, so native
numpy/faiss allocations are counted; in that run glibc's mmap threshold is fixed so that freed
blocks leave the resident set at once. (c) gets the codes packed into whole 64-bit words, as
hashbench passes them to faiss, and is reported both with faiss's own OpenMP parallelism and
with a thread pool (one OpenMP thread per Python thread, as hashbench does); a/c uses the
faster of the two. (d)'s memory is not measured.

    python benchmarks/eval_speed.py                       # 184,577 x 2,000, 128 and 16 bits
    python benchmarks/eval_speed.py --n-db 1000000 --bits 128 --subset 20
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import faiss
import numpy as np

import hashbench.metrics as M


@dataclass
class Measured:
    seconds: float  # wall time
    peak_mb: float
    value: object
    cpu_seconds: float = float("nan")  # process CPU time, all threads


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_high_water_mark() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure(fn: Callable[[], object]) -> Measured:
    """Wall time and peak RSS increase (MB) of fn()."""
    gc.collect()
    base = _status_kb("VmRSS")
    exact = _reset_high_water_mark()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], _status_kb("VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu = time.process_time()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu  # includes the sampler's small share
    done.set()
    sampler.join()
    top = max(peak[0], _status_kb("VmHWM") if exact else 0, _status_kb("VmRSS"))
    return Measured(seconds, (top - base) / 1024, value, cpu)


def make_data(n_db: int, n_query: int, bits: int, n_labels: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)

    def codes(n: int) -> np.ndarray:
        return (rng.integers(0, 2, (n, bits), dtype=np.int8) * 2 - 1).astype(np.int8)

    def labels(n: int) -> np.ndarray:
        # one label for sure plus each other label with p = 0.7 / 9: ~1.7 labels per item
        out = (rng.random((n, n_labels)) < 0.7 / (n_labels - 1)).astype(np.int8)
        out[np.arange(n), rng.integers(0, n_labels, n)] = 1
        return out

    return {"img_q": codes(n_query), "txt_q": codes(n_query), "img_db": codes(n_db),
            "txt_db": codes(n_db), "q_lab": labels(n_query), "db_lab": labels(n_db)}


def directions(data: dict) -> list[tuple[str, np.ndarray, np.ndarray]]:
    return [("i2t", data["img_q"], data["txt_db"]), ("t2i", data["txt_q"], data["img_db"])]


def part_a(data: dict, k: int) -> list[float]:
    return [M.map_at_k(q, db, data["q_lab"], data["db_lab"], k=k) for _, q, db in directions(data)]


def part_b(data: dict, k: int) -> list[float]:
    results = [M.evaluate(q, db, data["q_lab"], data["db_lab"], k=k)
               for _, q, db in directions(data)]
    return [r["map@all"] for r in results]


def _pack(codes: np.ndarray) -> np.ndarray:
    """Bits packed into whole 64-bit words, as hashbench feeds faiss (faiss's fast paths)."""
    bits = np.packbits(codes > 0, axis=1)
    out = np.zeros((len(codes), -(-bits.shape[1] // 8) * 8), dtype=np.uint8)
    out[:, : bits.shape[1]] = bits
    return out


def _packed(data: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(_pack(q), _pack(db)) for _, q, db in directions(data)]


def part_c_openmp(data: dict, k: int) -> None:
    """faiss as usually called: one search, parallel inside with OpenMP."""
    for q, db in _packed(data):
        index = faiss.IndexBinaryFlat(db.shape[1] * 8)
        index.add(db)
        index.search(q, k)


def part_c_pool(data: dict, k: int) -> None:
    """faiss with one OpenMP thread per Python thread, queries split over the cores (what
    hashbench does; much faster than OpenMP when other processes compete for the cores)."""
    n_threads = len(os.sched_getaffinity(0))
    for q, db in _packed(data):
        index = faiss.IndexBinaryFlat(db.shape[1] * 8)
        index.add(db)

        def search(part: np.ndarray, index=index) -> None:
            faiss.omp_set_num_threads(1)  # per-thread setting in OpenMP
            index.search(part, k)

        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(search, np.array_split(q, 4 * n_threads)))


def reference_map(q_codes, db_codes, q_labels, db_labels, k: int, stable: bool = False) -> float:
    """The toolboxes' loop (e.g. DeepHash-pytorch CalcTopMap): per query a dot product for the
    Hamming distances, an argsort, then the djsrh AP over the top k; mean over all queries."""
    bits = q_codes.shape[1]
    qb, rb = q_codes.astype(np.float32), db_codes.astype(np.float32)
    ql, rl = q_labels.astype(np.float32), db_labels.astype(np.float32)
    total = 0.0
    for i in range(len(qb)):
        gnd = (rl @ ql[i] > 0).astype(np.float32)
        hamm = 0.5 * (bits - rb @ qb[i])
        order = np.argsort(hamm, kind="stable" if stable else None)
        top = gnd[order][:k]
        hits = int(top.sum())
        if hits == 0:
            continue
        ranks = np.flatnonzero(top) + 1.0
        total += float(np.mean(np.arange(1, hits + 1) / ranks))
    return total / len(qb)


def part_d(data: dict, k: int, subset: int) -> None:
    for _, q, db in directions(data):
        reference_map(q[:subset], db, data["q_lab"][:subset], data["db_lab"], k)


PARTS: dict[str, Callable[[dict, argparse.Namespace], object]] = {
    "a": lambda data, args: part_a(data, args.k),
    "b": lambda data, args: part_b(data, args.k),
    "c_openmp": lambda data, args: part_c_openmp(data, args.k),
    "c_pool": lambda data, args: part_c_pool(data, args.k),
    "d": lambda data, args: part_d(data, args.k, min(args.subset, args.n_query)),
}


def worker(args: argparse.Namespace) -> None:
    """Run one part in this (fresh) process and print its measurement as JSON."""
    data = make_data(args.n_db, args.n_query, args.bits_one, args.labels, args.seed + args.bits_one)
    M.map_at_k(data["img_q"][:8], data["txt_db"][:1000], data["q_lab"][:8],
               data["db_lab"][:1000], k=args.k)  # warm-up: lazy imports, faiss start-up
    best = None
    for _ in range(1 if args.part == "d" else args.repeat):
        m = measure(lambda: PARTS[args.part](data, args))
        best = m if best is None or m.seconds < best.seconds else best
    print(json.dumps({"seconds": best.seconds, "peak_mb": best.peak_mb, "value": best.value,
                      "cpu_seconds": best.cpu_seconds}))


def _subprocess(args: argparse.Namespace, bits: int, part: str, for_memory: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", part, "--bits", str(bits)]
    for name in ("n_db", "n_query", "k", "labels", "subset", "seed"):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    cmd += ["--repeat", "1" if for_memory else str(args.repeat)]
    env = dict(os.environ)
    if for_memory:
        # a fixed mmap threshold makes glibc return every large freed block at once, so the
        # resident set follows live memory and its rise is the part's true peak; it also makes
        # every large allocation an mmap, which is why time is measured in another run
        env.update(MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_part(args: argparse.Namespace, bits: int, part: str) -> Measured:
    """Time in one fresh process, peak memory in another."""
    timed = _subprocess(args, bits, part, for_memory=False)
    peak = _subprocess(args, bits, part, for_memory=True)["peak_mb"] if part != "d" else float(
        "nan")
    return Measured(timed["seconds"], peak, timed["value"], timed["cpu_seconds"])


def run_bits(args: argparse.Namespace, bits: int) -> None:
    k = args.k
    print(f"\n=== {bits} bits: {args.n_query} queries x {args.n_db} items, {args.labels} labels, "
          f"both directions, {len(os.sched_getaffinity(0))} CPUs ===", flush=True)
    load0 = os.getloadavg()[0]
    c_omp = run_part(args, bits, "c_openmp")
    c_pool = run_part(args, bits, "c_pool")
    c = min(c_omp, c_pool, key=lambda m: m.seconds)
    a = run_part(args, bits, "a")
    b = run_part(args, bits, "b")

    def line(label: str, m: Measured, extra: str = "") -> str:
        return (f"{label:<40} wall {m.seconds:7.3f} s  cpu {m.cpu_seconds:7.3f} s  "
                f"peak +{m.peak_mb:6.1f} MB{extra}")

    print(line(f"(c) faiss IndexBinaryFlat k={k}, OpenMP", c_omp))
    print(line(f"(c) faiss IndexBinaryFlat k={k}, threads", c_pool))
    print(line(f"(a) map_at_k(k={k})", a, f"  mAP {[round(v, 6) for v in a.value]}"))
    print(line(f"(b) evaluate(k={k})", b, f"  map@all {[round(v, 6) for v in b.value]}"))
    ratio_line = (f"a/c = {a.seconds / c.seconds:.2f} wall, "
                  f"{a.cpu_seconds / c.cpu_seconds:.2f} cpu (c = faster faiss mode)   "
                  f"b = {b.seconds:.2f} s wall, {b.cpu_seconds:.2f} s cpu")
    if args.subset:
        n = min(args.subset, args.n_query)
        d = run_part(args, bits, "d")
        scale = args.n_query / n
        print(f"{f'(d) reference loop, {n} queries':<40} wall {d.seconds:7.3f} s  cpu "
              f"{d.cpu_seconds:7.3f} s  -> {d.seconds * scale:.1f} s wall, "
              f"{d.cpu_seconds * scale:.1f} s cpu extrapolated to {args.n_query}")
        ratio_line += (f"   d/a = {d.seconds * scale / a.seconds:.1f} wall, "
                       f"{d.cpu_seconds * scale / a.cpu_seconds:.1f} cpu")
    print(ratio_line)
    print(f"load average (1 min) before / after: {load0:.2f} / {os.getloadavg()[0]:.2f}",
          flush=True)
    if args.check:
        # the same numbers: reference loop with a stable sort = hashbench's index tie order
        data = make_data(args.n_db, args.n_query, bits, args.labels, args.seed + bits)
        n_check = min(args.check, args.n_query)
        for name, q, db in directions(data):
            ref = reference_map(q[:n_check], db, data["q_lab"][:n_check], data["db_lab"], k,
                                stable=True)
            ours = M.map_at_k(q[:n_check], db, data["q_lab"][:n_check], data["db_lab"], k=k,
                              ties="index")
            print(f"    check {name}, {n_check} queries: reference loop (stable sort) "
                  f"{ref:.12f}, hashbench {ours:.12f}, |diff| {abs(ref - ours):.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-db", type=int, default=184577, help="database size (default NUS-WIDE)")
    parser.add_argument("--n-query", type=int, default=2000, help="queries per direction")
    parser.add_argument("--bits", default="128,16", help="comma-separated code lengths")
    parser.add_argument("--k", type=int, default=50, help="K of mAP@K and of the k-NN search")
    parser.add_argument("--labels", type=int, default=10, help="number of labels")
    parser.add_argument("--subset", type=int, default=100,
                        help="queries for the reference loop (d), extrapolated; 0 skips it")
    parser.add_argument("--repeat", type=int, default=1, help="take the best of N runs of a-c")
    parser.add_argument("--check", type=int, default=20,
                        help="queries on which to compare the values with the reference loop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=sorted(PARTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.part, args.bits_one = args.worker, int(args.bits)
        worker(args)
        return
    for bits in (int(b) for b in args.bits.split(",")):
        run_bits(args, bits)


if __name__ == "__main__":
    main()
