r"""The odd polynomial $P(x) \approx s/x$ on $[1/\kappa, 1]$ that QSVT applies to invert a matrix.

With $a = 1/\kappa$, $y(x) = (1 + a^2 - 2x^2)/(1 - a^2)$ and $y_0 = y(0) = (1 + a^2)/(1 - a^2)$,

$$P(x) = \frac{s}{x}\Big(1 - \frac{T_n(y(x))}{T_n(y_0)}\Big),$$

an odd polynomial of degree $2n - 1$. On $[a, 1]$, $y \in [-1, 1]$, so the relative error
$x P(x)/s - 1 = -T_n(y)/T_n(y_0)$ equioscillates with amplitude $\varepsilon = 1/T_n(y_0)$
($n + 1$ extrema, $x = a$ and $x = 1$ among them). This is the least relative error any odd
polynomial of degree $2n - 1$ can reach: $q(u) = 1 - \sqrt u\, P(\sqrt u)$ is a polynomial of degree
$n$ with $q(0) = 1$, and the shifted Chebyshev polynomial is the minimax one on $[a^2, 1]$ under
that constraint: $T_n(y(x))/T_n(y_0)$ is the eigenstate filter $R_n(x; a)$ of Lin & Tong 2020
(arXiv:1910.14596), where this minimax property is proved. Since
$\operatorname{arccosh} y_0 = 2 \operatorname{artanh} a$,
$n = \lceil \operatorname{arccosh}(1/\varepsilon) / (2 \operatorname{artanh} a) \rceil
\approx \tfrac{\kappa}{2} \ln(2/\varepsilon)$.

Degrees at equal error against the truncated Childs-Kothari-Somma series (:func:`cks_degree`; the
comparison is at the same absolute error $\varepsilon$ of the approximation to $1/x$ on
$[1/\kappa, 1]$, which for $P/s$ is relative error $\varepsilon/\kappa$, see :func:`cks_degree`):

=======  =======  =====  ==========  =====  ================  ==================
kappa    epsilon  ours   cks_degree  ratio  CKS actual error  ours at rel. eps
=======  =======  =====  ==========  =====  ================  ==================
10       1e-2     75     123         0.61   1.32e-2           53 (0.43)
10       1e-4     121    211         0.57   9.16e-5           99 (0.47)
100      1e-2     991    1669        0.59   6.92e-3           529 (0.32)
100      1e-4     1451   2571        0.56   1.70e-4           991 (0.39)
1000     1e-2     12207  21193       0.58   1.01e-2           5299 (0.25)
1000     1e-4     16811  30245       0.56   8.26e-5           9903 (0.33)
=======  =======  =====  ==========  =====  ================  ==================

"CKS actual error" is $\max |f - 1/x|$ of the CKS polynomial $f$ measured on a dense grid; the last
column is ``inverse_polynomial(kappa, epsilon).degree``, whose error on $1/x$ is $\kappa$ times
larger than CKS's (not an equal-error comparison). By the optimality above no odd polynomial beats
the "ours" column at the same relative error; an absolute-error minimax polynomial (weighted Remez)
would save a few more degrees (69 instead of 75 at $\kappa = 10$).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.special
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "InversePolynomial",
    "cks_degree",
    "inverse_polynomial",
    "inverse_polynomial_degree",
    "inverse_polynomial_scale",
]

# The maximum of |P| is bounded from samples on a grid in theta = arccos(x) whose spacing is
# pi / (_GRID_PER_DEGREE * degree); see _max_abs_bound.
_GRID_PER_DEGREE = 64
# Relative slack for rounding in the closed-form samples (their relative error is ~1e-15).
_ROUNDING_SLACK = 1e-12


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class InversePolynomial:
    r"""Odd $P$: $|x P(x)/s - 1| \le \varepsilon$ on $[1/\kappa, 1]$, $|P| \le$ ``max_abs``.

    $P(x) = \sum_k c_k T_k(x)$ is the Lin-Tong polynomial of the module docstring.

    Attributes:
        kappa: $\kappa > 1$; the approximation holds on $[1/\kappa, 1]$ (and, $P$ being odd, on
            $[-1, -1/\kappa]$).
        epsilon: relative error achieved,
            $1/T_n(y_0) = \operatorname{sech}(2 n \operatorname{artanh}(1/\kappa))$, at most the one
            requested. Exact, not measured: $x P(x)/s - 1$ reaches
            $\pm\varepsilon$ at $x = 1/\kappa$ and $x = 1$ and stays within it in between.
        scale: $s$, so that $P(x) \approx s/x$ on $[1/\kappa, 1]$.
        coefficients: shape ``(degree + 1,)``, float64, read-only; $c_k$ of $T_k$, entries of even
            index exactly 0, last entry non-zero.
        max_abs: certified upper bound on $\max_{[-1, 1]} |P|$, at most $1$; the true maximum is
            within 0.1 % of it (see :func:`inverse_polynomial`).
    """

    kappa: float
    epsilon: float
    scale: float
    coefficients: NDArray[np.float64]
    max_abs: float

    def __post_init__(self) -> None:
        coefficients = np.array(self.coefficients, dtype=np.float64, copy=True)
        coefficients.flags.writeable = False
        object.__setattr__(self, "coefficients", coefficients)
        _check_kappa_epsilon(self.kappa, self.epsilon)
        if not self.scale > 0.0:
            raise ValueError(f"scale must be positive, not {self.scale!r}")
        if not 0.0 < self.max_abs <= 1.0:
            raise ValueError(f"max_abs must be in (0, 1], not {self.max_abs!r}")
        if coefficients.ndim != 1 or coefficients.size % 2 != 0 or coefficients[-1] == 0.0:
            raise ValueError("coefficients must be 1-D with an odd degree (an even length)")
        if np.any(coefficients[0::2] != 0.0):
            raise ValueError("coefficients of even index must be exactly 0 (P is odd)")

    @property
    def degree(self) -> int:
        """Degree of $P$, odd; QSVT uses $U$ and $U^\\dagger$ this many times in all."""
        return int(self.coefficients.size - 1)

    def __call__(self, x: ArrayLike) -> NDArray[np.float64]:
        """$P(x)$ by Clenshaw's recurrence (``numpy.polynomial.chebyshev.chebval``)."""
        values = np.polynomial.chebyshev.chebval(np.asarray(x, dtype=np.float64), self.coefficients)
        return np.asarray(values, dtype=np.float64)


