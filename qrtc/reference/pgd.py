r"""The exact classical PGD robust-training trajectory (paper.md §1.2-1.4, sub-step by sub-step).

For outer step $t = 0..T-1$ the state $z = (\theta, \delta_1, \dots, \delta_M)$ goes through $K$
attack sub-steps and one learner sub-step ("Option A", $S = T(K+1)$ sub-steps):

$$\delta_i \leftarrow \Pi_{\mathcal B_\epsilon}\big(\delta_i + \alpha\,
\sigma(\nabla_\delta L_i(\theta_t, \delta_i))\big), \qquad
\theta_{t+1} = \theta_t - \frac{\eta}{M}\sum_i \nabla_\theta L_i(\theta_t, \delta_i^{(K)}),$$

with $L_i(\theta, \delta) = \ell(f(\theta; x_i + \delta_i), y_i)$, $\sigma \in \{\mathrm{id},
\mathrm{sign}\}$ (``sign(0) = 0``), and the learner map $\rho$ keeping $\delta$ (warm start) or
setting it to 0 (zero start). With ``support = data``, $\Pi$ projects onto the ball intersected
with the sample's support (:attr:`~qrtc.ir.problem.Problem.perturbable`). $z_0 = (\theta_0, 0)$.

Gradients come from :mod:`qrtc.reference.autodiff`; nothing here is shared with the lowering
passes, so the two can check each other.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from qrtc.ir.problem import Problem
from qrtc.ir.trajectory import Trajectory
from qrtc.reference import autodiff

__all__ = [
    "attack_substep",
    "learner_substep",
    "mean_loss",
    "per_sample_loss",
    "project",
    "train",
]


def train(problem: Problem) -> Trajectory:
    r"""Run PGD robust training exactly and record every sub-step.

    Args:
        problem: the checked spec; its attack and train sections fix $\epsilon$, $\alpha$, $K$,
            the norm, $\sigma$, the start, $\eta$ and $T$.

    Returns:
        The trajectory: $\theta$ of shape ``(S + 1, n)`` and $\delta$ of shape ``(S + 1, M, d)``
        after every sub-step, the clean loss at $(\theta_t, 0)$ for $t = 0..T$ and the
        adversarial loss at $(\theta_t, \delta^{(K)}_t)$ for $t = 0..T-1$.
    """
    horizon, pgd_steps = problem.train.horizon, problem.attack.steps
    theta_history = np.empty((problem.n_substeps + 1, problem.n_params))
    delta_history = np.empty((problem.n_substeps + 1, problem.n_samples, problem.input_size))
    clean_loss = np.empty(horizon + 1)
    adversarial_loss = np.empty(horizon)
    # Fast path behind the pure sub-step functions: each new delta is written straight into its
    # history row and x + delta reuses one buffer, so a sub-step allocates one (M, d) array
    # instead of four (at M d ~ 1e5 and up, fresh allocations cost more in page faults than the
    # arithmetic). tests/reference compares the result with a plain loop.
    perturbed = np.empty_like(problem.inputs)
    support = problem.perturbable  # computed once, not on every attack sub-step

    theta = np.array(problem.theta0, dtype=np.float64)
    theta_history[0] = theta
    delta = delta_history[0]
    delta.fill(0.0)
    substep = 0
    for t in range(horizon):
        clean_loss[t] = mean_loss(problem, theta)
        for _ in range(pgd_steps):
            substep += 1
            _attack(
                problem,
                theta,
                delta,
                perturbed=perturbed,
                out=delta_history[substep],
                support=support,
            )
            theta_history[substep] = theta
            delta = delta_history[substep]
        losses, theta = _learn(problem, theta, delta, perturbed=perturbed)
        adversarial_loss[t] = losses.mean()
        substep += 1
        theta_history[substep] = theta
        delta_history[substep] = 0.0 if problem.attack.start == "zero" else delta
        delta = delta_history[substep]
    clean_loss[horizon] = mean_loss(problem, theta)
    # Handed over read-only, so that Trajectory keeps them instead of copying gigabytes.
    for history in (theta_history, delta_history, clean_loss, adversarial_loss):
        history.flags.writeable = False
    return Trajectory(
        theta=theta_history,
        delta=delta_history,
        clean_loss=clean_loss,
        adversarial_loss=adversarial_loss,
        pgd_steps=pgd_steps,
    )


def attack_substep(
    problem: Problem, theta: NDArray[np.float64], delta: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""One attack sub-step $\delta_i \mapsto \Pi(\delta_i + \alpha\,\sigma(\nabla_\delta L_i))$.

    Args:
        problem: the problem.
        theta: $\theta_t$, shape ``(n,)``.
        delta: every $\delta_i$, shape ``(M, d)`` (or ``(M, *input_shape)``).

    Returns:
        The new perturbations, a new array of shape ``(M, d)``.
    """
    shape = (problem.n_samples, problem.input_size)
    out = np.empty(shape)
    perturbed = np.empty_like(problem.inputs)
    _attack(
        problem,
        theta,
        np.reshape(delta, shape),
        perturbed=perturbed,
        out=out,
        support=problem.perturbable,
    )
    return out


