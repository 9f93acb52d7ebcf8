"""qrtc.reference.autodiff against hand-written numpy and central finite differences.

Each case is an expression DAG built by hand together with the same function written directly in
numpy for one sample. The DAG's values must equal the numpy function's, and its gradients must
equal central differences *of the numpy function*, so nothing is compared with autodiff's own
output. Together the cases use every node kind with batched and unbatched operands on each side.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

import qrtc.reference as reference
from qrtc.ir import expr as E

Array = NDArray[np.float64]
SampleFn = Callable[[Array, Array, Array], float]


@dataclass(frozen=True)
class Case:
    """A DAG, the same per-sample function in numpy, and the shapes it needs."""

    root: E.Node
    fn: SampleFn
    n_params: int
    input_shape: tuple[int, ...]
    label_shape: tuple[int, ...]


def param(shape: tuple[int, ...], offset: int, name: str = "theta") -> E.Parameter:
    return E.Parameter(name=name, shape=shape, offset=offset)


def const(value: float | list[float]) -> E.Constant:
    return E.Constant(value=np.asarray(value, dtype=np.float64))


def add(a: E.Node, b: E.Node, shape: tuple[int, ...] = ()) -> E.Add:
    return E.Add(left=a, right=b, shape=shape)


def sub(a: E.Node, b: E.Node, shape: tuple[int, ...] = ()) -> E.Sub:
    return E.Sub(left=a, right=b, shape=shape)


def mul(a: E.Node, b: E.Node, shape: tuple[int, ...] = ()) -> E.Mul:
    return E.Mul(left=a, right=b, shape=shape)


def power(a: E.Node, exponent: int) -> E.Power:
    return E.Power(operand=a, exponent=exponent, shape=a.shape)


def total(a: E.Node) -> E.Sum:
    return E.Sum(operand=a)


def matmul(a: E.Node, b: E.Node, shape: tuple[int, ...]) -> E.MatMul:
    return E.MatMul(left=a, right=b, shape=shape)


def transpose(a: E.Node) -> E.Transpose:
    return E.Transpose(operand=a, shape=(a.shape[1], a.shape[0]))


def index(a: E.Node, *indices: int) -> E.Index:
    return E.Index(operand=a, indices=indices, shape=a.shape[len(indices) :])


def stack(*items: E.Node) -> E.Stack:
    return E.Stack(items=items, shape=(len(items), *items[0].shape))


TANH_AT_03 = (0.2913126124515909, 0.9151369618266293, -0.2665344290908093, -0.2271488452612977)
"""Taylor coefficients f^(k)(a)/k! of tanh about a = 0.3, k = 0..3 (any numbers would do)."""


def taylor(a: E.Node, coefficients: tuple[float, ...], center: float) -> E.Taylor:
    return E.Taylor(
        operand=a, function="tanh", center=center, coefficients=coefficients, shape=a.shape
    )


def horner(coefficients: tuple[float, ...], u: Array, center: float) -> Array:
    return sum(c * (u - center) ** k for k, c in enumerate(coefficients)) + 0.0 * u


# ---- the cases --------------------------------------------------------------------------------


def least_squares() -> Case:
    theta, x, y = param((3,), 0), E.Input(name="x", shape=(3,)), E.Label(name="y", shape=())
    root = mul(const(0.5), power(sub(E.Dot(left=theta, right=x), y), 2))
    return Case(root, lambda t, x, y: float(0.5 * (t @ x - y) ** 2), 3, (3,), ())


def dot_sides() -> Case:
    theta, x = param((3,), 0), E.Input(name="x", shape=(3,))
    batched_left = E.Dot(left=x, right=theta)
    both_batched = E.Dot(left=x, right=x)
    unbatched = E.Dot(left=theta, right=theta)
    root = add(mul(batched_left, both_batched), unbatched)

    def fn(t: Array, x: Array, y: Array) -> float:
        return float((x @ t) * (x @ x) + t @ t)

    return Case(root, fn, 3, (3,), ())


def matmul_vectors() -> Case:
    w = param((2, 3), 0)  # theta[0:6]
    v = param((2,), 6)  # theta[6:8]
    u = param((3, 2), 8)  # theta[8:14]
    x, y = E.Input(name="x", shape=(3,)), E.Label(name="y", shape=(2,))
    matrix_input = matmul(w, x, (2,))  # unbatched (m, k) @ batched (k,)
    input_matrix = matmul(x, u, (2,))  # batched (k,) @ unbatched (k, n)
    vector_matrix = matmul(v, w, (3,))  # unbatched (k,) @ unbatched (k, n)
    root = add(
        add(
            total(power(sub(matrix_input, y, (2,)), 2)),
            E.Dot(left=input_matrix, right=v),
        ),
        E.Dot(left=vector_matrix, right=x),
    )

    def fn(t: Array, x: Array, y: Array) -> float:
        W, V, U = t[:6].reshape(2, 3), t[6:8], t[8:14].reshape(3, 2)
        return float(np.sum((W @ x - y) ** 2) + (x @ U) @ V + (V @ W) @ x)

    return Case(root, fn, 14, (3,), (2,))


def matmul_matrices() -> Case:
    w = param((2, 2), 0)  # theta[0:4]
    theta3 = param((3,), 4)  # theta[4:7]
    x = E.Input(name="x", shape=(2, 3))
    a = matmul(x, theta3, (2,))  # batched (m, k) @ unbatched (k,)
    c = matmul(w, x, (2, 3))  # unbatched (m, k) @ batched (k, n)
    d = matmul(c, transpose(x), (2, 2))  # batched @ batched, both 2-D
    e = matmul(transpose(w), w, (2, 2))  # unbatched @ unbatched
    f = matmul(transpose(x), w, (3, 2))  # batched (m, k) @ unbatched (k, n)
    root = add(
        add(total(d), E.Dot(left=a, right=a)),
        add(total(mul(e, e, (2, 2))), total(power(f, 2))),
    )

    def fn(t: Array, x: Array, y: Array) -> float:
        W, th = t[:4].reshape(2, 2), t[4:7]
        a, d, e, f = x @ th, (W @ x) @ x.T, W.T @ W, x.T @ W
        return float(d.sum() + a @ a + (e * e).sum() + (f**2).sum())

    return Case(root, fn, 7, (2, 3), ())


def matmul_batched_vectors() -> Case:
    v = param((2,), 0)
    x = E.Input(name="x", shape=(2, 3))
    row0 = index(x, 0)  # batched (3,)
    matrix_vector = matmul(x, row0, (2,))  # batched (m, k) @ batched (k,)
    vector_matrix = matmul(index(x, 1), transpose(x), (2,))  # batched (k,) @ batched (k, n)
    unbatched_vector = matmul(v, x, (3,))  # unbatched (k,) @ batched (k, n)
    root = add(
        E.Dot(left=matrix_vector, right=vector_matrix),
        E.Dot(left=unbatched_vector, right=unbatched_vector),
    )

    def fn(t: Array, x: Array, y: Array) -> float:
        return float((x @ x[0]) @ (x[1] @ x.T) + (t @ x) @ (t @ x))

    return Case(root, fn, 2, (2, 3), ())


def elementwise_broadcast() -> Case:
    theta, s = param((3,), 0), param((), 3)
    x, y = E.Input(name="x", shape=(3,)), E.Label(name="y", shape=())
    x0 = index(x, 0)  # batched scalar
    terms: list[E.Node] = [
        mul(add(y, theta, (3,)), sub(x, s, (3,)), (3,)),  # batched scalar + unbatched vector
        mul(E.Neg(operand=x, shape=(3,)), s, (3,)),  # batched vector * unbatched scalar
        mul(x0, theta, (3,)),  # batched scalar * unbatched vector
        mul(theta, x0, (3,)),  # unbatched vector * batched scalar
        sub(s, x, (3,)),  # unbatched scalar - batched vector
        add(mul(theta, s, (3,)), x, (3,)),  # unbatched vector * unbatched scalar, + batched
        mul(const(2.0), mul(x, x, (3,)), (3,)),  # constant scalar * batched vector
        sub(x0, mul(x, theta, (3,)), (3,)),  # batched scalar - batched vector
    ]
    vector: E.Node = terms[0]
    for term in terms[1:]:
        vector = add(vector, mul(term, term, (3,)), (3,))
    root = add(total(vector), add(x0, s))  # batched scalar + unbatched scalar

    def fn(t: Array, x: Array, y: Array) -> float:
        th, sc = t[:3], t[3]
        ts = [
            (y + th) * (x - sc),
            -x * sc,
            x[0] * th,
            th * x[0],
            sc - x,
            th * sc + x,
            2.0 * x * x,
            x[0] - x * th,
        ]
        v = ts[0] + sum(term * term for term in ts[1:])
        return float(v.sum() + x[0] + sc)

    return Case(root, fn, 4, (3,), ())


def powers() -> Case:
    theta, x = param((3,), 0), E.Input(name="x", shape=(3,))
    xt = mul(x, theta, (3,))
    root = add(
        add(total(power(x, 0)), total(mul(power(x, 1), theta, (3,)))),
        add(total(power(xt, 3)), power(E.Dot(left=theta, right=x), 4)),
    )
    root = add(root, add(total(power(theta, 0)), total(power(theta, 2))))

    def fn(t: Array, x: Array, y: Array) -> float:
        return float(3.0 + x @ t + np.sum((x * t) ** 3) + (t @ x) ** 4 + 3.0 + t @ t)

    return Case(root, fn, 3, (3,), ())


def taylors() -> Case:
    theta, x = param((3,), 0), E.Input(name="x", shape=(3,))
    cubic = taylor(mul(theta, x, (3,)), TANH_AT_03, 0.3)  # batched
    constant_only = taylor(x, (0.7,), -0.2)  # order 0: constant, zero gradient
    linear = taylor(theta, (0.1, -2.0), 0.5)  # unbatched, order 1
    root = add(E.Dot(left=cubic, right=x), add(total(constant_only), E.Dot(left=linear, right=x)))

    def fn(t: Array, x: Array, y: Array) -> float:
        c = horner(TANH_AT_03, t * x, 0.3)
        return float(c @ x + 3 * 0.7 + horner((0.1, -2.0), t, 0.5) @ x)

    return Case(root, fn, 3, (3,), ())


def index_and_stack() -> Case:
    theta = param((3,), 0)
    x, y = E.Input(name="x", shape=(2, 3)), E.Label(name="y", shape=())
    mixed = stack(index(x, 0, 2), index(theta, 1), y)  # batched, unbatched, batched scalars
    unbatched = stack(index(theta, 0), index(theta, 2))
    vectors = stack(index(x, 1), theta)  # (2, 3): batched row, unbatched vector
    root = add(
        add(E.Dot(left=mixed, right=theta), total(power(unbatched, 2))),
        total(mul(power(vectors, 2), index(vectors, 0, 1), (2, 3))),
    )

    def fn(t: Array, x: Array, y: Array) -> float:
        m = np.array([x[0, 2], t[1], y])
        v = np.stack([x[1], t])
        return float(m @ t + t[0] ** 2 + t[2] ** 2 + np.sum(v**2 * v[0, 1]))

    return Case(root, fn, 3, (2, 3), ())


def theta_only() -> Case:
    theta = param((3,), 0)
    root = total(mul(power(theta, 2), const([1.0, -2.0, 0.5]), (3,)))
    return Case(root, lambda t, x, y: float(t**2 @ np.array([1.0, -2.0, 0.5])), 3, (2,), ())


def label_vector() -> Case:
    theta = param((2,), 0)
    x, y = E.Input(name="x", shape=(2,)), E.Label(name="y", shape=(2,))
    root = total(power(sub(mul(theta, x, (2,)), y, (2,)), 2))
    return Case(root, lambda t, x, y: float(np.sum((t * x - y) ** 2)), 2, (2,), (2,))


def shared_nodes() -> Case:
    # A shared residual (a DAG, not a tree), and two distinct node objects for the same
    # parameter block and for the input, whose adjoints must all add up.
    theta_a, theta_b = param((2,), 0), param((2,), 0)
    x_a, x_b = E.Input(name="x", shape=(2,)), E.Input(name="x", shape=(2,))
    y = E.Label(name="y", shape=())
    r = sub(E.Dot(left=theta_a, right=x_a), y)
    root = add(add(mul(r, r), power(r, 3)), E.Dot(left=theta_b, right=mul(x_b, x_a, (2,))))

    def fn(t: Array, x: Array, y: Array) -> float:
        r = t @ x - y
        return float(r * r + r**3 + t @ (x * x))

    return Case(root, fn, 2, (2,), ())


CASES: dict[str, Callable[[], Case]] = {
    f.__name__: f
    for f in (
        least_squares,
        dot_sides,
        matmul_vectors,
        matmul_matrices,
        matmul_batched_vectors,
        elementwise_broadcast,
        powers,
        taylors,
        index_and_stack,
        theta_only,
        label_vector,
        shared_nodes,
    )
}


# ---- the checks -------------------------------------------------------------------------------

STEP = 1e-5
# Central differences err by O(STEP^2 f''') + O(eps |f| / STEP); with entries in [-1, 1] the
# cases keep |f| < 1e3 and |f'''| < 1e3, so both terms stay below 1e-7.
FD_ATOL, FD_RTOL = 1e-6, 1e-6

entries = st.floats(-1.0, 1.0, allow_nan=False, width=64)


@st.composite
def case_data(draw: st.DrawFn, case: Case) -> tuple[Array, Array, Array]:
    n_samples = draw(st.integers(1, 3))
    theta = draw(hnp.arrays(np.float64, (case.n_params,), elements=entries))
    inputs = draw(hnp.arrays(np.float64, (n_samples, *case.input_shape), elements=entries))
    labels = draw(hnp.arrays(np.float64, (n_samples, *case.label_shape), elements=entries))
    return theta, inputs, labels


def central_difference(f: Callable[[Array], float], point: Array) -> Array:
    grad = np.zeros_like(point)
    for j in np.ndindex(point.shape):
        up, down = point.copy(), point.copy()
        up[j] += STEP
        down[j] -= STEP
        grad[j] = (f(up) - f(down)) / (2 * STEP)
    return grad


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_value_matches_numpy(name: str, data: st.DataObject) -> None:
    case = CASES[name]()
    theta, inputs, labels = data.draw(case_data(case))
    expected = [case.fn(theta, x, y) for x, y in zip(inputs, labels, strict=True)]
    value = reference.evaluate(case.root, theta, inputs, labels)
    assert value.shape == (inputs.shape[0],)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_gradients_match_central_differences(name: str, data: st.DataObject) -> None:
    case = CASES[name]()
    theta, inputs, labels = data.draw(case_data(case))
    loss, grad_theta, grad_input = reference.value_and_gradients(case.root, theta, inputs, labels)

    def summed(t: Array) -> float:
        return float(sum(case.fn(t, x, y) for x, y in zip(inputs, labels, strict=True)))

    def per_input(x: Array, y: Array) -> float:
        return case.fn(theta, x, y)

    expected_theta = central_difference(summed, theta)
    expected_input = np.stack(
        [
            central_difference(functools.partial(per_input, y=y), x)
            for x, y in zip(inputs, labels, strict=True)
        ]
    )
    assert loss.shape == (inputs.shape[0],)
    assert grad_theta.shape == theta.shape and grad_input.shape == inputs.shape
    np.testing.assert_allclose(grad_theta, expected_theta, rtol=FD_RTOL, atol=FD_ATOL)
    np.testing.assert_allclose(grad_input, expected_input, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("name", ["least_squares", "matmul_matrices", "shared_nodes"])
def test_one_sided_gradients_equal_the_full_ones(name: str) -> None:
    case = CASES[name]()
    rng = np.random.default_rng(7)
    theta = rng.uniform(-1, 1, case.n_params)
    inputs = rng.uniform(-1, 1, (4, *case.input_shape))
    labels = rng.uniform(-1, 1, (4, *case.label_shape))
    loss, grad_theta, grad_input = reference.value_and_gradients(case.root, theta, inputs, labels)
    loss_t, only_theta = reference.value_and_theta_gradient(case.root, theta, inputs, labels)
    loss_x, only_input = reference.value_and_input_gradient(case.root, theta, inputs, labels)
    np.testing.assert_array_equal(loss_t, loss)
    np.testing.assert_array_equal(loss_x, loss)
    np.testing.assert_allclose(only_theta, grad_theta, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(only_input, grad_input, rtol=1e-14, atol=1e-14)


def test_unbatched_root_counts_every_sample() -> None:
    # sum_i L_i of a loss that ignores the data is M * L, so its theta gradient is M * 2 theta.
    case = theta_only()
    theta, inputs, labels = np.array([0.3, -1.0, 2.0]), np.ones((5, 2)), np.zeros(5)
    loss, grad_theta, grad_input = reference.value_and_gradients(case.root, theta, inputs, labels)
    np.testing.assert_allclose(loss, np.full(5, 0.09 - 2.0 + 2.0))
    np.testing.assert_allclose(grad_theta, 5 * 2 * theta * np.array([1.0, -2.0, 0.5]))
    np.testing.assert_array_equal(grad_input, np.zeros((5, 2)))


def test_evaluate_returns_every_sample_of_a_vector_node() -> None:
    w, x = param((2, 3), 0), E.Input(name="x", shape=(3,))
    prediction = matmul(w, x, (2,))
    theta = np.arange(6.0)
    inputs = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]])
    value = reference.evaluate(prediction, theta, inputs, np.zeros(2))
    np.testing.assert_allclose(value, inputs @ theta.reshape(2, 3).T)


def test_deep_chain_needs_no_recursion() -> None:
    # v_0 = x, v_{j+1} = 0.9 v_j + theta: far deeper than any recursive walk could go.
    depth = 3000
    theta, x = param((), 0), E.Input(name="x", shape=())
    node: E.Node = x
    for _ in range(depth):
        node = add(mul(const(0.9), node), theta)
    inputs, t = np.array([1.5, -0.5]), np.array([0.2])
    loss, grad_theta, grad_input = reference.value_and_gradients(node, t, inputs, np.zeros(2))
    geometric = (1 - 0.9**depth) / (1 - 0.9)
    np.testing.assert_allclose(loss, 0.9**depth * inputs + 0.2 * geometric, rtol=1e-12)
    np.testing.assert_allclose(grad_theta, [2 * geometric], rtol=1e-12)
    np.testing.assert_allclose(grad_input, np.full(2, 0.9**depth), rtol=1e-12)


def test_rejects_data_of_the_wrong_shape() -> None:
    case = least_squares()
    with pytest.raises(ValueError, match="shape"):
        reference.evaluate(case.root, np.zeros(3), np.zeros((2, 4)), np.zeros(2))
