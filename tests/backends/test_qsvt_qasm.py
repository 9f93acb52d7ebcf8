"""The whole QSVT inversion circuit as OpenQASM 2.0 and 3.0, re-read by Qiskit.

Reference: cirq's ``Simulator`` (complex128) on the gate-level circuit, whose gates act through
their ``_apply_unitary_`` (tables, comparators), not through the lowering the QASM is written
from. The re-read circuit is simulated from the written ``<name>.b.npy``:

* small hand-built QSVT circuits (default run): by Qiskit's own ``Statevector``, which expands
  the 2.0 file's ``gate`` definitions itself;
* tiny_robust (18 qubits, degree 87; slow): Qiskit's ``Statevector`` takes seconds per
  multi-controlled gate at 18 qubits (measured: 100 ten-control gates in 378 s), so the
  circuit Qiskit parsed is applied by :func:`evolve` below with Qiskit's own gate matrices and
  control states; each borrowed-qubit ``gate qrtc_c<c>x_b<b>`` definition Qiskit parsed is
  first checked on every basis state to be $C^cX \\otimes I$.

Qiskit is little-endian: its state vectors are compared after ``reverse_qargs()``. Tolerance:
both sides are double precision and exact gate by gate (angles written with 17 decimals of a
half turn, 5e-18 rad); 10^5 gates accumulate ~1e-11 of rounding on a unit vector, so atol 1e-9
on the amplitudes is float noise with room, and any wrong gate moves them by far more.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cirq
import numpy as np
import pytest
import scipy.sparse

import qrtc
from qrtc.backends.qasm import input_state, to_register_qasm, write_qsvt_qasm
from qrtc.circuits import read_json
from qrtc.circuits.qsvt import qsvt_circuit
from qrtc.errors import BackendError
from qrtc.ir.qsvt import QsvtCircuit
from qrtc.passes.encode_block_system import encode_matrix

qasm2 = pytest.importorskip("qiskit.qasm2")
quantum_info = pytest.importorskip("qiskit.quantum_info")

ROOT = Path(__file__).resolve().parents[2]
ATOL = 1e-9


def small_qsvt(seed: int = 0, degree: int = 3, dim: int = 3) -> QsvtCircuit:
    """A hand-built QSVT IR over a random sparse matrix (the polynomial fields are unused)."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(dim, dim))
    matrix[rng.random(size=(dim, dim)) < 0.3] = 0.0
    encoding = encode_matrix(scipy.sparse.csr_array(matrix))
    layout = qsvt_circuit(encoding, rng.uniform(-np.pi, np.pi, size=degree + 1))
    return QsvtCircuit(
        encoding=encoding,
        circuit=layout.circuit,
        qubit_order=layout.qubit_order,
        postselect=dict(layout.postselect),
        sign=layout.sign,
        kappa=1.0,
        kappa_is_exact=False,
        scale=1.0,
        polynomial_error=1.0,
        coefficients=np.zeros(degree + 1),
        phases=layout.phases,
        phase_residual=0.0,
        reference_degree=degree,
        queries=degree,
    )


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".qasm":
        return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    pytest.importorskip("qiskit_qasm3_import")
    import qiskit.qasm3

    return qiskit.qasm3.loads(text)


def _cirq_state(qsvt: QsvtCircuit, state: np.ndarray) -> np.ndarray:
    result = cirq.Simulator(dtype=np.complex128).simulate(
        qsvt.circuit, qubit_order=qsvt.qubit_order, initial_state=state
    )
    return np.asarray(result.final_state_vector)


def _postselected(qsvt: QsvtCircuit, state: np.ndarray) -> np.ndarray:
    """The system amplitudes with every other qubit at its post-selected value."""
    n_kept = qsvt.n_qubits - len(qsvt.postselect)
    ancillas = qsvt.qubit_order[: len(qsvt.postselect)]
    offset = sum(qsvt.postselect[q] << (len(ancillas) - 1 - k) for k, q in enumerate(ancillas))
    return state.reshape(-1, 1 << n_kept)[offset]


def _registers(qsvt: QsvtCircuit) -> list[tuple[str, int]]:
    encoding = qsvt.encoding
    return [
        ("qsvt_branch", 1),
        ("qsvt_signal", 1),
        *((r.name, len(r)) for r in (*encoding.ancillas, *encoding.system)),
    ]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[QsvtCircuit, np.ndarray, list[Path]]:
    qsvt = small_qsvt(dim=2)
    rhs = np.random.default_rng(1).normal(size=qsvt.encoding.dim)
    state = input_state(qsvt, rhs)
    paths = write_qsvt_qasm(qsvt, state, tmp_path_factory.mktemp("qsvt"), name="small")
    return qsvt, state, paths


