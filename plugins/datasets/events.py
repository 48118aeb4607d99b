"""The embedded unimodal event dataset: synth-events (see hashbench.data.events)."""

from __future__ import annotations

from functools import partial

import hashbench
from hashbench import DatasetSpec
from hashbench.data.events import CLASS_NAMES, EVENTS_CONFIGS, RETRIEVAL_DEPTH, load_cached


@hashbench.hookimpl
def hashbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name=name,
            summary=(
                f"generated event streams ({config.frames} frames x 2 polarities x "
                f"{config.height}x{config.width}), {len(CLASS_NAMES)} classes in 4 temporally "
                f"mirrored pairs; unimodal, mAP@{RETRIEVAL_DEPTH}"
            ),
            protocol=config.protocol,
            load=partial(load_cached, config),
            task="unimodal",
            synthetic=True,
            display_name="Events (synthetic)",
        )
        for name, config in EVENTS_CONFIGS.items()
    ]
