r"""The assumption report: each assumption of paper.md §2 measured on the built system.

One :class:`AssumptionCheck` per row: what was measured, the bound it is held to, and whether
it held. The checks:

* A1(a) frozen pattern: the sign pattern and clip active set are constant (the dynamics pass
  refuses the spec otherwise, so a built system always holds it);
* A1(b) contractivity $c_{\max} = \max_s\|C_s\|_2 \le 1$ (sufficient, not necessary) and the
  propagator bound $\Lambda \le$ ``STABLE_PROPAGATOR_BOUND``, qrtc's working definition of
  $\Lambda = O(1)$ (paper.md §2 A1(b), §5: without it $\kappa$ grows exponentially in $T$);
* $\kappa(\mathbf L)$ (dense SVD up to ``MAX_SVD_DIM`` rows, estimated by Lanczos up to
  ``MAX_ESTIMATE_DIM``, else not measured) against the bound
  $(1 + \max(c_{\max}, 1))\,n_b\Lambda$ of paper.md §5;
* A2 sparsity: largest row and column counts of $\mathbf L$ against paper.md §4.2;
* truncation error (measured, and the a-priori bound) against the spec's ``precision``;
* A5 terminal weight $g = \|\hat Y_S\|/\max_s\|\hat Y_s\|$ and $P_{\rm term}$ against
  $(p+1)g^2/(S + (p+1)g^2)$ (paper.md §4.3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from qrtc.ir.block_system import BlockSystem
from qrtc.numerics.block_matrix import assemble_matrix
from qrtc.numerics.conditioning import inverse_norm_lanczos

__all__ = [
    "MAX_ESTIMATE_DIM",
    "MAX_SVD_DIM",
    "STABLE_PROPAGATOR_BOUND",
    "AssumptionCheck",
    "AssumptionReport",
    "assess_assumptions",
    "estimate_condition_number",
]

MAX_SVD_DIM = 3000
"""Largest dim L whose condition number is computed exactly (dense SVD, O(dim^3))."""

MAX_ESTIMATE_DIM = 2_000_000
"""Largest dim L whose condition number is estimated (sparse LU and Lanczos)."""

STABLE_PROPAGATOR_BOUND = 10.0
"""qrtc calls the dynamics locally stable when every propagator has norm at most this."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AssumptionCheck:
    """One row: ``measured`` compared with ``bound``; ``held`` None means 'not measured'."""

    name: str
    reference: str
    measured: float | None
    bound: float | None
    held: bool | None
    note: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "reference": self.reference,
            "measured": _json_number(self.measured),
            "bound": _json_number(self.bound),
            "held": self.held,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AssumptionReport:
    """Every check, in order; ``held`` is False as soon as one check was violated."""

    checks: tuple[AssumptionCheck, ...]

    @property
    def held(self) -> bool:
        return all(check.held is not False for check in self.checks)

    @property
    def violations(self) -> tuple[AssumptionCheck, ...]:
        return tuple(check for check in self.checks if check.held is False)

    def to_text(self) -> str:
        header = f"{'assumption':<34} {'measured':>12} {'bound':>12}  {'status':<9} note"
        lines = [header, "-" * len(header)]
        for check in self.checks:
            status = {True: "held", False: "VIOLATED", None: "-"}[check.held]
            lines.append(
                f"{check.name:<34} {_number(check.measured):>12} {_number(check.bound):>12}  "
                f"{status:<9} {check.note}".rstrip()
            )
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, object]:
        return {"held": self.held, "checks": [check.to_json() for check in self.checks]}


