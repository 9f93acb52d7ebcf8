r"""The rungs of the dynamics: assumptions, polynomial maps, Carleman lift.

* **assumptions**: the report of ``qrtc report`` (:mod:`qrtc.backends.assumptions`); a spec the
  compiler refused for an assumption fails here, with the compiler's message.
* **maps**: $\mathcal A(z)$ and $\mathcal L(z)$ from the
  :class:`~qrtc.ir.polynomial_maps.PolynomialMaps` against one exact sub-step of
  :mod:`qrtc.reference`, at $z$ near the reference trajectory
  (attack steps only where the reference's sign pattern and clip active set are the frozen
  ones, paper.md §3.3).
* **carleman**: $C\,\mathrm{lift}(u)$ against the part of degree $\le N$ of
  $\mathrm{lift}(F(u))$, i.e. $\sum_{k_1+\dots+k_j \le N} v_{k_1}\otimes\cdots\otimes v_{k_j}$
  on each level $j$, with $v_0 = b_0/\gamma$, $v_k = A_k u^{\otimes k}/\gamma$ from the maps
  (paper.md §3.2); on the levels $j \le \lfloor N/q\rfloor$ this is $\mathrm{lift}(F(u))$ itself.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from numpy.typing import NDArray

import qrtc.reference as reference
from qrtc.backends.assumptions import assess_assumptions
from qrtc.ir.polynomial_maps import FrozenPattern, PolynomialMap, SparseTensor
from qrtc.ir.problem import Problem
from qrtc.numerics.sparse_tensors import apply_map, apply_tensor
from qrtc.verification.report import Finding
from qrtc.verification.search import (
    Case,
    Measurement,
    gamma,
    render_number,
    render_vector,
    search,
    vectors,
)
from qrtc.verification.subject import Subject, Unavailable

__all__ = ["assumptions", "carleman", "maps"]

Array = NDArray[np.float64]

# Largest lifted dimension D_N whose Kronecker expansion the Carleman rung builds per input.
MAX_LIFTED_SIZE = 200_000
# Attack-step inputs are pulled towards the trajectory until the reference's pattern is the
# frozen one: at most this many halvings of the perturbation, then the trajectory point itself.
_HALVINGS = 60


# -- assumptions ----------------------------------------------------------------------------------


def assumptions(subject: Subject, examples: int, seed: int) -> Finding:
    """The assumption report; a refusal by the compiler is a failure with its message."""
    refusal = subject.refusal
    if refusal is not None:
        return Finding(
            cases=1,
            worst=None,
            failure=Case("the compiler refused the spec", Measurement(math.inf, 0.0)),
            tolerance_source="the compiler's own check of the assumption",
            detail="the rungs that need the compiled stages cannot run",
            counterexample=str(refusal),
        )
    report = assess_assumptions(subject.system, precision=subject.problem.options.precision)
    measured = [c for c in report.checks if c.held is not None]
    violated = report.violations
    if not violated:
        return Finding(
            cases=len(measured),
            worst=None,
            failure=None,
            tolerance_source="each assumption's own bound (paper.md §2, §4-5; qrtc report)",
        )
    first = violated[0]
    lines = [
        f"{c.name}: measured {_maybe(c.measured)}, bound {_maybe(c.bound)} ({c.reference})"
        for c in violated
    ]
    measurement = Measurement(
        first.measured if first.measured is not None else math.inf,
        first.bound if first.bound is not None else 0.0,
    )
    return Finding(
        cases=len(measured),
        worst=measurement,
        failure=Case(lines[0], measurement),
        tolerance_source=f"{first.name}: its bound ({first.reference})",
        detail="the compiled stages are still checked by the rungs below",
        counterexample="violated: " + "\n".join(lines),
    )


def _maybe(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


# -- maps -----------------------------------------------------------------------------------------


def maps(subject: Subject, examples: int, seed: int) -> Finding:
    """The polynomial maps against one reference sub-step, at drawn points $z$."""
    polynomial_maps = subject.maps
    problem, trajectory = subject.problem, subject.trajectory
    n, radius = problem.n_params, problem.attack.radius
    period = polynomial_maps.pgd_steps + 1
    theta_scale = 0.3 * (1.0 + float(np.max(np.abs(trajectory.theta))))
    delta_spread = np.full(problem.n_samples * problem.input_size, radius)
    if (support := problem.perturbable) is not None:
        # The maps are the dynamics on the states the attack reaches: delta stays on its support.
        delta_spread *= support.ravel()
    spread = np.concatenate([np.full(n, theta_scale), delta_spread])
    z_star = polynomial_maps.expansion_point
    rounding = {
        kind: gamma(_row_terms(m) + m.degree + 2)
        for kind, m in (("attack", polynomial_maps.attack), ("learner", polynomial_maps.learner))
    }

    def point(case: tuple[int, Array, float]) -> tuple[str, Array, float]:
        substep, direction, scale = case
        kind = "attack" if substep % period else "learner"
        base = trajectory.state(substep - 1)
        factor = scale
        z = base + factor * direction * spread
        if kind == "attack":
            for _ in range(_HALVINGS):
                if _pattern_holds(problem, polynomial_maps.pattern, z):
                    break
                factor /= 2
                z = base + factor * direction * spread
            else:
                factor, z = 0.0, base
        return kind, z, factor

    def measure(case: tuple[int, Array, float]) -> Measurement:
        kind, z, factor = point(case)
        polynomial = polynomial_maps.attack if kind == "attack" else polynomial_maps.learner
        u = z - z_star
        actual = z_star + apply_map(polynomial, u)
        expected = _reference_step(problem, kind, z)
        magnitude = np.abs(z_star) + _absolute_image(polynomial, np.abs(u))
        difference = np.abs(actual - expected)
        worst = int(np.argmax(difference))
        return Measurement(
            float(difference[worst]),
            2 * rounding[kind] * float(np.max(magnitude)),
            f"at {_coordinate(problem, worst)}: the {kind} map gives "
            f"{render_number(actual[worst])}, the reference {render_number(expected[worst])}; "
            f"z = {render_vector(z)} (perturbation x {factor:.3g})",
        )

    def describe(case: tuple[int, Array, float]) -> str:
        substep, direction, scale = case
        kind = "attack" if substep % period else "learner"
        return (
            f"sub-step s = {substep} ({kind}), z = z_{substep - 1} + {scale:.3g} * spread * "
            f"{render_vector(direction)}"
        )

    strategy = st.tuples(
        st.integers(1, polynomial_maps.n_substeps),
        vectors(polynomial_maps.state_size),
        st.floats(0.0, 1.0, allow_nan=False),
    )
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
        "rounding: 2 gamma_n max_i (|b_0| + sum_k |A_k| |u|^k)_i, n = monomials per row + q + 2 "
        "(Higham Lemma 3.1)",
    )


def _reference_step(problem: Problem, kind: str, z: Array) -> Array:
    n = problem.n_params
    theta, delta = z[:n], z[n:].reshape(problem.n_samples, problem.input_size)
    if kind == "attack":
        return np.concatenate([theta, reference.attack_substep(problem, theta, delta).ravel()])
    theta_next, delta_next = reference.learner_substep(problem, theta, delta)
    return np.concatenate([theta_next, delta_next.ravel()])


def _pattern_holds(problem: Problem, pattern: FrozenPattern, z: Array) -> bool:
    """Whether the reference's sign pattern and projection at ``z`` are the frozen ones (a value
    exactly on the box boundary fits both free and clipped)."""
    n, attack = problem.n_params, problem.attack
    theta, delta = z[:n], z[n:].reshape(problem.n_samples, problem.input_size)
    inputs = problem.inputs + delta.reshape(problem.inputs.shape)
    _, gradient = reference.value_and_input_gradient(problem.loss, theta, inputs, problem.labels)
    gradient = gradient.reshape(delta.shape)
    sign = np.sign(gradient)
    proposal = delta + attack.step * (sign if attack.grad == "sign" else gradient)
    if (support := problem.perturbable) is not None:
        sign, proposal = sign * support, proposal * support
    if pattern.sign is not None and not np.array_equal(sign, pattern.sign):
        return False
    if attack.norm == "l2":
        return bool(np.all(np.linalg.norm(proposal, axis=1) <= attack.radius))
    assert pattern.clipped is not None
    free = np.abs(proposal) <= attack.radius
    clipped = pattern.clipped * proposal >= attack.radius
    return bool(np.all(np.where(pattern.clipped == 0, free, clipped)))


def _absolute_tensor(tensor: SparseTensor, magnitude: Array) -> Array:
    r"""$|A_k|\,|u|^{\otimes k}$, shape ``(d,)``, for ``magnitude`` $= |u|$."""
    if not tensor.nnz:
        return np.zeros(tensor.size)
    products = np.abs(tensor.values) * np.prod(magnitude[tensor.columns], axis=1)
    return np.bincount(tensor.rows, weights=products, minlength=tensor.size).astype(np.float64)


def _absolute_image(polynomial: PolynomialMap, magnitude: Array) -> Array:
    r"""$|b_0| + \sum_k |A_k|\,|u|^{\otimes k}$: what rounding errors are relative to."""
    out = np.abs(polynomial.constant).astype(np.float64)
    for term in polynomial.terms:
        out += _absolute_tensor(term, magnitude)
    return out


def _row_terms(polynomial: PolynomialMap) -> int:
    """The most monomials in one row of the map (all degrees)."""
    counts = np.zeros(polynomial.state_size, dtype=np.int64)
    for term in polynomial.terms:
        counts += np.bincount(term.rows, minlength=polynomial.state_size)
    return int(counts.max(initial=0))


def _coordinate(problem: Problem, index: int) -> str:
    """``theta[1]`` or ``delta_0[x[1]]``: the name of coordinate ``index`` of $z$."""
    if index < problem.n_params:
        for block in problem.parameters:
            if block.offset <= index < block.offset + block.size:
                where = np.unravel_index(index - block.offset, block.shape) if block.shape else ()
                return f"{block.name}[{', '.join(str(int(k)) for k in where)}]"
        return f"theta[{index}]"
    sample, flat = divmod(index - problem.n_params, problem.input_size)
    where = np.unravel_index(flat, problem.input_shape) if problem.input_shape else ()
    inner = ", ".join(str(int(k)) for k in where)
    return f"delta_{sample}[{problem.input_name}[{inner}]]"


# -- carleman -------------------------------------------------------------------------------------


def carleman(subject: Subject, examples: int, seed: int) -> Finding:
    r"""$C\,\mathrm{lift}(u)$ against the truncated Kronecker expansion of $F(u)$."""
    lifted = subject.carleman
    polynomial_maps = subject.maps
    size, order, gamma_scale = lifted.state_size, lifted.order, lifted.scale
    if lifted.lifted_size > MAX_LIFTED_SIZE:
        raise Unavailable(f"D_N = {lifted.lifted_size:,} > limit {MAX_LIFTED_SIZE:,}")
    radius = max(lifted.orbit_radius or 0.0, gamma_scale)
    pairs = {
        "attack": (polynomial_maps.attack, lifted.attack.matrix),
        "learner": (polynomial_maps.learner, lifted.learner.matrix),
    }
    rounding = {
        kind: gamma(
            int(np.max(np.diff(matrix.indptr)))
            + sum(int(np.bincount(t.rows).max(initial=0)) for t in polynomial.terms if t.nnz)
            + (polynomial.degree + 2) * order
        )
        for kind, (polynomial, matrix) in pairs.items()
    }

    def measure(case: tuple[str, Array, float]) -> Measurement:
        kind, direction, scale = case
        polynomial, matrix = pairs[kind]
        u = scale * radius * direction
        lift = _lift(u / gamma_scale, order)
        image = matrix @ lift
        parts = [polynomial.constant / gamma_scale]
        parts += [apply_tensor(term, u) / gamma_scale for term in polynomial.terms]
        expected = _truncated_expansion(parts, order)
        sizes = [np.abs(polynomial.constant) / gamma_scale]
        sizes += [_absolute_tensor(term, np.abs(u)) / gamma_scale for term in polynomial.terms]
        magnitude = abs(matrix) @ np.abs(lift) + _truncated_expansion(sizes, order)
        difference = np.abs(image - expected)
        worst = int(np.argmax(difference))
        level, multi_index = _level_index(size, worst)
        exact = "an exact level" if level <= order // max(lifted.degree, 1) else "a truncated level"
        return Measurement(
            float(difference[worst]),
            rounding[kind] * float(np.max(magnitude)),
            f"level {level} ({exact}), entry {multi_index}: C lift(u) = "
            f"{render_number(image[worst])}, the expansion {render_number(expected[worst])}",
        )

    def describe(case: tuple[str, Array, float]) -> str:
        kind, direction, scale = case
        return f"C_{kind}, u = {scale * radius:.3g} * {render_vector(direction)}"

    strategy = st.tuples(
        st.sampled_from(("attack", "learner")),
        vectors(size),
        st.floats(0.0, 1.0, allow_nan=False),
    )
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
        "rounding: gamma_n max(|C| |lift u| + the expansion of |v_k|), n = nnz per row of C "
        "+ monomials per row + (q + 2) N",
        detail=f"N = {order}, q = {lifted.degree}: levels j <= {order // max(lifted.degree, 1)} "
        "equal lift(F(u)) exactly",
    )


def _lift(scaled: Array, order: int) -> Array:
    """$(1, \\tilde u, \\tilde u^{\\otimes 2}, \\dots)$ by ``np.kron``, levels concatenated."""
    levels: list[Array] = [np.ones(1)]
    for _ in range(order):
        levels.append(np.asarray(np.kron(levels[-1], scaled), dtype=np.float64))
    return np.concatenate(levels)


def _truncated_expansion(parts: list[Array], order: int) -> Array:
    r"""Level $j$: $\sum_{k_1 + \dots + k_j \le N} p_{k_1} \otimes \cdots \otimes p_{k_j}$ for
    $j = 0..N$, concatenated; ``parts[k]`` $= p_k$, $k = 0..q$."""
    degree = len(parts) - 1
    # by_power[m] = the sum over compositions of m into the current number of parts
    by_power: dict[int, Array] = {0: np.ones(1)}
    levels = [np.ones(1)]
    for _ in range(order):
        following: dict[int, Array] = {}
        for power, value in by_power.items():
            for k in range(min(degree, order - power) + 1):
                term = np.asarray(np.kron(value, parts[k]), dtype=np.float64)
                total = power + k
                following[total] = following[total] + term if total in following else term
        by_power = following
        levels.append(np.sum(list(by_power.values()), axis=0))
    return np.concatenate(levels)


def _level_index(size: int, flat: int) -> tuple[int, tuple[int, ...]]:
    level, start = 0, 0
    while flat >= start + size**level:
        start += size**level
        level += 1
    index = np.unravel_index(flat - start, (size,) * level) if level else ()
    return level, tuple(int(k) for k in index)
