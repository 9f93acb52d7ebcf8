r"""The rungs of the linear system: the block system and the trajectory it encodes.

* **block-system**: ``scipy.sparse.linalg.spsolve(L, b)`` against the forward recurrence
  $x_0 = b_0$, $x_r = B_r x_{r-1} + b_r$ over the Carleman matrices and the schedule, for drawn
  $b$ (paper.md §4.1).
* **trajectory**: $\hat\theta_T$ read from $\mathbf L^{-1}\mathbf b$ against the reference
  trainer's $\theta_T$, within the a-priori truncation bound (paper.md §3.4).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from hypothesis import strategies as st
from numpy.typing import NDArray

from qrtc.ir.carleman import CarlemanMaps
from qrtc.verification.report import Finding
from qrtc.verification.search import (
    UNIT_ROUNDOFF,
    Case,
    Measurement,
    render_number,
    render_vector,
    search,
    vectors,
)
from qrtc.verification.subject import Subject, Unavailable

__all__ = ["block_system", "forward_recurrence", "trajectory"]

Array = NDArray[np.float64]

# Largest dim L that the block-system rung solves once per input.
MAX_SOLVE_DIM = 2_000_000


# -- block system ---------------------------------------------------------------------------------


def block_system(subject: Subject, examples: int, seed: int) -> Finding:
    r"""``spsolve(L, b)`` against the forward recurrence, for drawn $b$."""
    system = subject.system
    matrix = subject.matrix
    if system.dim > MAX_SOLVE_DIM:
        raise Unavailable(f"dim L = {system.dim:,} > limit {MAX_SOLVE_DIM:,}")
    relative = 2 * system.kappa_bound * system.dim * UNIT_ROUNDOFF
    if not relative < 0.1:
        raise Unavailable(
            f"the condition bound {system.kappa_bound:.3g} leaves spsolve no accuracy to compare"
        )
    size, blocks = system.block_size, system.n_blocks
    csc = scipy.sparse.csc_array(matrix)

    def rhs(case: tuple[int, Array, Array]) -> Array:
        block, first, other = case
        b = np.zeros(system.dim)
        b[:size] = first
        b[block * size : (block + 1) * size] += other
        return b

    def measure(case: tuple[int, Array, Array]) -> Measurement:
        b = rhs(case)
        solved = np.asarray(scipy.sparse.linalg.spsolve(csc, b), dtype=np.float64)
        recurred = forward_recurrence(system.carleman, system.padding, b)
        difference = np.abs(solved - recurred)
        worst = int(np.argmax(difference))
        where, offset = divmod(worst, size)
        return Measurement(
            float(np.linalg.norm(solved - recurred)),
            relative * float(np.linalg.norm(recurred)),
            f"block {where} of {blocks} ({_block_kind(system.carleman, where)}), offset "
            f"{offset}: spsolve {render_number(solved[worst])}, "
            f"recurrence {render_number(recurred[worst])}",
        )

    def describe(case: tuple[int, Array, Array]) -> str:
        block, first, other = case
        return f"b = {render_vector(first)} at block 0 + {render_vector(other)} at block {block}"

    strategy = st.tuples(st.integers(0, blocks - 1), vectors(size), vectors(size))
    outcome = search(
        strategy,
        measure,
        describe=describe,
        examples=examples,
        seed=seed,
        budget_s=subject.budget_s,
    )
    return Finding.of(
        outcome,
        f"2 kappa dim u ||x||, kappa <= {system.kappa_bound:.3g} (the system's bound "
        "(1 + c_max) |L^-1|, |L^-1| by the window-norm Schur test, paper.md §5)",
    )


def forward_recurrence(carleman: CarlemanMaps, padding: int, rhs: Array) -> Array:
    r"""$x_0 = b_0$, $x_r = B_r x_{r-1} + b_r$: $B_r = C_{\mathcal A}$ for $r \bmod (K+1) \ne
    0$, $C_{\mathcal L}$ otherwise ($r \le S$), $I$ for the $p$ padding blocks."""
    size, substeps, period = carleman.lifted_size, carleman.n_substeps, carleman.pgd_steps + 1
    out = np.empty_like(rhs)
    out[:size] = rhs[:size]
    for block in range(1, substeps + 1 + padding):
        previous = out[(block - 1) * size : block * size]
        if block <= substeps:
            step = carleman.attack if block % period else carleman.learner
            previous = step.matrix @ previous
        out[block * size : (block + 1) * size] = previous + rhs[block * size : (block + 1) * size]
    return out


def _block_kind(carleman: CarlemanMaps, block: int) -> str:
    if block == 0:
        return "initial"
    if block > carleman.n_substeps:
        return "padding"
    return "attack step" if block % (carleman.pgd_steps + 1) else "learner step"


# -- trajectory -----------------------------------------------------------------------------------


def trajectory(subject: Subject, examples: int, seed: int) -> Finding:
    r"""$\hat\theta_T$ from $\mathbf L^{-1}\mathbf b$ against the reference trainer."""
    system = subject.system
    lifted = system.carleman
    bound = lifted.truncation_error_bound
    if bound is None:
        raise Unavailable("the truncation bound was not computed (the orbit is too long)")
    solution = subject.solution
    n, size = lifted.n_params, system.block_size
    start = system.n_substeps * size + 1
    theta = lifted.expansion_point[:n] + lifted.scale * solution[start : start + n]
    expected = subject.trajectory.final_theta
    rounding = 2 * system.kappa_bound * system.dim * UNIT_ROUNDOFF
    measurement = Measurement(
        float(np.linalg.norm(theta - expected)),
        bound + lifted.scale * rounding * float(np.linalg.norm(solution)),
        f"L^-1 b gives {render_vector(theta)}, the reference trainer {render_vector(expected)}",
    )
    case = Case("the spec's own b = lift(z_0)", measurement)
    measured = lifted.truncation_error
    return Finding(
        cases=1,
        worst=measurement,
        failure=None if measurement.ok else case,
        tolerance_source="the a-priori Carleman truncation bound (E_S)_1 (paper.md §3.4) "
        "+ solve rounding",
        detail="one case: the spec's own b"
        + ("" if measured is None else f"; measured truncation error {measured:.3g}"),
    )
