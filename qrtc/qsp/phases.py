r"""Symmetric phase factors of quantum signal processing (QSP), in the $W_x$ convention.

Convention (QSPPACK's $W_x$ form; Dong, Lin, Ni & Wang, arXiv:2307.12468): for phases
$\Phi = (\phi_0, \dots, \phi_d)$ and $x \in [-1, 1]$,

$$U_\Phi(x) = e^{i\phi_0 Z} W(x) e^{i\phi_1 Z} W(x) \cdots W(x) e^{i\phi_d Z}, \qquad
W(x) = \begin{pmatrix} x & i\sqrt{1-x^2} \\ i\sqrt{1-x^2} & x \end{pmatrix},$$

and the target is $f(x) = \operatorname{Im}\langle 0|U_\Phi(x)|0\rangle$, a real polynomial of
degree $d$ and parity $d \bmod 2$ with $\|f\|_\infty < 1$, given by its Chebyshev coefficients
$f = \sum_k c_k T_k$. The phases are symmetric, $\phi_k = \phi_{d-k}$, so only the first
$m = \lfloor d/2\rfloor + 1$ are solved for.

**Method ``"nlft"``** (the default). With $x = \cos\theta$, $z = e^{2i\theta}$ and $H$ the
Hadamard gate, $H U_\Phi H = G(z)\,\mathrm{diag}(e^{id\theta}, e^{-id\theta})$, where

$$G = \prod_{k=0}^{d} \cos\phi_k \begin{pmatrix} 1 & i\tan\phi_k\,z^k \\
i\tan\phi_k\,z^{-k} & 1 \end{pmatrix} = \begin{pmatrix} a & b \\ -b^* & a^* \end{pmatrix}$$

is the SU(2) nonlinear Fourier transform (NLFT) of $F_k = i\tan\phi_k$ (Alexis, Lin,
Mnatsakanyan, Thiele & Wang, arXiv:2407.05634). $a^*$ is a polynomial in $z$ with real
coefficients, $b = i\beta$ with $\beta$ real of degree $\le d$, and
$f(\cos\theta) = \sum_k \beta_k \cos((2k - d)\theta)$; symmetric phases give a palindromic
$\beta$, so $\beta_{(d\pm j)/2} = c_j/2$ ($\beta_{d/2} = c_0$). Two steps:

1. Weiss: $a^*$ is the outer function with $|a^*|^2 = 1 - f^2$ on $|z| = 1$, so
   $a^* = \exp(u + i\mathcal H u)$ with $u = \tfrac12\log(1 - f^2)$; FFTs on $N$ roots of
   unity, $N$ doubled (from $8(d+1)$) until the coefficients of $a^*$ above degree $d$ are
   below ``tolerance``. $N$ grows as $\|f\|_\infty \to 1$.
2. Inverse NLFT by layer stripping (Schur's algorithm): $\phi_k = \arctan(\beta_0 / a^*_0)$,
   then $(a^*, \beta) \leftarrow (\cos\phi_k\,a^* + \sin\phi_k\,\beta,
   (\cos\phi_k\,\beta - \sin\phi_k\,a^*)/z)$. The first $m$ phases depend only on the first
   $m$ coefficients, and the halves are split recursively with FFT products: the inverse
   nonlinear FFT of Ni, Sarkar, Ying & Lin (arXiv:2505.12615), which also proves layer
   stripping numerically stable here. $O(d\log^2 d)$ after the Weiss step.

**Method ``"fpi"``**: the fixed-point iteration of Dong, Lin, Ni & Wang (arXiv:2209.10162,
"Infinite quantum signal processing"), $\psi \leftarrow \psi - S^{-1}(F(\psi) - c)$, where $F$
maps the first half $\psi$ of the phases to the Chebyshev coefficients of the response
(evaluated at $m$ Chebyshev nodes with $U = A\,W A^{\mathsf T}$, then a DCT) and $S$ is its
derivative at $\psi = 0$. $O(d^2)$ per iteration, a contraction for $\|f\|_\infty \lesssim
0.86$; kept as an independent second solver.

Either way the result is checked at the end by :func:`qsp_response` (explicit $2\times2$
products, no code shared with the solvers) at points neither solver used; a residual above
``100 * tolerance`` raises ``ValueError``, so wrong phases are never returned silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft
from numpy.typing import ArrayLike, NDArray

__all__ = ["METHODS", "PhaseFactors", "qsp_response", "symmetric_phases"]

METHODS = ("auto", "nlft", "fpi")

# Layer stripping runs directly below this many phases; above, the recursion splits in halves.
_STRIP_DIRECTLY = 64
# The Weiss grid starts at this many points per coefficient of f and doubles; the cap keeps the
# FFT work arrays below ~1 GB (|f| within ~1e-4 of 1 at degree 1e4 needs more than this).
_WEISS_START = 8
_WEISS_MAX_POINTS = 1 << 23
# Check points: 2 per phase, at least 32, at most 512 (the check costs d x points products).
_CHECK_POINTS = (32, 512)
_CHECK_SEED = 20240611
# A returned residual may exceed the tolerance by this factor (rounding of a degree-d product).
_ACCEPT_FACTOR = 100.0


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PhaseFactors:
    r"""Symmetric QSP phases $\Phi$ with $\operatorname{Im}\langle 0|U_\Phi(x)|0\rangle = f(x)$.

    Attributes:
        phases: $(\phi_0, \dots, \phi_d)$ in radians, shape ``(d + 1,)``, symmetric
            ($\phi_k = \phi_{d-k}$), read-only.
        residual: $\max_x |\operatorname{Im}\langle 0|U_\Phi(x)|0\rangle - f(x)|$ over the check
            points, as measured by :func:`qsp_response`.
        iterations: fixed-point sweeps (``"fpi"``) or Weiss grids tried (``"nlft"``).
        method: the solver that produced the phases, ``"nlft"`` or ``"fpi"``.
    """

    phases: NDArray[np.float64]
    residual: float
    iterations: int
    method: str

    def __post_init__(self) -> None:
        phases = np.array(self.phases, dtype=np.float64)
        if phases.ndim != 1 or phases.size == 0 or not np.all(np.isfinite(phases)):
            raise ValueError(f"phases must be a non-empty finite 1-D array, not {self.phases!r}")
        if not np.array_equal(phases, phases[::-1]):
            raise ValueError("phases must be symmetric: phi_k == phi_(d-k)")
        if not (math.isfinite(self.residual) and self.residual >= 0.0):
            raise ValueError(f"residual must be finite and >= 0, not {self.residual!r}")
        if self.method not in METHODS[1:]:
            raise ValueError(f"method must be 'nlft' or 'fpi', not {self.method!r}")
        phases.flags.writeable = False
        object.__setattr__(self, "phases", phases)

    @property
    def degree(self) -> int:
        """$d$, the degree of the target polynomial (one less than the number of phases)."""
        return int(self.phases.size) - 1


def symmetric_phases(
    coefficients: ArrayLike,
    *,
    tolerance: float = 1e-12,
    max_iterations: int = 200,
    method: str = "auto",
) -> PhaseFactors:
    r"""Symmetric phases $\Phi$ with $\operatorname{Im}\langle 0|U_\Phi(x)|0\rangle = f(x)$.

    Args:
        coefficients: Chebyshev coefficients $c_0, \dots, c_d$ of $f = \sum_k c_k T_k$, shape
            ``(d + 1,)``. Entries of parity other than $d \bmod 2$ must be zero (their absolute
            sum at most ``tolerance``; they are dropped); $\|f\|_\infty < 1$ on $[-1, 1]$.
        tolerance: target accuracy of the response, $\max_x |\operatorname{Im}\langle 0|U|0
            \rangle - f|$. The result is accepted up to ``100 * tolerance``, which leaves room
            for the rounding of the degree-$d$ product that measures it (about
            $d\,\varepsilon_{\rm mach}$).
        max_iterations: at most this many fixed-point sweeps (``"fpi"``) or Weiss grids
            (``"nlft"``).
        method: ``"nlft"`` (Weiss + inverse nonlinear FFT; any $\|f\|_\infty < 1$, cost growing
            as it nears 1), ``"fpi"`` (fixed-point iteration; $\|f\|_\infty \lesssim 0.86$) or
            ``"auto"`` (``"nlft"``).

    Returns:
        The phases, with the residual measured by :func:`qsp_response`.

    Raises:
        ValueError: mixed parity, $\|f\|_\infty \ge 1$, bad arguments, or a solver that did not
            reach ``100 * tolerance`` (the message says which and by how much).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, not {method!r}")
    if not (math.isfinite(tolerance) and tolerance > 0.0):
        raise ValueError(f"tolerance must be a positive number, not {tolerance!r}")
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be a positive integer, not {max_iterations!r}")
    target = _validated_target(coefficients, tolerance)
    degree = target.size - 1
    beta = _beta_coefficients(target)
    peak = _sup_on_grid(beta, _WEISS_START * (degree + 1))
    if peak >= 1.0:
        raise ValueError(
            f"max |f| on [-1, 1] is at least {peak:.6g}; QSP needs |f| < 1: scale f down"
        )
    if method == "fpi":
        half, iterations = _fixed_point_half(target, tolerance, max_iterations)
    else:
        method = "nlft"
        a_star, iterations = _weiss(beta, tolerance, max_iterations)
        half = _inverse_nlft(a_star, beta[: a_star.size], with_transform=False)[0]
    phases = np.concatenate([half, half[: degree + 1 - half.size][::-1]])
    residual = _residual(phases, target)
    if not residual <= _ACCEPT_FACTOR * tolerance:
        raise ValueError(
            f"phase factors failed the check: max |Im<0|U|0> - f| = {residual:.3g} exceeds "
            f"{_ACCEPT_FACTOR:g} * tolerance = {_ACCEPT_FACTOR * tolerance:.3g} (method "
            f"{method!r}, degree {degree}, max |f| ~ {peak:.6g}); scale f further from 1"
            + (" or use method='nlft'" if method == "fpi" else "")
        )
    return PhaseFactors(phases=phases, residual=residual, iterations=iterations, method=method)


