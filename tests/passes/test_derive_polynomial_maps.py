"""The dynamics pass against the exact reference trainer (shared/design.md §4, PolynomialMaps row).

Each map must equal one reference sub-step (``qrtc.reference.attack_substep`` /
``learner_substep``) to machine precision: the learner map everywhere, the attack map wherever the
reference's own sign pattern and clip active set (computed here from the reference's gradients)
are the frozen ones. Iterating the maps from $z_0$ must reproduce the reference trajectory. The
paper's Appendix A toy must give its listed coefficients. Where the reference trajectory changes
its pattern, the pass must refuse at the step, sample and coordinate an independent scan finds.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from numpy.typing import NDArray
from strategies import specs

import qrtc
from qrtc.ir import expr as E
from qrtc.ir.polynomial_maps import FrozenPattern, PolynomialMaps, SparseTensor
from qrtc.ir.problem import ParameterBlock
from qrtc.numerics.sparse_tensors import apply_map
from qrtc.passes.derive_polynomial_maps import derive_polynomial_maps

Array = NDArray[np.float64]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Hand-written specs, one per option the pass must handle.
SPECS = {
    # every node kind: matrix parameter, matmul both ways, transpose, index, stack of batched and
    # unbatched items, mean, division, cube, taylor, vector label; plain grad, free linf clip
    "mixed_nodes": """
        param W[2, 3] = [[0.2, -0.1, 0.3], [0.1, 0.2, -0.2]]
        param v[2] = [0.5, -0.4]
        param b = 0.1
        input x[3]
        label y[2]
        data = inline { [0.2, -0.1, 0.3] -> [0.1, -0.2]; [0.0, 0.4, -0.3] -> [0.3, 0.1] }
        let h = W @ x + b
        let g = [h[0] * v[1], sum(transpose(W) @ v) - h[1], mean(x), b]
        predict f = h * v
        loss l = 0.5 * sum((f - y)^2) + 0.1 * dot(g, g) / 3
            + taylor(tanh(h[0]), order = 3, at = 0.1) - x @ transpose(W) @ v + (x[2] - y[0])^3
        attack pgd { norm = linf; radius = 0.5; step = 0.02; steps = 2; start = warm; grad = plain }
        train { lr = 0.1; horizon = 2 }
    """,
    # a matrix input (transposed, times itself), zero start, inactive l2 ball
    "matrix_input_l2_zero": """
        param W[2, 2] = [[0.3, -0.2], [0.1, 0.4]]
        input x[2, 2]
        label y
        data = inline { [[0.2, -0.1], [0.3, 0.0]] -> 0.1; [[0.1, 0.2], [-0.2, 0.3]] -> -0.2 }
        let h = W @ x
        predict f = sum(h * h) + h[1, 0] + sum(transpose(x) @ x @ W) / 4
        loss l = 0.5 * (f - y)^2
        attack pgd { norm = l2; radius = 1.0; step = 0.01; steps = 2; start = zero; grad = plain }
        train { lr = 0.1; horizon = 2 }
    """,
    # sign steps that overshoot the box: every coordinate clipped on every step
    "sign_clipped_warm": """
        param theta[2] = [0.4, -0.3]
        input x[2]
        label y
        data = inline { [0.5, -0.3] -> 0.2; [0.1, 0.4] -> -0.1; [-0.2, 0.3] -> 0.5 }
        predict f = dot(theta, x)
        loss l = 0.5 * (f - y)^2
        attack pgd { norm = linf; radius = 0.02; step = 0.05; steps = 3; start = warm; grad = sign }
        train { lr = 0.1; horizon = 3 }
    """,
    # sign steps of exactly the radius: the first lands on the boundary, the next go beyond
    "sign_boundary_then_clipped": """
        param theta[2] = [0.4, -0.3]
        input x[2]
        label y
        data = inline { [0.5, -0.3] -> 0.2; [0.1, 0.4] -> -0.1; [-0.2, 0.3] -> 0.5 }
        predict f = dot(theta, x)
        loss l = 0.5 * (f - y)^2
        attack pgd { norm = linf; radius = 0.02; step = 0.02; steps = 2; start = warm; grad = sign }
        train { lr = 0.1; horizon = 2 }
    """,
    # plain-gradient steps that overshoot the box: a frozen, fully active clip
    "plain_clipped_warm": """
        param theta[2] = [0.4, -0.3]
        input x[2]
        label y
        data = inline { [0.5, -0.3] -> 0.2; [0.1, 0.4] -> -0.1; [-0.2, 0.3] -> 0.5 }
        predict f = dot(theta, x)
        loss l = 0.5 * (f - y)^2
        attack pgd { norm = linf; radius = 0.01; step = 5; steps = 2; start = warm; grad = plain }
        train { lr = 0.1; horizon = 3 }
    """,
    # sign steps inside an inactive l2 ball; a stack of an input and a parameter entry
    "sign_l2_warm": """
        param theta[2] = [0.4, -0.3]
        input x[2]
        label y
        data = inline { [0.5, -0.3] -> 0.2; [0.1, 0.4] -> -0.1 }
        predict f = dot(theta, x) + [x[0], theta[1]] @ [theta[0], 1]
        loss l = 0.5 * (f - y)^2
        attack pgd { norm = l2; radius = 1; step = 0.01; steps = 2; start = warm; grad = sign }
        train { lr = 0.1; horizon = 3 }
    """,
    # the attack restricted to each sample's non-zero features: sign steps clipped on the box
    "support_data_sign_clipped": """
        param theta[3] = [0.4, -0.3, 0.2]
        input x[3]
        label y
        data = inline { [0.5, 0, -0.3] -> 0.2; [0, 0.4, 0] -> -0.1; [-0.2, 0.3, 0.1] -> 0.5 }
        predict f = dot(theta, x) + theta[0] * x[1] * x[2]
        loss l = 0.5 * (f - y)^2
        attack pgd {
            norm = linf; radius = 0.02; step = 0.05; steps = 2; grad = sign; support = data
        }
        train { lr = 0.1; horizon = 2 }
    """,
    # ... and plain steps in an inactive l2 ball, zero start
    "support_data_l2_zero": """
        param theta[3] = [0.4, -0.3, 0.2]
        input x[3]
        label y
        data = inline { [0.5, 0, -0.3] -> 0.2; [0, 0.4, 0] -> -0.1 }
        predict f = dot(theta, x)^2
        loss l = 0.5 * (f - y)^2
        attack pgd { norm = l2; radius = 1; step = 0.01; steps = 2; start = zero; support = data }
        train { lr = 0.1; horizon = 3 }
    """,
}

# Specs whose reference trajectory breaks the frozen-pattern assumption, worked out by hand:
# theta = x = 1, y = 0 gives dL/ddelta = theta (theta (1 + delta) - y), so warm plain steps of 0.1
# go 0 -> 0.1 -> 0.21 -> 0.21 + 0.1 * 1.2064 = 0.3306 at t = 1, k = 0 (lr is tiny).
ONE_DIMENSIONAL = """
    param theta[1] = [1]
    input x[1]
    label y
    data = inline {{ [1] -> {label} }}
    predict f = dot(theta, x)
    loss l = 0.5 * (f - y)^2
    attack pgd {{ {attack} }}
    train {{ lr = {lr}; horizon = 3 }}
