"""Curve results (precision/recall against K and against Hamming radius) and the K grid."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PKCurve:
    """Mean Precision@K and Recall@K at each sampled K."""

    k: list[int]
    precision: list[float]
    recall: list[float]

    def to_dict(self) -> dict[str, list]:
        return {"k": list(self.k), "precision": list(self.precision), "recall": list(self.recall)}


@dataclass(frozen=True)
class PRCurve:
    """Precision and recall of the Hamming ball {d <= r}, for r = 0..bits.

    `precision` / `recall`: means over queries (an empty ball has precision 0).
    `pooled_precision` / `pooled_recall`: from counts pooled over all queries (Spectral
    Hashing's and ITQ's `recall_precision.m`): relevant pairs within radius r / all pairs within
    r (None where no pair is that close), and / all relevant pairs. The figures draw these.
    """

    radius: list[int]
    precision: list[float]
    recall: list[float]
    pooled_precision: list[float | None] = field(default_factory=list)
    pooled_recall: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, list]:
        return {
            "radius": list(self.radius),
            "precision": list(self.precision),
            "recall": list(self.recall),
            "pooled_precision": list(self.pooled_precision),
            "pooled_recall": list(self.pooled_recall),
        }


def k_grid(n: int) -> list[int]:
    """K values for P@K curves: 1, 5, 10, 20, 50, 100, 200, 500, ... below n, then n itself."""
    ks = [1]
    scale = 1
    while True:
        for step in (5, 10, 20):
            k = step * scale
            if k >= n:
                return ks + [n] if ks[-1] != n else ks
            ks.append(k)
        scale *= 10
