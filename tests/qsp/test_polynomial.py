r"""The inverse polynomial against its closed form in high precision, a linear-programming minimax,
dense grids, and a Childs-Kothari-Somma series built here from binomial coefficients.

$P(x) = s\,(1 - T_n(y(x))/T_n(y_0))/x$ with $y(x) = (1 + a^2 - 2x^2)/(1 - a^2)$, $a = 1/\kappa$
(Lin & Tong 2020), evaluated with mpmath at 50 digits, so that no cancellation near $x = 0$ and no
overflow of $T_n(y_0)$ can hide in the reference.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.optimize
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial import chebyshev
from numpy.typing import NDArray

from qrtc.qsp.polynomial import (
    InversePolynomial,
    cks_degree,
    inverse_polynomial,
    inverse_polynomial_degree,
)

CASES = [(1.5, 1e-2), (3.0, 1e-6), (10.0, 1e-2), (10.0, 1e-9), (100.0, 1e-4), (1000.0, 1e-3)]


def _half_degree(poly: InversePolynomial) -> int:
    return (poly.degree + 1) // 2


def _closed_form(x: float, kappa: float, n: int) -> float:
    """$P(x)/s$ by the textbook formula, in 50-digit arithmetic."""
    with mpmath.workdps(50):
        a = 1 / mpmath.mpf(kappa)
        y = (1 + a * a - 2 * mpmath.mpf(x) ** 2) / (1 - a * a)
        y0 = (1 + a * a) / (1 - a * a)
        t = mpmath.cos(n * mpmath.acos(y)) if abs(y) <= 1 else mpmath.cosh(n * mpmath.acosh(y))
        return float((1 - t / mpmath.cosh(n * mpmath.acosh(y0))) / x)


def _grid(kappa: float, count: int) -> NDArray[np.float64]:
    """Points of [0, 1], dense where P peaks ([0, 4/kappa]) and oscillates ([1/kappa, 1])."""
    a = 1.0 / kappa
    return np.unique(
        np.concatenate(
            [np.linspace(0.0, min(1.0, 4 * a), count), np.linspace(a, 1.0, count), [a, 1.0]]
        )
    )


def _cks_series(kappa: float, epsilon: float, degree: int) -> NDArray[np.float64]:
    r"""Chebyshev coefficients of $4\sum_{j \le j_0} (-1)^j c_j T_{2j+1}$ (CKS Lemma 17-19),
    $c_j = 4^{-b}\sum_{i > j}\binom{2b}{b+i}$ summed from log-gamma, $b = \lceil\kappa^2
    \ln(\kappa/\varepsilon)\rceil$."""
    b = math.ceil(kappa**2 * math.log(kappa / epsilon))
    i = np.arange(1, b + 1, dtype=np.float64)
    log_terms = (
        scipy.special.gammaln(2 * b + 1)
        - scipy.special.gammaln(b + i + 1)
        - scipy.special.gammaln(b - i + 1)
        - 2 * b * math.log(2)
    )
    c = np.cumsum(np.exp(log_terms)[::-1])[::-1]  # c[j] = sum_{i >= j + 1}
    j0 = (degree - 1) // 2
    coefficients = np.zeros(degree + 1)
    coefficients[1::2] = 4 * (-1.0) ** np.arange(j0 + 1) * c[: j0 + 1]
    return coefficients


@pytest.mark.parametrize(("kappa", "epsilon"), CASES)
def test_coefficients_are_odd_read_only_and_reproduce_the_closed_form(
    kappa: float, epsilon: float
) -> None:
    poly = inverse_polynomial(kappa, epsilon)
    assert poly.degree % 2 == 1
    assert np.all(poly.coefficients[0::2] == 0.0)
    assert not poly.coefficients.flags.writeable
    n = _half_degree(poly)
    x = np.concatenate([np.linspace(1e-9, 1.0, 150), np.geomspace(1e-9, min(1.0, 4 / kappa), 150)])
    expected = poly.scale * np.array([_closed_form(float(v), kappa, n) for v in x])
    # Clenshaw and the DCT each lose a few ulp per degree of magnitude: 1e-12 of max |P| is wide.
    np.testing.assert_allclose(poly(x), expected, rtol=0, atol=1e-12 * poly.max_abs)
    np.testing.assert_allclose(poly(-x), -expected, rtol=0, atol=1e-12 * poly.max_abs)


@pytest.mark.parametrize(("kappa", "epsilon"), CASES)
def test_relative_error_is_the_achieved_epsilon_and_the_degree_is_the_least(
    kappa: float, epsilon: float
) -> None:
    poly = inverse_polynomial(kappa, epsilon)
    x = _grid(kappa, 20_000)
    x = x[x >= 1 / kappa]
    error = np.max(np.abs(x * poly(x) / poly.scale - 1))
    assert poly.epsilon <= epsilon
    # Equioscillation: the bound is reached (at x = 1/kappa and 1), not merely respected. The
    # slack is the rounding of x P / s - 1 (Clenshaw, ~degree ulp).
    assert error == pytest.approx(poly.epsilon, rel=1e-6, abs=1e-13)
    # Two degrees fewer (n - 1) would miss epsilon: 1 / T_{n-1}(y0) > epsilon.
    n = _half_degree(poly)
    if n > 1:
        with mpmath.workdps(30):
            y0 = (1 + mpmath.mpf(kappa) ** -2) / (1 - mpmath.mpf(kappa) ** -2)
            assert 1 / mpmath.cosh((n - 1) * mpmath.acosh(y0)) > epsilon


@pytest.mark.parametrize(("kappa", "epsilon"), CASES)
@pytest.mark.parametrize("max_abs", [0.5, 1.0])
def test_max_abs_bounds_p_and_is_nearly_reached(
    kappa: float, epsilon: float, max_abs: float
) -> None:
    poly = inverse_polynomial(kappa, epsilon, max_abs=max_abs)
    assert poly.max_abs == max_abs
    x = np.concatenate([_grid(kappa, 20_000), np.linspace(0.0, 1.0, 20_000)])
    peak = np.max(np.abs(poly(x)))
    assert peak <= poly.max_abs
    # The certificate is within 0.03 %; the grid step (<= 1e-4 / kappa) costs less than 0.05 %.
    assert peak >= 0.999 * poly.max_abs


@pytest.mark.parametrize(("kappa", "epsilon"), [(5.0, 1e-3), (20.0, 1e-2)])
def test_relative_error_is_the_minimax_one(kappa: float, epsilon: float) -> None:
    """No odd polynomial of the same degree has a smaller relative error (linear program)."""
    poly = inverse_polynomial(kappa, epsilon)
    x = np.linspace(1 / kappa, 1.0, 3000)
    basis = x[:, None] * chebyshev.chebvander(x, poly.degree)[:, 1::2]  # x T_{2k+1}(x)
    rows, columns = basis.shape
    # Variables: coefficients of P / s, then the error bound e; minimise e s.t. |x P / s - 1| <= e.
    a_ub = np.block([[basis, -np.ones((rows, 1))], [-basis, -np.ones((rows, 1))]])
    b_ub = np.concatenate([np.ones(rows), -np.ones(rows)])
    cost = np.zeros(columns + 1)
    cost[-1] = 1.0
    result = scipy.optimize.linprog(
        cost, A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * columns + [(0, None)], method="highs"
    )
    assert result.status == 0
    # On a grid the LP can only do better than on the interval, so it bounds the minimax below.
    assert result.fun == pytest.approx(poly.epsilon, rel=1e-3)


def test_cks_degree_reproduces_the_measured_figures() -> None:
    # Measured by the team with another CKS implementation (epsilon = 1e-2).
    assert abs(cks_degree(10.0, 1e-2) - 123) <= 0.03 * 123
    assert abs(cks_degree(100.0, 1e-2) - 1669) <= 0.03 * 1669


def test_cks_coefficients_are_the_chebyshev_expansion_of_g_b() -> None:
    kappa, epsilon = 10.0, 1e-2
    b = math.ceil(kappa**2 * math.log(kappa / epsilon))
    full = _cks_series(kappa, epsilon, 2 * b - 1)
    interpolated = chebyshev.chebinterpolate(lambda x: (1 - (1 - x * x) ** b) / x, 2 * b - 1)
    # exp of log-gamma differences near 1e4 carries ~1e-12 relative rounding.
    np.testing.assert_allclose(full, interpolated, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kappa", [10.0, 100.0])
@pytest.mark.parametrize("epsilon", [1e-2, 1e-4])
def test_degree_at_equal_error_against_cks(kappa: float, epsilon: float) -> None:
    """At the same absolute error on 1/x, ours needs 0.56-0.61 of the CKS degree."""
    x = np.linspace(1 / kappa, 1.0, 20_000)
    reference = cks_degree(kappa, epsilon)
    cks_error = np.max(np.abs(chebyshev.chebval(x, _cks_series(kappa, epsilon, reference)) - 1 / x))
    # CKS proves 2 epsilon; what it reaches is within a factor 2 of epsilon either way.
    assert epsilon / 2 <= cks_error <= 2 * epsilon
    ours = inverse_polynomial(kappa, epsilon / kappa)
    assert np.max(np.abs(ours(x) / ours.scale - 1 / x)) <= epsilon * (1 + 1e-9)
    # The brief hoped for 0.5; relative-error optimality (test above) caps the gain at ~0.56.
    assert ours.degree <= 0.62 * reference


@settings(max_examples=30, deadline=None)
@given(
    log_kappa=st.floats(math.log10(2.0), 3.0),
    log_epsilon=st.floats(-10.0, -1.0),
)
def test_bounds_hold_over_kappa_and_epsilon(log_kappa: float, log_epsilon: float) -> None:
    kappa, epsilon = 10.0**log_kappa, 10.0**log_epsilon
    poly = inverse_polynomial(kappa, epsilon)
    x = _grid(kappa, 2000)
    values = poly(x)
    assert np.all(poly.coefficients[0::2] == 0.0)
    assert np.max(np.abs(values)) <= poly.max_abs
    inside = x >= 1 / kappa
    relative = np.abs(x[inside] * values[inside] / poly.scale - 1)
    assert poly.epsilon <= epsilon
    assert np.max(relative) <= poly.epsilon * (1 + 1e-6) + 1e-12
    assert relative[0] >= poly.epsilon * (1 - 1e-6) - 1e-12  # x = 1/kappa, an extremum


@pytest.mark.parametrize(
    ("kappa", "epsilon", "max_abs"),
    [
        (1.0, 1e-2, 0.5),
        (0.5, 1e-2, 0.5),
        (math.inf, 1e-2, 0.5),
        (math.nan, 1e-2, 0.5),
        (10.0, 0.0, 0.5),
        (10.0, 1.0, 0.5),
        (10.0, math.nan, 0.5),
        (10.0, 1e-2, 0.0),
        (10.0, 1e-2, 1.5),
    ],
)
def test_rejects_bad_arguments(kappa: float, epsilon: float, max_abs: float) -> None:
    with pytest.raises(ValueError):
        inverse_polynomial(kappa, epsilon, max_abs=max_abs)
    if max_abs == 0.5:
        with pytest.raises(ValueError):
            cks_degree(kappa, epsilon)


def test_rejects_even_coefficients() -> None:
    with pytest.raises(ValueError, match="even index"):
        InversePolynomial(
            kappa=10.0, epsilon=0.1, scale=0.01, coefficients=np.array([0.1, 0.2]), max_abs=0.5
        )


@given(
    kappa=st.floats(min_value=1.5, max_value=2000.0),
    epsilon=st.floats(min_value=1e-12, max_value=0.5),
)
def test_the_degree_alone_equals_the_built_polynomials(kappa: float, epsilon: float) -> None:
    assert inverse_polynomial_degree(kappa, epsilon) == inverse_polynomial(kappa, epsilon).degree


def test_the_degree_alone_works_far_beyond_what_can_be_built() -> None:
    # kappa = 1e8: about kappa ln(2/eps) (Lin-Tong), far too many coefficients to build.
    degree = inverse_polynomial_degree(1e8, 1e-3)
    assert 0.9 < degree / (1e8 * math.log(2 / 1e-3)) < 1.1
