r"""$\kappa_{\rm eff} = \alpha\|\tilde{\mathbf L}^{-1}\|$: exact from the singular values of
$\mathbf L$'s live part (a dense SVD up to ``MAX_EXACT_KAPPA_DIM`` rows, Lanczos on
$\mathbf L^{-1}$ up to ``MAX_LANCZOS_KAPPA_DIM``), else $\alpha\max(1, B)$ from the
window-norm bound of paper.md §5 ($\tilde{\mathbf L} = \mathbf L \oplus I$, so
$\|\tilde{\mathbf L}^{-1}\| = \max(1, \|\mathbf L^{-1}\|)$).

Shared numerics: the driver (the QSVT stage), the resource estimate and the assumption report
use it; it builds no IR.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
from numpy.typing import NDArray

from qrtc.ir.block_system import BlockSystem
from qrtc.numerics.block_matrix import assemble_matrix
from qrtc.numerics.propagator import live_coordinates

__all__ = [
    "MAX_EXACT_KAPPA_DIM",
    "MAX_LANCZOS_KAPPA_DIM",
    "EffectiveConditionNumber",
    "effective_condition_number",
    "exact_kappa_method",
    "inverse_norm_lanczos",
]

# Dense SVD up to here: O(dim^3), a few seconds at 3500 rows, where Lanczos takes 0.01 s.
MAX_EXACT_KAPPA_DIM = 1024
# Lanczos on L^-1 costs a few dozen triangular solves: 0.2 s at 55 305 live rows (robust_linreg,
# T = 1024), where it agrees with the dense SVD to 1e-14 wherever both run.
MAX_LANCZOS_KAPPA_DIM = 2_000_000
_LANCZOS_TOL = 1e-12


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
    :func:`~qrtc.numerics.propagator.live_coordinates`) by a dense SVD up to
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
    matrix = assemble_matrix(system)[index][:, index]
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