"""
CLIP_CHANGES = ONE_DIMENSIONAL.format(
    label=0, lr=0.001, attack="norm = linf; radius = 0.25; step = 0.1; steps = 2; grad = plain"
)
L2_BINDS = ONE_DIMENSIONAL.format(
    label=0, lr=0.001, attack="norm = l2; radius = 0.25; step = 0.1; steps = 2; grad = plain"
)
# y = 1.1: the residual theta - 1.1 < 0 until theta passes 1.1, which lr = 0.5 does at t = 2.
SIGN_FLIPS = ONE_DIMENSIONAL.format(
    label=1.1,
    lr=0.5,
    attack="norm = linf; radius = 0.1; step = 0.05; steps = 1; start = zero; grad = sign",
)


def load_text(text: str) -> qrtc.Problem:
    return qrtc.check(qrtc.parse(text))


def unbatched_loss_problem() -> qrtc.Problem:
    """A loss that reads neither the input nor the label: the same L for every sample."""
    problem = load_text(SPECS["sign_l2_warm"])
    theta = E.Parameter(name="theta", shape=(2,), offset=0)
    square = E.Dot(left=theta, right=E.Power(operand=theta, exponent=3, shape=(2,)))
    loss = E.Sub(left=square, right=E.Constant(value=np.array(0.3)), shape=())
    attack = dataclasses.replace(problem.attack, grad="plain")
    return dataclasses.replace(problem, loss=loss, attack=attack)


def logistic_with_nonzero_start() -> qrtc.Problem:
    """The shipped logistic example (taylor loss, sign steps, zero start) from w = (0.5, 0.3)
    set explicitly (whatever the example file says): a sign pattern that holds, and sign steps
    that land exactly on the box boundary."""
    problem = qrtc.load(str(EXAMPLES / "logistic_taylor.qrt"))
    return dataclasses.replace(problem, theta0=np.array([0.5, 0.3, 0.0]))


@functools.cache
def problem_named(name: str) -> qrtc.Problem:
    if name.endswith(".qrt"):
        return qrtc.load(str(EXAMPLES / name))
    if name == "unbatched_loss":
        return unbatched_loss_problem()
    if name == "logistic_nonzero_start":
        return logistic_with_nonzero_start()
    return load_text(SPECS[name])


@functools.cache
def derived(name: str) -> tuple[qrtc.Problem, qrtc.Trajectory, PolynomialMaps]:
    problem = problem_named(name)
    trajectory = qrtc.reference.train(problem)
    maps = derive_polynomial_maps(problem, trajectory)
    maps.verify()
    return problem, trajectory, maps


SHIPPED = sorted(path.name for path in EXAMPLES.glob("*.qrt"))
LOWERABLE = [
    *SHIPPED,
    *SPECS,
    "unbatched_loss",
    "logistic_nonzero_start",
]


# ---- helpers: the reference side ---------------------------------------------------------------


def split(problem: qrtc.Problem, z: Array) -> tuple[Array, Array]:
    n = problem.n_params
    return z[:n], z[n:].reshape(problem.n_samples, problem.input_size)


def reference_attack(problem: qrtc.Problem, z: Array) -> Array:
    theta, delta = split(problem, z)
    return np.concatenate([theta, qrtc.reference.attack_substep(problem, theta, delta).ravel()])


def reference_learner(problem: qrtc.Problem, z: Array) -> Array:
    theta, delta = split(problem, z)
    theta_next, delta_next = qrtc.reference.learner_substep(problem, theta, delta)
    return np.concatenate([theta_next, delta_next.ravel()])


def reference_proposal(problem: qrtc.Problem, z: Array) -> tuple[Array, Array]:
    """``(sign of the reference's delta-gradient, pre-projection delta)``, both ``(M, d)``."""
    theta, delta = split(problem, z)
    inputs = problem.inputs + delta.reshape(problem.inputs.shape)
    _, gradient = qrtc.reference.value_and_input_gradient(
        problem.loss, theta, inputs, problem.labels
    )
    gradient = gradient.reshape(delta.shape)
    sign = np.sign(gradient)
    ascent = sign if problem.attack.grad == "sign" else gradient
    proposal = delta + problem.attack.step * ascent
    if (support := problem.perturbable) is not None:
        return sign * support, proposal * support
    return sign, proposal


def reference_allows(problem: qrtc.Problem, pattern: FrozenPattern, z: Array) -> bool:
    """Whether the reference's sign pattern and projection at ``z`` are the frozen ones."""
    sign, proposal = reference_proposal(problem, z)
    if pattern.sign is not None and not np.array_equal(sign, pattern.sign):
        return False
    radius = problem.attack.radius
    if problem.attack.norm == "l2":
        return bool(np.all(np.linalg.norm(proposal, axis=1) <= radius))
    assert pattern.clipped is not None
    free = np.abs(proposal) <= radius
    return bool(np.all(np.where(pattern.clipped == 0, free, pattern.clipped * proposal >= radius)))


def assert_equal_to_machine_precision(actual: Array, expected: Array) -> None:
    scale = 1.0 + float(np.max(np.abs(expected)))
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12 * scale)


