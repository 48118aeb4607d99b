"""The embedded synthetic datasets: synth-mirflickr, synth-nuswide, synth-mscoco."""

from __future__ import annotations

from functools import partial

import hashbench
from hashbench import DatasetSpec
from hashbench.data.synthetic import SYNTHETIC_CONFIGS, load_cached

# The benchmark each twin mirrors, as papers name it (tables add "(synthetic)").
PAPER_NAMES = {"mirflickr": "MIRFlickr-25K", "nuswide": "NUS-WIDE", "mscoco": "MS COCO"}


@hashbench.hookimpl
def hashbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name=name,
            summary=(
                f"synthetic twin of {config.protocol}: {config.total_items:,} pairs, "
                f"{config.num_labels} labels, 512-d image/text features"
            ),
            protocol=config.protocol,
            load=partial(load_cached, config),
            synthetic=True,
            display_name=f"{PAPER_NAMES.get(config.protocol, config.protocol)} (synthetic)",
        )
        for name, config in SYNTHETIC_CONFIGS.items()
    ]
