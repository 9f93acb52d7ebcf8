"""qrtc.reference.train against closed forms and a hand-written numpy PGD loop (paper.md §1.2-1.4).

The least-squares model $L_i = \\tfrac12(\\theta\\cdot(x_i+\\delta_i) - y_i)^2$ has
$\\nabla_\\delta L_i = r_i\\theta$ and $\\nabla_\\theta L_i = r_i(x_i+\\delta_i)$ with
$r_i = \\theta\\cdot(x_i+\\delta_i) - y_i$; the loop below writes those by hand.
"""

from __future__ import annotations

import importlib.util
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

import qrtc.reference as reference
from qrtc.ir import expr as E
from qrtc.ir.problem import AttackConfig, CompileOptions, ParameterBlock, Problem, TrainConfig

Array = NDArray[np.float64]


def make_problem(
    theta0: Array,
    inputs: Array,
    labels: Array,
    loss: E.Node,
    prediction: E.Node,
    *,
    parameter_shape: tuple[int, ...] | None = None,
    radius: float = 0.1,
    step: float = 0.05,
    steps: int = 2,
    norm: str = "linf",
    start: str = "warm",
    grad: str = "plain",
    support: str = "all",
    lr: float = 0.1,
    horizon: int = 3,
) -> Problem:
    return Problem(
        parameters=(ParameterBlock(name="theta", shape=parameter_shape or theta0.shape, offset=0),),
        theta0=theta0,
        input_name="x",
        input_shape=inputs.shape[1:],
        label_name="y",
        label_shape=labels.shape[1:],
        inputs=inputs,
        labels=labels,
        prediction=prediction,
        loss=loss,
        prediction_name="f",
        loss_name="l",
        attack=AttackConfig(
            norm=norm,  # type: ignore[arg-type]
            radius=radius,
            step=step,
            steps=steps,
            start=start,  # type: ignore[arg-type]
            grad=grad,  # type: ignore[arg-type]
            support=support,  # type: ignore[arg-type]
        ),
        train=TrainConfig(lr=lr, horizon=horizon),
        options=CompileOptions(),
    )


