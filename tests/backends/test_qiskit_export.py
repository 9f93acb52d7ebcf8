"""``to_qiskit``: named registers from the IR, and Qiskit's ``Operator`` equal to ``cirq.unitary``.

Qiskit computes the operator from its own gate matrices (``MCXGate``, controlled ``RYGate``,
...); cirq from the gates' ``_apply_unitary_``. Qiskit is little-endian, so its operator is
compared after ``reverse_qargs()``. Both are exact in double precision: the circuits here have
fewer than 10^3 gates, so the entries agree to ~1e-13; atol 1e-9 leaves room and still catches
any wrong gate (entries of size ~0.1 and up).
"""

from __future__ import annotations

import sys

import cirq
import numpy as np
import pytest
from test_qsvt_qasm import small_qsvt  # one hand-built QSVT for both exporters

from qrtc.backends.qiskit_export import to_qiskit
from qrtc.circuits.time_register import BlockTypeOracle, MixedRadixIncrement
from qrtc.errors import BackendError

quantum_info = pytest.importorskip("qiskit.quantum_info")

ATOL = 1e-9


def _operator(circuit: object) -> np.ndarray:
    return np.asarray(quantum_info.Operator(circuit).reverse_qargs().data)


def test_block_encoding_registers_and_unitary() -> None:
    encoding = small_qsvt().encoding
    exported = to_qiskit(encoding)
    expected = [(r.name, len(r)) for r in (*encoding.ancillas, *encoding.system)]
    assert [(r.name, r.size) for r in exported.qregs] == expected
    np.testing.assert_allclose(
        _operator(exported), encoding.circuit.unitary(qubit_order=encoding.qubit_order), atol=ATOL
    )


def test_qsvt_registers_follow_the_ir_qubit_order_and_the_state_matches() -> None:
    qsvt = small_qsvt(dim=2)
    exported = to_qiskit(qsvt)
    names = [r.name for r in exported.qregs]
    encoding = qsvt.encoding
    assert names == [
        "qsvt_branch",
        "qsvt_signal",
        *(r.name for r in (*encoding.ancillas, *encoding.system)),
    ]
    assert exported.num_qubits == qsvt.n_qubits
    # A random input state, rather than every column: the operator of 2^n columns is slow.
    rng = np.random.default_rng(5)
    state = rng.normal(size=1 << qsvt.n_qubits) + 1j * rng.normal(size=1 << qsvt.n_qubits)
    state /= np.linalg.norm(state)
    start = quantum_info.Statevector(state).reverse_qargs()
    final = start.evolve(exported).reverse_qargs().data
    expected = cirq.Simulator(dtype=np.complex128).simulate(
        qsvt.circuit, qubit_order=qsvt.qubit_order, initial_state=state
    )
    np.testing.assert_allclose(final, expected.final_state_vector, atol=ATOL)


def test_bare_circuit_gets_one_register_per_name_prefix() -> None:
    a = [cirq.NamedQubit(f"time[{k}]") for k in range(3)]
    flag, line = cirq.NamedQubit("flag"), cirq.LineQubit(0)
    circuit = cirq.Circuit(
        MixedRadixIncrement(2, 1, (1,)).on(flag, a[0], a[1]),
        BlockTypeOracle(1, 2, 1, 3).on(a[1], a[2], line, flag),
        cirq.CZ(a[2], line) ** 0.3,
        cirq.GlobalPhaseGate(1j).on(),
    )
    exported = to_qiskit(circuit)
    assert [(r.name, r.size) for r in exported.qregs] == [("flag", 1), ("time", 3), ("q", 1)]
    order = [flag, *a, line]
    np.testing.assert_allclose(_operator(exported), circuit.unitary(qubit_order=order), atol=ATOL)


def test_missing_qiskit_is_a_backend_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "qiskit", None)
    with pytest.raises(BackendError, match="needs Qiskit"):
        to_qiskit(cirq.Circuit(cirq.X(cirq.LineQubit(0))))
