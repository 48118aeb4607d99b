"""Validation of plugin codes and their bit-packed storage."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hashbench.codes import pack_codes, unpack_codes, validate_codes
from hashbench.errors import PluginError


def test_accepts_tensors_and_arrays_of_plus_minus_one():
    codes = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    out = validate_codes(codes, 2, 2, plugin="m", where="query image")
    assert out.dtype == np.int8
    assert out.tolist() == [[1, -1], [-1, 1]]
    assert validate_codes(np.array([[1, -1]], np.int64), 1, 2, plugin="m", where="x").tolist() == [
        [1, -1]
    ]


@pytest.mark.parametrize(
    "codes, message",
    [
        (np.ones((3, 4)), "shape (3, 4)"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([[1, 0]]), "sign(0)"),
        (np.array([[1, 2]]), "outside {-1, +1}"),
        (np.array([[True, False]]), "bool"),
        ([[1, -1]], "list"),
    ],
)
def test_rejects_bad_codes_naming_the_plugin(codes, message):
    with pytest.raises(PluginError) as err:
        validate_codes(codes, 1, 2, plugin="my-method", where="query image")
    assert "my-method" in str(err.value)
    assert message in str(err.value)


@given(
    arrays(
        np.int8,
        st.tuples(st.integers(0, 20), st.integers(1, 130)),
        elements=st.sampled_from([-1, 1]),
    )
)
def test_pack_unpack_round_trip(codes):
    packed = pack_codes(codes)
    assert packed.shape == (codes.shape[0], (codes.shape[1] + 7) // 8)
    assert np.array_equal(unpack_codes(packed, codes.shape[1]), codes)
