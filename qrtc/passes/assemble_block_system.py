r"""Assemble the history-state linear system: :class:`CarlemanMaps` -> :class:`BlockSystem`.

Implements paper.md §4.1 ($\mathbf L = I - \mathbf S$ with $S = T(K+1)$ Carleman steps and $p$
idling blocks, $\mathbf b = (\tilde Y_0, 0, \dots)$), the sparsity count of §4.2, the success
probability of §4.3 and the norm and condition-number bounds of §5 ("Carleman/QLSA literature,
see paper.md §4-§5"). ``padding = auto`` is $p = S$ (design.md §2 item 9).

The explicit CSR is built only up to ``MAX_EXPLICIT_NNZ`` non-zeros; beyond, the system stays
implicit (rows and columns on demand). $\Lambda$ and $\|\mathbf L^{-1}\|$ are bounded from the
window norms of :mod:`qrtc.numerics.propagator` (exact dense products while they are cheap).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from qrtc.errors import CompileError
from qrtc.ir.block_system import BlockSystem
from qrtc.ir.carleman import CarlemanMaps
from qrtc.ir.problem import CompileOptions
from qrtc.numerics.block_matrix import assemble_matrix
from qrtc.numerics.lift import lift
from qrtc.numerics.propagator import inverse_norm_bound, window_norms
from qrtc.numerics.recurrence import forward_history

__all__ = ["MAX_EXPLICIT_NNZ", "assemble_block_system"]

MAX_EXPLICIT_NNZ = 30_000_000


def assemble_block_system(carleman: CarlemanMaps, *, options: CompileOptions) -> BlockSystem:
    r"""Build $\mathbf L$, $\mathbf b$ and the read-out, and report sparsity, $\kappa$, $\alpha$.

    Args:
        carleman: the two Carleman matrices (rescaled), the schedule and $z_0$.
        options: ``padding`` ($p \ge 0$; None = auto, $p = S$).

    Returns:
        The block system; ``matrix`` is None (implicit) above ``MAX_EXPLICIT_NNZ`` non-zeros.

    Raises:
        CompileError: a negative padding, or $\dim\mathbf L \ge 2^{63}$.
    """
    span = options.span or carleman.origin
    substeps = carleman.n_substeps
    padding = substeps if options.padding is None else options.padding
    if padding < 0:
        raise CompileError(f"padding must be a non-negative integer, not {padding!r}", span=span)
    size = carleman.lifted_size
    n_blocks = substeps + 1 + padding
    if n_blocks * size >= 2**63:
        raise CompileError(
            f"the block system has dimension {n_blocks * size}, beyond 2^63",
            span=span,
            hint="lower carleman_order, horizon or padding",
        )
    attack, learner = carleman.attack, carleman.learner
    horizon, pgd_steps = carleman.horizon, carleman.pgd_steps
    nnz = (
        size + horizon * (pgd_steps * (attack.nnz + size) + learner.nnz + size) + padding * 2 * size
    )
    idle = 1 if padding else 0
    row_sparsity = 1 + max(attack.row_sparsity, learner.row_sparsity, idle)
    column_sparsity = 1 + max(attack.column_sparsity, learner.column_sparsity, idle)
    max_abs_entry = max(1.0, attack.max_abs_entry, learner.max_abs_entry)
    max_step_norm = max(attack.norm, learner.norm)
    windows = window_norms(carleman)
    propagator, exact = windows.propagator(substeps), windows.propagator_is_exact(substeps)
    norm_bound = 1.0 + max(max_step_norm, 1.0)
    inverse_norm = inverse_norm_bound(windows, substeps, padding)
    terminal, theta = _probabilities(carleman, padding)

    system = BlockSystem(
        carleman=carleman,
        padding=padding,
        padding_is_auto=options.padding is None,
        initial_block=lift(carleman, carleman.initial_state - carleman.expansion_point),
        matrix=None,
        nnz=nnz,
        row_sparsity=row_sparsity,
        column_sparsity=column_sparsity,
        row_sparsity_bound=1 + max(attack.row_sparsity_bound, learner.row_sparsity_bound, idle),
        column_sparsity_bound=1
        + max(attack.column_sparsity_bound, learner.column_sparsity_bound, idle),
        max_abs_entry=max_abs_entry,
        alpha=max(row_sparsity, column_sparsity) * max_abs_entry,
        max_step_norm=max_step_norm,
        max_step_norm_is_exact=attack.norm_is_exact and learner.norm_is_exact,
        propagator_bound=propagator,
        propagator_bound_is_exact=exact,
        norm_bound=norm_bound,
        inverse_norm_bound=inverse_norm,
        kappa_bound=norm_bound * inverse_norm,
        terminal_probability=terminal,
        theta_probability=theta,
        origin=carleman.origin,
    )
    if nnz <= MAX_EXPLICIT_NNZ:
        system = dataclasses.replace(system, matrix=assemble_matrix(system))
    return system


def _probabilities(carleman: CarlemanMaps, padding: int) -> tuple[float | None, float | None]:
    r"""$P_{\rm term}$ and $P_\theta$ of paper.md §4.3 from the forward recurrence."""
    recurrence = forward_history(carleman)
    if recurrence is None:
        return None, None
    history, state = recurrence
    with np.errstate(all="ignore"):
        terminal = (padding + 1) * float(state @ state)
        theta = state[1 : 1 + carleman.n_params]
        p_term = terminal / (history + terminal)
        p_theta = float(theta @ theta) / float(state @ state)
    if not (math.isfinite(p_term) and math.isfinite(p_theta)):
        return None, None
    return p_term, p_theta
