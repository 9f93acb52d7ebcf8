"""Resources counted from the decomposed circuit equal the analytic formula (design.md §4,
last rung), and the decomposed circuit still encodes the matrix."""

from __future__ import annotations

from pathlib import Path

import cirq
import numpy as np
import pytest
import scipy.sparse

import qrtc
from qrtc.ir.block_system import BlockSystem
from qrtc.passes.encode_block_system import encode_block_system, encode_matrix
from qrtc.pipeline import compile_spec
from qrtc.resources.counted import GateCounts, count_resources, decompose_to_primitives
from qrtc.resources.formulas import predict_resources

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FAST = ["robust_linreg", "l2_inactive", "csv_regression", "two_layer_quadratic"]


class _Systems(dict[str, BlockSystem]):
    """Each example's block system, compiled when a test first asks for it (two_layer_quadratic
    alone takes seconds)."""

    def __missing__(self, name: str) -> BlockSystem:
        self[name] = compile_spec(qrtc.parse_file(EXAMPLES / f"{name}.qrt")).block_system
        return self[name]


@pytest.fixture(scope="module")
def systems() -> dict[str, BlockSystem]:
    return _Systems()


def _assert_equal(system: BlockSystem, method: str) -> None:
    encoding = encode_block_system(system, method=method)  # type: ignore[arg-type]
    counted = count_resources(encoding, depth_limit=0)
    predicted = predict_resources(system, method=method)  # type: ignore[arg-type]
    assert counted.qubits == predicted.qubits
    assert counted.queries == predicted.queries == {"O_r": 1, "O_c": 1, "O_A": 1}
    assert counted.gates == predicted.gates
    assert counted.t_count == predicted.t_count


@pytest.mark.slow
@pytest.mark.parametrize("name", FAST)
def test_structured_counts_equal_the_formula(systems: dict[str, BlockSystem], name: str) -> None:
    _assert_equal(systems[name], "structured")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["robust_linreg", "l2_inactive", "csv_regression"])
def test_generic_counts_equal_the_formula(systems: dict[str, BlockSystem], name: str) -> None:
    _assert_equal(systems[name], "generic")


@pytest.mark.slow
def test_counts_equal_the_formula_on_the_large_examples(systems: dict[str, BlockSystem]) -> None:
    _assert_equal(systems["two_layer_quadratic"], "generic")
    logistic = compile_spec(qrtc.parse_file(EXAMPLES / "logistic_taylor.qrt")).block_system
    assert logistic is not None
    _assert_equal(logistic, "structured")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "method"), [*((name, "structured") for name in FAST), ("robust_linreg", "generic")]
)
def test_the_depth_formula_bounds_the_counted_depth_tightly(
    systems: dict[str, BlockSystem], name: str, method: str
) -> None:
    system = systems[name]
    counted = count_resources(encode_block_system(system, method=method))  # type: ignore[arg-type]
    predicted = predict_resources(system, method=method)  # type: ignore[arg-type]
    assert counted.depth is not None and predicted.depth is not None
    assert predicted.depth_is_bound and not counted.depth_is_bound
    # Measured: the bound is 1-5 % above the as-early-as-possible depth on these examples.
    assert counted.depth <= predicted.depth <= 1.1 * counted.depth


def test_structured_needs_far_fewer_toffolis_than_generic(
    systems: dict[str, BlockSystem],
) -> None:
    system = systems["robust_linreg"]
    structured = predict_resources(system, method="structured").gates.toffoli
    generic = predict_resources(system, method="generic").gates.toffoli
    assert structured * 5 < generic


def test_the_primitive_circuit_encodes_the_matrix_with_clean_work_qubits() -> None:
    rng = np.random.default_rng(7)
    matrix = scipy.sparse.random_array((5, 5), density=0.5, rng=rng, format="csr")
    matrix.data = rng.normal(size=matrix.nnz)
    encoding = encode_matrix(matrix)
    circuit = decompose_to_primitives(encoding)
    work = sorted(circuit.all_qubits() - set(encoding.qubit_order), key=str)
    assert len(work) == count_resources(encoding).qubits["work"]
    order = (*work, *encoding.qubit_order)
    size = 1 << encoding.n_system_qubits
    simulator = cirq.Simulator(dtype=np.complex128)
    for column in range(5):
        state = simulator.simulate(circuit, qubit_order=order, initial_state=column)
        expected = np.zeros(size)
        expected[:5] = matrix.toarray()[:, column]
        amplitudes = state.final_state_vector[:size]
        np.testing.assert_allclose(encoding.alpha * amplitudes, expected, atol=1e-9)


def test_depth_is_counted_from_the_primitive_circuit() -> None:
    encoding = encode_matrix(scipy.sparse.csr_array(np.array([[0.5, -1.0], [0.0, 0.25]])))
    resources = count_resources(encoding)
    circuit = cirq.Circuit(decompose_to_primitives(encoding).all_operations())
    assert resources.depth == len(circuit)
    assert resources.gates.total == len(list(circuit.all_operations()))


def test_t_estimate_uses_seven_per_toffoli_and_ross_selinger_per_rotation() -> None:
    counts = GateCounts(toffoli=10, rotations=4)
    # eps_rot = 1e-3 / 4: ceil(3 log2(4000)) = ceil(35.9) = 36 T per rotation.
    assert counts.t_count(1e-3) == 70 + 4 * 36
    assert GateCounts(toffoli=3).t_count() == 21


@pytest.mark.parametrize("method", ["structured", "generic"])
def test_qsvt_counts_equal_the_formula(method: str) -> None:
    """The whole QSVT circuit: d uses of U, d + 1 projector phases, counted == formula."""
    from qrtc.passes.invert_block_encoding import invert_block_encoding
    from qrtc.resources.counted import count_gates
    from qrtc.resources.formulas import predict_qsvt_resources

    system = compile_spec(qrtc.parse_file(EXAMPLES / "tiny_robust.qrt")).block_system
    assert system is not None
    encoding = encode_block_system(system, method=method)  # type: ignore[arg-type]
    qsvt = invert_block_encoding(system, encoding, polynomial_error=1e-2)
    counted, work = count_gates(qsvt.circuit)
    predicted = predict_qsvt_resources(system, qsvt.phases, method=method)  # type: ignore[arg-type]
    assert counted == predicted.gates
    assert work == predicted.qubits["work"]
    assert len(qsvt.qubit_order) == predicted.total_qubits - work
    assert predicted.queries["U"] == qsvt.queries == qsvt.degree
