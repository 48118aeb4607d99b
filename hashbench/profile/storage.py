"""Storage of hash codes: a packed code of `bits` bits takes ceil(bits / 8) bytes."""

from __future__ import annotations

import math


def code_bytes_per_item(bits: int) -> int:
    """Bytes one bit-packed code of `bits` bits occupies (16 for 128 bits)."""
    if isinstance(bits, bool) or not isinstance(bits, int) or bits <= 0:
        raise ValueError(f"bits must be a positive integer, got {bits!r}")
    return math.ceil(bits / 8)
