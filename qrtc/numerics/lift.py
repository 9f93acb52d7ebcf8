r"""The Carleman lift $\mathrm{lift}(u) = (1, \tilde u, \tilde u^{\otimes 2}, \dots,
\tilde u^{\otimes N})$, $\tilde u = u/\gamma$ (paper.md §3.2; layout in :mod:`qrtc.ir.carleman`),
and the check that the Carleman matrices commute with it on their exact levels.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qrtc.ir.carleman import CarlemanMaps, level_offset

__all__ = ["assert_lift_commutes", "lift"]

# The lift check of :func:`assert_lift_commutes` runs up to this D_N.
_MAX_CHECKED_SIZE = 20_000


def lift(carleman: CarlemanMaps, deviation: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""$\mathrm{lift}(u) = (1, \tilde u, \tilde u^{\otimes 2}, \dots, \tilde u^{\otimes N})$,
    $\tilde u = u/\gamma$, shape ``(D_N,)``, for a deviation ``u`` of shape ``(d_z,)``."""
    scaled = np.asarray(deviation, dtype=np.float64) / carleman.scale
    assert scaled.shape == (carleman.state_size,)
    lifted = np.empty(carleman.lifted_size)
    level: NDArray[np.float64] = np.ones(1)
    for j in range(carleman.order + 1):
        if j:
            level = np.asarray(np.kron(level, scaled), dtype=np.float64)
        start = level_offset(carleman.state_size, j)
        lifted[start : start + level.shape[0]] = level
    return lifted


def assert_lift_commutes(carleman: CarlemanMaps) -> None:
    r"""$C\,\mathrm{lift}(u_0) = \mathrm{lift}(F(u_0))$ on the levels $j \le \lfloor N/q \rfloor$
    for both matrices, $u_0 = z_0 - z^\star$, when $D_N \le 20\,000$ (paper.md §8 item 2)."""
    if carleman.lifted_size > _MAX_CHECKED_SIZE:
        return
    exact_levels = carleman.order // max(carleman.degree, 1)
    stop = level_offset(carleman.state_size, exact_levels + 1)
    lifted = lift(carleman, carleman.initial_state - carleman.expansion_point)
    for matrix in (carleman.attack, carleman.learner):
        image = matrix.matrix @ lifted
        scaled = image[1 : 1 + carleman.state_size]
        expected = lift(carleman, scaled * carleman.scale)
        assert np.allclose(image[:stop], expected[:stop], rtol=1e-9, atol=1e-12), (
            f"{matrix.kind}: C lift(u) != lift(F(u)) on the exact levels"
        )