def reachable(problem: qrtc.Problem, z: Array) -> Array:
    """``z`` with the perturbation zeroed outside the attack's support: the maps are the
    dynamics on the states the attack can reach."""
    if (support := problem.perturbable) is None:
        return z
    return np.concatenate([z[: problem.n_params], z[problem.n_params :] * support.ravel()])


def random_states(problem: qrtc.Problem, count: int, seed: int) -> list[Array]:
    rng = np.random.default_rng(seed)
    radius = problem.attack.radius
    states = []
    for _ in range(count):
        theta = problem.theta0 + 0.3 * rng.normal(size=problem.n_params)
        delta = rng.uniform(-radius, radius, size=problem.n_samples * problem.input_size)
        states.append(reachable(problem, np.concatenate([theta, delta])))
    return states


# ---- the maps against one reference sub-step -------------------------------------------------


@pytest.mark.parametrize("name", LOWERABLE)
def test_learner_map_is_one_reference_learner_step(name: str) -> None:
    problem, _, maps = derived(name)
    for z in random_states(problem, count=5, seed=1):
        assert_equal_to_machine_precision(apply_map(maps.learner, z), reference_learner(problem, z))


@pytest.mark.parametrize("name", LOWERABLE)
def test_attack_map_is_one_reference_attack_step_where_the_pattern_holds(name: str) -> None:
    problem, trajectory, maps = derived(name)
    rng = np.random.default_rng(2)
    on_trajectory = [
        trajectory.state(s - 1)
        for s in range(1, trajectory.n_substeps + 1)
        if trajectory.is_attack_step(s)
    ]
    nearby = [reachable(problem, z + 1e-3 * rng.normal(size=z.shape)) for z in on_trajectory]
    candidates = on_trajectory + nearby + random_states(problem, count=5, seed=3)
    compared = 0
    for z in candidates:
        if reference_allows(problem, maps.pattern, z):
            assert_equal_to_machine_precision(
                apply_map(maps.attack, z), reference_attack(problem, z)
            )
            compared += 1
    assert compared >= len(on_trajectory)


