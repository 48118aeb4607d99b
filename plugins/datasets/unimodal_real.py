"""The real unimodal datasets: cifar10 (python-format files) and, through spikingjelly,
dvs128-gesture and cifar10-dvs, read from files under --data-root / $HASHBENCH_DATA."""

from __future__ import annotations

from functools import partial

import hashbench
from hashbench import DatasetSpec

from .cifar import RETRIEVAL_DEPTH as CIFAR_DEPTH
from .cifar import load_cifar10
from .dvs import DVS_DATASETS, load_dvs


@hashbench.hookimpl
def hashbench_register_datasets() -> list[DatasetSpec]:
    specs = [
        DatasetSpec(
            name="cifar10",
            summary=(
                "CIFAR-10 from cifar-10-batches-py/ under --data-root / $HASHBENCH_DATA (read "
                f"without trusting pickles); 3x32x32 images, 10 classes; unimodal, "
                f"mAP@{CIFAR_DEPTH}"
            ),
            protocol="cifar10",
            load=load_cifar10,
            task="unimodal",
            display_name="CIFAR-10",
        )
    ]
    for name, info in DVS_DATASETS.items():
        specs.append(
            DatasetSpec(
                name=name,
                summary=(
                    f"{info.display} through spikingjelly from files under --data-root "
                    f"(never downloaded); {info.frames} frames x 2 x {info.size}x{info.size}, "
                    f"{len(info.class_names)} classes; unimodal, mAP@{info.retrieval_depth}"
                ),
                protocol=name,
                load=partial(load_dvs, name),
                task="unimodal",
                display_name=info.display,
            )
        )
    return specs
