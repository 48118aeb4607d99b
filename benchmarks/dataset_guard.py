"""What the dataset check costs: a content digest of a loaded dataset against a whole run.

    python benchmarks/dataset_guard.py [--scale 1.0] [--method lsh] [--bits 64]

The harness takes a digest of the dataset a run gets (features and labels of every split;
hashbench/runner/dataset_guard.py) after every run, and before one whose dataset object was
not checked right after the previous run; a worker of the process executor takes one before
and one after each run. This times, on synth-nuswide (at --scale 1: 186,577 query + retrieval
pairs and the training pairs, 2 x 512 float32 features each):

- the digest (best of 3), and blake2b over the same bytes for comparison;
- one whole run of the cheapest method (`lsh`, quick budget, as `hashbench run` executes it:
  train, encode, profile, evaluate);

and prints the ratio of one and of two digests to that run.
"""

from __future__ import annotations

import argparse
import hashlib
import time

import torch

from hashbench.data.types import DatasetOptions
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.runner.dataset_guard import _parts, content_digest
from hashbench.runner.execute import PlannedRun, RunOptions, execute_run
from hashbench.runner.spec import RunSpec


def _best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _blake2b(dataset) -> None:
    digest = hashlib.blake2b(digest_size=16)
    for _, array in _parts(dataset):
        digest.update(memoryview(array).cast("B"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--method", default="lsh")
    parser.add_argument("--bits", type=int, default=64)
    args = parser.parse_args()

    registry = Registry.from_plugin_manager(create_plugin_manager())
    dataset = registry.dataset("synth-nuswide").load(DatasetOptions(scale=args.scale))
    nbytes = sum(array.nbytes for _, array in _parts(dataset))
    pairs = len(dataset.query) + len(dataset.retrieval)
    print(
        f"synth-nuswide @ {args.scale:g}: {pairs:,} query + retrieval pairs, "
        f"{len(dataset.train):,} training pairs, {nbytes / 1e6:,.0f} MB of features and labels; "
        f"torch threads {torch.get_num_threads()}"
    )
    t_digest = _best_of(3, lambda: content_digest(dataset))
    t_blake = _best_of(3, lambda: _blake2b(dataset))

    spec = RunSpec(args.method, "synth-nuswide", args.bits, seed=0, budget="quick")
    plan = PlannedRun.resolve(spec, registry.method(args.method), dataset)
    t0 = time.perf_counter()
    execute_run(plan, dataset, RunOptions())
    t_run = time.perf_counter() - t0

    print(f"content digest (best of 3):   {t_digest:.3f} s  ({nbytes / t_digest / 1e9:.1f} GB/s)")
    print(f"blake2b, same bytes:          {t_blake:.3f} s  ({nbytes / t_blake / 1e9:.1f} GB/s)")
    print(f"one {args.method} run, {args.bits} bits:       {t_run:.3f} s")
    print(f"ratio, one digest per run (local sweep):   {t_digest / t_run:.4f}")
    print(f"ratio, two digests per run (worker):       {2 * t_digest / t_run:.4f}")


if __name__ == "__main__":
    main()
