"""What private inputs cost: copying every batch a method sees, at NUS-WIDE scale.

    python benchmarks/input_isolation.py

Each run gets its own copy of the features (hashbench/runner/tensors.py) so a plugin that
changes its inputs in place cannot change later runs. This times, on synth-nuswide's query and
retrieval splits (186,577 pairs x 2 x 512 float32, 4,096-pair batches as `hashbench run` uses):

- shared: tensors that share memory with the dataset (what the harness did before);
- private: the copies the harness makes now;
- lsh encode: the cheapest method's whole encode pass over the same batches, for scale;
- leak check: the query-copy check `hashbench run` applies before any run.

It prints each time and the ratios against the lsh encode pass measured in the same run.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from hashbench.data.leakage import query_copies
from hashbench.data.types import DatasetOptions
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.runner.tensors import private_tensors

BATCH = 4096


def _batches(dataset):
    for split in (dataset.query, dataset.retrieval):
        for start in range(0, len(split), BATCH):
            yield {m: f[start : start + BATCH] for m, f in split.features.items()}


def _best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    registry = Registry.from_plugin_manager(create_plugin_manager())
    dataset = registry.dataset("synth-nuswide").load(DatasetOptions())
    cpu = torch.device("cpu")
    lsh_cls = registry.method("lsh")
    from hashbench.methods import MethodContext, TrainData

    lsh = lsh_cls(
        MethodContext(bits=64, params=lsh_cls.resolve_params("nuswide", "quick"), device=cpu,
                      seed=0, feature_dims=dataset.feature_dims)
    )  # fmt: skip
    train = private_tensors(dataset.train.features, cpu)
    lsh.fit(TrainData(features=train, labels=None, protocol="nuswide", num_labels=10))

    def shared():
        for batch in _batches(dataset):
            {m: torch.from_numpy(np.ascontiguousarray(a)) for m, a in batch.items()}

    def private():
        for batch in _batches(dataset):
            private_tensors(batch, cpu)

    def encode():
        with torch.no_grad():
            for batch in _batches(dataset):
                tensors = private_tensors(batch, cpu)
                for modality in tensors:
                    lsh.encode(modality, tensors)

    pairs = len(dataset.query) + len(dataset.retrieval)
    print(f"synth-nuswide: {pairs:,} query + retrieval pairs; torch threads "
          f"{torch.get_num_threads()}; best of 3")  # fmt: skip
    t_encode = _best_of(3, encode)
    t_shared = _best_of(3, shared)
    t_private = _best_of(3, private)
    t_leak = _best_of(3, lambda: query_copies(dataset))
    print(f"lsh encode pass (with private copies): {t_encode:.3f} s  (1.00)")
    print(f"shared tensors:                        {t_shared:.3f} s  ({t_shared / t_encode:.2f})")
    print(f"private copies:                        {t_private:.3f} s  ({t_private / t_encode:.2f})")
    print(f"copy cost (private - shared):          {t_private - t_shared:.3f} s  "
          f"({(t_private - t_shared) / t_encode:.2f})")  # fmt: skip
    print(f"query-copy leak check:                 {t_leak:.3f} s  ({t_leak / t_encode:.2f})")


if __name__ == "__main__":
    main()
