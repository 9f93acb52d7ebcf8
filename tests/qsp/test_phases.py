r"""Symmetric QSP phases (``qrtc.qsp.phases``) against products of the QSP unitary.

The solver is judged by the response $\operatorname{Im}\langle 0|U_\Phi(x)|0\rangle$ at points it
never saw, compared with the target evaluated by numpy (Clenshaw) or in closed form;
``qsp_response`` itself is checked by hand for $d \le 2$ and against products of matrix
exponentials $W(x) = e^{i\arccos(x) X}$, $e^{i\phi Z}$ (scipy's ``expm``).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.fft
import scipy.linalg
import scipy.special
from hypothesis import given
from hypothesis import strategies as st
from numpy.polynomial import chebyshev
from numpy.typing import NDArray

from qrtc.qsp.phases import PhaseFactors, qsp_response, symmetric_phases
from qrtc.qsp.polynomial import inverse_polynomial

# symmetric_phases accepts a residual up to 100 * tolerance (default 1e-12).
ACCEPTED = 1e-10
PAULI_X = np.array([[0.0, 1.0], [1.0, 0.0]])
PAULI_Z = np.diag([1.0, -1.0])


def dense_response(phases: NDArray[np.float64], x: float) -> complex:
    r"""$\langle 0|U_\Phi(x)|0\rangle$ from matrix exponentials of the generators."""
    generators = 1j * np.concatenate([[np.arccos(x) * PAULI_X], np.multiply.outer(phases, PAULI_Z)])
    signal, *factors = scipy.linalg.expm(generators)
    product = functools.reduce(lambda left, right: left @ signal @ right, factors)
    return complex(product[0, 0])


def scaled(coefficients: NDArray[np.float64], peak: float) -> NDArray[np.float64]:
    """The coefficients scaled so that max |f| on a dense grid of [-1, 1] is ``peak``."""
    grid = np.cos(np.linspace(0.0, np.pi, 40 * coefficients.size + 1))
    return peak * coefficients / np.max(np.abs(chebyshev.chebval(grid, coefficients)))


def chebyshev_coefficients(values_at: NDArray[np.float64], degree: int) -> NDArray[np.float64]:
    """Interpolant's coefficients from values at the ``degree + 1`` first-kind Chebyshev nodes."""
    coefficients = scipy.fft.dct(values_at, type=2) / (degree + 1)
    coefficients[0] /= 2
    return np.asarray(coefficients, dtype=np.float64)


def chebyshev_nodes(degree: int) -> NDArray[np.float64]:
    return np.cos(np.pi * (np.arange(degree + 1) + 0.5) / (degree + 1))


