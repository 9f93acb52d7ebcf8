r"""The exact classical PGD robust-training trajectory, sub-step by sub-step.

Produced by :func:`qrtc.reference.train`; every later stage is checked against it.
Sub-step $s = 1..S$, $S = T(K+1)$, is an attack step when $s \bmod (K+1) \ne 0$ and a learner
step otherwise (paper.md §1.4, "Option A"); index 0 is the initial state $z_0 = (\theta_0, 0)$.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qrtc.ir.expr import freeze_array

__all__ = ["Trajectory"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Trajectory:
    r"""States and losses of PGD robust training.

    Attributes:
        theta: $\theta$ after each sub-step, shape ``(S + 1, n)``; ``theta[0]`` is $\theta_0$.
        delta: every $\delta_i$ (flattened) after each sub-step, shape ``(S + 1, M, d)``.
        clean_loss: $\frac1M\sum_i \ell(f(\theta_t; x_i), y_i)$ for $t = 0..T$, shape ``(T + 1,)``.
        adversarial_loss: $\frac1M\sum_i \ell(f(\theta_t; x_i + \delta^{(K)}_{i,t}), y_i)$ for
            $t = 0..T-1$, shape ``(T,)``: the loss the learner step descends.
        pgd_steps: $K$.
    """

    theta: NDArray[np.float64]
    delta: NDArray[np.float64]
    clean_loss: NDArray[np.float64]
    adversarial_loss: NDArray[np.float64]
    pgd_steps: int

    def __post_init__(self) -> None:
        for name in ("theta", "delta", "clean_loss", "adversarial_loss"):
            object.__setattr__(self, name, freeze_array(getattr(self, name)))
        n_states = self.theta.shape[0]
        assert self.delta.shape[0] == n_states
        assert (n_states - 1) % (self.pgd_steps + 1) == 0
        assert self.clean_loss.shape == (self.horizon + 1,)
        assert self.adversarial_loss.shape == (self.horizon,)

    @property
    def n_substeps(self) -> int:
        """$S$."""
        return int(self.theta.shape[0]) - 1

    @property
    def horizon(self) -> int:
        """$T$."""
        return self.n_substeps // (self.pgd_steps + 1)

    @property
    def final_theta(self) -> NDArray[np.float64]:
        r"""$\theta_T$, shape ``(n,)``: the output of training."""
        final: NDArray[np.float64] = self.theta[-1]
        return final

    def state(self, substep: int) -> NDArray[np.float64]:
        r"""$z_s = (\theta, \delta_1, \dots, \delta_M)$ flattened, shape ``(n + M d,)``."""
        return np.concatenate([self.theta[substep], self.delta[substep].reshape(-1)])

    def is_attack_step(self, substep: int) -> bool:
        """Whether sub-step ``substep`` (1-based) is an attack step (else a learner step)."""
        assert 1 <= substep <= self.n_substeps
        return substep % (self.pgd_steps + 1) != 0
