"""The checker: what a valid spec means (against numpy written by hand) and what it refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qrtc
from qrtc.reference import evaluate

HEADER = """
input x[2]
label y
data = inline { [0.5, -0.3] -> 0.2; [0.1, 0.4] -> -0.1 }
attack pgd { radius = 0.05 }
train { lr = 0.1; horizon = 2 }
"""


def load(text: str, tmp_path: Path | None = None) -> qrtc.Problem:
    if tmp_path is None:
        return qrtc.check(qrtc.parse(text))
    spec = tmp_path / "spec.qrt"
    spec.write_text(text)
    return qrtc.load(str(spec))


def errors(text: str, tmp_path: Path | None = None) -> list[str]:
    with pytest.raises(qrtc.SpecErrors) as caught:
        load(text, tmp_path)
    return [error.message for error in caught.value.errors]


def test_two_layer_network_means_what_numpy_computes() -> None:
    problem = load(
        """
        param W[3, 2] = random(seed = 1, scale = 0.5)
        param v[3] = [1, -2, 0.5]
        let hidden = (W @ x)^2
        predict f = dot(v, hidden) + sum(W[1]) / 4
        loss l = 0.5 * (f - y)^2
        """
        + HEADER
    )
    W = np.random.default_rng(1).normal(0.0, 0.5, size=(3, 2))
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_array_equal(problem.theta0, np.concatenate([W.ravel(), v]))
    X, y = problem.inputs, problem.labels
    expected_f = ((X @ W.T) ** 2) @ v + W[1].sum() / 4
    f = evaluate(problem.prediction, problem.theta0, X, y)
    np.testing.assert_allclose(f, expected_f, rtol=1e-14)
    loss = evaluate(problem.loss, problem.theta0, X, y)
    np.testing.assert_allclose(loss, 0.5 * (expected_f - y) ** 2, rtol=1e-14)


def test_matrix_products_transpose_mean_and_indexing() -> None:
    problem = load(
        """
        param A[2, 2] = [[1, 2], [3, 4]]
        param b[2] = [0.5, -1]
        let u = transpose(A) @ x + b * 2 - x
        predict f = mean(u * u) + (x @ A)[1] + A[0, 1]^3
        loss l = (f - y)^2
        """
        + HEADER
    )
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([0.5, -1.0])
    X = problem.inputs
    u = X @ A + 2 * b - X
    expected = (u * u).mean(axis=1) + (X @ A)[:, 1] + A[0, 1] ** 3
    np.testing.assert_allclose(
        evaluate(problem.prediction, problem.theta0, X, problem.labels), expected
    )


def test_taylor_is_the_polynomial_of_the_function() -> None:
    problem = load(
        """
        param w[2] = [0.3, -0.2]
        predict f = dot(w, x)
        loss l = taylor(softplus(-y * f), order = 4, at = 0)
        """
        + HEADER
    )
    m = -problem.labels * (problem.inputs @ np.array([0.3, -0.2]))
    # softplus(m) = log 2 + m/2 + m^2/8 - m^4/192 + O(m^6)
    expected = np.log(2) + m / 2 + m**2 / 8 - m**4 / 192
    got = evaluate(problem.loss, problem.theta0, problem.inputs, problem.labels)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_defaults_and_constant_settings() -> None:
    problem = load(
        """
        param theta[2]
        predict f = dot(theta, x)
        loss l = (f - y)^2
        input x[2]
        label y
        data = inline { [0.5, -0.3] -> 0.2 }
        attack pgd { radius = 8 / 255; steps = 4 }
        train { lr = 1e-1; horizon = 2 }
        """
    )
    assert problem.attack.radius == 8 / 255
    assert problem.attack.step == pytest.approx(2.5 * (8 / 255) / 4)
    assert (problem.attack.norm, problem.attack.start, problem.attack.grad) == (
        "linf",
        "warm",
        "plain",
    )
    assert problem.options == qrtc.CompileOptions()
    np.testing.assert_array_equal(problem.theta0, [0.0, 0.0])


def test_compile_options() -> None:
    problem = load(
        "param theta[2]\npredict f = dot(theta, x)\nloss l = (f - y)^2\n"
        + HEADER
        + "compile { carleman_order = 3; scale = 0.5; padding = auto; precision = 1e-4 }"
    )
    options = problem.options
    assert (options.carleman_order, options.scale, options.padding, options.precision) == (
        3,
        0.5,
        None,
        1e-4,
    )


def test_definitions_in_any_order() -> None:
    problem = load(
        "loss l = (f - y)^2\npredict f = dot(theta, h)\nlet h = x * 2\nparam theta[2] = 1\n"
        + HEADER
    )
    X = problem.inputs
    np.testing.assert_allclose(
        evaluate(problem.prediction, problem.theta0, X, problem.labels), 2 * X.sum(axis=1)
    )


def test_checker_reports_every_independent_error() -> None:
    messages = errors(
        """
        param theta[2] = [1, 2, 3]
        predict f = dot(theta, x) + nope
        loss l = (f - y)^0.5 + z
        input x[2]
        label y
        data = inline { [0.5, -0.3] -> 0.2 }
        attack pgd { radius = 0; norm = l3 }
        train { lr = -1; horizon = 0 }
        """
    )
    assert len(messages) == 8, messages
    assert "unknown name 'nope'" in messages
    assert "unknown name 'z'" in messages


@pytest.mark.parametrize(
    "fragment,message",
    [
        ("predict f = dot(theta, x) + y", "depends on the label"),
        ("predict f = theta * x + [1, 2, 3]", "equal shapes or a scalar side"),
        ("predict f = dot(theta, x)^-1", "non-negative integer"),
        ("predict f = dot(theta, x) / dot(theta, x)", "can only divide by a constant"),
        ("predict f = dot(theta, x) / 0", "division by zero"),
        ("predict f = exp(dot(theta, x))", "not a polynomial"),
        ("predict f = taylor(exp(dot(theta, x)))", "needs 'order = k'"),
        ("predict f = taylor(dot(theta, x), order = 2)", "analytic function"),
        ("predict f = taylor(log(dot(theta, x)), order = 2, at = -1)", "centres > 0"),
        ("predict f = theta[2]", "out of range"),
        ("predict f = theta[0, 1]", "2 indices"),
        ("predict f = dot(theta, [1, 2, 3])", "equal length"),
        ("predict f = [theta, [1, 2, 3]]", "same shape"),
        ("predict f = transpose(theta)", "needs a matrix"),
        ("predict f = foo(theta)", "unknown function"),
        ('predict f = dot(theta, x) + "s"', "string"),
        ("predict f = theta @ theta @ theta", "cannot multiply"),
    ],
)
def test_refusals(fragment: str, message: str) -> None:
    text = "param theta[2]\n" + fragment + "\nloss l = sum((f - y)^2)\n" + HEADER
    found = errors(text)
    assert any(message in m for m in found), found


def test_csv_with_feature_selection(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,b,c,target\n1,2,3,4\n5,6,7,8\n")
    problem = load(
        "param theta[2]\npredict f = dot(theta, x)\nloss l = (f - y)^2\ninput x[2]\nlabel y\n"
        'data = csv("d.csv", label = "target", features = ["c", "a"])\n'
        "attack pgd { radius = 0.1 }\ntrain { lr = 0.1; horizon = 1 }\n",
        tmp_path,
    )
    np.testing.assert_array_equal(problem.inputs, [[3, 1], [7, 5]])
    np.testing.assert_array_equal(problem.labels, [4, 8])


def test_csv_label_defaults_to_the_label_name(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("x1,y,x2\n1,2,3\n")
    problem = load(
        "param theta[2]\npredict f = dot(theta, x)\nloss l = (f - y)^2\ninput x[2]\nlabel y\n"
        'data = csv("d.csv")\nattack pgd { radius = 0.1 }\ntrain { lr = 0.1; horizon = 1 }\n',
        tmp_path,
    )
    np.testing.assert_array_equal(problem.inputs, [[1, 3]])
    np.testing.assert_array_equal(problem.labels, [2])


@pytest.mark.parametrize(
    "content,message",
    [
        ("x1,x2,y\n1,2\n", "row has 2 cells"),
        ("x1,x2,y\n1,abc,3\n", "'abc' is not a number"),
        ("x1,x2,y\n1,inf,3\n", "is not finite"),
        ("x1,x3\n1,2\n", "no column 'y'"),
        ("x1,x2,x3,y\n1,2,3,4\n", "3 feature columns"),
        ("", "is empty"),
    ],
)
def test_bad_csv(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "d.csv").write_text(content)
    found = errors(
        "param theta[2]\npredict f = dot(theta, x)\nloss l = (f - y)^2\ninput x[2]\nlabel y\n"
        'data = csv("d.csv")\nattack pgd { radius = 0.1 }\ntrain { lr = 0.1; horizon = 1 }\n',
        tmp_path,
    )
    assert any(message in m for m in found), found


def test_npy_data(tmp_path: Path) -> None:
    X = np.arange(12.0).reshape(3, 2, 2)
    y = np.array([1.0, 2.0, 3.0])
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    problem = load(
        "param W[2, 2]\npredict f = sum(W * x)\nloss l = (f - y)^2\ninput x[2, 2]\nlabel y\n"
        'data = npy("X.npy", labels = "y.npy")\n'
        "attack pgd { radius = 0.1 }\ntrain { lr = 0.1; horizon = 1 }\n",
        tmp_path,
    )
    np.testing.assert_array_equal(problem.inputs, X)
    np.testing.assert_array_equal(problem.labels, y)
    np.save(tmp_path / "y.npy", np.array([1.0, np.nan, 3.0]))
    found = errors(
        "param W[2, 2]\npredict f = sum(W * x)\nloss l = (f - y)^2\ninput x[2, 2]\nlabel y\n"
        'data = npy("X.npy", labels = "y.npy")\n'
        "attack pgd { radius = 0.1 }\ntrain { lr = 0.1; horizon = 1 }\n",
        tmp_path,
    )
    assert any("non-finite value at index (1,)" in m for m in found), found


def test_synthetic_data_is_seeded_and_documented() -> None:
    text = (
        "param theta[3]\npredict f = dot(theta, x)\nloss l = (f - y)^2\ninput x[3]\nlabel y\n"
        "data = synthetic(n = 5, seed = 4, noise = 0.1, scale = 2, labels = sign)\n"
        "attack pgd { radius = 0.1 }\ntrain { lr = 0.1; horizon = 1 }\n"
    )
    problem = load(text)
    rng = np.random.default_rng(4)
    teacher = rng.normal(0.0, 1.0 / np.sqrt(3), size=(1, 3))
    X = rng.normal(0.0, 2.0, size=(5, 3))
    y = np.sign(X @ teacher.T + 0.1 * rng.normal(size=(5, 1))).ravel()
    np.testing.assert_array_equal(problem.inputs, X)
    np.testing.assert_array_equal(problem.labels, y)
    np.testing.assert_array_equal(load(text).inputs, problem.inputs)
