"""Validation and packing of metric inputs: binary codes, multi-hot labels, K and option names.

Every check raises `InputError` naming the argument, what is wrong and what would be valid.
Codes end up bit-packed (uint8 rows padded to whole 64-bit words, the layout faiss expects);
labels end up as rows of uint64 words, so relevance is a bitwise AND.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hashbench.errors import InputError

# "expected": the mean over all orders of tied items (the default; independent of the order a
# dataset stores its items). The others are fixed orders: ascending database index, and the two
# that bracket the tie effect (relevant items first / last inside each group of equal distance).
TIE_ORDERS = ("expected", "index", "relevant_first", "relevant_last")
DEFAULT_TIES = "expected"
CONVENTIONS = ("djsrh", "dcmh", "recall")
ZERO_RELEVANT = ("zero", "skip")
NDCG_VARIANTS = ("dsrh", "spikinghash")


@dataclass(frozen=True)
class Problem:
    """A validated retrieval problem: packed codes and labels of queries and database."""

    q_codes: np.ndarray  # (n_query, n_bytes) uint8, n_bytes a multiple of 8
    db_codes: np.ndarray  # (n_db, n_bytes) uint8
    bits: int
    q_labels: np.ndarray  # (n_query, n_words) uint64
    db_labels: np.ndarray  # (n_db, n_words) uint64
    n_labels: int
    exclude_self: bool

    @property
    def n_query(self) -> int:
        return self.q_codes.shape[0]

    @property
    def n_db(self) -> int:
        return self.db_codes.shape[0]

    @property
    def n_ranked(self) -> int:
        """Database items ranked for each query (the query itself left out when excluded)."""
        return self.n_db - int(self.exclude_self)


def _as_matrix(value: object, name: str, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise InputError(
            f"{name} must be a 2-D array of {what}; could not convert it ({exc})"
        ) from exc
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be a 2-D array of {what} with shape (n, columns); "
            f"got {arr.ndim}-D shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} must have at least one row and one column; got shape {arr.shape}")
    if arr.dtype != np.bool_ and not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise InputError(f"{name} must hold numbers or booleans; got dtype {arr.dtype}")
    return arr


# Validate and pack this many rows at a time, so temporaries stay a few MB at any database size.
_BLOCK_ROWS = 1 << 15


def _first_bad(arr: np.ndarray, ok: np.ndarray, row0: int) -> str:
    r, c = np.argwhere(~ok)[0]
    return f"{arr[r, c].item()!r} at row {row0 + r}, column {c}"


def _check_block(blk: np.ndarray, name: str, signed: bool, row0: int) -> tuple[bool, bool]:
    """Check a block holds only {0,1} (or {-1,0,1} when signed); return (has -1, has 0)."""
    if np.issubdtype(blk.dtype, np.integer):
        lo, hi = blk.min(), blk.max()  # fast SIMD passes; look for a culprit only on failure
        if lo >= (-1 if signed else 0) and hi <= 1:
            return bool(lo == -1), bool(np.count_nonzero(blk) < blk.size)
    else:
        neg = blk == -1
        zero = blk == 0
        if np.all(zero | (blk == 1) | (neg if signed else False)):
            return bool(neg.any()), bool(zero.any())
    allowed = (blk == 0) | (blk == 1) | ((blk == -1) if signed else False)
    valid = "{-1,+1} or {0,1}" if signed else "{0,1}"
    raise InputError(f"{name} must contain only {valid}; found {_first_bad(blk, allowed, row0)}")


def _pack_rows(arr: np.ndarray, name: str, signed: bool, out: np.ndarray, bitorder: str) -> None:
    """Validate arr block by block and write its bits, packed along rows, into out."""
    seen_neg = seen_zero = False
    for row0 in range(0, arr.shape[0], _BLOCK_ROWS):
        blk = arr[row0 : row0 + _BLOCK_ROWS]
        if blk.dtype != np.bool_:
            neg, zero = _check_block(blk, name, signed, row0)
            seen_neg, seen_zero = seen_neg or neg, seen_zero or zero
            if seen_neg and seen_zero:
                raise InputError(
                    f"{name} mixes -1, 0 and +1; codes must be all {{-1,+1}} or all {{0,1}}"
                )
        packed = np.packbits(blk > 0, axis=1, bitorder=bitorder)
        out[row0 : row0 + len(blk), : packed.shape[1]] = packed


def pack_codes(codes: object, name: str) -> tuple[np.ndarray, int]:
    """Validate a (n, bits) code matrix and pack it to (n, n_bytes) uint8, n_bytes % 8 == 0."""
    arr = _as_matrix(codes, name, "binary codes")
    bits = arr.shape[1]
    n_bytes = -(-bits // 64) * 8  # whole words: faiss.hammings works on 8-byte multiples
    packed = np.zeros((arr.shape[0], n_bytes), dtype=np.uint8)
    _pack_rows(arr, name, True, packed, "big")
    return packed, bits


def pack_labels(labels: object, name: str, n_rows: int, rows_of: str) -> tuple[np.ndarray, int]:
    """Validate a multi-hot (n, c) label matrix and pack it to (n, ceil(c/64)) uint64 words."""
    arr = _as_matrix(labels, name, "multi-hot labels")
    if arr.shape[0] != n_rows:
        raise InputError(
            f"{name} has {arr.shape[0]} rows but {rows_of} has {n_rows}; "
            f"they must have one label row per code row"
        )
    n_labels = arr.shape[1]
    packed = np.zeros((arr.shape[0], -(-n_labels // 64) * 8), dtype=np.uint8)
    _pack_rows(arr, name, False, packed, "little")
    return packed.view(np.uint64), n_labels


def prepare(
    query_codes: object,
    db_codes: object,
    query_labels: object,
    db_labels: object,
    exclude_self: bool = False,
) -> Problem:
    """Validate and pack everything one evaluation needs."""
    q_codes, q_bits = pack_codes(query_codes, "query_codes")
    d_codes, d_bits = pack_codes(db_codes, "db_codes")
    if q_bits != d_bits:
        raise InputError(
            f"query_codes have {q_bits} bits but db_codes have {d_bits}; "
            f"both must have the same code length"
        )
    q_labels, q_c = pack_labels(query_labels, "query_labels", q_codes.shape[0], "query_codes")
    d_labels, d_c = pack_labels(db_labels, "db_labels", d_codes.shape[0], "db_codes")
    if q_c != d_c:
        raise InputError(
            f"query_labels have {q_c} columns but db_labels have {d_c}; "
            f"both must use the same label set"
        )
    exclude_self = check_flag(exclude_self, "exclude_self")
    if exclude_self:
        if q_codes.shape[0] > d_codes.shape[0]:
            raise InputError(
                f"exclude_self=True means query i is database item i, so there can be "
                f"at most {d_codes.shape[0]} queries; got {q_codes.shape[0]}"
            )
        if d_codes.shape[0] < 2:
            raise InputError("exclude_self=True needs a database of at least 2 items")
    return Problem(q_codes, d_codes, q_bits, q_labels, d_labels, q_c, exclude_self)


def check_k(k: object, name: str = "k") -> int:
    """K must be a positive integer (K larger than the database is clipped later)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise InputError(f"{name} must be a positive integer; got {k!r}")
    if k <= 0:
        raise InputError(f"{name} must be a positive integer (1, 2, ...); got {k}")
    return int(k)