def inverse_polynomial(kappa: float, epsilon: float, *, max_abs: float = 0.5) -> InversePolynomial:
    r"""The least-degree odd $P$ within relative error ``epsilon`` of $s/x$ on $[1/\kappa, 1]$.

    Coefficients come from the closed form sampled at the $2n$ Chebyshev points of the first kind
    and a DCT-II (exact for degree $2n - 1$; no monomials, no overflow: only
    $e^{-n \cdot}$ and ratios of $\cosh$ appear, see :func:`_closed_form`).

    The scale is $s = $ ``max_abs`` $/ B$ with $B \ge \max_{[-1,1]} |P/s|$ certified as follows.
    $|P/s| \le (1 + \varepsilon)/x$ on $[a, 1]$, below $P(a)/s = (1 - \varepsilon)/a$ for
    $x > x_c = a (1 + \varepsilon)/(1 - \varepsilon)$, so only $x \in [0, \max(4a, 1.001 x_c)]$
    needs sampling. There
    $q(\theta) = P(\cos\theta)/s$ is sampled with spacing $2h$; at the maximiser
    $\theta^*$ of $|q|$, $q' = 0$ and Bernstein's inequality gives $|q''| \le d^2 \|q\|$, so the
    nearest sample is at least $\|q\| (1 - d^2 h^2 / 2)$. With $h = \pi/(128 d)$ the bound is
    within $0.03\,\%$ of the true maximum. On $[0, a]$, $P$ can exceed $s/a$ by a factor of about
    $0.64 \sqrt{\ln(2/\varepsilon)/2}$ (1.04 at $\varepsilon = 10^{-2}$, 2.4 at $10^{-12}$).

    Args:
        kappa: $\kappa > 1$, the condition number to invert.
        epsilon: relative error wanted, in $(0, 1)$.
        max_abs: bound on $|P|$ over $[-1, 1]$, in $(0, 1]$; $1/2$ leaves QSVT room for a real
            part and phase errors.

    Raises:
        ValueError: ``kappa <= 1``, ``epsilon`` outside $(0, 1)$ or ``max_abs`` outside $(0, 1]$.
    """
    _check_kappa_epsilon(kappa, epsilon)
    if not 0.0 < max_abs <= 1.0:
        raise ValueError(f"max_abs must be in (0, 1], not {max_abs!r}")
    a = 1.0 / kappa
    n = _order(kappa, epsilon)
    achieved = _sech(n * 2.0 * math.atanh(a))
    degree = 2 * n - 1

    nodes = np.pi * (np.arange(degree + 1) + 0.5) / (degree + 1)
    coefficients = scipy.fft.dct(_closed_form(nodes, a, n), type=2) / (degree + 1)
    coefficients[0] /= 2.0
    coefficients[0::2] = 0.0

    bound = _max_abs_bound(a, n, achieved)
    scale = max_abs / bound
    return InversePolynomial(
        kappa=float(kappa),
        epsilon=achieved,
        scale=scale,
        coefficients=scale * coefficients,
        max_abs=float(max_abs),
    )