def qsp_response(phases: ArrayLike, x: ArrayLike) -> NDArray[np.complex128]:
    r"""$\langle 0|U_\Phi(x)|0\rangle$ by explicit $2\times2$ products, elementwise in ``x``.

    The factors of $U_\Phi(x)$ are applied right to left to $|0\rangle$: first
    $e^{i\phi_d Z}$, then $W(x)$ and $e^{i\phi_k Z}$ for $k = d-1, \dots, 0$. This is the
    independent check of :func:`symmetric_phases` and shares no code with it. Its rounding
    error grows like $d\,\varepsilon_{\rm mach}$ (measured: 4e-13 at $d = 10^4$).

    Args:
        phases: $(\phi_0, \dots, \phi_d)$, shape ``(d + 1,)``, any (not only symmetric).
        x: points in $[-1, 1]$, any shape.

    Returns:
        Complex array of the shape of ``x``.
    """
    angles = np.asarray(phases, dtype=np.float64)
    if angles.ndim != 1 or angles.size == 0:
        raise ValueError(f"phases must be a non-empty 1-D array, not shape {angles.shape}")
    points = np.asarray(x, dtype=np.float64)
    if not np.all(np.abs(points) <= 1.0):
        raise ValueError("x must lie in [-1, 1]")
    # sqrt(1 - x^2) without cancellation near |x| = 1, where 1 - |x| is exact (Sterbenz).
    magnitude = np.abs(points)
    sine_squared = np.where(magnitude > 0.5, (1.0 - magnitude) * (1.0 + magnitude), 1.0 - points**2)
    cosine = points
    i_sine = 1j * np.sqrt(sine_squared)
    # diag(e^{i phi}, e^{-i phi}) for each phase, shaped to scale the (top, bottom) state rows.
    diagonals = np.exp(1j * np.multiply.outer(angles, [1.0, -1.0]))
    diagonals = diagonals.reshape(angles.shape + (2,) + (1,) * points.ndim)
    state = np.zeros((2,) + points.shape, dtype=np.complex128)
    state[0] = diagonals[-1, 0]
    for diagonal in diagonals[-2::-1]:
        # W(x) v = x v + i sqrt(1 - x^2) X v, where X swaps the two rows.
        swapped = i_sine * state[::-1]
        state *= cosine
        state += swapped
        state *= diagonal
    return np.asarray(state[0], dtype=np.complex128)


