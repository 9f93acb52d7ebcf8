r"""The dynamics pass: a checked :class:`~qrtc.ir.problem.Problem` to its attack and learner maps.

The per-example loss is evaluated symbolically with :mod:`qrtc.numerics.sparse_polynomials` on the
joint state $z = (\theta, \delta_1, \dots, \delta_M)$ (expansion point $z^\star = 0$, so $u = z$):
:class:`~qrtc.ir.expr.Input` of sample $i$ is $x_i + \delta_i$ with $\delta_{i,a} = z_{n + id + a}$,
:class:`~qrtc.ir.expr.Label` is the number $y_i$, a :class:`~qrtc.ir.expr.Parameter` a block of
$\theta$. All $M$ samples are evaluated at once: a node that depends on the input or the label
carries a leading sample axis. From $L_i(z)$ (paper.md §1.2-1.4, §2 A0):

$$\mathcal L(z) = \Big(\theta - \frac{\eta}{M}\sum_i \nabla_\theta L_i,\ \rho(\delta)\Big),
\qquad \mathcal A(z) = \Big(\theta,\ \Pi\big(\delta_i + \alpha\,\sigma(\nabla_{\delta_i} L_i)\big)_i
\Big),$$

with $\rho = \mathrm{id}$ (warm start) or $0$ (zero start). With ``support = data`` a feature
outside sample $i$'s support is not a variable of $L_i$, and both maps send its $\delta$ to 0.
$\sigma = \mathrm{sign}$ and the linf clip are made affine by freezing what the reference
trajectory shows (paper.md §3.3, A1(a)): the sign pattern $\mathbf s$ turns the step into
$\delta + \alpha\mathbf s$, and the clip's active set keeps the polynomial on free coordinates
and the constant $\pm\epsilon$ on clipped ones. An l2 projection must never bind. The patterns
are measured with this pass's own polynomials at the trajectory's states, never with
``qrtc.reference``.
"""

from __future__ import annotations

from typing import Literal, assert_never

import numpy as np
from numpy.typing import NDArray

from qrtc.errors import AssumptionError
from qrtc.ir import expr
from qrtc.ir.polynomial_maps import FrozenPattern, PolynomialMap, PolynomialMaps
from qrtc.ir.problem import Problem
from qrtc.ir.trajectory import Trajectory
from qrtc.numerics import sparse_polynomials as sp

__all__ = ["derive_polynomial_maps"]

# Bits of what a pre-projection value allows for its coordinate of the linf clip's active set.
_FREE, _PLUS, _MINUS = np.uint8(1), np.uint8(2), np.uint8(4)


