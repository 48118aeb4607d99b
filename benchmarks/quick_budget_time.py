"""Time of one quick-budget run per method and code length, against the one-minute target.

    python benchmarks/quick_budget_time.py
    python benchmarks/quick_budget_time.py --methods cirh-like --bits 128 --dataset synth-mirflickr

The quick budget of every deep cross-modal method is sized to about a minute per dataset and
code length on the full-size synth-mirflickr on a 2-core CPU, training, encoding and evaluation
included (docs/methods.md, "Budgets"). This script runs each method through the same harness as
`hashbench run` (quick budget, no efficiency profile, nothing stored) and prints its train,
encode, evaluate and total seconds.

Machines differ, and a shared one drifts from minute to minute, so it also times a fixed
reference workload (float32 matrix products, the operation that dominates these models) at the
start and at the end, and prints each run's total as a multiple of it. Compare those ratios
across machines: docs/methods.md gives the ratios measured on the 2-core machine the target was
set on.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from hashbench.data.types import DatasetOptions
from hashbench.errors import HashbenchError
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.runner.execute import PlannedRun, RunOptions, execute_run
from hashbench.runner.spec import RunSpec

#: the reference workload: this many products of two 1024 x 1024 float32 matrices
_REFERENCE_PRODUCTS = 200


def reference_seconds(repeats: int = 3) -> float:
    """Median time of the reference workload (float32 matmuls at torch's thread count)."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(1024, 1024, generator=generator)
    b = torch.randn(1024, 1024, generator=generator)
    a @ b  # warm-up: thread pool and kernel selection
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(_REFERENCE_PRODUCTS):
            a @ b
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="ucmfh,cirh-like,ddss-like,spikehash,spikinghash-xm")
    parser.add_argument("--bits", default="32,128")
    parser.add_argument("--dataset", default="synth-mirflickr")
    parser.add_argument("--target", type=float, default=60.0, help="seconds per run")
    args = parser.parse_args()

    registry = Registry.from_plugin_manager(create_plugin_manager())
    method_names = args.methods.split(",")
    try:
        for name in method_names:
            registry.method(name)  # unknown names fail before anything runs
        dataset = registry.dataset(args.dataset).load(DatasetOptions())
    except HashbenchError as error:
        raise SystemExit(f"error: {error}") from None
    options = RunOptions(device=torch.device("cpu"), profile=False)

    before = reference_seconds()
    print(
        f"reference workload ({_REFERENCE_PRODUCTS} float32 1024^3 matmuls, "
        f"{torch.get_num_threads()} threads): {before:.2f} s"
    )
    print(f"{'method':<18}{'bits':>5}{'train':>8}{'encode':>8}{'eval':>7}{'total':>8}"
          f"{'/target':>9}{'/ref':>7}")
    rows = []
    for name in method_names:
        for bits in (int(b) for b in args.bits.split(",")):
            spec = RunSpec(method=name, dataset=dataset.name, bits=bits, seed=0,
                           budget="quick", overrides={})
            plan = PlannedRun.resolve(spec, registry.method(name), dataset)
            record, _ = execute_run(plan, dataset, options)
            t = record.timings
            evaluate = t["evaluate_i2t_s"] + t["evaluate_t2i_s"]
            rows.append((name, bits, t["total_s"]))
            print(f"{name:<18}{bits:>5}{t['train_s']:>8.1f}{t['encode_s']:>8.1f}{evaluate:>7.1f}"
                  f"{t['total_s']:>8.1f}{t['total_s'] / args.target:>9.2f}"
                  f"{t['total_s'] / before:>7.1f}", flush=True)
    after = reference_seconds()
    drift = after / before - 1
    print(f"reference workload again: {after:.2f} s ({drift:+.0%}: how much the machine's speed "
          "moved during the runs)")
    over = [f"{n} {b} bits ({s:.0f} s)" for n, b, s in rows if s > 1.1 * args.target]
    print("over the target by more than 10%: " + (", ".join(over) if over else "none"))


if __name__ == "__main__":
    main()