def _validated_target(coefficients: ArrayLike, tolerance: float) -> NDArray[np.float64]:
    """The coefficients as a float array with the entries of the wrong parity set to zero."""
    target = np.array(coefficients, dtype=np.float64)
    if target.ndim != 1 or target.size == 0:
        raise ValueError(f"coefficients must be a non-empty 1-D array, not shape {target.shape}")
    if not np.all(np.isfinite(target)):
        raise ValueError("coefficients must be finite")
    degree = target.size - 1
    wrong = target[1 - degree % 2 :: 2]
    if np.sum(np.abs(wrong)) > tolerance:
        kind, other = ("odd", "even") if degree % 2 else ("even", "odd")
        raise ValueError(
            f"coefficients mix parities: degree {degree} is {kind}, so the {other} entries must"
            f" be 0, but they sum to {np.sum(np.abs(wrong)):.3g} in absolute value"
        )
    target[1 - degree % 2 :: 2] = 0.0
    return target


def _beta_coefficients(target: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""Palindromic $\beta_0, \dots, \beta_d$ with $f(\cos\theta) = \sum_k \beta_k
    \cos((2k - d)\theta)$."""
    degree = target.size - 1
    orders = np.arange(degree % 2, degree + 1, 2)
    beta = np.zeros(degree + 1)
    beta[(degree + orders) // 2] = target[orders] / 2
    beta[(degree - orders) // 2] += target[orders] / 2
    return beta


def _sup_on_grid(beta: NDArray[np.float64], points: int) -> float:
    """max |f| at ``points`` (rounded up to a power of two) equispaced angles theta."""
    size = 1 << max(4, (points - 1).bit_length())
    values = scipy.fft.rfft(beta, size)
    return float(np.max(np.abs(values)))


def _weiss(
    beta: NDArray[np.float64], tolerance: float, max_grids: int
) -> tuple[NDArray[np.float64], int]:
    r"""First $m$ coefficients of $a^*$ (outer, $|a^*|^2 = 1 - |\beta|^2$ on the circle), grids."""
    degree = beta.size - 1
    half = degree // 2 + 1
    size = 1 << max(4, (_WEISS_START * (degree + 1) - 1).bit_length())
    for grid in range(1, max_grids + 1):
        # |beta(z)|^2 at the roots of unity z_k, k <= size/2; the rest by symmetry.
        values = scipy.fft.rfft(beta, size)
        modulus2 = values.real**2 + values.imag**2
        if np.max(modulus2) >= 1.0:
            raise ValueError(
                f"max |f| on [-1, 1] is at least {np.sqrt(np.max(modulus2)):.6g}; QSP needs"
                " |f| < 1: scale f down"
            )
        # Fourier coefficients of log|a*|; doubling the positive ones gives the analytic
        # completion log a* (conjugate function by the discrete Hilbert transform).
        log_modulus = scipy.fft.irfft(0.5 * np.log1p(-modulus2), size)
        log_modulus[1 : size // 2] *= 2.0
        log_modulus[size // 2 + 1 :] = 0.0
        # conj(a*(z_k)) = exp(rfft(.)_k) since the coefficients are real; irfft conjugates back.
        a_star = scipy.fft.irfft(np.exp(scipy.fft.rfft(log_modulus)), size)
        # The exact a* has degree d, so the coefficients above it measure the error; each
        # doubling roughly squares it (measured: the response error is below this tail).
        if np.max(np.abs(a_star[degree + 1 :])) <= tolerance:
            return a_star[:half], grid
        if size >= _WEISS_MAX_POINTS:
            break
        size *= 2
    limit = "max_iterations" if size < _WEISS_MAX_POINTS else f"{_WEISS_MAX_POINTS} points"
    raise ValueError(
        f"the Weiss step did not resolve a* within {limit} (degree {degree}, max |f| ~ "
        f"{np.sqrt(np.max(modulus2)):.6g}): |f| is too close to 1 for this degree; scale f down"
    )


def _inverse_nlft(
    a_star: NDArray[np.float64], beta: NDArray[np.float64], *, with_transform: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    r"""Phases $\phi_0..\phi_{n-1}$ from $a^*, \beta \bmod z^n$, and (if asked) their NLFT.

    The NLFT of the returned phases is given as the coefficient arrays of its $a^*$ and
    $\beta$ (both shape ``(n,)``); empty arrays when ``with_transform`` is false.
    """
    size = a_star.size
    if size <= _STRIP_DIRECTLY:
        return _layer_strip(a_star, beta, with_transform=with_transform)
    split = size // 2
    head, head_a, head_b = _inverse_nlft(a_star[:split], beta[:split], with_transform=True)
    # Strip the head: (a*, b) <- G^{-1} (a*, b) with G the head's NLFT; in real form
    #   a*_rest = head_b(1/z) beta(z) + head_a(1/z) a*(z),  beta_rest = head_a beta - head_b a*,
    # of which only a*_rest below z^(n - split) and beta_rest from z^split up survive.
    fft_size = scipy.fft.next_fast_len(size + split, real=True)
    a, b, ha, hb, ha_mirror, hb_mirror = (
        scipy.fft.rfft(v, fft_size)
        for v in (a_star, beta, head_a, head_b, head_a[::-1], head_b[::-1])
    )
    a_rest = scipy.fft.irfft(b * hb_mirror + a * ha_mirror, fft_size)[split - 1 : size - 1]
    b_rest = scipy.fft.irfft(ha * b - hb * a, fft_size)[split:size]
    tail, tail_a, tail_b = _inverse_nlft(a_rest, b_rest, with_transform=with_transform)
    phases = np.concatenate([head, tail])
    if not with_transform:
        return phases, np.empty(0), np.empty(0)
    # NLFT(head, tail) = G_head times G_tail shifted by z^split; in real form
    #   a* = head_a tail_a - z^split head_b(1/z) tail_b,
    #   beta = z^split head_a(1/z) tail_b + head_b tail_a.
    fft_size = scipy.fft.next_fast_len(size, real=True)
    ha, hb, ta, tb, ha_shift, hb_shift = (
        scipy.fft.rfft(v, fft_size)
        for v in (
            head_a,
            head_b,
            tail_a,
            tail_b,
            np.concatenate([[0.0], head_a[::-1]]),
            np.concatenate([[0.0], head_b[::-1]]),
        )
    )
    total_a = scipy.fft.irfft(ha * ta - hb_shift * tb, fft_size)[:size]
    total_b = scipy.fft.irfft(ha_shift * tb + hb * ta, fft_size)[:size]
    return phases, total_a, total_b


def _layer_strip(
    a_star: NDArray[np.float64], beta: NDArray[np.float64], *, with_transform: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Layer stripping one phase at a time; the NLFT of the phases is built alongside."""
    size = a_star.size
    phases = np.empty(size)
    transform_a = np.zeros(size)
    transform_a[0] = 1.0
    transform_b = np.zeros(size)
    for k in range(size):
        phi = math.atan2(float(beta[0]), float(a_star[0]))
        c, s = math.cos(phi), math.sin(phi)
        phases[k] = phi
        a_star, beta = c * a_star[:-1] + s * beta[:-1], c * beta[1:] - s * a_star[1:]
        if with_transform:
            # Appending factor k: a* <- c a* - s z^k beta(1/z), beta <- c beta + s z^k a*(1/z).
            mirrored_a = transform_a[k::-1].copy()
            mirrored_b = transform_b[k::-1].copy()
            transform_a[: k + 1] = c * transform_a[: k + 1] - s * mirrored_b
            transform_b[: k + 1] = c * transform_b[: k + 1] + s * mirrored_a
    if not with_transform:
        return phases, np.empty(0), np.empty(0)
    return phases, transform_a, transform_b


def _fixed_point_half(
    target: NDArray[np.float64], tolerance: float, max_iterations: int
) -> tuple[NDArray[np.float64], int]:
    """First half of the phases by the fixed-point iteration, and the sweeps it took."""
    degree = target.size - 1
    parity = degree % 2
    half_size = degree // 2 + 1
    reduced = target[parity::2]
    nodes = np.cos(np.pi * (2 * np.arange(half_size) + 1) / (4 * half_size))
    # dF/dpsi at psi = 0 maps psi_(m-1-j) to 2 psi (1 psi for c_0 of an even f): c_j picks up
    # phi_((d-j)/2) + phi_((d+j)/2).
    slope = np.full(half_size, 2.0)
    slope[0] = 2.0 if parity else 1.0
    half = np.zeros(half_size)
    error_sum = previous = math.inf
    for sweep in range(1, max_iterations + 1):
        values = _half_response_imag(half, parity, nodes)
        if parity:
            response = scipy.fft.dct(values, type=4) / half_size
        else:
            response = scipy.fft.dct(values, type=2) / half_size
            response[0] /= 2.0
        error = response - reduced
        # The sum bounds max |response - f| on [-1, 1]; once it stalls below the tolerance it
        # has reached the rounding of the response, and the final check decides.
        error_sum = float(np.sum(np.abs(error)))
        if error_sum <= tolerance / 10.0 or (error_sum <= tolerance and error_sum > previous / 2):
            return half, sweep
        if not error_sum < 2.0 * previous:
            break
        previous = error_sum
        half[::-1] -= error / slope
    raise ValueError(
        f"the fixed-point iteration did not converge (coefficient error {error_sum:.3g} after at "
        f"most {max_iterations} sweeps, degree {degree}); it needs max |f| below ~0.86: use "
        "method='nlft'"
    )


def _half_response_imag(
    half: NDArray[np.float64], parity: int, x: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""$\operatorname{Im}\langle 0|U|0\rangle$ for the symmetric phases whose first half is given.

    $U = A\,W A^{\mathsf T}$ (odd $d$) or $A\,e^{i\psi_{m-1}Z}A^{\mathsf T}$ (even $d$), since
    $W$ and $e^{i\phi Z}$ are symmetric matrices; so $\langle 0|U|0\rangle = u^{\mathsf T} M u$
    with $u = A^{\mathsf T}|0\rangle$, half the products of the full sequence.
    """
    root = np.sqrt((1.0 - x) * (1.0 + x))  # the nodes lie in (0, 1); no cancellation near 1
    top = np.ones(x.shape, dtype=np.complex128)
    bottom = np.zeros(x.shape, dtype=np.complex128)
    for angle in half[:-1]:
        top *= complex(math.cos(angle), math.sin(angle))
        bottom *= complex(math.cos(angle), -math.sin(angle))
        top, bottom = x * top + 1j * root * bottom, 1j * root * top + x * bottom
    middle = complex(math.cos(half[-1]), math.sin(half[-1]))
    if parity:
        top *= middle
        bottom *= middle.conjugate()
        value = x * (top * top + bottom * bottom) + 2j * root * top * bottom
    else:
        value = middle * top * top + middle.conjugate() * bottom * bottom
    return np.asarray(value.imag, dtype=np.float64)


def _residual(phases: NDArray[np.float64], target: NDArray[np.float64]) -> float:
    r"""max |Im<0|U|0> - f| at seeded random points of $[0, 1]$, none of them a solver node.

    $[0, 1]$ suffices: $W(-x) = -Z W(x) Z$, so $\langle 0|U_\Phi(-x)|0\rangle = (-1)^d
    \langle 0|U_\Phi(x)|0\rangle$ for any phases, and $f$ has parity $d$.
    """
    low, high = _CHECK_POINTS
    count = min(high, max(low, 2 * phases.size))
    angles = np.random.default_rng(_CHECK_SEED).uniform(0.0, np.pi / 2, count)
    points = np.cos(angles)
    response = qsp_response(phases, points).imag
    expected = np.polynomial.chebyshev.chebval(points, target)
    return float(np.max(np.abs(response - expected)))