def assess_assumptions(
    system: BlockSystem, *, precision: float, max_svd_dim: int = MAX_SVD_DIM
) -> AssumptionReport:
    r"""Measure every assumption on ``system``; ``precision`` is the spec's read-out target.

    $\kappa(\mathbf L)$ is exact (dense SVD) up to ``max_svd_dim`` rows and estimated beyond.
    """
    carleman = system.carleman
    checks = [
        AssumptionCheck(
            name="A1(a) frozen sign/clip pattern",
            reference="paper.md §3.3",
            measured=None,
            bound=None,
            held=True,
            note="constant along the reference trajectory",
        ),
        AssumptionCheck(
            name="A1(b) contractivity max ||C_s||",
            reference="paper.md §2 A1(b)",
            measured=system.max_step_norm,
            bound=1.0,
            # Sufficient, not necessary: when it fails, stability rests on Lambda alone.
            held=True if system.max_step_norm <= 1.0 + 1e-12 else None,
            note="sufficient, not necessary: Lambda decides"
            + ("" if system.max_step_norm_is_exact else "; an upper bound"),
        ),
        AssumptionCheck(
            name="A1(b) propagator bound Lambda",
            reference="paper.md §2 A1(b), §5",
            measured=system.propagator_bound,
            bound=STABLE_PROPAGATOR_BOUND,
            held=math.isfinite(system.propagator_bound)
            and system.propagator_bound <= STABLE_PROPAGATOR_BOUND,
            note="exact" if system.propagator_bound_is_exact else "from per-step norms",
        ),
        _kappa_check(system, max_svd_dim),
        AssumptionCheck(
            name="A2 row sparsity of L",
            reference="paper.md §4.2",
            measured=system.row_sparsity,
            bound=system.row_sparsity_bound,
            held=system.row_sparsity <= system.row_sparsity_bound,
        ),
        AssumptionCheck(
            name="A2 column sparsity of L",
            reference="paper.md §4.2",
            measured=system.column_sparsity,
            bound=system.column_sparsity_bound,
            held=system.column_sparsity <= system.column_sparsity_bound,
        ),
        AssumptionCheck(
            name="truncation error (measured)",
            reference="paper.md §3.4",
            measured=carleman.truncation_error,
            bound=precision,
            held=None
            if carleman.truncation_error is None
            else carleman.truncation_error <= precision,
            note=f"order N = {carleman.order}, scale = {carleman.scale:.3g}",
        ),
        AssumptionCheck(
            name="truncation error (a-priori bound)",
            reference="paper.md §3.4",
            measured=carleman.truncation_error_bound,
            bound=precision,
            held=None,
            note="rigorous but loose; for information",
        ),
        *_terminal_checks(system),
    ]
    return AssumptionReport(checks=tuple(checks))


def _kappa_check(system: BlockSystem, max_svd_dim: int) -> AssumptionCheck:
    kappa: float | None = None
    if system.matrix is None or system.dim > MAX_ESTIMATE_DIM:
        note = f"dim {system.dim} is implicit or too large: not measured"
    elif system.dim <= max_svd_dim:
        singular_values = np.linalg.svd(assemble_matrix(system).toarray(), compute_uv=False)
        kappa, note = float(singular_values[0] / singular_values[-1]), "dense SVD"
    else:
        kappa = estimate_condition_number(assemble_matrix(system))
        converged = kappa is not None
        note = "estimated (Lanczos)" if converged else "not measured: Lanczos did not converge"
    return AssumptionCheck(
        name="condition number kappa(L)",
        reference="paper.md §5",
        measured=kappa,
        bound=system.kappa_bound,
        held=None if kappa is None else kappa <= system.kappa_bound * (1 + 1e-9),
        note=note,
    )


def estimate_condition_number(
    matrix: scipy.sparse.csr_array, *, tolerance: float = 1e-10
) -> float | None:
    r"""$\|\mathbf L\|_2\,\|\mathbf L^{-1}\|_2$ by Lanczos, for a unit lower-triangular
    $\mathbf L$: ARPACK's largest singular value of $\mathbf L$, times that of $\mathbf L^{-1}$
    (:func:`~qrtc.passes.invert_block_encoding.inverse_norm_lanczos`, triangular solves); nothing
    dense of size dim^2 is formed. ``None`` if ARPACK does not converge."""
    size = matrix.shape[0]
    start = np.full(size, 1.0 / math.sqrt(size))
    try:
        forward = scipy.sparse.linalg.svds(
            matrix, k=1, tol=tolerance, v0=start, return_singular_vectors=False
        )
    except scipy.sparse.linalg.ArpackNoConvergence:
        return None
    inverse = inverse_norm_lanczos(matrix)
    return None if inverse is None else float(forward[0]) * inverse


def _terminal_checks(system: BlockSystem) -> list[AssumptionCheck]:
    carleman = system.carleman
    lifted = np.array(system.initial_block, dtype=np.float64)
    norms = [float(np.linalg.norm(lifted))]
    for substep in range(1, carleman.n_substeps + 1):
        lifted = carleman.matrix_at(substep).matrix @ lifted
        norms.append(float(np.linalg.norm(lifted)))
    weight = norms[-1] / max(norms)
    copies = system.padding + 1
    predicted = copies * weight**2 / (system.n_substeps + copies * weight**2)
    measured = system.terminal_probability
    return [
        AssumptionCheck(
            name="A5 terminal weight g",
            reference="paper.md §2 A5",
            measured=weight,
            bound=None,
            held=None,
            note="||Y_S|| / max_s ||Y_s||",
        ),
        AssumptionCheck(
            name="success probability P_term",
            reference="paper.md §4.3",
            measured=measured,
            bound=predicted,
            held=None if measured is None else measured >= predicted * (1 - 1e-9),
            note="bound is the lower bound (p+1)g^2 / (S + (p+1)g^2)",
        ),
    ]


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