def learner_substep(
    problem: Problem, theta: NDArray[np.float64], delta: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""One learner sub-step $(\theta, \delta) \mapsto (\theta - \frac{\eta}{M}\sum_i
    \nabla_\theta L_i(\theta, \delta_i), \rho(\delta))$.

    Args:
        problem: the problem.
        theta: $\theta_t$, shape ``(n,)``.
        delta: $\delta^{(K)}_t$, shape ``(M, d)`` (or ``(M, *input_shape)``).

    Returns:
        ``(theta, delta)``: $\theta_{t+1}$ of shape ``(n,)`` and $\rho(\delta)$ of shape
        ``(M, d)`` (a copy of ``delta`` for warm start, zeros for zero start); new arrays.
    """
    shape = (problem.n_samples, problem.input_size)
    _, theta_next = _learn(problem, theta, delta, perturbed=np.empty_like(problem.inputs))
    if problem.attack.start == "zero":
        return theta_next, np.zeros(shape)
    return theta_next, np.array(np.reshape(delta, shape), dtype=np.float64)


def per_sample_loss(
    problem: Problem, theta: NDArray[np.float64], delta: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    r"""$L_i(\theta, \delta_i) = \ell(f(\theta; x_i + \delta_i), y_i)$, shape ``(M,)``.

    Args:
        problem: the problem.
        theta: shape ``(n,)``.
        delta: shape ``(M, d)`` or ``(M, *input_shape)``; ``None`` for the clean loss
            ($\delta = 0$).
    """
    inputs = problem.inputs if delta is None else _perturbed(problem, delta)
    return autodiff.evaluate(problem.loss, theta, inputs, problem.labels)


def mean_loss(
    problem: Problem, theta: NDArray[np.float64], delta: NDArray[np.float64] | None = None
) -> float:
    r"""$\frac1M \sum_i L_i(\theta, \delta_i)$; ``delta=None`` gives the clean loss."""
    return float(per_sample_loss(problem, theta, delta).mean())


def project(
    delta: NDArray[np.float64], *, norm: Literal["linf", "l2"], radius: float
) -> NDArray[np.float64]:
    r"""Euclidean projection of each row of ``delta`` onto the threat set $\mathcal B_\epsilon$.

    Box: $\Pi(v)_j = \mathrm{clip}(v_j, -\epsilon, \epsilon)$; ball:
    $\Pi(v) = v \min(1, \epsilon/\|v\|_2)$ (paper.md §1.2).

    Args:
        delta: one perturbation per row, shape ``(M, d)``.
        norm: ``"linf"`` or ``"l2"``.
        radius: $\epsilon > 0$.

    Returns:
        The projection, a new array of shape ``(M, d)``.
    """
    return _project_in_place(np.array(delta, dtype=np.float64), norm=norm, radius=radius)


def _project_in_place(
    delta: NDArray[np.float64], *, norm: Literal["linf", "l2"], radius: float
) -> NDArray[np.float64]:
    if norm == "linf":
        return np.clip(delta, -radius, radius, out=delta)
    norms = np.sqrt(np.einsum("ij,ij->i", delta, delta))
    # radius / max(norm, radius) is min(1, radius / norm) without dividing by zero.
    delta *= (radius / np.maximum(norms, radius))[:, None]
    return delta


def _perturbed(problem: Problem, delta: NDArray[np.float64]) -> NDArray[np.float64]:
    """$x_i + \\delta_i$, shape ``(M, *input_shape)``."""
    return problem.inputs + np.reshape(delta, problem.inputs.shape)


def _attack(
    problem: Problem,
    theta: NDArray[np.float64],
    delta: NDArray[np.float64],
    *,
    perturbed: NDArray[np.float64],
    out: NDArray[np.float64],
    support: NDArray[np.bool_] | None,
) -> None:
    """Attack sub-step from ``delta`` (M, d) into ``out`` (M, d); ``perturbed`` is scratch,
    ``support`` :attr:`Problem.perturbable <qrtc.ir.problem.Problem.perturbable>`."""
    attack = problem.attack
    np.add(problem.inputs, np.reshape(delta, problem.inputs.shape), out=perturbed)
    _, grad = autodiff.value_and_input_gradient(problem.loss, theta, perturbed, problem.labels)
    # The model sees x_i + delta_i, so the input gradient is the delta gradient; ``grad`` is a
    # new array, free to overwrite.
    ascent = grad.reshape(out.shape)
    if attack.grad == "sign":
        np.sign(ascent, out=ascent)
    ascent *= attack.step
    np.add(delta, ascent, out=out)
    if support is not None:
        # Projection onto the ball intersected with the support: restrict, then project.
        out *= support
    _project_in_place(out, norm=attack.norm, radius=attack.radius)


def _learn(
    problem: Problem,
    theta: NDArray[np.float64],
    delta: NDArray[np.float64],
    *,
    perturbed: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(per-sample adversarial losses (M,), theta_next (n,))``; ``perturbed`` is scratch."""
    np.add(problem.inputs, np.reshape(delta, problem.inputs.shape), out=perturbed)
    losses, grad_sum = autodiff.value_and_theta_gradient(
        problem.loss, theta, perturbed, problem.labels
    )
    return losses, theta - (problem.train.lr / problem.n_samples) * grad_sum