@pytest.mark.parametrize("name", LOWERABLE)
def test_iterating_the_maps_reproduces_the_reference_trajectory(name: str) -> None:
    _, trajectory, maps = derived(name)
    z = maps.initial_state
    assert_equal_to_machine_precision(z, trajectory.state(0))
    for s in range(1, maps.n_substeps + 1):
        z = apply_map(maps.map_at(s), z)
        assert_equal_to_machine_precision(z, trajectory.state(s))


@pytest.mark.parametrize("name", LOWERABLE)
def test_maps_carry_the_problem_layout_and_origin(name: str) -> None:
    problem, _, maps = derived(name)
    assert (maps.n_params, maps.n_samples, maps.input_size) == (
        problem.n_params,
        problem.n_samples,
        problem.input_size,
    )
    assert (maps.horizon, maps.pgd_steps) == (problem.train.horizon, problem.attack.steps)
    assert maps.origin == problem.attack.span
    assert not np.any(maps.expansion_point)
    np.testing.assert_array_equal(maps.initial_state[: problem.n_params], problem.theta0)
    assert not np.any(maps.initial_state[problem.n_params :])
    assert len(maps.attack.terms) == len(maps.learner.terms) == maps.degree
    shape = (problem.n_samples, problem.input_size)
    assert (maps.pattern.sign is None) == (problem.attack.grad == "plain")
    assert (maps.pattern.clipped is None) == (problem.attack.norm == "l2")
    for frozen in (maps.pattern.sign, maps.pattern.clipped):
        assert frozen is None or (frozen.shape == shape and frozen.dtype == np.int8)


def test_the_attack_map_keeps_theta_and_the_learner_map_keeps_or_resets_delta() -> None:
    for name in ("robust_linreg.qrt", "matrix_input_l2_zero"):
        problem, _, maps = derived(name)
        n = problem.n_params
        z = random_states(problem, count=1, seed=4)[0]
        np.testing.assert_array_equal(apply_map(maps.attack, z)[:n], z[:n])
        expected = z[n:] if problem.attack.start == "warm" else np.zeros_like(z[n:])
        np.testing.assert_array_equal(apply_map(maps.learner, z)[n:], expected)