def test_writes_both_programs_the_input_and_the_cirq_json(
    small: tuple[QsvtCircuit, np.ndarray, list[Path]],
) -> None:
    qsvt, state, paths = small
    assert [p.name for p in paths] == [
        "small.qsvt.qasm",
        "small.qsvt.qasm3",
        "small.b.npy",
        "small.qsvt.json",
    ]
    written = np.load(paths[2])
    assert written.dtype == np.complex128
    np.testing.assert_array_equal(written, state)
    assert read_json(paths[3].read_text(encoding="utf-8")) == qsvt.circuit
    header = paths[0].read_text(encoding="utf-8").split("OPENQASM")[0]
    assert "small.b.npy" in header and "qsvt_branch[1]" in header and "post-select 1" in header


@pytest.mark.parametrize("index", [0, 1], ids=["qasm2", "qasm3"])
def test_qiskit_rereads_the_small_qsvt_programs_with_cirqs_state(
    small: tuple[QsvtCircuit, np.ndarray, list[Path]], index: int
) -> None:
    qsvt, state, paths = small
    circuit = _read(paths[index])
    assert [(r.name, r.size) for r in circuit.qregs] == _registers(qsvt)
    if index == 0:  # Qiskit expands the borrowed-qubit definitions itself
        assert "gate qrtc_c4x_b" in paths[0].read_text(encoding="utf-8")
    start = quantum_info.Statevector(np.load(paths[2])).reverse_qargs()
    final = np.asarray(start.evolve(circuit).reverse_qargs().data)
    expected = _cirq_state(qsvt, state)
    # The whole state, phase included, not only the post-selected part.
    np.testing.assert_allclose(final, expected, atol=ATOL)
    kept = _postselected(qsvt, final)
    assert np.linalg.norm(kept) > 1e-3  # the comparison is not vacuous


def test_input_state_puts_b_at_the_embedded_indices() -> None:
    qsvt = small_qsvt()
    state = input_state(qsvt, np.array([3.0, 0.0, -4.0]))
    indices = qsvt.encoding.embedded_indices()
    expected = np.zeros(1 << qsvt.n_qubits, dtype=np.complex128)
    expected[indices] = [0.6, 0.0, -0.8]
    np.testing.assert_array_equal(state, expected)
    with pytest.raises(BackendError, match="non-zero finite vector"):
        input_state(qsvt, np.zeros(3))
    with pytest.raises(BackendError, match="unit vector"):
        write_qsvt_qasm(qsvt, 2 * state, Path("/nonexistent"), name="x")


def test_register_qasm_of_a_block_encoding_has_cirqs_unitary() -> None:
    encoding = small_qsvt().encoding
    for version in ("2.0", "3.0"):
        program = to_register_qasm(encoding, version=version)
        if version == "2.0":
            circuit = qasm2.loads(
                program.text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS
            )
        else:
            pytest.importorskip("qiskit_qasm3_import")
            import qiskit.qasm3

            circuit = qiskit.qasm3.loads(program.text)
        assert program.qubit_order == encoding.qubit_order
        operator = quantum_info.Operator(circuit).reverse_qargs().data
        np.testing.assert_allclose(
            operator, encoding.circuit.unitary(qubit_order=encoding.qubit_order), atol=ATOL
        )


# -- tiny_robust, with Qiskit's parse and gate matrices applied by numpy ----------------------

_DEFINITION = re.compile(r"^qrtc_c(\d+)x_b(\d+)$")


def _check_definition(operation: Any, n_controls: int) -> None:
    """The parsed definition maps every basis state as an X on qubit ``n_controls`` controlled
    by qubits ``0 .. n_controls - 1`` (Qiskit's bit k is qubit k), the rest untouched."""
    definition = operation.definition
    n = definition.num_qubits
    index = {bit: k for k, bit in enumerate(definition.qubits)}
    states = np.arange(1 << n, dtype=np.int64)
    for instruction in definition.data:
        qubits = [index[q] for q in instruction.qubits]
        assert instruction.operation.name in ("x", "cx", "ccx")
        *controls, target = qubits
        fire = np.ones_like(states, dtype=bool)
        for control in controls:
            fire &= ((states >> control) & 1).astype(bool)
        states = states ^ (fire.astype(np.int64) << target)
    every = (1 << n_controls) - 1
    expected = np.arange(1 << n, dtype=np.int64)
    expected = expected ^ (((expected & every) == every).astype(np.int64) << n_controls)
    np.testing.assert_array_equal(states, expected)