def inverse_polynomial_scale(kappa: float, epsilon: float, *, max_abs: float = 0.5) -> float:
    r"""The scale $s$ of ``inverse_polynomial(kappa, epsilon, max_abs=max_abs)`` without its
    coefficients: the certified peak is sampled on $O(\log(1/\varepsilon))$ points near 0,
    so this costs microseconds at any degree.

    Raises:
        ValueError: as :func:`inverse_polynomial`.
    """
    _check_kappa_epsilon(kappa, epsilon)
    if not 0.0 < max_abs <= 1.0:
        raise ValueError(f"max_abs must be in (0, 1], not {max_abs!r}")
    a = 1.0 / kappa
    n = _order(kappa, epsilon)
    return max_abs / _max_abs_bound(a, n, _sech(n * 2.0 * math.atanh(a)))


def inverse_polynomial_degree(kappa: float, epsilon: float) -> int:
    """The degree of ``inverse_polynomial(kappa, epsilon)`` without building it (any size).

    Raises:
        ValueError: ``kappa <= 1`` or ``epsilon`` outside $(0, 1)$.
    """
    _check_kappa_epsilon(kappa, epsilon)
    return 2 * _order(kappa, epsilon) - 1


def _order(kappa: float, epsilon: float) -> int:
    r"""The smallest $n \ge 1$ with ${\rm sech}(2n\,{\rm artanh}(1/\kappa)) \le \varepsilon$."""
    rate = 2.0 * math.atanh(1.0 / kappa)  # arccosh(y0)
    n = max(1, math.ceil(math.acosh(1.0 / epsilon) / rate))
    # The ceiling can be one off either way in floating point: settle it on sech itself.
    while n > 1 and _sech((n - 1) * rate) <= epsilon:
        n -= 1
    while _sech(n * rate) > epsilon:
        n += 1
    return n


def cks_degree(kappa: float, epsilon: float) -> int:
    r"""Degree of the truncated Childs-Kothari-Somma series for $1/x$ at error ``epsilon``.

    CKS (arXiv:1511.02306, Lemmas 17-19): $g_b(x) = (1 - (1 - x^2)^b)/x
    = 4 \sum_{j=0}^{b-1} (-1)^j c_j T_{2j+1}(x)$, $c_j = 2^{-2b} \sum_{i=j+1}^{b} \binom{2b}{b+i}
    = \Pr[\mathrm{Bin}(2b, \tfrac12) > b + j]$. With $b = \lceil \kappa^2 \ln(\kappa/\varepsilon)
    \rceil$, $|g_b - 1/x| \le \varepsilon$ on $[1/\kappa, 1]$; the series is cut after the least
    $j_0$ with $4 \sum_{j > j_0} c_j \le \varepsilon$, so $|f - 1/x| \le 2\varepsilon$ is proved
    (measured: $0.7\varepsilon$ to $1.7\varepsilon$). The degree is $2 j_0 + 1$.

    This is the criterion that reproduces the figures measured with another CKS implementation
    (123 at $\kappa = 10$, 1669 at $\kappa = 100$, $\varepsilon = 10^{-2}$); optimising $b$ or
    asking for a measured relative error did not. Its error is absolute on $1/x$ (up to $\kappa$);
    the same absolute error for :func:`inverse_polynomial` is relative error $\varepsilon/\kappa$,
    because $|P/s - 1/x| = |x P/s - 1|/x$ peaks at $x = 1/\kappa$. So the degree to compare is
    ``inverse_polynomial(kappa, epsilon / kappa).degree``.

    Raises:
        ValueError: ``kappa <= 1`` or ``epsilon`` outside $(0, 1)$.
    """
    _check_kappa_epsilon(kappa, epsilon)
    b = math.ceil(kappa**2 * math.log(kappa / epsilon))
    # Hoeffding: c_j <= exp(-(j + 1)^2 / b), so terms past `count` add less than epsilon * 1e-6.
    count = min(b, math.ceil(math.sqrt(b * math.log(4e6 * (1 + math.sqrt(b)) / epsilon))) + 1)
    j = np.arange(count, dtype=np.float64)
    terms = 4.0 * scipy.special.bdtrc(b + j, 2 * b, 0.5)
    # tails[k] = 4 * sum_{j >= k} c_j; summed from the small end so that rounding stays small.
    tails = np.cumsum(terms[::-1])[::-1]
    below = np.flatnonzero(tails <= epsilon)
    first_dropped = int(below[0]) if below.size else count
    j0 = max(first_dropped - 1, 0)
    return 2 * j0 + 1