def derive_polynomial_maps(problem: Problem, trajectory: Trajectory) -> PolynomialMaps:
    r"""The attack map $\mathcal A$ and learner map $\mathcal L$ of ``problem`` as sparse
    coefficient tensors $b_0, A_1, \dots, A_q$ about $z^\star = 0$ (paper.md §2 A0, §3.3).

    Args:
        problem: the checked spec.
        trajectory: ``qrtc.reference.train(problem)``; its states fix the frozen sign pattern
            and clip active set.

    Returns:
        Both maps padded to the common degree $q$, $z_0 = (\theta_0, 0)$, the frozen pattern and
        ``origin = problem.attack.span``. The maps are exact for polynomial specs.

    Raises:
        AssumptionError: (at ``problem.attack.span``) the sign pattern of
            $\nabla_\delta L_i$ (``grad = sign``) or the linf clip's active set changes along the
            trajectory, or an l2 projection binds; the message names the outer step $t$, attack
            step $k$, sample $i$ and coordinate.
    """
    _check_trajectory(problem, trajectory)
    n, n_samples, d = problem.n_params, problem.n_samples, problem.input_size
    n_variables = problem.state_size
    loss = _per_sample_loss(problem)
    theta = sp.variables(np.arange(n), n_variables)
    delta_index = n + np.arange(n_samples * d).reshape(n_samples, d)
    delta = sp.variables(delta_index, n_variables)

    # L_i depends on delta_i alone, so sample i differentiates by its own d coordinates.
    gradient_delta = sp.gradient(loss, delta_index)
    pattern = _frozen_pattern(problem, trajectory, gradient_delta)
    attack_config = problem.attack
    if pattern.sign is None:
        ascent = sp.scale(gradient_delta, attack_config.step)
    else:
        ascent = sp.constant(attack_config.step * pattern.sign, n_variables)
    delta_next = sp.add(delta, ascent)
    if pattern.clipped is not None and np.any(pattern.clipped):
        bound = sp.constant(attack_config.radius * pattern.clipped, n_variables)
        delta_next = sp.where(pattern.clipped == 0, delta_next, bound)
    perturbable = problem.perturbable
    if perturbable is not None:
        delta_next = sp.where(perturbable, delta_next, sp.zeros(delta.shape, n_variables))
    attack = sp.concatenate([theta, sp.reshape(delta_next, (n_samples * d,))])

    gradient_theta = sp.sum_over(sp.gradient(loss, np.arange(n)), axis=0)
    theta_next = sp.subtract(theta, sp.scale(gradient_theta, problem.train.lr / n_samples))
    delta_kept = delta if problem.attack.start == "warm" else sp.zeros(delta.shape, n_variables)
    if perturbable is not None:
        delta_kept = sp.where(perturbable, delta_kept, sp.zeros(delta.shape, n_variables))
    learner = sp.concatenate([theta_next, sp.reshape(delta_kept, (n_samples * d,))])

    degree = max(attack.degree, learner.degree, 1)
    return PolynomialMaps(
        attack=_to_map("attack", attack, degree),
        learner=_to_map("learner", learner, degree),
        expansion_point=np.zeros(n_variables),
        initial_state=np.concatenate([problem.theta0, np.zeros(n_samples * d)]),
        n_params=n,
        n_samples=n_samples,
        input_size=d,
        horizon=problem.train.horizon,
        pgd_steps=attack_config.steps,
        pattern=pattern,
        origin=attack_config.span,
    )


def _to_map(
    kind: Literal["attack", "learner"], array: sp.SparsePolynomials, degree: int
) -> PolynomialMap:
    constant, terms = sp.to_sparse_tensors(array, degree)
    return PolynomialMap(kind=kind, constant=constant, terms=terms)


def _check_trajectory(problem: Problem, trajectory: Trajectory) -> None:
    expected = (problem.n_substeps + 1, problem.n_samples, problem.input_size)
    if (
        trajectory.pgd_steps != problem.attack.steps
        or trajectory.delta.shape != expected
        or trajectory.theta.shape != (problem.n_substeps + 1, problem.n_params)
    ):
        raise ValueError(
            f"the trajectory (delta {trajectory.delta.shape}, K = {trajectory.pgd_steps}) is not "
            f"one of this problem (delta {expected}, K = {problem.attack.steps}); pass "
            "qrtc.reference.train(problem)"
        )


# ---- the loss as polynomials in z ---------------------------------------------------------------


