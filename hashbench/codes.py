"""Binary codes: validation of what a plugin returns, and compact storage.

Codes travel through hashbench as int8 arrays of -1/+1, shape (items, bits). On disk they are
bit-packed (1 bit per code bit, +1 -> 1), eight times smaller than int8.
"""

from __future__ import annotations

import numpy as np
import torch

from hashbench.errors import PluginError

MAX_BITS = 1024


def validate_codes(codes: object, n: int, bits: int, *, plugin: str, where: str) -> np.ndarray:
    """Check a code matrix from `plugin` and return it as int8 -1/+1.

    Raises PluginError naming the plugin when the shape is not (n, bits), a value is not finite,
    or a value is not exactly -1 or +1 (a 0, typically from sign(0), included).
    """
    if isinstance(codes, torch.Tensor):
        codes = codes.detach().to("cpu").numpy()
    if not isinstance(codes, np.ndarray):
        raise PluginError(
            f"method '{plugin}' returned {type(codes).__name__} for {where}; "
            "expected a torch.Tensor or numpy array of -1/+1"
        )
    if codes.shape != (n, bits):
        raise PluginError(
            f"method '{plugin}' returned codes of shape {codes.shape} for {where}; "
            f"expected ({n}, {bits})"
        )
    if codes.dtype == np.bool_ or not np.issubdtype(codes.dtype, np.number):
        raise PluginError(
            f"method '{plugin}' returned {codes.dtype} codes for {where}; expected -1/+1"
        )
    if np.issubdtype(codes.dtype, np.floating) and not np.isfinite(codes).all():
        raise PluginError(f"method '{plugin}' returned NaN or inf codes for {where}")
    plus, minus = codes == 1, codes == -1
    if not (plus | minus).all():
        zeros = int((codes == 0).sum())
        hint = f" ({zeros} zeros: sign(0) is 0, map it to +1 or -1 explicitly)" if zeros else ""
        bad = codes[~(plus | minus)][:3].tolist()
        raise PluginError(
            f"method '{plugin}' returned codes outside {{-1, +1}} for {where}, e.g. {bad}{hint}"
        )
    return np.where(plus, 1, -1).astype(np.int8)


def pack_codes(codes: np.ndarray) -> np.ndarray:
    """-1/+1 (n, bits) -> uint8 (n, ceil(bits / 8)), +1 stored as a set bit."""
    return np.packbits(codes > 0, axis=1)


def unpack_codes(packed: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of `pack_codes`."""
    unpacked = np.unpackbits(packed, axis=1, count=bits)
    return (unpacked.astype(np.int8) * 2 - 1).astype(np.int8)
