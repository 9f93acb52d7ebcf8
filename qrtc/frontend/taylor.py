r"""Taylor coefficients of the non-polynomial functions a spec may use inside ``taylor(...)``.

``taylor_coefficients(f, a, K)[k]`` $= f^{(k)}(a)/k!$, so that
$f(a + h) \approx \sum_{k=0}^{K} c_k h^k$. Computed with truncated power-series arithmetic
(exact recurrences, no finite differences): $\exp$ directly, $\log$ from its derivative
$1/x$, $\sigma(x) = 1/(1 + e^{-x})$ as a series reciprocal, $\tanh(x) = 2\sigma(2x) - 1$, and
softplus $\log(1 + e^x)$ as the integral of $\sigma$.
"""

from __future__ import annotations

import math

__all__ = ["ANALYTIC_FUNCTIONS", "taylor_coefficients"]

ANALYTIC_FUNCTIONS: dict[str, str] = {
    "exp": "e^u",
    "log": "natural logarithm, centre > 0",
    "sigmoid": "1 / (1 + e^-u)",
    "softplus": "log(1 + e^u)",
    "tanh": "hyperbolic tangent",
}


def _reciprocal(series: list[float]) -> list[float]:
    """Coefficients of 1/s(h) for a power series s with s(0) != 0, to the same order."""
    inverse = [1.0 / series[0]]
    for k in range(1, len(series)):
        total = sum(series[j] * inverse[k - j] for j in range(1, k + 1))
        inverse.append(-total / series[0])
    return inverse


def _sigmoid_series(center: float, order: int) -> list[float]:
    # sigma(a + h) = 1 / (1 + e^{-a} e^{-h}); for a < 0 use sigma(x) = 1 - sigma(-x) so that
    # e^{-a} never overflows.
    if center < 0:
        mirrored = _sigmoid_series(-center, order)
        return [1.0 - mirrored[0]] + [-c * (-1) ** k for k, c in enumerate(mirrored) if k > 0]
    e = math.exp(-center)
    denominator = [1.0 + e] + [e * (-1) ** k / math.factorial(k) for k in range(1, order + 1)]
    return _reciprocal(denominator)


def taylor_coefficients(function: str, center: float, order: int) -> tuple[float, ...]:
    """``order + 1`` coefficients $f^{(k)}(a)/k!$ of ``function`` about ``center``.

    Raises:
        ValueError: unknown function, or ``center`` outside its domain (log needs a > 0).
    """
    if order < 0:
        raise ValueError(f"order must be non-negative, not {order}")
    if function == "exp":
        base = math.exp(center)
        return tuple(base / math.factorial(k) for k in range(order + 1))
    if function == "log":
        if center <= 0:
            raise ValueError(f"log is only analytic for centres > 0, not {center!r}")
        return (math.log(center),) + tuple(
            (-1) ** (k + 1) / (k * center**k) for k in range(1, order + 1)
        )
    if function == "sigmoid":
        return tuple(_sigmoid_series(center, order))
    if function == "tanh":
        sigmoid = _sigmoid_series(2.0 * center, order)
        coefficients = [2.0 * c * 2.0**k for k, c in enumerate(sigmoid)]
        coefficients[0] -= 1.0
        return tuple(coefficients)
    if function == "softplus":
        sigmoid = _sigmoid_series(center, max(order - 1, 0))
        # log(1 + e^a), computed without overflow for large a
        head = max(center, 0.0) + math.log1p(math.exp(-abs(center)))
        return (head,) + tuple(sigmoid[k - 1] / k for k in range(1, order + 1))
    raise ValueError(f"unknown function {function!r}")
