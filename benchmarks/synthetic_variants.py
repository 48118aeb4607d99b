"""Quality study: how methods rank on variants of a synthetic dataset's generator.

    python benchmarks/synthetic_variants.py --set popularity_spread=1.6
    python benchmarks/synthetic_variants.py --dataset synth-mscoco --methods cca-itq,ucmfh \\
        --bits 32 --set popularity_spread=1.6 --set noise_scale=0.8 --retrieval 20000

Not a speed benchmark and not a stored result: it regenerates the dataset in memory with the
given `SyntheticConfig` fields changed (the seed streams are the same, so only the named knobs
differ from the shipped dataset), subsamples the retrieval set for speed, runs each method
with the quick budget through the same harness as `hashbench run`, and prints mAP@50 in both
directions together with the label statistics that the knobs move (the most frequent label's
share of the items, and the share of the database relevant to a query). docs/datasets.md
("How far the synthetic data are from the real ones") reports what it measured.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import fields, replace

import numpy as np
import torch

from hashbench.data.synthetic import SYNTHETIC_CONFIGS, generate
from hashbench.data.types import CrossModalDataset, Split
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.runner.execute import PlannedRun, RunOptions, execute_run
from hashbench.runner.spec import RunSpec


def _knobs(assignments: list[str], config) -> dict[str, float]:
    numeric = {f.name for f in fields(config) if f.type in ("float", "int")}
    knobs = {}
    for text in assignments:
        name, _, value = text.partition("=")
        if name not in numeric or not value:
            raise SystemExit(f"--set {text!r}: expected NAME=NUMBER, NAME one of {sorted(numeric)}")
        knobs[name] = type(getattr(config, name))(float(value))
    return knobs


def _subsample(dataset: CrossModalDataset, size: int, seed: int) -> CrossModalDataset:
    n = len(dataset.retrieval.labels)
    if size >= n:
        return dataset
    keep = np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
    retrieval = Split(
        features={m: v[keep] for m, v in dataset.retrieval.features.items()},
        labels=dataset.retrieval.labels[keep],
    )
    return replace(dataset, retrieval=retrieval)


def _label_stats(dataset: CrossModalDataset) -> tuple[float, float]:
    query = dataset.query.labels.astype(np.float32)
    database = dataset.retrieval.labels.astype(np.float32)
    top = float(np.concatenate([query, database]).mean(0).max())
    relevant = float(((query @ database.T) > 0).mean())
    return top, relevant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synth-mscoco", choices=sorted(SYNTHETIC_CONFIGS))
    parser.add_argument("--methods", default="cca-itq,ucmfh,spikehash")
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="data and training seed")
    parser.add_argument("--retrieval", type=int, default=20000, help="retrieval items kept")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE",
        help="a SyntheticConfig field to change, e.g. popularity_spread=1.6 (repeatable)",
    )
    args = parser.parse_args()

    config = SYNTHETIC_CONFIGS[args.dataset]
    knobs = _knobs(args.set, config)
    registry = Registry.from_plugin_manager(create_plugin_manager())
    started = time.perf_counter()
    dataset = _subsample(generate(replace(config, **knobs), seed=args.seed), args.retrieval, 1)
    top, relevant = _label_stats(dataset)
    print(
        f"{args.dataset} {knobs or '(shipped)'}: generated in {time.perf_counter() - started:.0f}"
        f" s; most frequent label on {top:.0%} of items; {relevant:.1%} of the database relevant"
        " to a query"
    )
    options = RunOptions(device=torch.device("cpu"), encode_batch_size=4096)
    for name in args.methods.split(","):
        method_cls = registry.methods[name]
        spec = RunSpec(method=name, dataset=dataset.name, bits=args.bits, seed=args.seed,
                       budget="quick", overrides={})
        plan = PlannedRun.resolve(spec, method_cls, dataset)
        started = time.perf_counter()
        record, _ = execute_run(plan, dataset, options)
        i2t, t2i = record.metrics["i2t"]["map@50"], record.metrics["t2i"]["map@50"]
        print(f"  {name:<12} {args.bits} bits  mAP@50 I2T {i2t:.3f}  T2I {t2i:.3f}"
              f"  ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
