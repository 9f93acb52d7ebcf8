"""Every shipped example checks and trains, and its trajectory is the PGD the spec describes.

Linear least-squares examples are compared with a PGD loop written here in plain numpy; the
others have each sub-step compared with central finite differences of the loss.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qrtc
from qrtc.reference import mean_loss, per_sample_loss

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.qrt"))
LINEAR_LEAST_SQUARES = {"robust_linreg", "l2_inactive", "csv_regression"}


def test_at_least_five_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda path: path.stem)
def test_example_checks_and_trains(spec: Path) -> None:
    problem = qrtc.load(str(spec))
    trajectory = qrtc.reference.train(problem)
    assert trajectory.n_substeps == problem.n_substeps
    assert np.all(np.isfinite(trajectory.theta)) and np.all(np.isfinite(trajectory.delta))
    # training on these small, stable examples lowers the clean loss; the adversarial loss may
    # rise with a warm start, as the carried perturbation grows stronger
    assert trajectory.clean_loss[-1] < trajectory.clean_loss[0]
    assert np.all(trajectory.adversarial_loss >= trajectory.clean_loss[:-1] - 1e-15)


def _numpy_pgd(problem: qrtc.Problem) -> tuple[np.ndarray, np.ndarray]:
    """PGD robust least squares, loss 0.5 (theta . (x + delta) - y)^2, written out by hand."""
    X, y = problem.inputs.reshape(problem.n_samples, -1), problem.labels
    attack, train = problem.attack, problem.train
    theta, delta = problem.theta0.copy(), np.zeros_like(X)
    for _ in range(train.horizon):
        for _ in range(attack.steps):
            r = (X + delta) @ theta - y
            g = r[:, None] * theta[None, :]
            delta = delta + attack.step * (np.sign(g) if attack.grad == "sign" else g)
            if attack.norm == "linf":
                delta = np.clip(delta, -attack.radius, attack.radius)
            else:
                norms = np.linalg.norm(delta, axis=1, keepdims=True)
                delta = delta * np.minimum(1.0, attack.radius / np.maximum(norms, 1e-300))
        r = (X + delta) @ theta - y
        theta = theta - train.lr / len(y) * ((X + delta).T @ r)
        if attack.start == "zero":
            delta = np.zeros_like(delta)
    return theta, delta


@pytest.mark.parametrize(
    "spec", [p for p in EXAMPLES if p.stem in LINEAR_LEAST_SQUARES], ids=lambda path: path.stem
)
def test_linear_examples_match_a_hand_written_pgd_loop(spec: Path) -> None:
    problem = qrtc.load(str(spec))
    trajectory = qrtc.reference.train(problem)
    theta, delta = _numpy_pgd(problem)
    np.testing.assert_allclose(trajectory.final_theta, theta, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(trajectory.delta[-1], delta, rtol=1e-12, atol=1e-15)


def _finite_difference(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:  # type: ignore[no-untyped-def]
    grad = np.zeros_like(x)
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = h
        grad.flat[k] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda path: path.stem)
def test_learner_steps_descend_the_finite_difference_gradient(spec: Path) -> None:
    problem = qrtc.load(str(spec))
    trajectory = qrtc.reference.train(problem)
    K = problem.attack.steps
    for t in range(problem.train.horizon):
        before = t * (K + 1) + K  # state after the K attack steps of outer step t
        theta, delta = trajectory.theta[before], trajectory.delta[before]
        grad = _finite_difference(lambda th, d=delta: mean_loss(problem, th, d), theta)
        np.testing.assert_allclose(
            trajectory.theta[before + 1], theta - problem.train.lr * grad, atol=1e-8
        )


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda path: path.stem)
def test_attack_steps_ascend_the_finite_difference_gradient(spec: Path) -> None:
    problem = qrtc.load(str(spec))
    trajectory = qrtc.reference.train(problem)
    attack = problem.attack
    substep = 1  # the first attack step: delta = 0 before it, so no projection history
    theta, delta = trajectory.theta[0], trajectory.delta[0]
    grad = _finite_difference(lambda d: float(per_sample_loss(problem, theta, d).sum()), delta)
    step = np.sign(grad) if attack.grad == "sign" else grad
    moved = delta + attack.step * step
    if attack.support == "data":
        moved = np.where(problem.inputs.reshape(moved.shape) == 0, 0.0, moved)
    if attack.norm == "linf":
        expected = np.clip(moved, -attack.radius, attack.radius)
    else:
        norms = np.linalg.norm(moved, axis=1, keepdims=True)
        expected = moved * np.minimum(1.0, attack.radius / np.maximum(norms, 1e-300))
    np.testing.assert_allclose(trajectory.delta[substep], expected, atol=1e-8)


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda path: path.stem)
def test_example_is_in_canonical_form(spec: Path) -> None:
    """``qrtc fmt --check examples/*.qrt`` holds: shipped specs are what users should write."""
    from qrtc.frontend.format import format_spec

    assert format_spec(qrtc.parse_file(str(spec))) == spec.read_text(encoding="utf-8")
