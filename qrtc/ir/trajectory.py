r"""The exact classical PGD robust-training trajectory, sub-step by sub-step.

Produced by :func:`qrtc.reference.train`; every later stage is checked against it.
Sub-step $s = 1..S$, $S = T(K+1)$, is an attack step when $s \bmod (K+1) \ne 0$ and a learner
step otherwise (paper.md §1.4, "Option A"); index 0 is the initial state $z_0 = (\theta_0, 0)$.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qrtc.ir import _text
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

    Invariants: every array is finite; $\delta = 0$ at index 0; an attack sub-step leaves
    $\theta$ unchanged; a learner sub-step keeps $\delta$ (warm start) or resets it to 0 (zero
    start).
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

    def verify(self) -> None:
        """Check shapes, finiteness and the sub-step structure (one pass over the arrays)."""
        assert self.pgd_steps >= 1, f"K = {self.pgd_steps}"
        assert self.theta.ndim == 2 and self.delta.ndim == 3, (
            f"theta has shape {self.theta.shape}, delta {self.delta.shape}: expected "
            "(S + 1, n) and (S + 1, M, d)"
        )
        assert self.horizon >= 1, "no outer step"
        for name in ("theta", "delta", "clean_loss", "adversarial_loss"):
            assert np.all(np.isfinite(getattr(self, name))), f"{name} is not finite"
        assert not np.any(self.delta[0]), "delta_0 must be 0"
        period = self.pgd_steps + 1
        steps = np.arange(1, self.n_substeps + 1)
        attack = steps[steps % period != 0]
        moved = np.any(self.theta[attack] != self.theta[attack - 1], axis=1)
        assert not np.any(moved), f"theta changes in attack sub-step(s) {attack[moved][:5]}"
        for substep in range(period, self.n_substeps + 1, period):
            after, before = self.delta[substep], self.delta[substep - 1]
            assert np.array_equal(after, before) or not np.any(after), (
                f"learner sub-step {substep} neither keeps delta nor resets it to 0"
            )

    def to_text(self) -> str:
        r"""A deterministic summary for ``qrtc compile --emit trajectory``: sizes, $\theta_0$,
        $\theta_T$, both loss curves (in full when short) and the size of the attacks."""
        n_samples, input_size = self.delta.shape[1:]
        lines = [
            "trajectory {",
            f"  substeps S = {self.n_substeps}  (T = {self.horizon}, K = {self.pgd_steps})",
            f"  n = {self.theta.shape[1]}, M = {n_samples}, d = {input_size}",
            f"  theta_0 = {_text.array(self.theta[0])}",
            f"  theta_T = {_text.array(self.final_theta)}",
            f"  |theta_T - theta_0|_2 = {_text.number(_norm(self.final_theta - self.theta[0]))}",
            f"  clean_loss (t = 0..T) = {_text.array(self.clean_loss)}",
            f"  adversarial_loss (t = 0..T-1) = {_text.array(self.adversarial_loss)}",
            f"  max |delta|_inf = {_text.number(float(np.max(np.abs(self.delta), initial=0.0)))}",
            f"  delta_S = {_text.array(self.delta[-1])}",
            "}",
        ]
        return "\n".join(lines) + "\n"


def _norm(vector: NDArray[np.float64]) -> float:
    return float(np.linalg.norm(vector))
