r"""The QSVT circuit against numpy's SVD and a QSP response evaluated by explicit 2x2 products.

Reference: with $A = \tilde L/\alpha = W\Sigma V^\dagger$ (numpy), the post-selected block
must be ``sign`` $\cdot V f(\Sigma) W^\dagger$, $f = \operatorname{Im}\langle 0|U_\Phi|0\rangle$
($W_x$ convention), computed here without the module.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Literal

import cirq
import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

from qrtc.circuits.controlled import MultiControlledX
from qrtc.circuits.qsvt import ProjectorPhase, QsvtLayout, qsvt_circuit
from qrtc.circuits.sparse_access import IndexOracle
from qrtc.errors import CompileError
from qrtc.ir.block_encoding import BlockEncoding
from qrtc.passes.encode_block_system import encode_matrix
from qrtc.testing import expected_block

Padding = Literal["identity", "zero"]


def qsp_response(phases: np.ndarray, x: float) -> complex:
    """$\\langle 0|e^{i\\phi_0 Z} W(x) e^{i\\phi_1 Z} \\cdots W(x) e^{i\\phi_d Z}|0\\rangle$."""
    root = np.sqrt(max(0.0, 1.0 - x * x))
    signal = np.array([[x, 1j * root], [1j * root, x]])
    product = np.diag(np.exp([1j * phases[0], -1j * phases[0]]))
    for phi in phases[1:]:
        product = product @ signal @ np.diag(np.exp([1j * phi, -1j * phi]))
    return complex(product[0, 0])


def expected(
    encoding: BlockEncoding,
    matrix: np.ndarray,
    part: Callable[[np.ndarray], np.ndarray],
    phases: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """$V\\,\\mathrm{part}(P_\\Phi)(\\Sigma)\\,W^\\dagger$ for the SVD
    $\\tilde A/\\alpha = W\\Sigma V^\\dagger$ (numpy), and the singular values."""
    block = expected_block(encoding, matrix) / encoding.alpha
    left, sigma, right_h = np.linalg.svd(block)
    response = np.array([qsp_response(phases, s) for s in sigma])
    return right_h.conj().T @ np.diag(part(response)) @ left.conj().T, sigma


def row_offset(layout: QsvtLayout, overrides: dict[cirq.Qid, int] | None = None) -> int:
    """Index of the first post-selected basis state: ancilla bits above the system bits."""
    values = {**layout.postselect, **(overrides or {})}
    n = layout.n_qubits
    return sum(values[q] << (n - 1 - k) for k, q in enumerate(layout.qubit_order[: len(values)]))


def block_by_unitary(layout: QsvtLayout, offset: int) -> np.ndarray:
    """The post-selected block of ``cirq.unitary``: rows ``offset + i``, columns ``|0>_anc|j>``."""
    unitary = layout.circuit.unitary(qubit_order=layout.qubit_order)
    n_system = 1 << len(layout.system)
    return np.asarray(unitary[offset : offset + n_system, :n_system])


def block_by_simulation(layout: QsvtLayout, offset: int, columns: list[int]) -> np.ndarray:
    """Columns of the post-selected block: start in |0>_anc |j>, keep the post-selected rows."""
    simulator = cirq.Simulator(dtype=np.complex128)
    n_system = 1 << len(layout.system)
    out = np.empty((n_system, len(columns)), dtype=np.complex128)
    for k, column in enumerate(columns):
        state = simulator.simulate(
            layout.circuit, qubit_order=layout.qubit_order, initial_state=column
        ).final_state_vector
        out[:, k] = state[offset : offset + n_system]
    return out


def random_case(
    seed: int, dim: int, degree: int, padding: Padding = "zero"
) -> tuple[np.ndarray, BlockEncoding, np.ndarray]:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(dim, dim))
    matrix[rng.random(size=(dim, dim)) < 0.3] = 0.0  # sparse, as the pipeline's L
    phases = rng.uniform(-np.pi, np.pi, size=degree + 1)  # arbitrary, not symmetric
    return matrix, encode_matrix(scipy.sparse.csr_array(matrix), padding=padding), phases


def imaginary(response: np.ndarray) -> np.ndarray:
    return response.imag


@pytest.mark.parametrize("degree", [1, 3, 5, 7])
@pytest.mark.parametrize("seed", [0, 1])
def test_block_by_unitary_is_f_of_singular_values(seed: int, degree: int) -> None:
    matrix, encoding, phases = random_case(seed, 2, degree)
    layout = qsvt_circuit(encoding, phases)
    target, _ = expected(encoding, matrix, imaginary, phases)
    actual = block_by_unitary(layout, row_offset(layout))
    # Complex comparison: the imaginary part of the block must vanish too.
    np.testing.assert_allclose(actual, layout.sign * target, atol=1e-8)
    assert layout.sign == (-1) ** ((degree - 1) // 2)


@settings(max_examples=20, deadline=None)
@given(
    st.integers(0, 3).flatmap(
        lambda half: st.lists(
            st.floats(-10, 10, allow_nan=False), min_size=2 * half + 2, max_size=2 * half + 2
        )
    ),
    st.integers(0, 2**32 - 1),
)
def test_any_real_phases(phases: list[float], seed: int) -> None:
    matrix = np.random.default_rng(seed).uniform(-1, 1, size=(2, 2))
    encoding = encode_matrix(scipy.sparse.csr_array(matrix))
    layout = qsvt_circuit(encoding, phases)
    target, _ = expected(encoding, matrix, imaginary, np.asarray(phases))
    np.testing.assert_allclose(
        block_by_unitary(layout, row_offset(layout)), layout.sign * target, atol=1e-8
    )


@pytest.mark.parametrize(
    ("dim", "degree", "padding"),
    [(3, 3, "zero"), (4, 5, "zero"), (5, 7, "zero"), (5, 3, "identity")],
)
def test_block_by_simulation_is_f_of_singular_values(
    dim: int, degree: int, padding: Padding
) -> None:
    matrix, encoding, phases = random_case(dim + degree, dim, degree, padding)
    layout = qsvt_circuit(encoding, phases)
    target, sigma = expected(encoding, matrix, imaginary, phases)
    columns = list(range(1 << len(layout.system)))
    actual = block_by_simulation(layout, row_offset(layout), columns)
    np.testing.assert_allclose(actual, layout.sign * target, atol=1e-8)
    if padding == "zero" and dim < len(columns):
        assert np.min(sigma) < 1e-12  # the zero padding reaches f(0) = 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dim", "degree", "padding"),
    [
        (dim, degree, padding)
        for dim, degree, padding in itertools.product(
            (3, 4, 5, 7, 8), (1, 3, 5, 7), ("zero", "identity")
        )
    ],
)
def test_block_by_simulation_grid(dim: int, degree: int, padding: Padding) -> None:
    test_block_by_simulation_is_f_of_singular_values(dim, degree, padding)


def test_sixteen_by_sixteen_columns() -> None:
    matrix, encoding, phases = random_case(16, 16, 3, "identity")
    layout = qsvt_circuit(encoding, phases)
    target, _ = expected(encoding, matrix, imaginary, phases)
    columns = [0, 11]
    actual = block_by_simulation(layout, row_offset(layout), columns)
    np.testing.assert_allclose(actual, layout.sign * target[:, columns], atol=1e-8)


@pytest.mark.parametrize("degree", [1, 3, 5])
def test_other_branch_keeps_the_real_part(degree: int) -> None:
    matrix, encoding, phases = random_case(7, 2, degree)
    layout = qsvt_circuit(encoding, phases)
    # <0|H (M_+ + M_-) / 2: the real part of P, times the (-i)^d of the conversion.
    real_part, _ = expected(encoding, matrix, lambda r: r.real, phases)
    other = block_by_unitary(layout, row_offset(layout, {layout.branch: 0}))
    np.testing.assert_allclose(other, (-1j) ** degree * real_part, atol=1e-8)


@pytest.mark.parametrize("degree", [1, 3, 5])
def test_without_the_lcu_the_block_is_p_not_im_p(degree: int) -> None:
    matrix, encoding, phases = random_case(8, 2, degree)
    layout = qsvt_circuit(encoding, phases)
    one_branch = QsvtLayout(
        circuit=cirq.Circuit(
            m for m in layout.circuit if not any(op.gate == cirq.H for op in m.operations)
        ),
        signal=layout.signal,
        branch=layout.branch,
        postselect={**layout.postselect, layout.branch: 0},
        sign=layout.sign,
        queries=layout.queries,
        qubit_order=layout.qubit_order,
        phases=layout.phases,
    )
    block = block_by_unitary(one_branch, row_offset(one_branch))
    full, _ = expected(encoding, matrix, lambda r: r, phases)
    np.testing.assert_allclose(block, (-1j) ** degree * full, atol=1e-8)
    wanted, _ = expected(encoding, matrix, imaginary, phases)
    assert np.linalg.norm(block - layout.sign * wanted) > 1e-2


@pytest.mark.parametrize("degree", [1, 3, 5, 7])
def test_queries_and_structure(degree: int) -> None:
    _, encoding, phases = random_case(3, 4, degree)
    layout = qsvt_circuit(encoding, phases)
    assert layout.queries == degree
    # By repr: the oracles' tables hold arrays, so two equal inverses do not compare equal.
    forward = [repr(m) for m in encoding.circuit]
    backward = [repr(m) for m in cirq.inverse(encoding.circuit)]
    # Split the circuit at the projector phases: what lies between them is U or U^dagger.
    segments: list[list[str]] = [[]]
    phases_seen = 0
    for moment in layout.circuit:
        if any(isinstance(op.gate, ProjectorPhase) for op in moment.operations):
            phases_seen += 1
            segments.append([])
        else:
            segments[-1].append(repr(moment))
    uses = segments[1:-1]
    assert phases_seen == degree + 1
    assert [u == backward for u in uses] == [k % 2 == 0 for k in range(degree)]
    assert [u == forward for u in uses] == [k % 2 == 1 for k in range(degree)]
    oracles = sum(isinstance(op.gate, IndexOracle) for op in layout.circuit.all_operations())
    per_use = sum(isinstance(op.gate, IndexOracle) for op in encoding.circuit.all_operations())
    assert oracles == degree * per_use


def test_qubit_layout_for_a_four_by_four_matrix() -> None:
    _, encoding, phases = random_case(4, 4, 3)
    layout = qsvt_circuit(encoding, phases)
    assert layout.qubit_order == (layout.branch, layout.signal, *encoding.qubit_order)
    assert layout.n_qubits == encoding.n_ancilla_qubits + encoding.n_system_qubits + 2
    assert set(layout.postselect) == {layout.branch, layout.signal} | {
        q for r in encoding.ancillas for q in r.qubits
    }
    assert layout.postselect[layout.branch] == 1
    assert layout.system == tuple(q for r in encoding.system for q in r.qubits)


@pytest.mark.parametrize("phases", [[0.1, 0.2, 0.3], [0.5], [], [[0.1, 0.2]], [0.1, 1j]])
def test_bad_phases_are_refused(phases: list[object]) -> None:
    _, encoding, _ = random_case(0, 2, 1)
    with pytest.raises(CompileError):
        qsvt_circuit(encoding, phases)


def projector_phase_reference(gate: ProjectorPhase) -> np.ndarray:
    """$e^{i\\psi_b(2\\Pi - 1)}$ on the signal-0 states, from the definition (diagonal)."""
    n = cirq.num_qubits(gate)
    diagonal = np.empty(1 << n, dtype=np.complex128)
    for index in range(1 << n):
        bits = [(index >> (n - 1 - k)) & 1 for k in range(n)]
        projected = not any(bits[: gate.n_controls])
        branch = bits[-1] if gate.branched else 0
        psi = gate.offset + (-1) ** branch * gate.angle
        diagonal[index] = np.exp(1j * psi * (1 if projected else -1))
    return diagonal


@given(
    st.floats(-7, 7),
    st.floats(-7, 7),
    st.integers(0, 4),
    st.booleans(),
)
def test_projector_phase(angle: float, offset: float, n_controls: int, branched: bool) -> None:
    gate = ProjectorPhase(angle, offset, n_controls, branched)
    unitary = cirq.unitary(gate)
    np.testing.assert_allclose(unitary, np.diag(np.diag(unitary)), atol=1e-12)
    n = cirq.num_qubits(gate)
    signal_bit = 1 << (n - 1 - n_controls)
    signal_zero = [i for i in range(1 << n) if not i & signal_bit]
    np.testing.assert_allclose(
        np.diag(unitary)[signal_zero], projector_phase_reference(gate)[signal_zero], atol=1e-12
    )
    np.testing.assert_allclose(cirq.unitary(gate**-1), unitary.conj().T, atol=1e-12)
    cirq.testing.assert_decompose_is_consistent_with_unitary(gate)
    ops = cirq.decompose(
        gate.on(*cirq.LineQid.for_gate(gate)),
        keep=lambda op: cirq.num_qubits(op) == 1 or op.gate in (cirq.CNOT, cirq.TOFFOLI),
        context=cirq.DecompositionContext(cirq.GreedyQubitManager("w")),
    )
    assert all(cirq.num_qubits(op) == 1 or op.gate in (cirq.CNOT, cirq.TOFFOLI) for op in ops)


def test_projector_phase_uses_multi_controlled_x() -> None:
    gate = ProjectorPhase(0.3, -0.2, 3)
    decomposed = cirq.decompose_once(gate.on(*cirq.LineQubit.range(5)))
    assert [op.gate for op in decomposed].count(MultiControlledX((0, 0, 0))) == 2