def evolve(circuit: Any, state: np.ndarray) -> np.ndarray:
    """Apply a Qiskit circuit to ``state`` (big-endian: Qiskit qubit 0 most significant).

    Each instruction acts through Qiskit's own matrix (``to_matrix()`` of the gate, or of the
    base gate of a controlled gate, on the sub-space its ``ctrl_state`` selects).
    """
    from qiskit.circuit import ControlledGate
    from qiskit.circuit.library import XGate

    n = circuit.num_qubits
    psi = np.array(state, dtype=np.complex128).reshape([2] * n)
    position = {bit: k for k, bit in enumerate(circuit.qubits)}
    matrices: dict[tuple[Any, ...], np.ndarray] = {}
    checked: set[str] = set()
    for instruction in circuit.data:
        operation = instruction.operation
        qubits = [position[q] for q in instruction.qubits]
        if operation.name in ("id", "barrier"):
            continue
        defined = _DEFINITION.match(operation.name)
        if defined is not None:
            n_controls = int(defined[1])
            if operation.name not in checked:
                _check_definition(operation, n_controls)
                checked.add(operation.name)
            controls, targets, ctrl_state = qubits[:n_controls], [qubits[n_controls]], -1
            gate = XGate()
        elif isinstance(operation, ControlledGate):
            n_controls = operation.num_ctrl_qubits
            controls, targets = qubits[:n_controls], qubits[n_controls:]
            ctrl_state = operation.ctrl_state
            gate = operation.base_gate
        else:
            controls, targets, ctrl_state = [], qubits, 0
            gate = operation
        base = (gate.name, tuple(float(p) for p in gate.params))
        matrix = matrices.get(base)
        if matrix is None:
            matrix = matrices[base] = np.asarray(gate.to_matrix(), dtype=np.complex128)
        index: list[int | slice] = [slice(None)] * n
        for k, control in enumerate(controls):
            index[control] = (ctrl_state >> k) & 1
        k = len(targets)
        if k == 1:
            zero, one = list(index), list(index)
            zero[targets[0]], one[targets[0]] = 0, 1
            a, b = psi[tuple(zero)].copy(), psi[tuple(one)].copy()
            psi[tuple(zero)] = matrix[0, 0] * a + matrix[0, 1] * b
            psi[tuple(one)] = matrix[1, 0] * a + matrix[1, 1] * b
            continue
        sub = psi[tuple(index)]
        remaining = [axis for axis in range(n) if axis not in controls]
        # Qiskit's matrix index: bit j is target j, so the tensor's first axis is the last target.
        axes = [remaining.index(t) for t in targets][::-1]
        out = np.tensordot(matrix.reshape([2] * (2 * k)), sub, axes=(list(range(k, 2 * k)), axes))
        psi[tuple(index)] = np.moveaxis(out, list(range(k)), axes)
    return psi.reshape(-1) * np.exp(1j * float(circuit.global_phase))


def test_evolve_agrees_with_qiskits_statevector() -> None:
    qsvt = small_qsvt(seed=4, degree=1, dim=2)
    state = input_state(qsvt, np.array([1.0, 2.0]))
    circuit = qasm2.loads(
        to_register_qasm(qsvt, version="2.0").text,
        custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
    )
    assert any(_DEFINITION.match(i.operation.name) for i in circuit.data)
    reference = quantum_info.Statevector(state).reverse_qargs().evolve(circuit).reverse_qargs()
    np.testing.assert_allclose(evolve(circuit, state), reference.data, atol=ATOL)


@pytest.fixture(scope="module")
def tiny_robust(tmp_path_factory: pytest.TempPathFactory) -> tuple[QsvtCircuit, list[Path]]:
    from qrtc.verification.subject import Subject

    subject = Subject(qrtc.parse_file(ROOT / "examples" / "tiny_robust.qrt"))
    qsvt = subject.qsvt
    state = input_state(qsvt, subject.system.initial_block)
    paths = write_qsvt_qasm(qsvt, state, tmp_path_factory.mktemp("tiny"), name="tiny_robust")
    return qsvt, paths


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1], ids=["qasm2", "qasm3"])
def test_qiskit_rereads_tiny_robusts_qsvt_programs_with_cirqs_postselected_state(
    tiny_robust: tuple[QsvtCircuit, list[Path]], index: int
) -> None:
    qsvt, paths = tiny_robust
    circuit = _read(paths[index])
    assert [(r.name, r.size) for r in circuit.qregs] == _registers(qsvt)
    start = np.load(paths[2])
    final = evolve(circuit, start)
    expected = _cirq_state(qsvt, start)
    kept, kept_expected = _postselected(qsvt, final), _postselected(qsvt, expected)
    assert np.linalg.norm(kept_expected) > 1e-2  # QSVT succeeds with a fair probability
    np.testing.assert_allclose(kept, kept_expected, atol=ATOL)
    np.testing.assert_allclose(final, expected, atol=ATOL)