def check_lowering_or_refusal(spec: qrtc.Spec) -> None:
    """A random spec lowers to maps that replay its trajectory exactly, or is refused at the
    first change of pattern that an independent scan of the reference trajectory finds."""
    problem = qrtc.check(spec)
    trajectory = qrtc.reference.train(problem)
    change = first_pattern_change(problem, trajectory)
    if change is not None:
        with pytest.raises(qrtc.AssumptionError) as caught:
            derive_polynomial_maps(problem, trajectory)
        assert_names_location(caught.value, problem, change)
        event(f"refused: {change[0]}")
        return
    event("lowered")
    maps = derive_polynomial_maps(problem, trajectory)
    maps.verify()
    z = maps.initial_state
    for s in range(1, maps.n_substeps + 1):
        z = apply_map(maps.map_at(s), z)
        assert_equal_to_machine_precision(z, trajectory.state(s))


@settings(max_examples=10)
@given(specs(shuffle=False))
def test_random_specs_lower_exactly_or_fail_where_the_reference_pattern_changes(
    spec: qrtc.Spec,
) -> None:
    check_lowering_or_refusal(spec)


@pytest.mark.slow
@settings(max_examples=300)
@given(specs(shuffle=False))
def test_many_random_specs_lower_exactly_or_fail_where_the_reference_pattern_changes(
    spec: qrtc.Spec,
) -> None:
    check_lowering_or_refusal(spec)


# ---- paper.md Appendix A -----------------------------------------------------------------------

APPENDIX_A = """
    param theta[2] = [0.3, -0.1]
    input x[2]
    label y
    data = inline { [0.5, -0.3] -> 0.2 }
    predict f = dot(theta, x)
    loss l = 0.5 * (f - y)^2
    attack pgd { norm = l2; radius = 10; step = 0.1; steps = 2; start = warm; grad = plain }
    train { lr = 0.2; horizon = 3 }
"""


def coefficients(tensor: SparseTensor) -> dict[tuple[int, tuple[int, ...]], float]:
    return {
        (int(row), tuple(int(c) for c in columns)): float(value)
        for row, columns, value in zip(tensor.rows, tensor.columns, tensor.values, strict=True)
    }


def test_appendix_a_toy_has_the_listed_cubic_coefficients() -> None:
    """paper.md Appendix A: z = (theta_0, theta_1, delta_0, delta_1), x = (0.5, -0.3), y = 0.2,
    alpha = 0.1, eta = 0.2; every line of the appendix's coefficient list, monomials stored once
    at their sorted multi-index."""
    problem = load_text(APPENDIX_A)
    maps = derive_polynomial_maps(problem, qrtc.reference.train(problem))
    maps.verify()
    x, y, alpha, eta = (0.5, -0.3), 0.2, 0.1, 0.2
    theta, delta = (0, 1), (2, 3)
    expected: dict[str, dict[tuple[int, tuple[int, ...]], float]] = {
        name: {} for name in ("A1", "A2", "A3", "L1", "L2", "L3")
    }

    def add(table: str, row: int, monomial: tuple[int, ...], value: float) -> None:
        key = (row, tuple(sorted(monomial)))
        expected[table][key] = expected[table].get(key, 0.0) + value

    for j in range(4):
        add("A1", j, (j,), 1.0)
        add("L1", j, (j,), 1.0)
    for i in range(2):
        add("A1", delta[i], (theta[i],), -alpha * y)  # delta'_i += -alpha y theta_i
        add("L1", theta[i], (delta[i],), eta * y)  # theta'_i += eta y delta_i
        for j in range(2):
            add("A2", delta[i], (theta[j], theta[i]), alpha * x[j])
            add("A3", delta[i], (theta[j], delta[j], theta[i]), alpha)
            add("L1", theta[i], (theta[j],), -eta * x[j] * x[i])
            add("L2", theta[i], (theta[j], delta[i]), -eta * x[j])
            add("L2", theta[i], (theta[j], delta[j]), -eta * x[i])
            add("L3", theta[i], (theta[j], delta[j], delta[i]), -eta)

    assert maps.degree == 3
    assert not np.any(maps.attack.constant)
    np.testing.assert_allclose(maps.learner.constant, [eta * y * x[0], eta * y * x[1], 0, 0])
    for kind, polynomial in (("A", maps.attack), ("L", maps.learner)):
        for tensor in polynomial.terms:
            table = expected[f"{kind}{tensor.degree}"]
            actual = coefficients(tensor)
            assert actual.keys() == table.keys(), (kind, tensor.degree)
            for key, value in table.items():
                assert actual[key] == pytest.approx(value, rel=1e-14, abs=1e-15), (kind, key)


