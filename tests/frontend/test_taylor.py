"""Taylor coefficients against known series and against the functions themselves."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.polynomial import Chebyshev, Polynomial

from qrtc.frontend.taylor import ANALYTIC_FUNCTIONS, taylor_coefficients

FUNCTIONS = {
    "exp": math.exp,
    "log": math.log,
    "sigmoid": lambda u: 1.0 / (1.0 + math.exp(-u)),
    "tanh": math.tanh,
    "softplus": lambda u: math.log1p(math.exp(u)),
}


def test_every_analytic_function_has_a_reference() -> None:
    assert set(FUNCTIONS) == set(ANALYTIC_FUNCTIONS)


@pytest.mark.parametrize(
    "function,center,expected",
    [
        ("tanh", 0.0, [0, 1, 0, -1 / 3, 0, 2 / 15, 0, -17 / 315]),
        ("sigmoid", 0.0, [1 / 2, 1 / 4, 0, -1 / 48, 0, 1 / 480]),
        ("softplus", 0.0, [math.log(2), 1 / 2, 1 / 8, 0, -1 / 192]),
        ("exp", 1.0, [math.e / math.factorial(k) for k in range(6)]),
        ("log", 2.0, [math.log(2), 1 / 2, -1 / 8, 1 / 24, -1 / 64]),
    ],
)
def test_known_series(function: str, center: float, expected: list[float]) -> None:
    got = taylor_coefficients(function, center, len(expected) - 1)
    assert got == pytest.approx(expected, abs=1e-15)


@given(
    function=st.sampled_from(sorted(FUNCTIONS)),
    center=st.floats(-3.0, 3.0),
    order=st.integers(1, 8),
)
def test_coefficients_match_a_chebyshev_interpolant(
    function: str, center: float, order: int
) -> None:
    """The power-series coefficients of a degree-40 Chebyshev interpolant of f on [a - r, a + r]
    (numpy, independent of our series arithmetic) are the Taylor coefficients. The conversion to
    the power basis loses about a decimal digit per degree (measured: 7e-15 at k = 0 growing to
    7e-7 at k = 8, times r^-k), hence the tolerance 1e-13 * 12^k / r^k."""
    if function == "log":
        center = abs(center) + 0.5
    radius = min(1.0, center / 2) if function == "log" else 1.0
    f = FUNCTIONS[function]
    interpolant = Chebyshev.interpolate(
        lambda h: np.vectorize(f)(center + h), 40, domain=[-radius, radius]
    )
    expected = interpolant.convert(kind=Polynomial, domain=[-1, 1], window=[-1, 1]).coef
    got = taylor_coefficients(function, center, order)
    for k, coefficient in enumerate(got):
        assert coefficient == pytest.approx(expected[k], abs=1e-13 * 12**k / radius**k, rel=1e-12)


def test_log_outside_its_domain_is_refused() -> None:
    with pytest.raises(ValueError, match="centres > 0"):
        taylor_coefficients("log", 0.0, 3)


def test_large_centres_do_not_overflow() -> None:
    for function in ("sigmoid", "tanh", "softplus"):
        for center in (-800.0, 800.0):
            assert all(math.isfinite(c) for c in taylor_coefficients(function, center, 6))
