"""qrtc.studies.family.replicate: the built sparse family against the original spec and its trainer.

The independent source is always the original spec: its checked problem (data, theta0) and its
exact PGD trajectory from ``qrtc.reference.train``. A replica with separate copies must
reproduce it copy by copy; with the attack's ``support = all`` it must not (the l_inf attack
moves the zero features of the other blocks).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

import qrtc
from qrtc.frontend.format import format_spec
from qrtc.studies.family import MAX_REPLICATED_ENTRIES, FamilyError, check_separable, replicate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

Array = NDArray[np.float64]


def example(name: str) -> qrtc.Spec:
    return qrtc.parse_file(EXAMPLES / f"{name}.qrt")


def edited(name: str, old: str, new: str) -> qrtc.Spec:
    """An example with one piece of text replaced, parsed under the example's own path."""
    path = EXAMPLES / f"{name}.qrt"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    return qrtc.parse(text.replace(old, new), file=str(path))


def copy_trajectories(theta: Array, problem: qrtc.Problem, copies: int) -> Array:
    """``(copies, S + 1, n)``: each copy's parameters, in the original's layout."""
    parts = []
    for block in problem.parameters:
        wide = theta[:, block.offset * copies : (block.offset + block.size) * copies]
        parts.append(wide.reshape(len(theta), copies, block.size))
    return np.concatenate(parts, axis=2).transpose(1, 0, 2)


def test_one_copy_checks_to_the_original_problem() -> None:
    spec = example("robust_linreg")
    original, replica = qrtc.check(spec), qrtc.check(replicate(spec, 1))
    np.testing.assert_array_equal(replica.theta0, original.theta0)
    np.testing.assert_array_equal(replica.inputs, original.inputs)
    np.testing.assert_array_equal(replica.labels, original.labels)
    assert replica.attack == original.attack
    assert replica.train == original.train
    assert replica.options == original.options
    assert [(p.name, p.shape, p.offset) for p in replica.parameters] == [
        (p.name, p.shape, p.offset) for p in original.parameters
    ]
    np.testing.assert_array_equal(
        qrtc.reference.train(replica).theta, qrtc.reference.train(original).theta
    )


def test_three_copies_place_each_copy_in_its_own_block() -> None:
    original = qrtc.check(example("robust_linreg"))
    replica_spec = replicate(example("robust_linreg"), 3)
    replica = qrtc.check(replica_spec)
    assert (replica.n_params, replica.input_size, replica.n_samples) == (6, 6, 9)
    assert replica.train.lr == pytest.approx(3 * 0.2, rel=1e-15)
    assert replica.train.horizon == original.train.horizon
    assert replica.attack == original.attack
    np.testing.assert_array_equal(replica.theta0, [0.1, -0.2] * 3)
    expected = np.zeros((9, 6))
    for c in range(3):
        expected[3 * c : 3 * c + 3, 2 * c : 2 * c + 2] = [[0.5, -0.3], [0.1, 0.4], [-0.2, 0.3]]
    np.testing.assert_array_equal(replica.inputs, expected)
    np.testing.assert_array_equal(replica.labels, [0.2, -0.1, 0.05] * 3)
    # The returned spec is canonical text that parses back to itself, with no comments.
    assert format_spec(replica_spec) == replica_spec.text
    assert qrtc.parse(replica_spec.text) == replica_spec
    assert replica_spec.comments == ()
    assert replica_spec.file == str(EXAMPLES / "robust_linreg_x3.qrt")


def test_random_initial_values_are_copied_not_redrawn() -> None:
    spec = edited("robust_linreg", "[0.1, -0.2]  #", "random(seed = 4, scale = 0.3)  #")
    original, replica = qrtc.check(spec), qrtc.check(replicate(spec, 4))
    assert not np.allclose(original.theta0, [0.1, -0.2])
    np.testing.assert_array_equal(replica.theta0, np.tile(original.theta0, 4))


def test_csv_data_is_written_inline() -> None:
    original = qrtc.check(example("csv_regression"))
    replica_spec = replicate(example("csv_regression"), 2)
    assert "csv(" not in replica_spec.text and "data = inline {" in replica_spec.text
    replica = qrtc.check(qrtc.parse(replica_spec.text, file="/nonexistent/elsewhere.qrt"))
    samples, d = original.inputs.shape
    np.testing.assert_array_equal(replica.inputs[:samples, :d], original.inputs)
    np.testing.assert_array_equal(replica.inputs[samples:, d:], original.inputs)
    assert not replica.inputs[:samples, d:].any() and not replica.inputs[samples:, :d].any()


def test_support_all_attack_couples_the_copies() -> None:
    """The l_inf attack perturbs the zero features outside a sample's block (the bench's case)."""
    original = qrtc.check(example("robust_linreg"))
    assert original.attack.support == "all"
    replica = qrtc.check(replicate(example("robust_linreg"), 3))
    reference = qrtc.reference.train(original).theta
    copies = copy_trajectories(qrtc.reference.train(replica).theta, original, 3)
    # Every copy has the same data, so the copies stay equal to each other ...
    np.testing.assert_allclose(copies[1], copies[0], rtol=0, atol=1e-15)
    # ... but the perturbed zero features feed theta of the other copies into each prediction:
    # copy 0 ends 1.7e-4 away from the original, 5% of the 3.1e-3 the original moves.
    deviation = np.max(np.abs(copies[0] - reference))
    assert deviation > 0.01 * np.max(np.abs(reference - reference[0]))