# ---- refusals ------------------------------------------------------------------------------------


def first_pattern_change(
    problem: qrtc.Problem, trajectory: qrtc.Trajectory
) -> tuple[str, int, int, int, int | None] | None:
    """``(kind, t, k, sample, flat coordinate)`` of the first change of sign pattern or clip
    active set, or of a binding l2 projection, scanned with the reference's own gradients.
    A value exactly on the box boundary fits both the free and the clipped state."""
    attack = problem.attack
    radius = attack.radius
    signs = None
    # per coordinate: the states (free, +, -) still possible
    possible = np.ones((problem.n_samples, problem.input_size, 3), dtype=bool)
    for t in range(problem.train.horizon):
        for k in range(attack.steps):
            s = t * (attack.steps + 1) + k + 1
            sign, proposal = reference_proposal(problem, trajectory.state(s - 1))
            if attack.grad == "sign":
                if signs is None:
                    signs = sign
                elif np.any(sign != signs):
                    i, a = np.argwhere(sign != signs)[0]
                    return ("sign", t, k, int(i), int(a))
            if attack.norm == "l2":
                norms = np.linalg.norm(proposal, axis=1)
                if np.any(norms > radius):
                    return ("l2", t, k, int(np.flatnonzero(norms > radius)[0]), None)
                continue
            here = np.stack(
                [np.abs(proposal) <= radius, proposal >= radius, proposal <= -radius], axis=-1
            )
            possible &= here
            if not np.all(possible.any(axis=-1)):
                i, a = np.argwhere(~possible.any(axis=-1))[0]
                return ("clip", t, k, int(i), int(a))
    return None


def assert_names_location(
    error: qrtc.AssumptionError,
    problem: qrtc.Problem,
    change: tuple[str, int, int, int, int | None],
) -> None:
    kind, t, k, sample, flat = change
    message = error.message
    assert {"sign": "sign pattern", "clip": "active set", "l2": "l2 projection binds"}[
        kind
    ] in message
    assert f"outer step t = {t}, attack step k = {k}" in message
    assert f"sample i = {sample}" in message
    if flat is not None:
        index = np.unravel_index(flat, problem.input_shape)
        coordinate = f"{problem.input_name}[{', '.join(str(int(j)) for j in index)}]"
        assert f"coordinate {coordinate} " in message or f"coordinate {coordinate}," in message
    assert error.span == problem.attack.span
    assert error.hint


@pytest.mark.parametrize(
    "text,expected_message",
    [
        (
            CLIP_CHANGES,
            r"active set changes .* at outer step t = 1, attack step k = 0 \(sub-step 4\), "
            r"sample i = 0, coordinate x\[0\] is clipped to \+0.25 \(pre-projection value "
            r"0.3306\d*\) but it was free",
        ),
        (
            L2_BINDS,
            r"l2 projection binds at outer step t = 1, attack step k = 0 \(sub-step 4\), "
            r"sample i = 0: \|\|delta \+ step \* grad\|\| = 0.3306\d* exceeds the radius 0.25",
        ),
        (
            SIGN_FLIPS,
            r"sign pattern .* at outer step t = 2, attack step k = 0 \(sub-step 5\), sample i = 0"
            r", coordinate x\[0\], sign\(dL/dx\[0\]\) is \+1 .* but it was -1",
        ),
    ],
    ids=["linf_clip_starts_binding", "l2_binds", "sign_flips"],
)
def test_a_changing_pattern_is_refused_where_it_changes(text: str, expected_message: str) -> None:
    problem = load_text(text)
    trajectory = qrtc.reference.train(problem)
    with pytest.raises(qrtc.AssumptionError) as caught:
        derive_polynomial_maps(problem, trajectory)
    assert re.search(expected_message, caught.value.message), caught.value.message
    change = first_pattern_change(problem, trajectory)
    assert change is not None
    assert_names_location(caught.value, problem, change)
    assert caught.value.span is not None
    rendered = str(caught.value)
    assert "attack pgd" in rendered and "^" in rendered and "hint:" in rendered


