r"""Stage 5 -> 6: QSVT inversion of a block-encoded $\mathbf L$ (paper.md §6.3).

$\kappa_{\rm eff} = \alpha\|\tilde{\mathbf L}^{-1}\|$ comes from
:func:`qrtc.numerics.conditioning.effective_condition_number`. The polynomial is
:func:`qrtc.qsp.polynomial.inverse_polynomial`
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

import numpy as np

from qrtc.circuits.qsvt import qsvt_circuit
from qrtc.errors import CompileError
from qrtc.ir.block_encoding import BlockEncoding
from qrtc.ir.block_system import BlockSystem
from qrtc.ir.qsvt import QsvtCircuit
from qrtc.numerics.conditioning import EffectiveConditionNumber, effective_condition_number
from qrtc.qsp.phases import symmetric_phases
from qrtc.qsp.polynomial import cks_degree, inverse_polynomial, inverse_polynomial_degree

__all__ = [
    "MAX_DEGREE",
    "POLYNOMIAL_SHARE",
    "invert_block_encoding",
    "polynomial_error",
    "polynomial_error_for",
]

MAX_DEGREE = 200_001
# |P| <= 0.9: the success probability grows as max|P|^2, and the phase solver (NLFT) is as
# accurate at 0.9 as at 0.5 (it was checked up to 0.9999).
POLYNOMIAL_MAX_ABS = 0.9
# The error split: the share of ``precision`` (in the units of theta) the polynomial may spend;
# the rest is the Carleman truncation's. The only place this decision is made.
POLYNOMIAL_SHARE = 0.5


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
