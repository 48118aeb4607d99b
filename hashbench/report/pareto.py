"""The Pareto front of an accuracy-cost plane: the points no other point beats on both axes.

A point (cost, accuracy) is on the front when no other point has a cost at most as high and an
accuracy at least as high, with one of the two strictly better. Lower cost and higher accuracy
are better (energy, parameters and latency against mAP).
"""

from __future__ import annotations

from collections.abc import Sequence


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points of (cost, accuracy) pairs, in order of cost.

    Equal points are all kept (none dominates another). O(n log n): sweep by cost, keep a point
    when its accuracy beats every cheaper point's.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best = float("-inf")
    best_point: tuple[float, float] | None = None
    for i in order:
        cost, accuracy = points[i]
        if accuracy > best:
            front.append(i)
            best, best_point = accuracy, (cost, accuracy)
        elif best_point is not None and (cost, accuracy) == best_point:
            front.append(i)  # a duplicate of a front point is not dominated by it
    return front


def front_steps(points: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """x and y of the staircase through the front (for drawing with `drawstyle="steps-post"`).

    From each front point the line runs right at its accuracy until the next front point's
    cost, then up: the region below and to the right is dominated.
    """
    front = pareto_front(points)
    xs = [points[i][0] for i in front]
    ys = [points[i][1] for i in front]
    return xs, ys
