"""Relevance between queries and database items from packed multi-hot labels.

Relevance only depends on the two label *sets*, so the database is reduced once to its distinct
label patterns: a per-query lookup table over the patterns then gives every item's relevance
(the engine's kernels read lut[pattern[j]]), and counts over the whole database (R, IDCG) cost
one pass over the patterns.

Relevance levels (`kind`):
- "binary": 1 if the two items share at least one label, else 0 (2 levels).
- "grade": number of shared labels (DSRH graded relevance; n_labels + 1 levels).
- "spikinghash": 2 if the label sets are identical (and non-empty), 1 if they share some label
  but differ, 0 if they share none (3 levels; the paper's r = 1, 0.5, 0).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

LEVEL_KINDS = ("binary", "grade", "spikinghash")


def popcount(words: np.ndarray) -> np.ndarray:
    """Per-element popcount of an unsigned integer array (uint8 result)."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(words)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    as_bytes = np.ascontiguousarray(words).view(np.uint8).reshape(*words.shape, -1)
    return table[as_bytes].sum(axis=-1, dtype=np.uint8)


def levels_between(q_words: np.ndarray, db_words: np.ndarray, kind: str) -> np.ndarray:
    """Relevance level of label rows, broadcasting over leading axes (last axis = words)."""
    shared = q_words & db_words
    if kind == "binary":
        return np.any(shared != 0, axis=-1).astype(np.uint8)
    if kind == "grade":
        return popcount(shared).sum(axis=-1, dtype=np.int64)
    share = np.any(shared != 0, axis=-1)
    same = np.all(q_words == db_words, axis=-1) & share
    return share.astype(np.uint8) + same.astype(np.uint8)


def n_levels(kind: str, n_labels: int) -> int:
    return {"binary": 2, "grade": n_labels + 1, "spikinghash": 3}[kind]


def _distinct_rows(words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows, the row id of every input row, and how often each occurs."""
    if words.shape[1] == 1:  # up to 64 labels: a 1-D unique is far faster than axis=0
        uniq, inverse, counts = np.unique(words[:, 0], return_inverse=True, return_counts=True)
        uniq = uniq[:, None]
    else:
        uniq, inverse, counts = np.unique(words, axis=0, return_inverse=True, return_counts=True)
    return uniq, inverse.reshape(-1).astype(np.intp), counts.astype(np.int64)


class LabelIndex:
    """Distinct database label patterns plus helpers to expand them to relevance rows."""

    def __init__(self, q_labels: np.ndarray, db_labels: np.ndarray, n_labels: int):
        self.q_labels = q_labels
        self.db_labels = db_labels
        self.n_labels = n_labels

    @cached_property
    def _db_distinct(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _distinct_rows(self.db_labels)  # built on first use: the k-NN path never needs it

    @cached_property
    def _q_distinct(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _distinct_rows(self.q_labels)

    @property
    def patterns(self) -> np.ndarray:
        """(U, W) distinct database label sets."""
        return self._db_distinct[0]

    @property
    def inverse(self) -> np.ndarray:
        """(n_db,) label-set id of every database item."""
        return self._db_distinct[1]

    @cached_property
    def compact_inverse(self) -> np.ndarray:
        """`inverse` in the smallest integer type that holds it (less memory traffic per scan)."""
        dtype = np.uint16 if len(self.patterns) <= np.iinfo(np.uint16).max else np.int32
        return self.inverse.astype(dtype)

    @property
    def counts(self) -> np.ndarray:
        """(U,) database items per label set."""
        return self._db_distinct[2]

    @property
    def q_patterns(self) -> np.ndarray:
        return self._q_distinct[0]

    @property
    def q_inverse(self) -> np.ndarray:
        """(n_query,) label-set id of every query."""
        return self._q_distinct[1]

    def query_order(self) -> np.ndarray:
        """Query indices grouped by label set, so consecutive queries can reuse relevance rows."""
        return np.argsort(self.q_inverse, kind="stable")

    def pattern_levels(self, qi: int, kind: str) -> np.ndarray:
        """Level of query `qi` against every distinct database pattern, shape (U,)."""
        return levels_between(self.q_labels[qi], self.patterns, kind)

    def pair_levels(self, q_idx: np.ndarray, db_idx: np.ndarray, kind: str) -> np.ndarray:
        """Levels of (query, db item) pairs: q_idx (n,), db_idx (n, m) -> (n, m)."""
        return levels_between(self.q_labels[q_idx][:, None, :], self.db_labels[db_idx], kind)

    def level_counts(self, kind: str, exclude_self: bool) -> np.ndarray:
        """(n_query, n_levels) number of database items at each level (self left out if asked)."""
        n_lev = n_levels(kind, self.n_labels)
        per_pattern = np.empty((len(self.q_patterns), n_lev), dtype=np.int64)
        for j, q_words in enumerate(self.q_patterns):
            lev = levels_between(q_words, self.patterns, kind)
            per_pattern[j] = np.bincount(lev, weights=self.counts, minlength=n_lev)[:n_lev]
        counts = per_pattern[self.q_inverse]
        if exclude_self:
            n_q = len(self.q_labels)
            own = levels_between(self.q_labels, self.db_labels[:n_q], kind).astype(np.intp)
            counts[np.arange(n_q), own] -= 1
        return counts

    def n_relevant(self, exclude_self: bool) -> np.ndarray:
        """(n_query,) number of relevant database items (sharing at least one label)."""
        counts = self.level_counts("binary", exclude_self)
        return counts[:, 1]