def _per_sample_loss(problem: Problem) -> sp.SparsePolynomials:
    r"""$L_i(z)$ for every sample, shape ``(M,)``."""
    n_variables, n_samples = problem.state_size, problem.n_samples
    values: dict[int, sp.SparsePolynomials] = {}
    batched: dict[int, bool] = {}

    def operand(node: expr.Node, out_shape: tuple[int, ...]) -> sp.SparsePolynomials:
        """``node``'s value laid out to broadcast against ``(M?, *out_shape)``."""
        value = values[id(node)]
        if batched[id(node)] and node.shape == () and out_shape != ():
            return sp.reshape(value, (n_samples, *(1,) * len(out_shape)))
        return value

    for node in expr.postorder(problem.loss):
        kids = expr.children(node)
        is_batched = isinstance(node, expr.Input | expr.Label) or any(
            batched[id(kid)] for kid in kids
        )
        batched[id(node)] = is_batched
        lead = "i" if is_batched else ""

        def labels(kid: expr.Node, axes: str) -> str:
            return ("i" if batched[id(kid)] else "") + axes

        match node:
            case expr.Parameter():
                index = np.arange(node.offset, node.offset + node.size).reshape(node.shape)
                value = sp.variables(index, n_variables)
            case expr.Input():
                offset = problem.n_params
                index = offset + np.arange(problem.inputs.size).reshape(problem.inputs.shape)
                shifts = sp.variables(index, n_variables)
                if (mask := problem.perturbable) is not None:
                    # A feature outside the sample's support never moves: dropping its variable
                    # keeps the maps (and the Carleman matrices) as sparse as the data.
                    mask = mask.reshape(index.shape)
                    shifts = sp.where(mask, shifts, sp.zeros(index.shape, n_variables))
                value = sp.add(sp.constant(problem.inputs, n_variables), shifts)
            case expr.Label():
                value = sp.constant(problem.labels, n_variables)
            case expr.Constant():
                value = sp.constant(node.value, n_variables)
            case expr.Add():
                value = sp.add(operand(node.left, node.shape), operand(node.right, node.shape))
            case expr.Sub():
                left, right = operand(node.left, node.shape), operand(node.right, node.shape)
                value = sp.subtract(left, right)
            case expr.Mul():
                left, right = operand(node.left, node.shape), operand(node.right, node.shape)
                value = sp.multiply(left, right)
            case expr.Neg():
                value = sp.negate(values[id(node.operand)])
            case expr.Power():
                value = sp.power(values[id(node.operand)], node.exponent)
            case expr.Dot():
                subscripts = f"{labels(node.left, 'k')},{labels(node.right, 'k')}->{lead}"
                value = sp.einsum(subscripts, values[id(node.left)], values[id(node.right)])
            case expr.Sum():
                summed = values[id(node.operand)]
                value = sp.sum_over(summed, tuple(range(int(is_batched), len(summed.shape))))
            case expr.MatMul():
                left_axes = "mk" if len(node.left.shape) == 2 else "k"
                right_axes = "kn" if len(node.right.shape) == 2 else "k"
                out_axes = left_axes[:-1] + right_axes[1:]
                subscripts = (
                    f"{labels(node.left, left_axes)},{labels(node.right, right_axes)}"
                    f"->{lead}{out_axes}"
                )
                value = sp.einsum(subscripts, values[id(node.left)], values[id(node.right)])
            case expr.Transpose():
                axes = (0, 2, 1) if is_batched else (1, 0)
                value = sp.transpose(values[id(node.operand)], axes)
            case expr.Index():
                value = values[id(node.operand)]
                for position in node.indices:
                    value = sp.take(value, position, axis=int(is_batched))
            case expr.Stack():
                items = [values[id(item)] for item in node.items]
                if is_batched:
                    items = [sp.broadcast_to(item, (n_samples, *node.shape[1:])) for item in items]
                value = sp.stack(items, axis=int(is_batched))
            case expr.Taylor():
                shift = sp.constant(np.asarray(-node.center), n_variables)
                shifted = sp.add(values[id(node.operand)], shift)
                value = sp.polyval(node.coefficients, shifted)
            case _:
                assert_never(node)
        values[id(node)] = value

    loss = values[id(problem.loss)]
    return sp.broadcast_to(loss, (n_samples,))


# ---- the frozen sign pattern and clip active set ---------------------------------------------


def _frozen_pattern(
    problem: Problem, trajectory: Trajectory, gradient_delta: sp.SparsePolynomials
) -> FrozenPattern:
    r"""Measure $\mathrm{sign}(\nabla_\delta L_i)$ and the projection's active set before every
    attack sub-step of ``trajectory``; raise if either changes (paper.md §3.3, A1(a))."""
    attack = problem.attack
    pgd_steps = attack.steps
    sign: NDArray[np.int8] | None = None
    allowed = np.full(gradient_delta.shape, _FREE | _PLUS | _MINUS, dtype=np.uint8)
    for t in range(problem.train.horizon):
        for k in range(pgd_steps):
            substep = t * (pgd_steps + 1) + k + 1
            before = substep - 1
            delta = trajectory.delta[before]
            gradient = gradient_delta.evaluate(trajectory.state(before))
            where = (t, k, substep)
            if attack.grad == "sign":
                current = np.sign(gradient).astype(np.int8)
                if sign is None:
                    sign = current
                elif np.any(current != sign):
                    raise _sign_changed(problem, where, sign, current, gradient)
                ascent = current.astype(np.float64)
            else:
                ascent = gradient
            proposal = delta + attack.step * ascent
            if attack.norm == "l2":
                norms = np.sqrt(np.einsum("ij,ij->i", proposal, proposal))
                if np.any(norms > attack.radius):
                    raise _l2_binds(problem, where, norms)
                continue
            seen = _observe(proposal, attack.radius)
            still = allowed & seen
            if not np.all(still):
                raise _clip_changed(problem, where, allowed, seen, proposal)
            allowed = still
    clipped = None
    if attack.norm == "linf":
        free = (allowed & _FREE) != 0
        clipped = np.where(free, 0, np.where((allowed & _PLUS) != 0, 1, -1)).astype(np.int8)
    return FrozenPattern(sign=sign, clipped=clipped)