def sine_target(degree: int, frequency: float) -> NDArray[np.float64]:
    r"""$\tfrac12\sin(t x)$ by Jacobi–Anger, $2\sum_k (-1)^k J_{2k+1}(t) T_{2k+1}$, truncated."""
    orders = np.arange(1, degree + 1, 2)
    coefficients = np.zeros(degree + 1)
    coefficients[orders] = (-1.0) ** ((orders - 1) // 2) * scipy.special.jv(orders, frequency)
    return coefficients


@st.composite
def targets(draw: st.DrawFn, peak: float, max_degree: int = 60) -> NDArray[np.float64]:
    """Chebyshev coefficients of a random polynomial of definite parity with max |f| <= peak."""
    degree = draw(st.integers(1, max_degree))
    count = degree // 2 + 1
    values = draw(st.lists(st.floats(-1.0, 1.0), min_size=count, max_size=count))
    coefficients = np.zeros(degree + 1)
    coefficients[degree % 2 :: 2] = values
    if np.max(np.abs(coefficients)) < 1e-3:
        coefficients[degree] = 1.0
    return scaled(coefficients, draw(st.floats(0.05, 1.0)) * peak)


def assert_response_matches(
    phases: NDArray[np.float64], coefficients: NDArray[np.float64], seed: int
) -> None:
    points = np.concatenate([[-1.0, 0.0, 1.0], np.random.default_rng(seed).uniform(-1, 1, 64)])
    error = qsp_response(phases, points).imag - chebyshev.chebval(points, coefficients)
    assert np.max(np.abs(error)) <= ACCEPTED


@pytest.mark.parametrize("peak", [0.5, 0.9])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_response_equals_target_at_random_points(
    peak: float, data: st.DataObject, seed: int
) -> None:
    coefficients = data.draw(targets(peak))
    factors = symmetric_phases(coefficients)
    assert factors.degree == coefficients.size - 1
    assert np.array_equal(factors.phases, factors.phases[::-1])
    assert factors.residual <= ACCEPTED
    assert_response_matches(factors.phases, coefficients, seed)


@given(coefficients=targets(0.5, max_degree=40))
def test_fixed_point_iteration_agrees_with_nlft(coefficients: NDArray[np.float64]) -> None:
    nlft = symmetric_phases(coefficients, method="nlft")
    fpi = symmetric_phases(coefficients, method="fpi")
    assert (nlft.method, fpi.method) == ("nlft", "fpi")
    assert_response_matches(fpi.phases, coefficients, seed=0)
    np.testing.assert_allclose(fpi.phases, nlft.phases, rtol=0, atol=1e-9)


def test_even_and_odd_degree_zero_to_three_by_hand() -> None:
    # d = 0: U = e^{i phi Z}, so f = sin(phi); d = 1: <0|U|0> = e^{2i phi} x, so f = sin(2 phi) x.
    assert symmetric_phases([0.3]).phases == pytest.approx([np.arcsin(0.3)], abs=1e-14)
    assert symmetric_phases([0.0, -0.4]).phases == pytest.approx(
        [np.arcsin(-0.4) / 2] * 2, abs=1e-14
    )
    for coefficients in ([0.1, 0.0, 0.2], [0.0, 0.3, 0.0, -0.2]):
        factors = symmetric_phases(coefficients)
        assert_response_matches(factors.phases, np.array(coefficients), seed=1)


@given(
    phases=st.lists(st.floats(-np.pi, np.pi), min_size=3, max_size=3),
    x=st.floats(-1.0, 1.0),
)
def test_qsp_response_by_hand(phases: list[float], x: float) -> None:
    first, middle, last = phases
    root = np.sqrt(1 - x * x)
    assert qsp_response([first], x) == pytest.approx(np.exp(1j * first), abs=1e-15)
    assert qsp_response([first, last], x) == pytest.approx(np.exp(1j * (first + last)) * x)
    # W e^{i phi Z} W: x^2 e^{i phi} on the diagonal path, (i root)^2 e^{-i phi} off it.
    by_hand = np.exp(1j * (first + last)) * (
        x * x * np.exp(1j * middle) - root * root * np.exp(-1j * middle)
    )
    assert qsp_response([first, middle, last], x) == pytest.approx(by_hand, abs=1e-14)


@given(
    phases=st.lists(st.floats(-np.pi, np.pi), min_size=1, max_size=12),
    x=st.floats(-1.0, 1.0),
)
def test_qsp_response_equals_product_of_matrix_exponentials(phases: list[float], x: float) -> None:
    assert qsp_response(phases, x) == pytest.approx(dense_response(np.array(phases), x), abs=1e-12)


@given(
    phases=st.lists(st.floats(-np.pi, np.pi), min_size=1, max_size=30),
    x=st.floats(0.0, 1.0),
)
def test_qsp_response_has_the_parity_of_its_degree(phases: list[float], x: float) -> None:
    # The solver checks only x >= 0 because of this identity (W(-x) = -Z W(x) Z).
    sign = (-1) ** (len(phases) - 1)
    assert qsp_response(phases, -x) == pytest.approx(sign * qsp_response(phases, x), abs=1e-13)


def test_qsp_response_keeps_the_shape_of_x() -> None:
    points = np.linspace(-1, 1, 12).reshape(3, 4)
    response = qsp_response([0.1, 0.2, 0.1], points)
    assert response.shape == (3, 4) and response.dtype == np.complex128
    assert response[1, 2] == pytest.approx(dense_response(np.array([0.1, 0.2, 0.1]), points[1, 2]))


def test_degree_1001_sine_against_closed_form() -> None:
    degree, frequency = 1001, 0.85 * 1001
    factors = symmetric_phases(sine_target(degree, frequency))
    points = np.random.default_rng(7).uniform(-1, 1, 200)
    # The Jacobi-Anger tail beyond degree 1001 is below 1e-17 at t = 0.85 d.
    error = qsp_response(factors.phases, points).imag - 0.5 * np.sin(frequency * points)
    assert np.max(np.abs(error)) <= ACCEPTED
    assert factors.residual <= 1e-12


@pytest.mark.parametrize("degree", [999, 1000])
def test_degree_1000_inverse_like_targets(degree: int) -> None:
    # Odd: (1 - (1 - x^2)^b) / x, a polynomial approximation of 1/x; even: (1 - x^2)^b.
    power = (degree + 1) // 2 if degree % 2 else degree // 2
    nodes = chebyshev_nodes(degree)
    bump = np.exp(power * np.log1p(-nodes * nodes))
    values = -np.expm1(power * np.log1p(-nodes * nodes)) / nodes if degree % 2 else bump
    coefficients = scaled(chebyshev_coefficients(values, degree), 0.5)
    factors = symmetric_phases(coefficients)
    assert_response_matches(factors.phases, coefficients, seed=3)


@pytest.mark.parametrize("kappa", [10.0, 100.0, 1000.0])
def test_inverse_polynomial_phases(kappa: float) -> None:
    polynomial = inverse_polynomial(kappa, 1e-2)
    factors = symmetric_phases(polynomial.coefficients)
    assert_response_matches(factors.phases, polynomial.coefficients, seed=5)
    # ... and so the response itself is s / x to relative error epsilon on [1/kappa, 1].
    points = np.random.default_rng(6).uniform(1 / kappa, 1, 200)
    response = qsp_response(factors.phases, points).imag
    relative = points * response / polynomial.scale - 1
    assert np.max(np.abs(relative)) <= polynomial.epsilon + ACCEPTED / polynomial.scale


def test_target_close_to_one() -> None:
    coefficients = scaled(sine_target(201, 0.85 * 201), 0.99)
    factors = symmetric_phases(coefficients)
    assert_response_matches(factors.phases, coefficients, seed=4)


@pytest.mark.slow
def test_degree_10001_sine_against_closed_form() -> None:
    degree, frequency = 10_001, 0.85 * 10_001
    factors = symmetric_phases(sine_target(degree, frequency))
    points = np.random.default_rng(8).uniform(-1, 1, 100)
    error = qsp_response(factors.phases, points).imag - 0.5 * np.sin(frequency * points)
    assert np.max(np.abs(error)) <= ACCEPTED
    assert factors.residual <= 1e-12


def test_mixed_parity_is_refused() -> None:
    with pytest.raises(ValueError, match="mix parities"):
        symmetric_phases([0.1, 0.2, 0.3])


@pytest.mark.parametrize("coefficients", [[0.0, 1.0], [0.2, 0.0, 0.9], [1.5]])
def test_sup_norm_at_least_one_is_refused(coefficients: list[float]) -> None:
    with pytest.raises(ValueError, match=r"\|f\| < 1"):
        symmetric_phases(coefficients)


def test_fixed_point_iteration_refuses_a_target_too_close_to_one() -> None:
    coefficients = scaled(sine_target(41, 30.0), 0.99)
    with pytest.raises(ValueError, match="did not converge|failed the check"):
        symmetric_phases(coefficients, method="fpi", max_iterations=50)


def test_unresolved_weiss_step_is_refused() -> None:
    # max |f| = 0.999 at degree 201 needs 7 Weiss grids (measured).
    coefficients = scaled(sine_target(201, 0.85 * 201), 0.999)
    with pytest.raises(ValueError, match="Weiss step did not resolve"):
        symmetric_phases(coefficients, max_iterations=2)


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="method"):
        symmetric_phases([0.1], method="newton")
    with pytest.raises(ValueError, match="tolerance"):
        symmetric_phases([0.1], tolerance=0.0)
    with pytest.raises(ValueError, match="1-D"):
        symmetric_phases([[0.1]])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        qsp_response([0.1], 1.5)


def test_phase_factors_are_frozen_and_symmetric() -> None:
    factors = symmetric_phases([0.0, 0.3, 0.0, 0.1])
    with pytest.raises(ValueError):
        factors.phases[0] = 1.0
    with pytest.raises(ValueError, match="symmetric"):
        PhaseFactors(phases=np.array([0.1, 0.2]), residual=0.0, iterations=1, method="nlft")
