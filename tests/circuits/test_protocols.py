"""Cirq's protocols on every gate of the package, each checked against an independent source.

* consistency: cirq's own checkers (``_apply_unitary_`` against ``_decompose_``, ``repr``
  evaluated back, ``cirq.pow``, ...), which compute both sides themselves;
* JSON: ``cirq.read_json(cirq.to_json(x))`` equals ``x`` and has the same unitary;
* QASM: ``cirq.qasm`` re-read by Qiskit (its parser and its gate matrices) has the unitary
  ``cirq.unitary`` computes from ``_apply_unitary_``;
* decomposition: ``cirq.decompose`` with cirq's default context uses exactly the work qubits the
  gate declares, and a whole circuit reuses them.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import cirq
import numpy as np
import pytest
import scipy.sparse

from qrtc.circuits import json_resolver, read_json
from qrtc.circuits._native import multi_controlled_x
from qrtc.circuits.arithmetic import Increment, LessThanConstant
from qrtc.circuits.controlled import MultiControlledRy, MultiControlledX, SwapRegisters
from qrtc.circuits.lookup import RotationLookup, Table, XorLookup
from qrtc.circuits.qsvt import ProjectorPhase, qsvt_circuit
from qrtc.circuits.serialization import JSON_TYPES
from qrtc.circuits.sparse_access import IndexOracle, SparseAccessTables
from qrtc.circuits.state_preparation import UniformSuperposition
from qrtc.circuits.time_register import BlockTypeOracle, MixedRadixIncrement
from qrtc.circuits.work import ExplicitWork, num_work_qubits, work_qubit
from qrtc.passes.encode_block_system import encode_matrix

# A small matrix with rows and columns of different sparsity (index registers of 1 and 2 qubits).
_MATRIX = np.array(
    [[0.5, 0.0, -1.0, 0.0], [0.0, 0.25, 0.0, 0.0], [0.75, 0.0, 0.0, -0.5], [0.0, 1.0, 0.3, 0.0]]
)
_TABLES = SparseAccessTables.from_matrix(_MATRIX)
_ROW = IndexOracle("row", 2, 2, _TABLES.row_forward, _TABLES.row_position)
_COLUMN = IndexOracle("column", 1, 2, _TABLES.column_forward, _TABLES.column_position, (1,))

GALLERY: dict[str, cirq.Gate] = {
    "increment": Increment(3),
    "increment_controlled": Increment(2, (0, 1)),
    "less_than": LessThanConstant(3, 5),
    "less_than_power_of_two": LessThanConstant(3, 4),
    "less_than_never": LessThanConstant(2, 0),
    "less_than_always": LessThanConstant(2, 7),
    "mcx_none": MultiControlledX(()),
    "mcx_toffoli": MultiControlledX((1, 0)),
    "mcx_four": MultiControlledX((0, 1, 1, 0)),
    "mcx_fan_out": MultiControlledX((1, 0, 1), 2),
    "mcry_none": MultiControlledRy(-1.3),
    "mcry_one": MultiControlledRy(0.4, (0,)),
    "mcry_three": MultiControlledRy(0.7, (1, 0, 1)),
    "swap": SwapRegisters(2),
    "swap_controlled": SwapRegisters(2, with_control=True),
    "xor_lookup": XorLookup(2, 2, Table.from_pairs([(0, 1), (2, 3), (3, 2)], integer=True), (1,)),
    "rotation_lookup": RotationLookup(
        2, Table.from_pairs([(1, 0.3), (2, -1.1)], integer=False), 0.5, (0,)
    ),
    "index_oracle_row": _ROW,
    "index_oracle_column_adjoint": _COLUMN**-1,
    "uniform": UniformSuperposition(5, 3),
    "uniform_controlled_adjoint": UniformSuperposition(3, 2, (1,), adjoint=True),
    "projector_phase": ProjectorPhase(0.4, -0.7, 3),
    "projector_phase_unbranched": ProjectorPhase(0.4, 0.1, 2, branched=False),
    "mixed_radix": MixedRadixIncrement(2, 3, (1,)),
    "mixed_radix_one": MixedRadixIncrement(2, 1),
    "block_type": BlockTypeOracle(1, 3, 1, 4),
    "block_type_power_of_two": BlockTypeOracle(2, 2, 1, 4),
    "block_type_radix_one": BlockTypeOracle(2, 1, 2, 4),
    "explicit_work": ExplicitWork(LessThanConstant(3, 5), 1),
}

REPR_GLOBALS: dict[str, Any] = {cls.__name__: cls for cls in JSON_TYPES.values()}

gates = pytest.mark.parametrize("gate", list(GALLERY.values()), ids=list(GALLERY))

RESOLVERS = [json_resolver, *cirq.DEFAULT_RESOLVERS]


def _read_json(text: str) -> Any:
    return cirq.read_json(json_text=text, resolvers=RESOLVERS)


@gates
def test_gate_implements_cirqs_protocols_consistently(gate: cirq.Gate) -> None:
    cirq.testing.assert_has_consistent_apply_unitary(gate)
    cirq.testing.assert_decompose_is_consistent_with_unitary(gate)
    cirq.testing.assert_equivalent_repr(gate, global_vals=REPR_GLOBALS)
    cirq.testing.assert_implements_consistent_protocols(
        gate, global_vals=REPR_GLOBALS, ignore_decompose_to_default_gateset=True
    )


@gates
def test_json_round_trip_gives_an_equal_gate_with_the_same_unitary(gate: cirq.Gate) -> None:
    again = _read_json(cirq.to_json(gate))
    assert again == gate and hash(again) == hash(gate)
    assert type(again) is type(gate)
    np.testing.assert_array_equal(cirq.unitary(again), cirq.unitary(gate))


def test_tables_round_trip_bit_for_bit() -> None:
    awkward = [
        0.1 + 0.2,
        5e-324,
        -0.0,
        1 / 3,
        float(np.nextafter(1.0, 2.0)),
        -1.7976931348623157e308,
    ]
    floats = Table(np.arange(len(awkward), dtype=np.int64) * 7, np.array(awkward))
    integers = Table(np.array([0, 3, 2**40]), np.array([1, 2**62 + 1, 5], dtype=np.int64))
    for table in (floats, integers):
        again = _read_json(cirq.to_json(table))
        assert again.values.dtype == table.values.dtype and again.addresses.dtype == np.int64
        # Compare the bits: -0.0 and 0.0 are equal as numbers but not as bits.
        assert again.values.tobytes() == table.values.tobytes()
        assert again.addresses.tobytes() == table.addresses.tobytes()
        assert again == table and not again.values.flags.writeable


def test_work_qubits_round_trip_and_print_as_a_register() -> None:
    qubit = work_qubit(3)
    assert str(qubit) == "qrtc_work[3]" and isinstance(qubit, cirq.ops.CleanQubit)
    assert _read_json(cirq.to_json(qubit)) == qubit


def _small_qsvt(seed: int = 0, degree: int = 3) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(3, 3))
    matrix[rng.random(size=(3, 3)) < 0.3] = 0.0
    encoding = encode_matrix(scipy.sparse.csr_array(matrix))
    return encoding, qsvt_circuit(encoding, rng.uniform(-np.pi, np.pi, size=degree + 1))


def test_json_round_trip_of_a_block_encoding_and_its_qsvt_circuit() -> None:
    encoding, layout = _small_qsvt()
    for circuit in (encoding.circuit, layout.circuit):
        text = cirq.to_json(circuit)
        again = read_json(text)
        assert again == circuit
        order = sorted(circuit.all_qubits())
        np.testing.assert_array_equal(again.unitary(qubit_order=order), circuit.unitary(order))
    # Every table of U and U^dagger is written once (equal tables once), however many copies of
    # them the QSVT circuit holds.
    text = cirq.to_json(layout.circuit)
    tables: set[Table] = set()
    for op in layout.circuit.all_operations():
        if isinstance(op.gate, XorLookup | RotationLookup):
            tables.add(op.gate.table)
        elif isinstance(op.gate, IndexOracle):
            tables |= {op.gate.forward, op.gate.position}
    assert len(re.findall(r'"cirq_type": "qrtc.Table"', text)) == len(tables)


def _work_used(ops: list[cirq.Operation], own: set[cirq.Qid]) -> set[cirq.Qid]:
    return {q for op in ops for q in op.qubits} - own


@gates
def test_default_decomposition_uses_exactly_the_declared_work_qubits(gate: cirq.Gate) -> None:
    op = gate.on(*cirq.LineQid.for_gate(gate))
    declared = num_work_qubits(gate)
    # Two sources: the count each gate states, and the qubits its decomposition touches.
    assert _work_used(cirq.decompose(op), set(op.qubits)) == {
        work_qubit(k) for k in range(declared)
    }
    assert _work_used(cirq.decompose_once(op), set(op.qubits)) <= {
        work_qubit(k) for k in range(declared)
    }


def _primitive(op: cirq.Operation) -> bool:
    return op.gate in (cirq.X, cirq.H, cirq.CNOT, cirq.TOFFOLI) or isinstance(
        op.gate, cirq.Ry | cirq.Rz
    )


def test_decomposing_a_qsvt_circuit_reuses_one_set_of_work_qubits() -> None:
    _, layout = _small_qsvt(degree=3)
    circuit = layout.circuit
    declared = max(num_work_qubits(op.gate) for op in circuit.all_operations())
    # Down to Toffolis (cirq's further decomposition of those adds no qubit, and ten times the
    # operations).
    decomposed = cirq.decompose(circuit, keep=_primitive)
    extra = _work_used(decomposed, set(circuit.all_qubits()))
    assert declared > 0 and extra == {work_qubit(k) for k in range(declared)}
    # Still the same circuit on a few inputs, the work qubits starting and ending clean.
    order = list(layout.qubit_order)
    work = sorted(extra)
    simulator = cirq.Simulator(dtype=np.complex128)
    for column in (0, 1, 2):
        expected = simulator.simulate(circuit, qubit_order=order, initial_state=column)
        actual = simulator.simulate(
            cirq.Circuit(decomposed), qubit_order=[*order, *work], initial_state=column << len(work)
        )
        state = actual.final_state_vector.reshape(-1, 1 << len(work))
        np.testing.assert_allclose(state[:, 0], expected.final_state_vector, atol=1e-9)
        assert np.linalg.norm(state[:, 1:]) < 1e-9


@pytest.mark.parametrize("name", ["block_type", "mcx_fan_out", "mixed_radix", "index_oracle_row"])
def test_decomposition_with_a_reusing_manager_keeps_the_unitary(name: str) -> None:
    # BlockTypeOracle holds flags while its comparators need work: a greedy manager must not
    # hand them the flags (they get theirs through ExplicitWork).
    gate = GALLERY[name]
    qubits = cirq.LineQid.for_gate(gate)
    context = cirq.DecompositionContext(cirq.GreedyQubitManager("w", maximize_reuse=True))
    decomposed = cirq.decompose(gate.on(*qubits), context=context, keep=_primitive)
    work = sorted(_work_used(decomposed, set(qubits)))
    actual = cirq.Circuit(decomposed).unitary(qubit_order=[*work, *qubits])
    size = 1 << len(qubits)
    np.testing.assert_allclose(actual[:size, :size], cirq.unitary(gate), atol=1e-9)


def test_explicit_work_is_the_gate_on_clean_work_qubits() -> None:
    gate = LessThanConstant(4, 11)
    wrapped = ExplicitWork(gate, gate.num_work_qubits())
    assert wrapped.n_work == 2
    n = gate.num_qubits()
    unitary = cirq.unitary(wrapped)
    # Work qubits are the least significant: keep the rows and columns where they are 0.
    clean = unitary[:: 1 << wrapped.n_work, :: 1 << wrapped.n_work]
    np.testing.assert_allclose(clean, cirq.unitary(gate), atol=1e-12)
    assert clean.shape == (1 << n, 1 << n)


def _run_classically(ops: list[cirq.Operation], bits: dict[cirq.Qid, int]) -> dict[cirq.Qid, int]:
    bits = dict(bits)
    for op in ops:
        *controls, target = op.qubits
        assert op.gate in (cirq.X, cirq.CNOT, cirq.TOFFOLI)
        bits[target] ^= int(all(bits[c] for c in controls))
    return bits


def test_borrowing_multi_controlled_x_flips_exactly_when_every_control_is_set() -> None:
    # Every basis state, borrowed qubits included: they may start in any state.
    for n_controls, n_borrowed in itertools.product(range(7), range(4)):
        if n_controls >= 3 and not n_borrowed:
            continue
        qubits = cirq.LineQubit.range(n_controls + 1 + n_borrowed)
        controls, target = qubits[:n_controls], qubits[n_controls]
        ops = multi_controlled_x(controls, target, qubits[n_controls + 1 :])
        for values in itertools.product((0, 1), repeat=len(qubits)):
            start = dict(zip(qubits, values, strict=True))
            expected = {**start, target: start[target] ^ int(all(start[c] for c in controls))}
            assert _run_classically(ops, start) == expected


# -- QASM, re-read by Qiskit ---------------------------------------------------------------------

qasm2 = pytest.importorskip("qiskit.qasm2")
quantum_info = pytest.importorskip("qiskit.quantum_info")


# cirq writes angles in half turns with 10 decimals: at most 5e-11 * pi off per angle, and these
# circuits have fewer than 100 rotations.
QASM_ATOL = 1e-8


def _cirq_qasm(circuit: cirq.Circuit, version: str) -> str:
    """What a user gets: ``cirq.qasm`` (2.0) or ``Circuit.to_qasm(version="3.0")``."""
    return cirq.qasm(circuit) if version == "2.0" else circuit.to_qasm(version=version)


def _qiskit_unitary(text: str, version: str) -> np.ndarray:
    if version == "2.0":
        circuit = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    else:
        pytest.importorskip("qiskit_qasm3_import")
        import qiskit.qasm3

        circuit = qiskit.qasm3.loads(text)
    # Qiskit is little-endian; cirq's QASM declares q[0] first, cirq's most significant.
    return np.asarray(quantum_info.Operator(circuit).reverse_qargs().data)


@gates
@pytest.mark.parametrize("version", ["2.0", "3.0"])
@pytest.mark.parametrize("spare", [0, 2])
def test_cirq_qasm_is_reread_by_qiskit_with_the_gates_unitary(
    gate: cirq.Gate, version: str, spare: int
) -> None:
    qubits = cirq.LineQubit.range(gate.num_qubits() + spare)
    circuit = cirq.Circuit(gate.on(*qubits[: gate.num_qubits()]))
    circuit.append(cirq.I.on_each(qubits[gate.num_qubits() :]))
    actual = _qiskit_unitary(_cirq_qasm(circuit, version), version)
    expected = circuit.unitary(qubit_order=qubits)
    # With nothing to borrow, 2.0 falls back to cirq's ancilla-free decomposition, whose
    # global phase gates QASM 2.0 cannot write; everything else is exact, phase included.
    if version == "2.0" and not spare:
        cirq.testing.assert_allclose_up_to_global_phase(actual, expected, atol=QASM_ATOL)
    else:
        np.testing.assert_allclose(actual, expected, atol=QASM_ATOL)


@pytest.mark.parametrize("version", ["2.0", "3.0"])
def test_cirq_qasm_of_a_block_encoding_declares_no_work_qubits(version: str) -> None:
    encoding, _ = _small_qsvt()
    text = _cirq_qasm(encoding.circuit, version)
    assert "_c(" not in text and "qrtc_work" not in text
    order = sorted(encoding.circuit.all_qubits())
    np.testing.assert_allclose(
        _qiskit_unitary(text, version), encoding.circuit.unitary(qubit_order=order), atol=QASM_ATOL
    )
