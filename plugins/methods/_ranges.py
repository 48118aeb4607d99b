"""Upper bounds of the built-in methods' size and length parameters (`param_ranges`).

A value past these would run for days or exhaust memory (`--param m.epochs=1e23`), so it is
refused before any run starts; every default, dataset and budget value lies well inside.
"""

from __future__ import annotations

import hashbench

EPOCHS = hashbench.Int(1, 10_000)  # the longest paper schedule is 500
ITERATIONS = hashbench.Int(0, 1_000_000)  # optimiser steps at least (min_iterations)
SOLVER_ITERATIONS = hashbench.Int(0, 10_000)  # ITQ rotations, k-means rounds
ROUNDS = hashbench.Int(0, 10_000)  # epochs of a schedule phase
BATCH = hashbench.Int(1, 65_536)
WIDTH = hashbench.Int(1, 65_536)  # hidden sizes: 65,536 x 65,536 float32 weights are 16 GiB
HEADS = hashbench.Int(1, 64)  # attention heads, layers
TIME_STEPS = hashbench.Int(1, 1_000)  # spiking time steps (the papers use 4 to 16)
FRACTION = hashbench.Float(0.0, 1.0)  # dropout probabilities
