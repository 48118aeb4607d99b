"""Method plugins whose job process dies, for tests/test_slurm_executor.py.

`toy-killed-once` kills its own process (SIGKILL, as an out-of-memory killer or a failing node
would) the first time a run of it trains, and trains normally on the next attempt;
`toy-always-killed` kills it every time. Each attempt is counted in a file under the folder
named by $HASHBENCH_TEST_SLURM_MARKS (one line per attempt), which is also how the first
attempt is told from the next ones. `installed(folder)` makes this module an installed plugin,
so the scheduler and submitit's job processes (which get its environment: put `folder` on
PYTHONPATH too) load it like any third-party plugin. Never run these methods in the test
process.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path

import hashbench
from tests.adversarial_toys import _Projection

MARKS = "HASHBENCH_TEST_SLURM_MARKS"


def attempts_file(folder: Path, method: str, bits: int, seed: int) -> Path:
    return Path(folder) / f"{method}-{bits}-{seed}.attempts"


class KilledOnce(_Projection):
    """Killed on its first attempt; trains normally on the next."""

    info = replace(_Projection.info, name="toy-killed-once")
    always = False

    def fit(self, train: hashbench.TrainData) -> None:
        path = attempts_file(Path(os.environ[MARKS]), self.info.name, self.bits, self.seed)
        before = path.read_text().count("\n") if path.exists() else 0
        with path.open("a") as counter:
            counter.write(f"{os.getpid()}\n")
        if self.always or before == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        super().fit(train)


class AlwaysKilled(KilledOnce):
    """Killed on every attempt."""

    info = replace(_Projection.info, name="toy-always-killed")
    always = True


@hashbench.hookimpl
def hashbench_register_methods() -> list:
    return [KilledOnce, AlwaysKilled]


def installed(folder: Path) -> Path:
    """A .dist-info in `folder` declaring this module as the plugin `slurm-toys`."""
    info = folder / "hashbench_slurm_toys-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hashbench-slurm-toys\nVersion: 0.0.0\n"
    )
    (info / "entry_points.txt").write_text("[hashbench]\nslurm-toys = tests.slurm_toys\n")
    return folder
