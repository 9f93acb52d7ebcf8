"""Taylor coefficients against known series and against the functions themselves."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
def test_remainder_shrinks_like_h_to_the_order_plus_one(
    function: str, center: float, order: int
) -> None:
    """|f(a + h) - P(a + h)| = O(h^{K+1}): halving h divides the error by about 2^{K+1}."""
    if function == "log":
        center = abs(center) + 0.5
    f = FUNCTIONS[function]
    coefficients = taylor_coefficients(function, center, order)

    def error(h: float) -> float:
        return abs(f(center + h) - sum(c * h**k for k, c in enumerate(coefficients)))

    h = 0.05
    big, small = error(h), error(h / 2)
    if big < 1e-13:  # already at rounding level: nothing to measure
        return
    assert small <= big / 2 ** (order + 1) * 1.6 + 1e-14


def test_log_outside_its_domain_is_refused() -> None:
    with pytest.raises(ValueError, match="centres > 0"):
        taylor_coefficients("log", 0.0, 3)


def test_large_centres_do_not_overflow() -> None:
    for function in ("sigmoid", "tanh", "softplus"):
        for center in (-800.0, 800.0):
            assert all(math.isfinite(c) for c in taylor_coefficients(function, center, 6))
