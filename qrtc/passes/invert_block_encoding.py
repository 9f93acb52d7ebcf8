r"""Stage 5 -> 6: QSVT inversion of a block-encoded $\mathbf L$ (paper.md §6.3).

$\kappa_{\rm eff} = \alpha\|\tilde{\mathbf L}^{-1}\|$ is exact (from the singular values of
$\mathbf L$'s live part: a dense SVD up to ``MAX_EXACT_KAPPA_DIM`` rows, Lanczos on
$\mathbf L^{-1}$ up to ``MAX_LANCZOS_KAPPA_DIM``), else $\alpha\max(1, B)$ from the window-norm
bound of paper.md §5 ($\tilde{\mathbf L} = \mathbf L \oplus I$, so $\|\tilde{\mathbf L}^{-1}\|
= \max(1, \|\mathbf L^{-1}\|)$). The polynomial is :func:`qrtc.qsp.polynomial.inverse_polynomial`
at relative error $\varepsilon_P$, its phases :func:`qrtc.qsp.phases.symmetric_phases`, and the
circuit :func:`qrtc.circuits.qsvt.qsvt_circuit`.

**Choosing $\varepsilon_P$.** Reading $\theta$ as the mean of the level-1 $\theta$-slices of
the $p + 1$ equal terminal blocks, a relative error $\varepsilon_P$ of the whole vector
$\mathbf x$ moves that mean by at most $\varepsilon_P\|\mathbf x\|/\sqrt{p+1}$ (Cauchy–Schwarz
over the copies), i.e. by $\gamma\varepsilon_P\|\mathbf x\|/\sqrt{p+1}$ in the units of
$\theta$. :func:`polynomial_error_for` returns the $\varepsilon_P$ that keeps this below a given
share of ``precision``.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
from numpy.typing import NDArray

from qrtc.circuits.qsvt import qsvt_circuit
from qrtc.errors import CompileError
from qrtc.ir.block_encoding import BlockEncoding
from qrtc.ir.block_system import BlockSystem
from qrtc.ir.qsvt import QsvtCircuit
from qrtc.passes.propagator import live_coordinates
from qrtc.qsp.phases import symmetric_phases
from qrtc.qsp.polynomial import cks_degree, inverse_polynomial, inverse_polynomial_degree

__all__ = [
    "MAX_DEGREE",
    "POLYNOMIAL_SHARE",
    "EffectiveConditionNumber",
    "MAX_EXACT_KAPPA_DIM",
    "MAX_LANCZOS_KAPPA_DIM",
    "effective_condition_number",
    "exact_kappa_method",
    "inverse_norm_lanczos",
    "invert_block_encoding",
    "polynomial_error",
    "polynomial_error_for",
]

# Dense SVD up to here: O(dim^3), a few seconds at 3500 rows, where Lanczos takes 0.01 s.
MAX_EXACT_KAPPA_DIM = 1024
# Lanczos on L^-1 costs a few dozen triangular solves: 0.2 s at 55 305 live rows (robust_linreg,
# T = 1024), where it agrees with the dense SVD to 1e-14 wherever both run.
MAX_LANCZOS_KAPPA_DIM = 2_000_000
_LANCZOS_TOL = 1e-12
MAX_DEGREE = 200_001
# |P| <= 0.9: the success probability grows as max|P|^2, and the phase solver (NLFT) is as
# accurate at 0.9 as at 0.5 (it was checked up to 0.9999).
POLYNOMIAL_MAX_ABS = 0.9
# The error split: the share of ``precision`` (in the units of theta) the polynomial may spend;
# the rest is the Carleman truncation's. The only place this decision is made.
POLYNOMIAL_SHARE = 0.5


class EffectiveConditionNumber(NamedTuple):
    r"""$\kappa_{\rm eff} = \alpha\|\tilde{\mathbf L}^{-1}\|$ and how it was found."""

    value: float
    exact: bool
    r"""From $\sigma_{\min}(\mathbf L)$ (dense SVD or Lanczos), not the window-norm bound."""


def exact_kappa_method(live_dim: int) -> Literal["dense SVD", "Lanczos"] | None:
    r"""How :func:`effective_condition_number` finds $\sigma_{\min}$ of a live part of
    ``live_dim`` rows: a dense SVD, Lanczos on $\mathbf L^{-1}$, or not at all (the bound)."""
    if live_dim <= MAX_EXACT_KAPPA_DIM:
        return "dense SVD"
    if live_dim <= MAX_LANCZOS_KAPPA_DIM:
        return "Lanczos"
    return None


def effective_condition_number(system: BlockSystem, alpha: float) -> EffectiveConditionNumber:
    r"""$(\alpha\|\tilde{\mathbf L}^{-1}\|, \text{exact})$.

    Exact (from the singular values of $\mathbf L$'s live part,
    :func:`~qrtc.passes.propagator.live_coordinates`) by a dense SVD up to
    ``MAX_EXACT_KAPPA_DIM`` live rows, by Lanczos on $\mathbf L^{-1}$ up to
    ``MAX_LANCZOS_KAPPA_DIM``; else the window-norm bound.
    """
    live = live_coordinates(system.carleman)
    method = exact_kappa_method(system.n_blocks * live.size)
    smallest = None
    if method is not None:
        smallest = _smallest_singular_value(system, live, method)
    if smallest is None:
        return EffectiveConditionNumber(alpha * max(1.0, system.inverse_norm_bound), False)
    return EffectiveConditionNumber(alpha * max(1.0, 1.0 / smallest), True)


def _smallest_singular_value(
    system: BlockSystem, live: NDArray[np.intp], method: Literal["dense SVD", "Lanczos"]
) -> float | None:
    r"""$\sigma_{\min}(\mathbf L)$ from its live part; ``None`` if Lanczos does not converge.

    Permuted, $\mathbf L = \mathbf L_{\rm live} \oplus (I - N)^{\oplus\,\rm idle} \oplus I$,
    with $I - N$ the $(p+1) \times (p+1)$ padding chain of an idle coordinate.
    """
    size = system.block_size
    index = (np.arange(system.n_blocks)[:, None] * size + live[None, :]).ravel()
    matrix = system.to_scipy()[index][:, index]
    if method == "dense SVD":
        smallest = float(scipy.linalg.svdvals(matrix.toarray())[-1])
    else:
        largest = inverse_norm_lanczos(matrix)
        if largest is None:
            return None
        smallest = 1.0 / largest
    if live.size < size:
        chain = np.eye(system.padding + 1) - np.eye(system.padding + 1, k=-1)
        smallest = min(smallest, float(scipy.linalg.svdvals(chain)[-1]))
    return smallest


def inverse_norm_lanczos(matrix: scipy.sparse.csr_array) -> float | None:
    r"""$\|\mathbf L^{-1}\|_2$ by Lanczos (ARPACK) on $\mathbf L^{-1}$, plus the residual of the
    converged singular triple (so a converged value is not below it by more than rounding).

    $\mathbf L$ is unit lower triangular, so its LU (and that of $\mathbf L^\top$) in the natural
    order has no fill-in.
    """
    rows = matrix.shape[0]
    factor = scipy.sparse.linalg.splu(scipy.sparse.csc_matrix(matrix), permc_spec="NATURAL")
    transposed = scipy.sparse.linalg.splu(scipy.sparse.csc_matrix(matrix.T), permc_spec="NATURAL")
    inverse = scipy.sparse.linalg.LinearOperator(
        (rows, rows), matvec=factor.solve, rmatvec=transposed.solve, dtype=np.float64
    )
    start = np.full(rows, 1.0 / math.sqrt(rows))
    try:
        left, values, right = scipy.sparse.linalg.svds(inverse, k=1, tol=_LANCZOS_TOL, v0=start)
    except scipy.sparse.linalg.ArpackNoConvergence:
        return None
    value = float(values[0])
    residual = max(
        float(np.linalg.norm(factor.solve(right[0]) - value * left[:, 0])),
        float(np.linalg.norm(transposed.solve(left[:, 0]) - value * right[0])),
    )
    return value + residual


def polynomial_error_for(system: BlockSystem, solution_norm: float, precision: float) -> float:
    r"""$\varepsilon_P$ with $\gamma\varepsilon_P\|\mathbf x\|/\sqrt{p+1} \le$
    ``POLYNOMIAL_SHARE * precision``."""
    return polynomial_error(
        system.carleman.scale, system.padding, solution_norm, POLYNOMIAL_SHARE * precision
    )


def polynomial_error(scale: float, padding: int, solution_norm: float, budget: float) -> float:
    r"""$\varepsilon_P = \min(0.1, \text{budget}\sqrt{p+1}/(\gamma\|\mathbf x\|))$."""
    return min(0.1, budget * math.sqrt(padding + 1) / (scale * solution_norm))


def invert_block_encoding(
    system: BlockSystem,
    encoding: BlockEncoding,
    *,
    polynomial_error: float,
    kappa: EffectiveConditionNumber | None = None,
) -> QsvtCircuit:
    """The QSVT circuit whose post-selected block is $\\pm s\\alpha\\tilde{\\mathbf L}^{-1}$.

    ``kappa``: :func:`effective_condition_number`, if the caller already has it.

    Raises:
        CompileError: the polynomial would exceed ``MAX_DEGREE``.
    """
    kappa_eff, exact = kappa or effective_condition_number(system, encoding.alpha)
    # The degree first (milliseconds): never build a polynomial above the limit.
    degree = inverse_polynomial_degree(kappa_eff, polynomial_error)
    if degree > MAX_DEGREE:
        raise CompileError(
            f"the inverse polynomial needs degree {degree:,} "
            f"(kappa_eff = {kappa_eff:.4g}, relative error {polynomial_error:.3g}); "
            f"the limit is {MAX_DEGREE:,}",
            span=system.origin,
            hint="loosen `precision`, shorten the horizon, or estimate resources with "
            "`qrtc compile FILE --emit resources` instead",
        )
    polynomial = inverse_polynomial(kappa_eff, polynomial_error, max_abs=POLYNOMIAL_MAX_ABS)
    assert polynomial.degree == degree, (polynomial.degree, degree)
    try:
        factors = symmetric_phases(polynomial.coefficients)
    except ValueError as error:
        raise CompileError(
            f"no phase factors for the inverse polynomial of degree {polynomial.degree:,}: {error}",
            span=system.origin,
            hint="loosen `precision` (a lower degree) and report this as a bug in qrtc",
        ) from None
    layout = qsvt_circuit(encoding, factors.phases)
    return QsvtCircuit(
        encoding=encoding,
        circuit=layout.circuit,
        qubit_order=layout.qubit_order,
        postselect=dict(layout.postselect),
        sign=float(layout.sign),
        kappa=kappa_eff,
        kappa_is_exact=exact,
        scale=polynomial.scale,
        polynomial_error=polynomial.epsilon,
        coefficients=np.array(polynomial.coefficients, dtype=np.float64),
        phases=np.array(factors.phases, dtype=np.float64),
        phase_residual=factors.residual,
        # CKS bounds |f - 1/x| absolutely; ours is relative, so kappa * epsilon is equal error.
        reference_degree=cks_degree(kappa_eff, min(0.5, kappa_eff * polynomial.epsilon)),
        queries=layout.queries,
        origin=system.origin,
    )