def test_logistic_regression_from_zero_is_refused_because_its_first_gradient_is_zero(
    tmp_path: Path,
) -> None:
    """From w = 0, dL/dx = (dl/df) w vanishes at t = 0 (sign 0) and not at t = 1 (which is why
    the shipped example starts elsewhere)."""
    text = (EXAMPLES / "logistic_taylor.qrt").read_text()
    text = re.sub(r"param w\[2\] = \[[^\]]*\]", "param w[2] = zeros", text)
    assert "param w[2] = zeros" in text
    spec = tmp_path / "logistic_from_zero.qrt"
    spec.write_text(text)
    problem = qrtc.load(str(spec))
    trajectory = qrtc.reference.train(problem)
    with pytest.raises(qrtc.AssumptionError) as caught:
        derive_polynomial_maps(problem, trajectory)
    message = caught.value.message
    assert "outer step t = 1, attack step k = 0" in message
    assert "sample i = 0, coordinate x[0]" in message and "was +0" in message
    assert_names_location(caught.value, problem, ("sign", 1, 0, 0, 0))


def test_a_value_exactly_on_the_box_boundary_fits_both_free_and_clipped() -> None:
    """Two sign steps of half the radius from zero land exactly on the boundary and stay there:
    free. A first step onto the boundary followed by steps beyond it: clipped."""
    problem, trajectory, maps = derived("logistic_nonzero_start")
    assert np.max(np.abs(trajectory.delta)) == problem.attack.radius
    assert maps.pattern.clipped is not None and not np.any(maps.pattern.clipped)
    problem, trajectory, maps = derived("sign_boundary_then_clipped")
    first_step = trajectory.delta[1]
    assert np.array_equal(np.abs(first_step), np.full(first_step.shape, problem.attack.radius))
    assert maps.pattern.sign is not None and maps.pattern.clipped is not None
    np.testing.assert_array_equal(maps.pattern.clipped, maps.pattern.sign)


def test_a_trajectory_of_another_problem_is_a_usage_error() -> None:
    problem = load_text(SPECS["sign_l2_warm"])
    other = load_text(SPECS["plain_clipped_warm"])
    with pytest.raises(ValueError, match="qrtc.reference.train"):
        derive_polynomial_maps(problem, qrtc.reference.train(other))


# ---- scale ------------------------------------------------------------------------------------


def test_a_thousand_parameter_linear_model_with_256_samples_lowers_exactly() -> None:
    """n = d = 1000, M = 256 with a linear loss (quadratic maps stay O(M d) sparse)."""
    rng = np.random.default_rng(0)
    n, n_samples = 1000, 256
    problem = load_text(SPECS["sign_l2_warm"])
    theta = E.Parameter(name="theta", shape=(n,), offset=0)
    features = E.Input(name="x", shape=(n,))
    label = E.Label(name="y", shape=())
    margin = E.Mul(left=label, right=E.Dot(left=theta, right=features), shape=())
    problem = dataclasses.replace(
        problem,
        parameters=(ParameterBlock(name="theta", shape=(n,), offset=0),),
        theta0=0.01 * rng.normal(size=n),
        input_shape=(n,),
        inputs=0.1 * rng.normal(size=(n_samples, n)),
        labels=rng.normal(size=n_samples),
        prediction=margin,
        loss=E.Neg(operand=margin, shape=()),
        attack=dataclasses.replace(problem.attack, grad="plain", radius=100.0),
    )
    trajectory = qrtc.reference.train(problem)
    maps = derive_polynomial_maps(problem, trajectory)
    assert maps.degree == 1
    z = maps.initial_state
    for s in range(1, maps.n_substeps + 1):
        z = apply_map(maps.map_at(s), z)
        assert_equal_to_machine_precision(z, trajectory.state(s))