@pytest.mark.parametrize("name", ["robust_linreg", "l2_inactive", "tiny_robust"])
def test_support_data_copies_follow_the_original_trajectory(name: str) -> None:
    """With the attack restricted to each sample's features, copy c trains like the original."""
    spec = edited(name, "grad = plain }", "grad = plain; support = data }")
    original = qrtc.check(spec)
    assert original.attack.support == "data"
    copies = 3
    replica = qrtc.check(replicate(spec, copies))
    expected = qrtc.reference.train(original)
    trained = qrtc.reference.train(replica)
    for theta in copy_trajectories(trained.theta, original, copies):
        np.testing.assert_allclose(theta, expected.theta, rtol=1e-12, atol=1e-12)
    samples, d = original.n_samples, original.input_size
    delta = trained.delta.reshape(len(trained.delta), copies, samples, copies, d)
    for c in range(copies):
        np.testing.assert_allclose(delta[:, c, :, c], expected.delta, rtol=1e-12, atol=1e-12)
        outside = np.delete(delta[:, c], c, axis=2)
        assert not outside.any()
    np.testing.assert_allclose(trained.clean_loss, expected.clean_loss, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "name,line,what",
    [("two_layer_quadratic", 4, "'W' is a 2-D array"), ("logistic_taylor", 6, "'b' is a scalar")],
)
def test_non_vector_parameters_are_refused_at_their_declaration(
    name: str, line: int, what: str
) -> None:
    with pytest.raises(FamilyError, match=what) as caught:
        replicate(example(name), 2)
    assert caught.value.span is not None and caught.value.span.line == line
    assert caught.value.hint is not None and "extrapolates" in caught.value.hint


def test_scalar_input_is_refused() -> None:
    spec = qrtc.parse(
        "param theta[1] = [0.3]\ninput x\nlabel y\ndata = inline { 0.5 -> 0.2; -0.1 -> 0.1 }\n"
        "predict f = sum(theta) * x\nloss l = 0.5 * (f - y)^2\n"
        "attack pgd { radius = 0.1 }\ntrain { lr = 0.1; horizon = 2 }\n"
    )
    with pytest.raises(FamilyError, match="input 'x' is a scalar") as caught:
        replicate(spec, 2)
    assert caught.value.span is not None and caught.value.span.line == 2


@pytest.mark.parametrize(
    "old,new,line",
    [
        ("predict f = dot(theta, x)", "predict f = dot(theta, x) + sum(theta)", 10),
        ("predict f = dot(theta, x)", "predict f = theta[0] * x[0] + theta[1] * x[1]", 10),
        ("loss l = 0.5 * (f - y)^2", "loss l = 0.5 * (f - y)^2 + 0.01 * dot(theta, theta)", 11),
    ],
)
def test_models_that_couple_the_copies_are_refused(old: str, new: str, line: int) -> None:
    spec = edited("robust_linreg", old, new)
    replicate(spec, 1)  # one copy is always the original
    with pytest.raises(FamilyError, match="does not separate into independent copies") as caught:
        replicate(spec, 3)
    assert caught.value.span is not None and caught.value.span.line == line


def test_a_model_that_only_checks_at_the_original_size_is_refused() -> None:
    spec = edited("robust_linreg", "dot(theta, x)", "dot(theta, x * [1, 2])")
    with pytest.raises(FamilyError, match="does not replicate blockwise") as caught:
        replicate(spec, 2)
    assert caught.value.span is not None and caught.value.span.line == 10


@pytest.mark.parametrize("copies", [0, -1])
def test_copies_must_be_positive(copies: int) -> None:
    with pytest.raises(FamilyError, match=f"not {copies}"):
        replicate(example("robust_linreg"), copies)


def test_too_many_copies_are_refused_before_anything_is_built() -> None:
    copies = 1000  # 3000 samples of 2000 features
    assert 3 * copies * 2 * copies > MAX_REPLICATED_ENTRIES
    start = time.perf_counter()
    with pytest.raises(FamilyError, match="6,000,000 numbers") as caught:
        replicate(example("robust_linreg"), copies)
    assert time.perf_counter() - start < 1.0
    assert caught.value.span is not None and caught.value.span.line == 8  # the data


def test_check_separable_catches_a_replica_of_another_model() -> None:
    """The check itself can fail: the separable original against a coupled model's replica."""
    original = qrtc.check(example("robust_linreg"))
    separable = replicate(example("robust_linreg"), 2)
    check_separable(original, qrtc.check(separable), 2)
    coupled = separable.text.replace("dot(theta, x)", "dot(theta, x) + 0.1 * sum(theta)^2")
    with pytest.raises(FamilyError, match="the prediction on copy 0 of 2"):
        check_separable(original, qrtc.check(qrtc.parse(coupled)), 2)
