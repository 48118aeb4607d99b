"""Curve results (precision/recall against K and against Hamming radius) and the K grid."""

from __future__ import annotations

from dataclasses import dataclass


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
    """Mean precision and recall of the Hamming ball {d <= r}, for r = 0..bits."""

    radius: list[int]
    precision: list[float]
    recall: list[float]

    def to_dict(self) -> dict[str, list]:
        return {
            "radius": list(self.radius),
            "precision": list(self.precision),
            "recall": list(self.recall),
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
