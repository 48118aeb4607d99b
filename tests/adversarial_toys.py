"""Method plugins that break the contract on purpose, for tests/test_adversarial_plugins.py and
tests/test_run_timeout.py.

`installed(tmp_path)` makes them an installed plugin (an entry point in the `hashbench` group,
through a .dist-info folder on sys.path), so that the CLI and the process executor's worker
processes (spawned: they get this process's sys.path) load them like any third-party plugin.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import hashbench
from hashbench.data.types import CrossModalDataset

PLUGIN = "adversarial-toys"


class _Projection(hashbench.Method):
    """Sign of a seeded random projection (LSH-like): fast, deterministic."""

    info = hashbench.MethodInfo(
        name="toy-projection", display_name="Toy", reference="test", summary="adversarial toy"
    )

    def fit(self, train: hashbench.TrainData) -> None:
        dims = {m: x.shape[1] for m, x in train.features.items()}
        gen = torch.Generator().manual_seed(self.seed)
        self.w = {m: torch.randn(d, self.bits, generator=gen) for m, d in dims.items()}

    def encode(self, modality, inputs):
        return torch.where(inputs[modality] @ self.w[modality] >= 0, 1, -1)


class PoisonsDataset(_Projection):
    """Finds the loaded dataset through the garbage collector and marks every query and
    retrieval item relevant to every other (all labels 1). Only datasets the harness holds on
    the call stack (the one of this run): other tests' datasets in this process stay intact."""

    info = replace(_Projection.info, name="toy-poison")

    def fit(self, train: hashbench.TrainData) -> None:
        super().fit(train)
        held = set()
        frame = sys._getframe()
        while frame is not None:
            held |= {id(v) for v in frame.f_locals.values() if type(v) is CrossModalDataset}
            frame = frame.f_back
        for obj in gc.get_objects():
            if id(obj) in held:
                obj.query.labels[:] = 1
                obj.retrieval.labels[:] = 1


class NonsenseEpochs(_Projection):
    """Reports epoch -1 of 3 (and swallows the harness's complaint)."""

    info = replace(_Projection.info, name="toy-nonsense-epochs")
    search_space = {"scale": hashbench.Float(0.5, 2.0)}
    default_params = {"scale": 1.0}

    def fit(self, train: hashbench.TrainData) -> None:
        super().fit(train)
        try:
            self.epoch_end(-1, 3, loss=0.5)
        except Exception:
            pass


class SleepsForever(_Projection):
    """Never finishes training (a Python loop: the in-process timer can stop it)."""

    info = replace(_Projection.info, name="toy-sleeps")
    search_space = {"scale": hashbench.Float(0.5, 2.0)}
    default_params = {"scale": 1.0}

    def fit(self, train: hashbench.TrainData) -> None:
        while True:
            time.sleep(0.05)


class BlocksTheAlarm(_Projection):
    """Cannot be interrupted: ignores SIGALRM (as a C call that never returns to Python would
    never let the harness's timer act)."""

    info = replace(_Projection.info, name="toy-blocks-alarm")

    def fit(self, train: hashbench.TrainData) -> None:
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            time.sleep(0.05)


class ExitsTheProcess(_Projection):
    """Ends its process in the middle of training (never run it in the test process)."""

    info = replace(_Projection.info, name="toy-exits")

    def fit(self, train: hashbench.TrainData) -> None:
        os._exit(3)


class ConstantCodes(_Projection):
    """Every item gets the same code, all +1."""

    info = replace(_Projection.info, name="toy-constant")

    def encode(self, modality, inputs):
        return np.ones((len(inputs[modality]), self.bits), np.int8)


METHODS = [
    _Projection, PoisonsDataset, NonsenseEpochs, SleepsForever, BlocksTheAlarm, ExitsTheProcess,
    ConstantCodes,
]  # fmt: skip


@hashbench.hookimpl
def hashbench_register_methods() -> list:
    return METHODS


def installed(folder: Path) -> Path:
    """A .dist-info in `folder` declaring this module as the plugin `adversarial-toys`; put
    `folder` on sys.path (e.g. monkeypatch.syspath_prepend) to install it."""
    info = folder / "hashbench_adversarial_toys-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hashbench-adversarial-toys\nVersion: 0.0.0\n"
    )
    (info / "entry_points.txt").write_text(f"[hashbench]\n{PLUGIN} = tests.adversarial_toys\n")
    return folder
