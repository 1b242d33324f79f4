"""Tests of the VECTOR(n) value codec (galaxlite.semantic.vectors)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from galaxlite.semantic.vectors import (
    MAX_VECTOR_DIM,
    VectorDimensionError,
    decode_matrix,
    decode_vector,
    encode_vector,
    format_vector,
    parse_vector_literal,
    parse_vector_type,
)

f32_values = st.floats(width=32, allow_nan=False, allow_infinity=False)
f32_lists = st.lists(f32_values, min_size=1, max_size=64)


# ------------------------------------------------------------------------------------ layout


def test_layout_is_little_endian_float32():
    blob = encode_vector([1.0, -2.0, 0.5])
    assert blob == struct.pack("<3f", 1.0, -2.0, 0.5)
    assert encode_vector((1, 2), dim=2).hex() == "0000803f00000040"


def test_decode_returns_writable_native_float32():
    v = decode_vector(encode_vector([1, 2, 3]), dim=3)
    assert v.dtype == np.float32 and v.dtype.isnative
    assert v.shape == (3,)
    v[0] = 7  # writable
    assert v.tolist() == [7.0, 2.0, 3.0]


# ------------------------------------------------------------------------------- round trips


@given(f32_lists)
def test_round_trip_list(values):
    blob = encode_vector(values, dim=len(values))
    assert len(blob) == 4 * len(values)
    out = decode_vector(blob, dim=len(values))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array(values, dtype=np.float32))


@given(f32_lists)
def test_round_trip_tuple_and_string_forms(values):
    blob = encode_vector(values)
    assert encode_vector(tuple(values)) == blob
    # the SQL vector('[...]') form, as a user would write it, and our own text form
    literal = "[" + ", ".join(repr(v) for v in values) + "]"
    assert encode_vector(literal, dim=len(values)) == blob
    assert encode_vector(format_vector(blob)) == blob
    assert encode_vector(format_vector(values)) == blob


@given(
    hnp.arrays(
        dtype=st.sampled_from(
            [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.uint8]
        ),
        shape=st.integers(1, 50),
        elements={"allow_nan": False, "allow_infinity": False},
    )
)
def test_round_trip_numpy_dtypes(arr):
    assume(bool(np.all(np.abs(arr.astype(np.float64)) <= 3.4e38)))  # float32 range
    blob = encode_vector(arr, dim=arr.shape[0])
    np.testing.assert_array_equal(decode_vector(blob), arr.astype(np.float32))


@given(hnp.arrays(np.float32, st.integers(1, 40), elements=f32_values))
def test_big_endian_and_noncontiguous_arrays(arr):
    expected = encode_vector(arr)
    assert encode_vector(arr.astype(">f4")) == expected
    doubled = np.repeat(arr, 2)[::2]  # a strided view
    assert not doubled.flags.c_contiguous or arr.shape[0] == 1
    assert encode_vector(doubled) == expected


@given(f32_lists)
def test_encoded_blob_is_accepted_as_input(values):
    blob = encode_vector(values)
    assert encode_vector(blob, dim=len(values)) == blob
    assert encode_vector(bytearray(blob)) == blob
    assert encode_vector(memoryview(blob)) == blob


@settings(max_examples=50)
@given(
    st.integers(1, 32).flatmap(
        lambda d: st.tuples(
            st.just(d),
            st.lists(st.lists(f32_values, min_size=d, max_size=d), min_size=0, max_size=20),
        )
    )
)
def test_decode_matrix_matches_rows(case):
    dim, rows = case
    blobs = [encode_vector(r) for r in rows]
    m = decode_matrix(blobs, dim)
    assert m.shape == (len(rows), dim)
    assert m.dtype == np.float32
    for i, r in enumerate(rows):
        np.testing.assert_array_equal(m[i], np.array(r, dtype=np.float32))
    if rows:
        np.testing.assert_array_equal(decode_matrix(blobs), m)  # dim taken from row 0
        m[0, 0] = 1.0  # writable


def test_decode_matrix_empty_and_mixed_buffers():
    assert decode_matrix([], 5).shape == (0, 5)
    blobs = [
        encode_vector([1, 2]),
        bytearray(encode_vector([3, 4])),
        memoryview(encode_vector([5, 6])),
    ]
    assert decode_matrix(blobs, 2).tolist() == [[1, 2], [3, 4], [5, 6]]
    with pytest.raises(ValueError, match="needs dim"):
        decode_matrix([])


# -------------------------------------------------------------------------------- dimensions


def test_dimension_error_names_expected_and_got():
    with pytest.raises(VectorDimensionError) as ei:
        encode_vector([1, 2, 3], dim=4)
    assert isinstance(ei.value, ValueError)
    assert "expected 4" in str(ei.value) and "got 3" in str(ei.value)
    assert (ei.value.expected, ei.value.got) == (4, 3)

    with pytest.raises(VectorDimensionError, match="expected 2 components, got 3"):
        encode_vector("[1, 2, 3]", dim=2)
    with pytest.raises(VectorDimensionError, match="expected 3 components, got 2"):
        decode_vector(encode_vector([1, 2]), dim=3)
    with pytest.raises(VectorDimensionError, match="row 1.*expected 2 components, got 3"):
        decode_matrix([encode_vector([1, 2]), encode_vector([1, 2, 3])], 2)


@given(st.integers(1, 20), st.integers(1, 20))
def test_dimension_checked_for_every_form(n, dim):
    values = [1.5] * n
    forms = [values, tuple(values), np.array(values), str(values), encode_vector(values)]
    for form in forms:
        if n == dim:
            assert len(encode_vector(form, dim=dim)) == 4 * dim
        else:
            with pytest.raises(VectorDimensionError):
                encode_vector(form, dim=dim)


def test_bad_dim_argument():
    with pytest.raises(ValueError, match="between 1 and"):
        encode_vector([1.0], dim=0)
    with pytest.raises(TypeError):
        encode_vector([1.0], dim="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maximum"):
        encode_vector(np.zeros(MAX_VECTOR_DIM + 1))


# ------------------------------------------------------------------------------ bad values


@pytest.mark.parametrize(
    "value",
    [
        [1.0, float("nan")],
        [float("inf")],
        np.array([0.0, -np.inf]),
        np.array([np.nan], dtype=np.float32),
        [1e39],  # overflows float32
        np.array([1e300]),
        [10**400],
    ],
)
def test_non_finite_values_rejected(value):
    with pytest.raises(ValueError, match="finite|float32 range"):
        encode_vector(value)


def test_non_finite_message_names_component():
    with pytest.raises(ValueError, match=r"component 2 is nan; components must be finite"):
        encode_vector([0.0, float("nan")])


@pytest.mark.parametrize(
    "text",
    [
        "[nan]",
        "[inf, 1]",
        "1, 2",
        "[1, 2",
        "[1,,2]",
        "[1, x]",
        "[]",
        "[ ]",
        "[[1, 2]]",
        "[1 2]",
        "[0x10]",
        "[1_000]",
        "",
    ],
)
def test_bad_literals_rejected(text):
    with pytest.raises(ValueError):
        encode_vector(text)


def test_literal_forms_accepted():
    assert parse_vector_literal("[1,2,3]").tolist() == [1, 2, 3]
    assert parse_vector_literal("  [ +.5 , -1. , 2E3,3e-2 ]\n").tolist() == [0.5, -1, 2000, 0.03]


@pytest.mark.parametrize(
    "value",
    [
        [True, False],
        [1, "2"],
        [None],
        [[1.0]],
        {1.0},
        3.0,
        None,
        np.array([1 + 2j]),
        np.array(["1"]),
        np.array([True]),
    ],
)
def test_bad_types_rejected(value):
    with pytest.raises((TypeError, ValueError)):
        encode_vector(value)


def test_bad_shapes_and_blobs():
    with pytest.raises(ValueError, match="1-dimensional"):
        encode_vector(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="at least one"):
        encode_vector(np.zeros(0))
    with pytest.raises(ValueError, match="multiple of 4"):
        decode_vector(b"\x00" * 6)
    with pytest.raises(ValueError, match="multiple of 4"):
        encode_vector(b"\x00" * 5)
    with pytest.raises(TypeError):
        decode_vector("[1, 2]")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="NULL"):
        decode_matrix([encode_vector([1.0]), None], 1)  # type: ignore[list-item]


# ----------------------------------------------------------------------------- declared type


@pytest.mark.parametrize(
    ("decl", "n"),
    [
        ("VECTOR(384)", 384),
        ("vector( 3 )", 3),
        ("Vector(1)", 1),
        ("  VECTOR (16)  ", 16),
        ("VECTOR(65536)", 65536),
        ("VECTOR", None),
        ("VECTOR()", None),
        ("VECTOR(3.5)", None),
        ("VECTORS(3)", None),
        ("MYVECTOR(3)", None),
        ("TEXT", None),
        ("BLOB", None),
        ("", None),
        (None, None),
        ("VARCHAR(3)", None),
    ],
)
def test_parse_vector_type(decl, n):
    assert parse_vector_type(decl) == n


@pytest.mark.parametrize("decl", ["VECTOR(0)", "VECTOR(-3)", "VECTOR(65537)"])
def test_parse_vector_type_rejects_bad_dimensions(decl):
    with pytest.raises(ValueError, match="between 1 and"):
        parse_vector_type(decl)