def least_squares_problem(theta0: Array, inputs: Array, labels: Array, **kwargs: object) -> Problem:
    """``0.5 * (dot(theta, x) - y)^2``, optionally negated (concave in x) with ``sign=-1``."""
    sign = float(kwargs.pop("sign", 1.0))  # type: ignore[arg-type]
    n = theta0.shape[0]
    theta, x = E.Parameter(name="theta", shape=(n,), offset=0), E.Input(name="x", shape=(n,))
    y = E.Label(name="y", shape=())
    prediction = E.Dot(left=theta, right=x)
    residual = E.Sub(left=prediction, right=y, shape=())
    loss = E.Mul(
        left=E.Constant(value=np.array(0.5 * sign)),
        right=E.Power(operand=residual, exponent=2, shape=()),
        shape=(),
    )
    return make_problem(theta0, inputs, labels, loss, prediction, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class HandTrajectory:
    theta: Array  # (S + 1, n)
    delta: Array  # (S + 1, M, d)
    clean_loss: Array  # (T + 1,)
    adversarial_loss: Array  # (T,)


def hand_pgd(
    theta0: Array,
    X: Array,
    y: Array,
    *,
    radius: float,
    step: float,
    steps: int,
    norm: str,
    start: str,
    grad: str,
    lr: float,
    horizon: int,
    support: str = "all",
) -> HandTrajectory:
    """PGD robust training of least squares, written out plainly."""
    M = X.shape[0]
    theta, delta = theta0.copy(), np.zeros_like(X)
    thetas, deltas, clean, adversarial = [theta], [delta], [], []
    for _ in range(horizon):
        clean.append(np.mean(0.5 * (X @ theta - y) ** 2))
        for _ in range(steps):
            r = (X + delta) @ theta - y
            g = r[:, None] * theta[None, :]
            if grad == "sign":
                g = np.sign(g)
            v = delta + step * g
            if support == "data":
                v = np.where(X == 0, 0.0, v)
            if norm == "linf":
                delta = np.clip(v, -radius, radius)
            else:
                norms = np.linalg.norm(v, axis=1, keepdims=True)
                delta = np.where(norms > radius, v * radius / np.where(norms > 0, norms, 1), v)
            thetas.append(theta)
            deltas.append(delta)
        r = (X + delta) @ theta - y
        adversarial.append(np.mean(0.5 * r**2))
        theta = theta - lr / M * ((X + delta).T @ r)
        if start == "zero":
            delta = np.zeros_like(X)
        thetas.append(theta)
        deltas.append(delta)
    clean.append(np.mean(0.5 * (X @ theta - y) ** 2))
    return HandTrajectory(
        np.array(thetas), np.array(deltas), np.array(clean), np.array(adversarial)
    )


def random_data(seed: int, n_samples: int = 4, n_features: int = 3) -> tuple[Array, Array, Array]:
    rng = np.random.default_rng(seed)
    theta0 = rng.normal(size=n_features)
    inputs = rng.normal(size=(n_samples, n_features))
    labels = inputs @ rng.normal(size=n_features) + 0.1 * rng.normal(size=n_samples)
    return theta0, inputs, labels


# ---- closed forms and the hand-written loop ---------------------------------------------------


def test_one_pgd_step_in_closed_form() -> None:
    theta0 = np.array([0.5, -1.0])
    inputs = np.array([[1.0, 2.0], [-0.5, 0.25]])
    labels = np.array([0.3, -0.2])
    radius, step, lr = 0.1, 0.1, 0.2
    problem = least_squares_problem(
        theta0, inputs, labels, radius=radius, step=step, steps=1, lr=lr, horizon=1
    )
    trajectory = reference.train(problem)

    # Attack: r_i = theta . x_i - y_i, delta_i = clip(step * r_i * theta, +-radius).
    r = np.array([0.5 * 1.0 - 1.0 * 2.0 - 0.3, 0.5 * -0.5 - 1.0 * 0.25 + 0.2])  # [-1.8, -0.3]
    delta = np.clip(step * r[:, None] * theta0, -radius, radius)
    np.testing.assert_allclose(delta, [[-0.09, 0.1], [-0.015, 0.03]], rtol=1e-14)  # 0.18 clipped
    # Learner: r'_i at x_i + delta_i, theta_1 = theta_0 - lr/M sum_i r'_i (x_i + delta_i).
    adv = inputs + delta
    r_adv = adv @ theta0 - labels
    theta1 = theta0 - lr / 2 * (r_adv[0] * adv[0] + r_adv[1] * adv[1])

    assert trajectory.theta.shape == (3, 2) and trajectory.delta.shape == (3, 2, 2)
    np.testing.assert_array_equal(trajectory.theta[0], theta0)
    np.testing.assert_array_equal(trajectory.delta[0], np.zeros((2, 2)))
    np.testing.assert_array_equal(trajectory.theta[1], theta0)  # attack leaves theta alone
    np.testing.assert_allclose(trajectory.delta[1], delta, rtol=1e-14)
    np.testing.assert_allclose(trajectory.theta[2], theta1, rtol=1e-14)
    np.testing.assert_allclose(trajectory.delta[2], delta, rtol=1e-14)  # warm: carried
    np.testing.assert_allclose(trajectory.adversarial_loss, [np.mean(0.5 * r_adv**2)], rtol=1e-14)
    np.testing.assert_allclose(
        trajectory.clean_loss,
        [np.mean(0.5 * r**2), np.mean(0.5 * (inputs @ theta1 - labels) ** 2)],
        rtol=1e-14,
    )
    np.testing.assert_allclose(trajectory.final_theta, theta1, rtol=1e-14)


OPTIONS = list(itertools.product(["linf", "l2"], ["plain", "sign"], ["warm", "zero"]))


@pytest.mark.parametrize(("norm", "grad", "start"), OPTIONS)
def test_train_matches_hand_written_loop(norm: str, grad: str, start: str) -> None:
    theta0, inputs, labels = random_data(seed=1, n_samples=5, n_features=4)
    settings_ = dict(
        radius=0.15, step=0.06, steps=3, norm=norm, start=start, grad=grad, lr=0.1, horizon=4
    )
    trajectory = reference.train(least_squares_problem(theta0, inputs, labels, **settings_))
    expected = hand_pgd(theta0, inputs, labels, **settings_)  # type: ignore[arg-type]
    # Same operations in a different order: agreement to a few ulps per step.
    np.testing.assert_allclose(trajectory.theta, expected.theta, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(trajectory.delta, expected.delta, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(trajectory.clean_loss, expected.clean_loss, rtol=1e-12)
    np.testing.assert_allclose(trajectory.adversarial_loss, expected.adversarial_loss, rtol=1e-12)
    assert trajectory.pgd_steps == 3 and trajectory.horizon == 4


@pytest.mark.parametrize(("norm", "grad", "start"), OPTIONS)
def test_support_data_attack_matches_hand_written_loop(norm: str, grad: str, start: str) -> None:
    theta0, inputs, labels = random_data(seed=2, n_samples=5, n_features=4)
    inputs[np.random.default_rng(3).random(inputs.shape) < 0.4] = 0.0
    settings_ = dict(
        radius=0.15, step=0.06, steps=3, norm=norm, start=start, grad=grad, lr=0.1, horizon=4
    )
    problem = least_squares_problem(theta0, inputs, labels, support="data", **settings_)
    trajectory = reference.train(problem)
    expected = hand_pgd(theta0, inputs, labels, support="data", **settings_)  # type: ignore[arg-type]
    np.testing.assert_allclose(trajectory.theta, expected.theta, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(trajectory.delta, expected.delta, rtol=1e-12, atol=1e-13)
    assert np.all(trajectory.delta[:, inputs == 0] == 0)
    # The restriction matters: the unrestricted attack moves the zero features.
    unrestricted = reference.train(least_squares_problem(theta0, inputs, labels, **settings_))
    assert np.any(unrestricted.delta[:, inputs == 0] != 0)


def test_helpers_match_hand_formulas() -> None:
    theta0, inputs, labels = random_data(seed=2)
    problem = least_squares_problem(theta0, inputs, labels, radius=0.3, step=0.2, lr=0.3)
    delta = np.random.default_rng(3).uniform(-0.3, 0.3, inputs.shape)
    r = (inputs + delta) @ theta0 - labels

    np.testing.assert_allclose(
        reference.per_sample_loss(problem, theta0, delta), 0.5 * r**2, rtol=1e-14
    )
    assert reference.mean_loss(problem, theta0, delta) == pytest.approx(np.mean(0.5 * r**2))
    assert reference.mean_loss(problem, theta0) == pytest.approx(
        np.mean(0.5 * (inputs @ theta0 - labels) ** 2)
    )
    np.testing.assert_allclose(
        reference.attack_substep(problem, theta0, delta),
        np.clip(delta + 0.2 * r[:, None] * theta0, -0.3, 0.3),
        rtol=1e-14,
    )
    theta1, delta1 = reference.learner_substep(problem, theta0, delta)
    np.testing.assert_allclose(theta1, theta0 - 0.3 / 4 * (inputs + delta).T @ r, rtol=1e-14)
    np.testing.assert_array_equal(delta1, delta)


def test_project_is_the_euclidean_projection() -> None:
    v = np.array([[3.0, 4.0], [0.3, -0.4], [0.0, 0.0], [-2.0, 0.5]])
    np.testing.assert_allclose(
        reference.project(v, norm="l2", radius=1.0),
        [[0.6, 0.8], [0.3, -0.4], [0.0, 0.0], np.array([-2.0, 0.5]) / np.hypot(2.0, 0.5)],
        rtol=1e-15,
    )
    np.testing.assert_array_equal(
        reference.project(v, norm="linf", radius=0.5),
        [[0.5, 0.5], [0.3, -0.4], [0.0, 0.0], [-0.5, 0.5]],
    )
    assert v[0, 0] == 3.0  # the argument is left alone


# ---- properties -------------------------------------------------------------------------------

small = st.floats(-1.0, 1.0, allow_nan=False, width=64)


@settings(max_examples=30, deadline=None)
@given(
    theta0=hnp.arrays(np.float64, (3,), elements=small),
    inputs=hnp.arrays(np.float64, (4, 3), elements=small),
    labels=hnp.arrays(np.float64, (4,), elements=small),
    radius=st.floats(0.01, 1.0),
    norm=st.sampled_from(["linf", "l2"]),
    step_fraction=st.floats(0.1, 1.0),
)
def test_projected_ascent_never_decreases_a_concave_loss(
    theta0: Array, inputs: Array, labels: Array, radius: float, norm: str, step_fraction: float
) -> None:
    # L_i(delta) = -0.5 (theta . (x_i + delta) - y_i)^2 is concave in delta and ||theta||^2-smooth,
    # so projected gradient ascent with step <= 1 / ||theta||^2 cannot decrease it.
    smoothness = float(theta0 @ theta0)
    assume(smoothness > 1e-3)
    problem = least_squares_problem(
        theta0,
        inputs,
        labels,
        sign=-1.0,
        radius=radius,
        step=step_fraction / smoothness,
        steps=6,
        norm=norm,
        horizon=1,
    )
    trajectory = reference.train(problem)
    losses = [-0.5 * ((inputs + trajectory.delta[s]) @ theta0 - labels) ** 2 for s in range(0, 7)]
    for before, after in itertools.pairwise(losses):
        assert np.all(after >= before - 1e-12 * (1 + np.abs(before)))


@pytest.mark.parametrize(("norm", "start"), itertools.product(["linf", "l2"], ["warm", "zero"]))
def test_projection_keeps_every_delta_in_the_ball(norm: str, start: str) -> None:
    theta0, inputs, labels = random_data(seed=4, n_samples=6, n_features=5)
    radius = 0.05
    problem = least_squares_problem(
        theta0, inputs, labels, radius=radius, step=0.5, steps=3, norm=norm, start=start
    )
    delta = reference.train(problem).delta
    size = np.abs(delta).max(axis=2) if norm == "linf" else np.linalg.norm(delta, axis=2)
    assert np.all(size <= radius * (1 + 1e-12))
    # The step is large against the radius, so the projection binds on most samples.
    assert np.sum(np.isclose(size, radius, rtol=1e-12)) > delta.shape[0] * delta.shape[1] // 2


def test_zero_start_resets_delta_at_every_learner_step() -> None:
    theta0, inputs, labels = random_data(seed=5)
    kwargs = dict(radius=0.2, step=0.05, steps=3, lr=0.2, horizon=4)
    zero = reference.train(least_squares_problem(theta0, inputs, labels, start="zero", **kwargs))
    warm = reference.train(least_squares_problem(theta0, inputs, labels, start="warm", **kwargs))
    K = 3
    for s in range(0, zero.n_substeps + 1, K + 1):
        np.testing.assert_array_equal(zero.delta[s], np.zeros_like(zero.delta[s]))
    for s in range(K + 1, warm.n_substeps + 1, K + 1):
        np.testing.assert_array_equal(warm.delta[s], warm.delta[s - 1])  # carried
        assert np.any(warm.delta[s] != 0)
    # Both start from z_0 = (theta_0, 0), so the first outer step is the same ...
    np.testing.assert_array_equal(zero.theta[: K + 2], warm.theta[: K + 2])
    np.testing.assert_array_equal(zero.delta[1 : K + 1], warm.delta[1 : K + 1])
    # ... and the first zero-start attack of step t is one step from 0, by hand.
    for t in range(4):
        s = t * (K + 1)
        theta_t = zero.theta[s]
        r = inputs @ theta_t - labels
        expected = np.clip(0.05 * r[:, None] * theta_t, -0.2, 0.2)
        np.testing.assert_allclose(zero.delta[s + 1], expected, rtol=1e-13, atol=1e-15)
    assert not np.allclose(zero.theta[-1], warm.theta[-1])


def test_sign_attack_moves_each_coordinate_by_exactly_the_step() -> None:
    theta0, inputs, labels = random_data(seed=6, n_samples=5, n_features=4)
    # Coordinate 2 has theta = 0 and x = 0, so its delta gradient r * 0 is 0 (sign(0) = 0), delta
    # stays 0 there, and theta's gradient sum_i r_i (x_i + delta_i) keeps it at 0: it never moves.
    theta0[2], inputs[:, 2] = 0.0, 0.0
    step = 0.125  # a power of two, so sums of +-step are exact
    problem = least_squares_problem(
        theta0, inputs, labels, radius=100.0, step=step, steps=4, grad="sign", lr=0.05, horizon=3
    )
    trajectory = reference.train(problem)
    for s in range(1, trajectory.n_substeps + 1):
        if not trajectory.is_attack_step(s):
            continue
        move = trajectory.delta[s] - trajectory.delta[s - 1]
        assert set(np.unique(move)) <= {-step, 0.0, step}
        r = (inputs + trajectory.delta[s - 1]) @ trajectory.theta[s] - labels
        np.testing.assert_array_equal(move, step * np.sign(r[:, None] * trajectory.theta[s]))
        assert np.all(move[:, 2] == 0.0)


def test_sign_attack_clips_after_the_step() -> None:
    theta0, inputs, labels = random_data(seed=7, n_samples=5, n_features=4)
    step, radius = 0.125, 0.3
    problem = least_squares_problem(
        theta0, inputs, labels, radius=radius, step=step, steps=4, grad="sign", horizon=2
    )
    trajectory = reference.train(problem)
    for s in range(1, trajectory.n_substeps + 1):
        if trajectory.is_attack_step(s):
            before = trajectory.delta[s - 1]
            r = (inputs + before) @ trajectory.theta[s] - labels
            moved = before + step * np.sign(r[:, None] * trajectory.theta[s])
            np.testing.assert_array_equal(trajectory.delta[s], np.clip(moved, -radius, radius))
    assert np.any(np.abs(trajectory.delta) == radius)


def test_matrix_inputs_are_flattened_row_major() -> None:
    # f = sum(W @ X) for a (2, 2) input X; the loss is not linear, so take gradients by central
    # differences of the hand-written loss and run PGD by hand.
    W = E.Parameter(name="W", shape=(2, 2), offset=0)
    X = E.Input(name="x", shape=(2, 2))
    y = E.Label(name="y", shape=())
    prediction = E.Sum(operand=E.MatMul(left=W, right=X, shape=(2, 2)))
    loss = E.Power(operand=E.Sub(left=prediction, right=y, shape=()), exponent=4, shape=())
    rng = np.random.default_rng(8)
    theta0, inputs, labels = (
        rng.normal(size=4) * 0.5,
        rng.normal(size=(3, 2, 2)),
        rng.normal(size=3),
    )
    radius, step, lr, K, T = 0.2, 0.05, 0.01, 2, 2
    problem = make_problem(
        theta0, inputs, labels, loss, prediction, parameter_shape=(2, 2), radius=radius,
        step=step, steps=K, lr=lr, horizon=T,
    )  # fmt: skip
    trajectory = reference.train(problem)

    def hand_loss(theta: Array, x: Array, y: Array) -> float:
        return float((np.sum(theta.reshape(2, 2) @ x) - y) ** 4)

    def fd(f: object, point: Array, h: float = 1e-6) -> Array:
        out = np.zeros_like(point)
        for j in np.ndindex(point.shape):
            e = np.zeros_like(point)
            e[j] = h
            out[j] = (f(point + e) - f(point - e)) / (2 * h)  # type: ignore[operator]
        return out

    theta, delta = theta0.copy(), np.zeros_like(inputs)
    states = [(theta, delta)]
    for _ in range(T):
        for _ in range(K):
            g = np.stack(
                [
                    fd(lambda d, i=i, t=theta: hand_loss(t, inputs[i] + d, labels[i]), delta[i])
                    for i in range(3)
                ]
            )
            delta = np.clip(delta + step * g, -radius, radius)
            states.append((theta, delta))
        g_theta = np.sum(
            [
                fd(lambda t, i=i, d=delta: hand_loss(t, inputs[i] + d[i], labels[i]), theta)
                for i in range(3)
            ],
            axis=0,
        )
        theta = theta - lr / 3 * g_theta
        states.append((theta, delta))

    assert trajectory.delta.shape == (T * (K + 1) + 1, 3, 4)
    for s, (theta_s, delta_s) in enumerate(states):
        # Central differences with h = 1e-6 on a quartic of O(1) values: error below 1e-7.
        np.testing.assert_allclose(trajectory.theta[s], theta_s, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(trajectory.delta[s], delta_s.reshape(3, 4), atol=1e-7)


# ---- from .qrt text ---------------------------------------------------------------------------

SPEC = """\
param theta[2] = [0.1, -0.2]
input x[2]
label y
data = inline {{ [0.5, -0.3] -> 0.2 ; [0.1, 0.4] -> -0.1 ; [-0.7, 0.2] -> 0.05 }}
predict f = dot(theta, x)
loss l = 0.5 * (f - y)^2
attack pgd {{ norm = {norm}; radius = 0.05; step = 0.02; steps = 2;
             start = {start}; grad = {grad} }}
train {{ lr = 0.2; horizon = 3 }}
"""


def _frontend_ready() -> bool:
    return importlib.util.find_spec("qrtc.frontend.check") is not None


@pytest.mark.skipif(not _frontend_ready(), reason="qrtc.frontend.check is not written yet")
@pytest.mark.parametrize(("norm", "grad", "start"), OPTIONS)
def test_train_from_qrt_text_matches_hand_written_loop(norm: str, grad: str, start: str) -> None:
    from qrtc.frontend.check import check
    from qrtc.frontend.parse import parse

    problem = check(parse(SPEC.format(norm=norm, grad=grad, start=start)))
    trajectory = reference.train(problem)
    expected = hand_pgd(
        np.array([0.1, -0.2]),
        np.array([[0.5, -0.3], [0.1, 0.4], [-0.7, 0.2]]),
        np.array([0.2, -0.1, 0.05]),
        radius=0.05,
        step=0.02,
        steps=2,
        norm=norm,
        start=start,
        grad=grad,
        lr=0.2,
        horizon=3,
    )
    np.testing.assert_allclose(trajectory.theta, expected.theta, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(trajectory.delta, expected.delta, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(trajectory.clean_loss, expected.clean_loss, rtol=1e-12)
    np.testing.assert_allclose(trajectory.adversarial_loss, expected.adversarial_loss, rtol=1e-12)


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.qrt"))


@pytest.mark.skipif(not _frontend_ready(), reason="qrtc.frontend.check is not written yet")
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_substep_of_shipped_examples_follows_finite_differences(path: Path) -> None:
    # Each transition z_{s-1} -> z_s is recomputed from central differences of the loss
    # *values* (reference.per_sample_loss, itself checked against numpy in test_autodiff), with
    # the projection, sign and update written out here: this checks the backward sweep and the
    # bookkeeping (offsets, flattening, start) on real specs.
    from qrtc.frontend.check import check
    from qrtc.frontend.parse import parse_file

    problem = check(parse_file(path))
    trajectory = reference.train(problem)
    attack, M, h = problem.attack, problem.n_samples, 1e-6

    def loss_sum(theta: Array, delta: Array) -> float:
        return float(reference.per_sample_loss(problem, theta, delta).sum())

    def fd(f: object, point: Array) -> Array:
        out = np.zeros_like(point)
        for j in np.ndindex(point.shape):
            e = np.zeros_like(point)
            e[j] = h
            out[j] = (f(point + e) - f(point - e)) / (2 * h)  # type: ignore[operator]
        return out

    for s in range(1, trajectory.n_substeps + 1):
        theta, delta = trajectory.theta[s - 1], trajectory.delta[s - 1]
        if trajectory.is_attack_step(s):
            # sum_j L_j depends on delta_i only through L_i: its gradient is every grad L_i.
            g = fd(lambda d, theta=theta: loss_sum(theta, d), delta)
            if attack.grad == "sign":
                # Coordinates whose gradient is within FD error of 0 have no reliable sign.
                decided = np.abs(g) > 1e-6
                g = np.sign(g)
            else:
                decided = np.ones_like(g, dtype=bool)
            v = delta + attack.step * g
            if attack.support == "data":
                v = np.where(problem.inputs.reshape(v.shape) == 0, 0.0, v)
            if attack.norm == "linf":
                expected = np.clip(v, -attack.radius, attack.radius)
            else:
                norms = np.linalg.norm(v, axis=1, keepdims=True)
                expected = v * np.minimum(1.0, attack.radius / np.maximum(norms, 1e-300))
            np.testing.assert_array_equal(trajectory.theta[s], theta)
            got = trajectory.delta[s]
            np.testing.assert_allclose(got[decided], expected[decided], atol=1e-8)
        else:
            g_theta = fd(lambda t, delta=delta: loss_sum(t, delta), theta)
            expected_theta = theta - problem.train.lr / M * g_theta
            np.testing.assert_allclose(trajectory.theta[s], expected_theta, atol=1e-8)
            expected_delta = np.zeros_like(delta) if attack.start == "zero" else delta
            np.testing.assert_array_equal(trajectory.delta[s], expected_delta)