def _coordinate(problem: Problem, flat: int) -> str:
    if not problem.input_shape:
        return problem.input_name
    index = np.unravel_index(flat, problem.input_shape)
    return f"{problem.input_name}[{', '.join(str(int(i)) for i in index)}]"


def _at(where: tuple[int, int, int]) -> str:
    t, k, substep = where
    return f"outer step t = {t}, attack step k = {k} (sub-step {substep})"


def _first(mask: NDArray[np.bool_]) -> tuple[int, int]:
    sample, flat = np.argwhere(mask)[0]
    return int(sample), int(flat)


def _sign_changed(
    problem: Problem,
    where: tuple[int, int, int],
    frozen: NDArray[np.int8],
    current: NDArray[np.int8],
    gradient: NDArray[np.float64],
) -> AssumptionError:
    sample, flat = _first(current != frozen)
    name = _coordinate(problem, flat)
    return AssumptionError(
        f"the sign pattern of the attack gradient changes along the reference trajectory: at "
        f"{_at(where)}, sample i = {sample}, coordinate {name}, sign(dL/d{name}) is "
        f"{int(current[sample, flat]):+d} (gradient {gradient[sample, flat]:.3e}) but it was "
        f"{int(frozen[sample, flat]):+d} on the earlier attack steps; grad = sign is affine only "
        "with one sign pattern on the whole trajectory (paper.md §3.3, A1(a))",
        span=problem.attack.span,
        hint="lower the attack radius, step or the horizon so the sign pattern stays fixed, "
        "or use grad = plain",
    )


def _observe(proposal: NDArray[np.float64], radius: float) -> NDArray[np.uint8]:
    """Which states of the active set each pre-projection value allows: a value exactly on the
    boundary is clipped and free at once (both give the same point)."""
    seen = np.full(proposal.shape, _FREE, dtype=np.uint8)
    seen[proposal > radius] = _PLUS
    seen[proposal < -radius] = _MINUS
    seen[proposal == radius] |= _PLUS
    seen[proposal == -radius] |= _MINUS
    return seen


def _describe(bits: int, radius: float) -> str:
    side = "+" if bits & _PLUS else "-"
    if bits == _FREE:
        return "free"
    if bits & _FREE:
        return f"exactly on the boundary {side}{radius:g}"
    return f"clipped to {side}{radius:g}"


def _clip_changed(
    problem: Problem,
    where: tuple[int, int, int],
    allowed: NDArray[np.uint8],
    seen: NDArray[np.uint8],
    proposal: NDArray[np.float64],
) -> AssumptionError:
    radius = problem.attack.radius
    sample, flat = _first((allowed & seen) == 0)
    now, was = _describe(seen[sample, flat], radius), _describe(allowed[sample, flat], radius)
    return AssumptionError(
        f"the linf clip's active set changes along the reference trajectory: at {_at(where)}, "
        f"sample i = {sample}, coordinate {_coordinate(problem, flat)} is {now} "
        f"(pre-projection value {float(proposal[sample, flat])!r}) but it was {was} on the "
        "earlier attack steps; the projection is affine only with one active set on the whole "
        "trajectory (paper.md §3.3, A1(a))",
        span=problem.attack.span,
        hint="lower the attack step or the horizon, or use a larger radius so the clip never binds",
    )


def _l2_binds(
    problem: Problem, where: tuple[int, int, int], norms: NDArray[np.float64]
) -> AssumptionError:
    radius = problem.attack.radius
    sample = int(np.flatnonzero(norms > radius)[0])
    return AssumptionError(
        f"the l2 projection binds at {_at(where)}, sample i = {sample}: "
        f"||delta + step * grad|| = {float(norms[sample])!r} exceeds the radius {radius!r}; "
        "only an l2 projection that never binds is affine (paper.md §3.3)",
        span=problem.attack.span,
        hint=f"use a radius above {float(norms.max())!r}, a smaller step or horizon, or "
        "norm = linf",
    )
