r"""A compiled circuit as a ``qiskit.QuantumCircuit`` with one named register per IR register.

Qiskit is an optional dependency (``pip install 'qrtc[qiskit]'``), imported only when
:func:`to_qiskit` runs.

**Registers.** One ``QuantumRegister`` per register of the IR, in the order of
:mod:`qrtc.backends.registers`: for a ``QsvtCircuit`` ``qsvt_branch``, ``qsvt_signal``, the
encoding's ancilla registers (``out``, ``row_index``, ..., or ``lcu``, ``block_type``, ... for
the structured encoding), then its system registers; for a ``BlockEncoding`` its ancillas then
its system; for a bare ``cirq.Circuit`` one register per qubit-name prefix (``sys[3]`` is qubit
3 of ``sys``). Work qubits that the lowering needs (none for the shipped examples) come last,
in ``work``, and must start and end in $|0\rangle$.

**Gates.** The circuit is lowered as for simulation
(:func:`qrtc.backends.simulate.lower_for_simulation`): the package's multi-controlled X and
$R_y$ gates become Qiskit's ``MCXGate`` / controlled ``RYGate`` with their ``ctrl_state``,
``H``/``R_z``/``CX``/... map to the Qiskit gates of the same matrix, anything else becomes a
``UnitaryGate`` of ``cirq.unitary`` (exact). Global phase is kept (``QuantumCircuit.global_phase``).

**Endianness.** Qiskit qubit $k$ of the circuit is the $k$-th qubit of the register order above,
which cirq treats as the *most* significant; Qiskit's ``Statevector`` is little-endian, so
``Statevector(qc).reverse_qargs().data`` equals cirq's state vector over the same order
(``qubit_order`` of the IR, then the work qubits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cirq
import numpy as np

from qrtc.backends.registers import (
    Exportable,
    circuit_and_registers,
    unique_identifiers,
    with_work_register,
)
from qrtc.backends.simulate import lower_for_simulation
from qrtc.errors import BackendError
from qrtc.ir.block_encoding import BlockEncoding
from qrtc.ir.qsvt import QsvtCircuit

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

__all__ = ["to_qiskit"]

# Above this many qubits an operation with no Qiskit counterpart is decomposed, not written as
# a dense matrix.
_MAX_UNITARY_QUBITS = 3


def to_qiskit(circuit_or_ir: Exportable) -> QuantumCircuit:
    """The circuit as a ``qiskit.QuantumCircuit`` with named registers (module docstring).

    Args:
        circuit_or_ir: a ``QsvtCircuit`` or ``BlockEncoding`` (registers from the IR) or a bare
            ``cirq.Circuit`` (registers from the qubit names).

    Raises:
        BackendError: Qiskit is not installed, the circuit has symbolic parameters, or an
            operation can be neither lowered nor written as a matrix.
    """
    try:
        import qiskit
    except ImportError:
        raise BackendError(
            "to_qiskit needs Qiskit, which is not installed",
            hint="pip install 'qrtc[qiskit]' (or pip install qiskit)",
        ) from None
    circuit, registers = circuit_and_registers(circuit_or_ir)
    if cirq.is_parameterized(circuit):
        raise BackendError(
            "the circuit has unresolved symbolic parameters; Qiskit export needs numbers",
            hint="resolve them first with cirq.resolve_parameters(circuit, values)",
        )
    try:
        lowered = lower_for_simulation(circuit)
    except ValueError as error:
        raise BackendError(f"cannot export the circuit to Qiskit: {error}") from None
    registers = with_work_register(registers, lowered.all_qubits())
    names = unique_identifiers(registers)
    quantum_registers = [
        qiskit.QuantumRegister(len(r), name) for r, name in zip(registers, names, strict=True)
    ]
    result = qiskit.QuantumCircuit(*quantum_registers, name=_name(circuit_or_ir))
    bits = {
        qubit: quantum_register[k]
        for register, quantum_register in zip(registers, quantum_registers, strict=True)
        for k, qubit in enumerate(register.qubits)
    }
    append = _Appender(result, bits)
    for op in lowered.all_operations():
        append(op)
    return result


def _name(value: Exportable) -> str:
    if isinstance(value, QsvtCircuit):
        return "qsvt"
    if isinstance(value, BlockEncoding):
        return "block_encoding"
    return "circuit"


class _Appender:
    """Appends cirq operations to a Qiskit circuit, caching the Qiskit gate objects."""

    def __init__(self, circuit: QuantumCircuit, bits: dict[cirq.Qid, Any]) -> None:
        from qiskit.circuit import library

        self._library = library
        self._circuit = circuit
        self._bits = bits
        self._gates: dict[tuple[object, ...], Any] = {}
        simple: dict[cirq.Gate, Callable[[], Any]] = {
            cirq.H: library.HGate,
            cirq.X: library.XGate,
            cirq.Y: library.YGate,
            cirq.Z: library.ZGate,
            cirq.S: library.SGate,
            cirq.T: library.TGate,
            cirq.CNOT: library.CXGate,
            cirq.CZ: library.CZGate,
            cirq.TOFFOLI: library.CCXGate,
            cirq.SWAP: library.SwapGate,
            cirq.CSWAP: library.CSwapGate,
        }
        self._simple = simple

    def __call__(self, op: cirq.Operation) -> None:
        gate = op.gate
        if isinstance(gate, cirq.GlobalPhaseGate):
            self._circuit.global_phase += float(np.angle(complex(gate.coefficient)))
            return
        qiskit_gate = self._gate(op)
        if qiskit_gate is not None:
            self._circuit.append(qiskit_gate, [self._bits[q] for q in op.qubits], copy=False)
            return
        if cirq.num_qubits(op) <= _MAX_UNITARY_QUBITS and cirq.has_unitary(op):
            matrix = cirq.unitary(op)
            # UnitaryGate reads its first qubit as the least significant: reverse cirq's order.
            qubits = [self._bits[q] for q in reversed(op.qubits)]
            self._circuit.append(self._library.UnitaryGate(matrix), qubits, copy=False)
            return
        parts = cirq.decompose_once(op, None)
        if parts is None:
            raise BackendError(f"cannot export {op!r} to Qiskit: no matrix, no decomposition")
        for part in parts:
            self(part)

    def _gate(self, op: cirq.Operation) -> Any:
        gate = op.gate
        if gate is None:
            return None
        if gate in self._simple:
            key: tuple[object, ...] = (gate,)
            if key not in self._gates:
                self._gates[key] = self._simple[gate]()
            return self._gates[key]
        sub: cirq.Gate = gate
        values: tuple[int, ...] = ()
        if isinstance(gate, cirq.ControlledGate):
            product = gate.control_values
            if not isinstance(product, cirq.ProductOfSums) or any(len(v) != 1 for v in product):
                return None
            values = tuple(int(v[0]) for v in product)
            sub = gate.sub_gate
        base: tuple[object, ...]
        if sub == cirq.X:
            base = ("x",)
        elif isinstance(sub, cirq.Rx | cirq.Ry | cirq.Rz):
            base = (type(sub).__name__, float(sub._rads))
        else:
            return None
        key = (*base, values)
        cached = self._gates.get(key)
        if cached is None:
            cached = self._gates[key] = self._controlled(base, values)
        return cached

    def _controlled(self, base: tuple[object, ...], values: tuple[int, ...]) -> Any:
        library = self._library
        if base[0] == "x":
            qiskit_gate = library.XGate()
        else:
            kinds = {"Rx": library.RXGate, "Ry": library.RYGate, "Rz": library.RZGate}
            qiskit_gate = kinds[str(base[0])](base[1])
        if not values:
            return qiskit_gate
        # Qiskit's ctrl_state: bit k is the value of control k (the k-th qubit passed).
        state = sum(v << k for k, v in enumerate(values))
        return qiskit_gate.control(len(values), ctrl_state=state, annotated=False)
