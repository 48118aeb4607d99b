"""Names as a paper writes them, for tables, figures and reports.

- methods: each plugin's `MethodInfo.display_name` ("SpikeHash", "UCMFH", "CCA-ITQ"); a row
  label keeps what sets a variant apart ("CIRH-like (tuned)", "CIRH-like [epochs=10]");
- datasets: each plugin's `DatasetSpec.display_name` ("MIRFlickr-25K", "NUS-WIDE", "MS COCO";
  synthetic twins "MIRFlickr-25K (synthetic)"), with a reduced scale named
  ("MIRFlickr-25K (synthetic, scale 0.05)");
- tasks ("Image → Text") and metrics ("mAP@50", "NDCG@50", "P@1000").

A name no installed plugin declares (a run of an uninstalled method) is shown as stored.
`Names.cli()` keeps the command-line names everywhere (`hashbench table --names cli`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TASK_DISPLAY = {"i2t": "Image → Text", "t2i": "Text → Image", "unimodal": "Unimodal"}
TASK_CLI = {"i2t": "Image -> Text", "t2i": "Text -> Image", "unimodal": "Unimodal"}

# A row label: a method name, then what sets the row apart (" (tuned)", " [epochs=10]", "†").
_LABEL = re.compile(r"^([a-z][a-z0-9_-]*)(.*)$", re.DOTALL)
_METRIC = re.compile(r"^(?P<base>[a-z_]+)@(?P<arg>[^:]+)(?P<mods>(?::[a-z_]+)*)$")
_METRIC_BASES = {"map": "mAP", "p": "P", "r": "R", "acg": "ACG", "ndcg": "NDCG"}
_METRIC_WORDS = {
    "tie_aware_ap": "tie-aware mAP",
    "pr": "precision-recall",
    "pk": "P@K",
}


def metric_label(metric: str) -> str:
    """A stored metric key as a paper writes it: "map@50" -> "mAP@50", "ndcg@50" -> "NDCG@50",
    "precision@radius2" -> "precision (Hamming radius ≤ 2)", "map@50:dcmh" -> "mAP@50 (dcmh)"."""
    if metric in _METRIC_WORDS:
        return _METRIC_WORDS[metric]
    radius = re.fullmatch(r"precision@radius(\d+)", metric)
    if radius:
        return f"precision (Hamming radius ≤ {radius.group(1)})"
    found = _METRIC.match(metric)
    if not found or found.group("base") not in _METRIC_BASES:
        return metric
    text = f"{_METRIC_BASES[found.group('base')]}@{found.group('arg')}"
    mods = [m for m in found.group("mods").split(":") if m]
    return f"{text} ({', '.join(m.replace('_', ' ') for m in mods)})" if mods else text


def split_label(label: str) -> tuple[str, str]:
    """(method name, the rest) of a row label: "cirh-like (tuned)" -> ("cirh-like", " (tuned)")."""
    found = _LABEL.match(label)
    return (found.group(1), found.group(2)) if found else (label, "")


@dataclass(frozen=True)
class Names:
    """Display names of methods and datasets ({command-line name: display name})."""

    methods: Mapping[str, str] = field(default_factory=dict)
    datasets: Mapping[str, str] = field(default_factory=dict)
    display: bool = True  # False: command-line names everywhere

    @classmethod
    def cli(cls) -> Names:
        """Command-line names, as typed and stored."""
        return cls(display=False)

    @classmethod
    def from_registry(cls, registry: Any) -> Names:
        """The display names the installed plugins declare (a `hashbench.registry.Registry`)."""
        return cls(
            methods={name: c.info.display_name for name, c in registry.methods.items()},
            datasets={name: spec.display_name for name, spec in registry.datasets.items()},
        )

    def method(self, label: str) -> str:
        """A method name or a row label with the method's display name."""
        if not self.display:
            return label
        name, rest = split_label(label)
        shown = self.methods.get(name, name)
        if shown.endswith(")") and rest.startswith(" (") and ")" in rest:
            # "DDSS-like (inferred)" + " (tuned)" -> "DDSS-like (inferred, tuned)"
            return f"{shown[:-1]}, {rest[2:]}"
        return shown + rest

    def dataset(self, label: str) -> str:
        """A stored dataset name ("synth-mirflickr", "synth-mirflickr@0.05") for display."""
        if not self.display:
            return label
        name, at, scale = label.partition("@")
        shown = self.datasets.get(name, name)
        if not at:
            return shown
        if shown.endswith(")"):  # "MIRFlickr-25K (synthetic)" -> "(synthetic, scale 0.05)"
            return f"{shown[:-1]}, scale {scale})"
        return f"{shown} (scale {scale})"

    def task(self, task: str) -> str:
        """"i2t" -> "Image → Text" (command-line names: "Image -> Text")."""
        table = TASK_DISPLAY if self.display else TASK_CLI
        return table.get(task, task)

    def metric(self, metric: str) -> str:
        return metric_label(metric) if self.display else metric