def _check_kappa_epsilon(kappa: float, epsilon: float) -> None:
    if not (math.isfinite(kappa) and kappa > 1.0):
        raise ValueError(f"kappa must be a finite number above 1, not {kappa!r}")
    if not 0.0 < epsilon < 1.0:
        raise ValueError(f"epsilon must be in (0, 1), not {epsilon!r}")


def _sech(z: float) -> float:
    return 2.0 * math.exp(-z) / (1.0 + math.exp(-2.0 * z))


def _closed_form(theta: NDArray[np.float64], a: float, n: int) -> NDArray[np.float64]:
    r"""$P(\cos\theta)/s$ for $\theta \in [0, \pi]$, accurate to a few ulp relative.

    Substituting $\tanh(\varphi/2)^2 = (a^2 - x^2)/(1 - x^2)$ for $|x| \le a$ ($y = \cosh\varphi$)
    and $\tan(\psi/2)^2 = (x^2 - a^2)/(1 - x^2)$ for $|x| \ge a$ ($y = \cos\psi$) gives, with
    $\Phi = 2\operatorname{artanh} a$ and $\delta = \Phi - \varphi$,

    $$x P/s = \frac{(1 - e^{-n\delta})(1 - e^{-n(2\Phi - \delta)})}{1 + e^{-2n\Phi}} \;(|x| \le a),
    \qquad x P/s = 1 - \cos(n\psi)\operatorname{sech}(n\Phi) \;(|x| \ge a),$$

    where $\delta = 2\operatorname{artanh}((a - t)/(1 - a t))$, $t = \tanh(\varphi/2)$, and
    $a - t = x^2 (1 - a^2)/((1 - x^2)(a + t))$ has no cancellation near $x = 0$.
    """
    x = np.abs(np.cos(theta))
    sin = np.sin(theta)
    rate = 2.0 * math.atanh(a)
    inner = x <= a
    result = np.empty_like(x)

    xi, si = x[inner], sin[inner]
    t = np.sqrt((a - xi) * (a + xi)) / si
    gap = xi * xi * (1.0 - a * a) / (si * si * (a + t))
    delta = 2.0 * np.arctanh(gap / (1.0 - a * t))
    numerator = -np.expm1(-n * delta) * -np.expm1(-n * (2.0 * rate - delta))
    numerator /= 1.0 + math.exp(-2.0 * n * rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        result[inner] = np.where(xi > 0.0, numerator / xi, 0.0)

    xo, so = x[~inner], sin[~inner]
    psi = 2.0 * np.arctan2(np.sqrt((xo - a) * (xo + a)), so)
    result[~inner] = (1.0 - np.cos(n * psi) * _sech(n * rate)) / xo
    return np.asarray(np.copysign(result, np.cos(theta)), dtype=np.float64)


def _max_abs_bound(a: float, n: int, epsilon: float) -> float:
    """Certified upper bound on max |P/s| over [-1, 1]; the argument is in inverse_polynomial."""
    degree = 2 * n - 1
    step = math.pi / (_GRID_PER_DEGREE * degree)  # 2h
    cutoff = min(1.0, max(4.0 * a, 1.001 * a * (1.0 + epsilon) / (1.0 - epsilon)))
    lowest = math.acos(cutoff)
    count = math.ceil((math.pi / 2 - lowest) / step) + 1
    grid = np.pi / 2 - step * np.arange(count + 1, dtype=np.float64)
    # theta = 0 (x = 1) is added for when the grid reaches it; acos(a) gives
    # P(a) = (1 - epsilon) / a, which the bound beyond the cutoff relies on.
    theta = np.concatenate([grid[grid >= 0.0], [0.0, math.acos(a)]])
    sampled = float(np.max(np.abs(_closed_form(theta, a, n))))
    certified = sampled / (1.0 - (degree * step / 2.0) ** 2 / 2.0) * (1.0 + _ROUNDING_SLACK)
    # Beyond the cutoff |P/s| <= (1 + epsilon) / cutoff < P(a) / s <= sampled, so this is a check.
    return certified if cutoff == 1.0 else max(certified, (1.0 + epsilon) / cutoff)
