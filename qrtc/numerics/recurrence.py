r"""The one forward recurrence $y_s = C_s y_{s-1}$ of the Carleman dynamics (paper.md §4.1):
the history norm and the terminal state, by one sparse mat-vec per sub-step.

Shared numerics: the block-system pass (success probabilities) and the resource estimate
(history norms at any horizon) use it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qrtc.ir.carleman import CarlemanMaps
from qrtc.numerics.lift import lift

__all__ = ["forward_history"]

_MAX_RECURRENCE_WORK = 200_000_000


def forward_history(carleman: CarlemanMaps) -> tuple[float, NDArray[np.float64]] | None:
    r"""$(\sum_{s<S}\|y_s\|^2, y_S)$ with $y_s = C_s \cdots C_1 y_0$, by one sparse mat-vec per
    sub-step; ``None`` beyond ``_MAX_RECURRENCE_WORK`` multiply-adds (overflow gives inf/nan)."""
    substeps = carleman.n_substeps
    if substeps * max(carleman.attack.nnz, carleman.learner.nnz) > _MAX_RECURRENCE_WORK:
        return None
    state: NDArray[np.float64] = lift(carleman, carleman.initial_state - carleman.expansion_point)
    history = 0.0
    with np.errstate(all="ignore"):
        for substep in range(1, substeps + 1):
            history += float(state @ state)
            state = carleman.matrix_at(substep).matrix @ state
    return history, state
