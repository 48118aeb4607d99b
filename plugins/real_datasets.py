"""The real datasets: mirflickr, nuswide, mscoco, read from files under the data root."""

from __future__ import annotations

from functools import partial

import hashbench
from hashbench import DatasetSpec
from hashbench.data.real import REAL_DATASETS, load_real


@hashbench.hookimpl
def hashbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name=name,
            summary=(
                f"{info.display} from files under --data-root / $HASHBENCH_DATA (UCMFH .pkl, "
                f"CIRH .mat or generic .npz/.h5); {info.num_labels} labels"
            ),
            protocol=name,
            load=partial(load_real, name),
        )
        for name, info in REAL_DATASETS.items()
    ]
