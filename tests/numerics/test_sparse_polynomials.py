"""The sparse polynomial algebra against numpy: every operation, evaluated at random points, must
equal the same numpy operation on the evaluated operands; derivatives must equal central finite
differences; every result must be canonical (sorted, merged, zero-free)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from qrtc.numerics import sparse_polynomials as sp
from qrtc.numerics.sparse_tensors import apply_tensor

Array = NDArray[np.float64]
Reference = Callable[[Array], Array]

SHAPES = [(), (3,), (2, 3), (2, 1, 2)]


@st.composite
def polynomials(
    draw: st.DrawFn, shape: tuple[int, ...] | None = None, n_variables: int | None = None
) -> tuple[sp.SparsePolynomials, Reference]:
    """A random polynomial array built from constants, variables, products and sums, and the
    same polynomials written as a numpy function of the point ``u``."""
    if shape is None:
        shape = draw(st.sampled_from(SHAPES))
    if n_variables is None:
        n_variables = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def sparse_normal(size: tuple[int, ...]) -> Array:
        return rng.normal(size=size) * (rng.random(size) < 0.7)

    constant_term = sparse_normal(shape)
    value = sp.constant(constant_term, n_variables)
    monomials: list[tuple[Array, NDArray[np.int64]]] = []
    for degree in range(1, draw(st.integers(1, 3)) + 1):
        for _ in range(draw(st.integers(0, 2))):
            coefficients = sparse_normal(shape)
            index = rng.integers(0, n_variables, size=(*shape, degree))
            term = sp.constant(coefficients, n_variables)
            for position in range(degree):
                term = sp.multiply(term, sp.variables(index[..., position], n_variables))
            value = sp.add(value, term)
            monomials.append((coefficients, index))

    def reference(u: Array) -> Array:
        total = np.array(constant_term)
        for coefficients, index in monomials:
            total = total + coefficients * np.prod(u[index], axis=-1)
        return total

    return value, reference


POINTS = {
    n_variables: np.random.default_rng(n_variables).uniform(-1.5, 1.5, size=n_variables)
    for n_variables in range(1, 9)
}
"""One fixed point per number of variables, where values are compared."""


def at(reference: Reference, n_variables: int) -> Array:
    return np.asarray(reference(POINTS[n_variables]))


def assert_matches(value: sp.SparsePolynomials, expected: Array) -> None:
    value.verify()
    assert value.shape == np.shape(expected)
    actual = value.evaluate(POINTS[value.n_variables])
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10)


# ---- constructors and linear operations ---------------------------------------------------------


@given(polynomials())
def test_random_arrays_evaluate_like_their_numpy_form(
    case: tuple[sp.SparsePolynomials, Reference],
) -> None:
    value, reference = case
    assert_matches(value, at(reference, value.n_variables))


@given(st.data())
def test_add_subtract_negate_scale_broadcast_like_numpy(data: st.DataObject) -> None:
    a, ra = data.draw(polynomials(shape=(2, 3), n_variables=3))
    shape_b = data.draw(st.sampled_from([(2, 3), (3,), (), (2, 1)]))
    b, rb = data.draw(polynomials(shape=shape_b, n_variables=3))
    A, B = at(ra, 3), at(rb, 3)
    assert_matches(sp.add(a, b), A + B)
    assert_matches(sp.add(b, a), B + A)
    assert_matches(sp.subtract(a, b), A - B)
    assert_matches(sp.negate(b), -B)
    assert_matches(sp.scale(a, -0.375), -0.375 * A)
    assert_matches(sp.broadcast_to(b, (4, 2, 3)), np.broadcast_to(B, (4, 2, 3)))


def test_a_difference_with_itself_is_the_zero_array() -> None:
    x = sp.variables(np.array([0, 1, 1]), 2)
    square = sp.multiply(x, sp.add(x, sp.constant(np.ones(3), 2)))
    zero = sp.subtract(square, square)
    zero.verify()
    assert zero.nnz == 0 and zero.degree == 0
    assert zero.evaluate(np.array([0.3, 0.7])).tolist() == [0.0, 0.0, 0.0]


def test_like_monomials_merge_into_one_canonical_term() -> None:
    u0, u1 = sp.variables(np.array(0), 2), sp.variables(np.array(1), 2)
    value = sp.add(sp.multiply(u1, u0), sp.multiply(u0, u1))  # u1 u0 + u0 u1 = 2 u0 u1
    value.verify()
    (block,) = [block for block in value.terms if block.nnz]
    assert block.variables.tolist() == [[0, 1]] and block.coefficients.tolist() == [2.0]


# ---- products ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape_a,shape_b", [((2, 3), (2, 3)), ((2, 3), (3,)), ((), (2, 2)), ((2, 1), (1, 3))]
)
@given(data=st.data())
def test_multiply_broadcasts_like_numpy(
    shape_a: tuple[int, ...], shape_b: tuple[int, ...], data: st.DataObject
) -> None:
    a, ra = data.draw(polynomials(shape=shape_a, n_variables=4))
    b, rb = data.draw(polynomials(shape=shape_b, n_variables=4))
    assert_matches(sp.multiply(a, b), at(ra, 4) * at(rb, 4))


EINSUMS = [
    ("ij,jk->ik", (2, 3), (3, 2)),
    ("k,k->", (3,), (3,)),
    ("ik,k->i", (2, 3), (3,)),
    ("k,ik->i", (3,), (2, 3)),
    ("i,j->ij", (2,), (3,)),
    ("ij,ij->i", (2, 3), (2, 3)),
    ("ij,j->", (2, 3), (3,)),
    ("imk,kn->imn", (2, 2, 3), (3, 2)),
    ("imk,ik->im", (2, 2, 3), (2, 3)),
]


@pytest.mark.parametrize("subscripts,shape_a,shape_b", EINSUMS)
@given(data=st.data())
def test_einsum_matches_numpy(
    subscripts: str, shape_a: tuple[int, ...], shape_b: tuple[int, ...], data: st.DataObject
) -> None:
    a, ra = data.draw(polynomials(shape=shape_a, n_variables=4))
    b, rb = data.draw(polynomials(shape=shape_b, n_variables=4))
    assert_matches(sp.einsum(subscripts, a, b), np.einsum(subscripts, at(ra, 4), at(rb, 4)))


@pytest.mark.parametrize("exponent", [0, 1, 2, 3, 5])
@given(data=st.data())
def test_power_matches_numpy(exponent: int, data: st.DataObject) -> None:
    a, ra = data.draw(polynomials(n_variables=3))
    assert_matches(sp.power(a, exponent), at(ra, 3) ** exponent)


@given(polynomials(n_variables=3), st.lists(st.floats(-2, 2), min_size=1, max_size=5))
def test_polyval_matches_numpy(
    case: tuple[sp.SparsePolynomials, Reference], coefficients: list[float]
) -> None:
    a, ra = case
    expected = np.polynomial.polynomial.polyval(at(ra, 3), coefficients)
    assert_matches(sp.polyval(coefficients, a), np.asarray(expected))


# ---- indexing and layout ----------------------------------------------------------------------


@given(polynomials(shape=(2, 1, 3), n_variables=3))
def test_layout_operations_match_numpy(case: tuple[sp.SparsePolynomials, Reference]) -> None:
    a, ra = case
    A = at(ra, 3)
    assert_matches(sp.reshape(a, (3, 2)), A.reshape(3, 2))
    assert_matches(sp.transpose(a), A.T)
    assert_matches(sp.transpose(a, (1, 2, 0)), A.transpose(1, 2, 0))
    for axis in range(3):
        assert_matches(sp.take(a, -1, axis=axis), np.take(A, -1, axis=axis))
        assert_matches(sp.sum_over(a, axis), A.sum(axis=axis))
    assert_matches(sp.take(a, 1, axis=2), A[:, :, 1])
    assert_matches(sp.sum_over(a), np.asarray(A.sum()))
    assert_matches(sp.sum_over(a, (0, 2)), A.sum(axis=(0, 2)))
    assert_matches(sp.sum_over(a, ()), A)


@given(st.data())
def test_concatenate_stack_and_where_match_numpy(data: st.DataObject) -> None:
    a, ra = data.draw(polynomials(shape=(2, 3), n_variables=3))
    b, rb = data.draw(polynomials(shape=(2, 3), n_variables=3))
    c, rc = data.draw(polynomials(shape=(1, 3), n_variables=3))
    A, B, C = at(ra, 3), at(rb, 3), at(rc, 3)
    assert_matches(sp.concatenate([a, c, b]), np.concatenate([A, C, B]))
    assert_matches(sp.concatenate([a, b], axis=1), np.concatenate([A, B], axis=1))
    for axis in range(3):
        assert_matches(sp.stack([a, b, a], axis=axis), np.stack([A, B, A], axis=axis))
    mask = np.array([[True, False, True], [False, False, True]])
    assert_matches(sp.where(mask, a, b), np.where(mask, A, B))


# ---- derivatives ------------------------------------------------------------------------------


def central_differences(reference: Reference, u: Array, step: float = 1e-5) -> Array:
    """``(*shape, D)``: the derivative by every variable."""
    columns = []
    for j in range(len(u)):
        shift = np.zeros_like(u)
        shift[j] = step
        columns.append((reference(u + shift) - reference(u - shift)) / (2 * step))
    return np.stack(columns, axis=-1)


@given(polynomials(n_variables=4))
def test_gradient_matches_central_differences(
    case: tuple[sp.SparsePolynomials, Reference],
) -> None:
    a, ra = case
    u = POINTS[4]
    jacobian = central_differences(ra, u)
    full = sp.gradient(a, np.arange(4))
    full.verify()
    np.testing.assert_allclose(full.evaluate(u), jacobian, rtol=1e-6, atol=1e-7)
    some = sp.gradient(a, np.array([3, 1]))
    np.testing.assert_allclose(some.evaluate(u), jacobian[..., [3, 1]], rtol=1e-6, atol=1e-7)


@given(polynomials(shape=(2, 3), n_variables=6))
def test_gradient_by_per_entry_variables_matches_central_differences(
    case: tuple[sp.SparsePolynomials, Reference],
) -> None:
    a, ra = case
    u = POINTS[6]
    wrt = np.random.default_rng(0).permuted(np.tile(np.arange(6), (2, 3, 1)), axis=-1)[..., :2]
    jacobian = central_differences(ra, u)
    expected = np.take_along_axis(jacobian, wrt, axis=-1)
    value = sp.gradient(a, wrt)
    value.verify()
    np.testing.assert_allclose(value.evaluate(u), expected, rtol=1e-6, atol=1e-7)


def test_gradient_applies_the_power_rule_exactly() -> None:
    u0, u1 = sp.variables(np.array(0), 2), sp.variables(np.array(1), 2)
    value = sp.multiply(sp.power(u0, 3), u1)  # u0^3 u1
    derivative = sp.gradient(value, np.array([0]))  # 3 u0^2 u1
    derivative.verify()
    block = derivative.terms[3]
    assert block.outputs.tolist() == [0]
    assert block.variables.tolist() == [[0, 0, 1]]
    assert block.coefficients.tolist() == [3.0]


# ---- export -----------------------------------------------------------------------------------


@given(polynomials(shape=(4,), n_variables=4))
def test_sparse_tensors_apply_like_the_polynomials(
    case: tuple[sp.SparsePolynomials, Reference],
) -> None:
    a, ra = case
    constant, tensors = sp.to_sparse_tensors(a, max_degree=4)
    assert [tensor.degree for tensor in tensors] == [1, 2, 3, 4]
    u = POINTS[4]
    total = constant.copy()
    for tensor in tensors:
        tensor.verify()
        total += apply_tensor(tensor, u)
    np.testing.assert_allclose(total, at(ra, 4), rtol=1e-10, atol=1e-10)
