"""Bad input raises InputError naming the argument, what is wrong and what is valid."""

from __future__ import annotations

import numpy as np
import pytest

import hashbench.metrics as M
from hashbench.errors import InputError

RNG = np.random.default_rng(0)
Q = RNG.choice([-1, 1], (4, 16)).astype(np.int8)
D = RNG.choice([-1, 1], (30, 16)).astype(np.int8)
QL = RNG.integers(0, 2, (4, 5))
DL = RNG.integers(0, 2, (30, 5))


def _raises(match: str, fn=M.map_at_k, *args, **kwargs):
    with pytest.raises(InputError, match=match) as info:
        fn(*(args or (Q, D, QL, DL)), **kwargs)
    assert isinstance(info.value, ValueError)  # InputError is a ValueError too
    return str(info.value)


@pytest.mark.parametrize("bad,fragment", [
    (np.full((4, 16), 2), r"query_codes must contain only \{-1,\+1\} or \{0,1\}; found 2"),
    (np.full((4, 16), 0.5), r"query_codes must contain only .*0\.5 at row 0, column 0"),
    (np.where(Q > 0, 1, 0) - (np.arange(16) == 3), r"query_codes mixes -1, 0 and \+1"),
    (np.full((4, 16), np.nan), r"query_codes must contain only .*nan"),
    (Q[0], r"query_codes must be a 2-D array .*got 1-D"),
    (np.zeros((0, 16)), r"query_codes must have at least one row"),
    (np.array([["a"] * 16] * 4), r"query_codes must hold numbers or booleans"),
])
def test_bad_query_codes(bad, fragment):
    _raises(fragment, M.map_at_k, bad, D, QL, DL)


def test_bad_db_codes_and_mismatched_bits():
    _raises(r"db_codes must contain only", M.map_at_k, Q, D * 3, QL, DL)
    msg = _raises(r"query_codes have 16 bits but db_codes have 8", M.map_at_k, Q, D[:, :8],
                  QL, DL)
    assert "same code length" in msg


@pytest.mark.parametrize("q_labels,d_labels,fragment", [
    (QL[:3], DL, r"query_labels has 3 rows but query_codes has 4"),
    (QL, DL[:29], r"db_labels has 29 rows but db_codes has 30"),
    (QL, DL[:, :4], r"query_labels have 5 columns but db_labels have 4"),
    (QL * 2, DL, r"query_labels must contain only \{0,1\}; found 2"),
    (QL, DL - 1, r"db_labels must contain only \{0,1\}; found -1"),
    (QL[:, 0], DL, r"query_labels must be a 2-D array"),
])
def test_bad_labels(q_labels, d_labels, fragment):
    _raises(fragment, M.map_at_k, Q, D, q_labels, d_labels)


@pytest.mark.parametrize("k", [0, -3, 2.5, "50", True, None])
def test_bad_k(k):
    msg = _raises(r"^k must be a positive integer", k=k)
    assert repr(k) in msg or str(k) in msg


@pytest.mark.parametrize("kwargs,fragment", [
    ({"convention": "trec"}, r"convention must be one of 'djsrh', 'dcmh', 'recall'; got 'trec'"),
    ({"ties": "random"},
     r"ties must be one of 'expected', 'index', 'relevant_first', 'relevant_last'"),
    ({"ties": "expected", "convention": "dcmh"},
     r"ties='expected' is not available for the dcmh convention .*use ties='index'"),
    ({"zero_relevant": "drop"}, r"zero_relevant must be one of 'zero', 'skip'; got 'drop'"),
    ({"exclude_self": "yes"}, r"exclude_self must be True or False"),
])
def test_bad_options(kwargs, fragment):
    _raises(fragment, **kwargs)


def test_bad_options_elsewhere():
    _raises(r"ndcg_variant must be one of 'dsrh', 'spikinghash'", M.ndcg_at_k,
            ndcg_variant="trec")
    _raises(r"radius must be a non-negative integer", M.precision_at_radius, radius=-1)
    _raises(r"ks must be a non-empty list", M.pk_curve, ks=[])
    _raises(r"ks\[1\] must be a positive integer", M.pk_curve, ks=[5, 0])
    _raises(r"k must be a positive integer", M.evaluate, k=0)
    _raises(r"ties must be one of", M.compute, "map@50", Q, D, QL, DL, ties="x")


def test_exclude_self_needs_query_i_to_be_item_i():
    _raises(r"at most 30 queries; got 31", M.map_at_k, D[:1].repeat(31, 0), D,
            DL[:1].repeat(31, 0), DL, exclude_self=True)
    _raises(r"at least 2 items", M.map_at_k, D[:1], D[:1], DL[:1], DL[:1], exclude_self=True)


@pytest.mark.parametrize("name", ["map", "map@", "map@x", "mAP@50:trec", "acg@all",
                                  "p@5:dcmh", "ndcg@5:djsrh", "f1@10", "", 50])
def test_compute_rejects_unknown_names_listing_the_valid_forms(name):
    msg = _raises(r"metric .* is not valid", M.compute, name, Q, D, QL, DL)
    assert "valid forms: map@<K>" in msg and "precision@radius<R>" in msg


def test_compute_rejects_k_zero_in_a_name():
    _raises(r"K in 'map@0' must be a positive integer", M.compute, "map@0", Q, D, QL, DL)


def test_validation_across_row_blocks(monkeypatch):
    from hashbench.metrics import _inputs

    monkeypatch.setattr(_inputs, "_BLOCK_ROWS", 2)  # blocks of two rows
    codes = np.ones((6, 8), dtype=np.int8)
    codes[1, 3] = -1  # block 0 is {-1,+1}
    codes[4, 5] = 0  # block 2 has a zero
    _raises(r"db_codes mixes -1, 0 and \+1", M.map_at_k, Q[:, :8], codes, QL, DL[:6])
    codes[4, 5] = 7
    _raises(r"db_codes must contain only .*7 at row 4, column 5", M.map_at_k, Q[:, :8], codes,
            QL, DL[:6])
    ok = np.where(np.arange(48).reshape(6, 8) % 3 == 0, 1, -1)
    monkeypatch.setattr(_inputs, "_BLOCK_ROWS", 1 << 15)
    ref = M.evaluate(Q[:, :8], ok, QL, DL[:6], k=3)
    monkeypatch.setattr(_inputs, "_BLOCK_ROWS", 2)
    assert M.evaluate(Q[:, :8], ok, QL, DL[:6], k=3) == ref