def check_ks(ks: Sequence[object], name: str = "ks") -> tuple[int, ...]:
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Sequence) or len(ks) == 0:
        raise InputError(f"{name} must be a non-empty list of positive integers; got {ks!r}")
    return tuple(check_k(k, f"{name}[{i}]") for i, k in enumerate(ks))


def check_option(value: object, name: str, valid: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in valid:
        choices = ", ".join(repr(v) for v in valid)
        raise InputError(f"{name} must be one of {choices}; got {value!r}")
    return value


def resolve_ties(ties: object, convention: str = "djsrh") -> str:
    """The tie order to use: `ties` if given (checked), else the default for the convention.

    dcmh averages over the first min(K, R) relevant items wherever they rank; its expectation
    over tie orders has no cheap closed form here, so dcmh defaults to "index" and refuses
    "expected" rather than estimate it.
    """
    if ties is None:
        return "index" if convention == "dcmh" else DEFAULT_TIES
    ties = check_option(ties, "ties", TIE_ORDERS)
    if ties == "expected" and convention == "dcmh":
        raise InputError(
            "ties='expected' is not available for the dcmh convention (no exact closed form); "
            "use ties='index' (dcmh's default), 'relevant_first' or 'relevant_last', "
            "or the djsrh / recall convention"
        )
    return ties


def check_flag(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def check_radius(radius: object, name: str = "radius") -> int:
    if isinstance(radius, bool) or not isinstance(radius, numbers.Integral) or radius < 0:
        raise InputError(f"{name} must be a non-negative integer Hamming radius; got {radius!r}")
    return int(radius)
