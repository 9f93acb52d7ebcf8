"""QASM export re-read by Qiskit (an independent reader) and simulated there, against cirq.

Conventions under test (see :mod:`qrtc.backends.qasm`): ``q[i]`` is ``qubit_order[i]``; cirq's
state vector is big-endian and Qiskit's little-endian, so Qiskit's is compared after
``reverse_qargs()``; global phase is compared only for circuits of phase-exact gates.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cirq
import numpy as np
import pytest
import qiskit
import qiskit.qasm2
import qiskit.qasm3
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit.quantum_info import Statevector

import qrtc
from qrtc.backends import qasm
from qrtc.backends.qasm import QasmVersion, supported_versions, to_qasm, write_qasm

# Re-reading prints angles with 17 decimals (error ~1e-16 per gate) and both simulators work in
# complex128, so 40 gates stay ~1e-14 apart: 1e-8 only leaves room for float noise, not for bugs.
ATOL = 1e-8

# Each example simulates a <= 7-qubit circuit three times; a quarter of the profile's count
# keeps the file under ~10 s on `ci` and still scales with `nightly`.
_EXAMPLES = max(10, settings.default.max_examples // 4)

_REGISTERS = ("time", "lifted", "anc_l")
_ANGLES = st.floats(-4 * math.pi, 4 * math.pi, allow_nan=False, allow_infinity=False)
_EXPONENTS = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
_SHIFTS = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)

# Gates whose QASM form has exactly the cirq matrix, global phase included.
_EXACT_GATES: st.SearchStrategy[cirq.Gate] = st.one_of(
    st.sampled_from(
        [
            *(cirq.X, cirq.Y, cirq.Z, cirq.H, cirq.S, cirq.S**-1, cirq.T, cirq.T**-1, cirq.I),
            *(cirq.X**0.5, cirq.X**-0.5),  # sx, and sxdg (rewritten for OpenQASM 3.0)
            *(cirq.CNOT, cirq.CZ, cirq.SWAP, cirq.TOFFOLI, cirq.CSWAP),
        ]
    ),
    _ANGLES.map(cirq.rx),
    _ANGLES.map(cirq.ry),
    _ANGLES.map(cirq.rz),
)

# Gates exported up to a global phase (module docstring, "Global phase").
_PHASE_GATES: st.SearchStrategy[cirq.Gate] = st.one_of(
    *(
        st.builds(pow_gate, exponent=_EXPONENTS, global_shift=_SHIFTS)
        for pow_gate in (cirq.XPowGate, cirq.YPowGate, cirq.ZPowGate)
    ),
    _ANGLES.map(lambda angle: cirq.GlobalPhaseGate(np.exp(1j * angle))),
)


@st.composite
def _qubits(draw: st.DrawFn) -> list[cirq.Qid]:
    """1-7 qubits: a LineQubit row, or NamedQubits like ``time[0]`` spread over registers."""
    count = draw(st.integers(1, 7))
    if draw(st.booleans()):
        return list(cirq.LineQubit.range(count))
    registers = draw(st.lists(st.sampled_from(_REGISTERS), min_size=count, max_size=count))
    return [
        cirq.NamedQubit(f"{register}[{registers[:i].count(register)}]")
        for i, register in enumerate(registers)
    ]


@st.composite
def _circuits(draw: st.DrawFn, *, phase_exact: bool) -> tuple[cirq.Circuit, list[cirq.Qid]]:
    """A random primitive-gate circuit (<= 40 gates) and its qubits, idle ones included."""
    qubits = draw(_qubits())
    gates = _EXACT_GATES if phase_exact else st.one_of(_EXACT_GATES, _PHASE_GATES)
    fitting = gates.filter(lambda gate: cirq.num_qubits(gate) <= len(qubits))
    operations = [
        gate.on(*draw(st.permutations(qubits))[: cirq.num_qubits(gate)])
        for gate in draw(st.lists(fitting, max_size=40))
    ]
    return cirq.Circuit(operations), qubits


def _read_back(text: str, version: QasmVersion) -> qiskit.QuantumCircuit:
    if version == "2.0":
        return qiskit.qasm2.loads(text, custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    pytest.importorskip("qiskit_qasm3_import")  # qiskit.qasm3.loads needs it
    return qiskit.qasm3.loads(text)


def _require(version: QasmVersion) -> None:
    if version not in supported_versions():
        pytest.skip(f"the installed cirq cannot emit OpenQASM {version}")


def _state_vectors(
    circuit: cirq.Circuit, qubits: Sequence[cirq.Qid], version: QasmVersion
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(Qiskit's vector of the exported text, cirq's vector), both big-endian in ``qubits``."""
    text = to_qasm(circuit, version=version, qubit_order=qubits)
    actual = Statevector(_read_back(text, version)).reverse_qargs().data
    expected = circuit.final_state_vector(qubit_order=qubits, dtype=np.complex128)
    return actual, expected


def _with_inputs(
    circuit: cirq.Circuit, qubits: Sequence[cirq.Qid], bits: list[bool]
) -> tuple[cirq.Circuit, cirq.Circuit]:
    """``circuit`` from |0...0>, and from the basis state ``bits`` (prepended X gates)."""
    flips = cirq.Circuit(cirq.X(q) for q, bit in zip(qubits, bits, strict=False) if bit)
    return circuit, flips + circuit


@pytest.mark.parametrize("version", ["2.0", "3.0"])
@settings(max_examples=_EXAMPLES)
@given(case=_circuits(phase_exact=False), bits=st.lists(st.booleans(), min_size=7, max_size=7))
def test_round_trip_matches_cirq_up_to_global_phase(
    version: QasmVersion, case: tuple[cirq.Circuit, list[cirq.Qid]], bits: list[bool]
) -> None:
    _require(version)
    circuit, qubits = case
    for prepared in _with_inputs(circuit, qubits, bits):
        actual, expected = _state_vectors(prepared, qubits, version)
        cirq.testing.assert_allclose_up_to_global_phase(actual, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("version", ["2.0", "3.0"])
@settings(max_examples=_EXAMPLES)
@given(case=_circuits(phase_exact=True), bits=st.lists(st.booleans(), min_size=7, max_size=7))
def test_phase_exact_gates_round_trip_with_global_phase(
    version: QasmVersion, case: tuple[cirq.Circuit, list[cirq.Qid]], bits: list[bool]
) -> None:
    _require(version)
    circuit, qubits = case
    for prepared in _with_inputs(circuit, qubits, bits):
        actual, expected = _state_vectors(prepared, qubits, version)
        np.testing.assert_allclose(actual, expected, atol=ATOL, rtol=0)


def test_pow_gates_differ_by_the_documented_global_phase() -> None:
    """``XPowGate(t, s)`` is written as ``rx(pi t)``: phase $e^{-i\\pi t (s + 1/2)}$ apart."""
    qubit = cirq.LineQubit(0)
    exponent, shift = 0.3, 0.2
    for pow_gate in (cirq.XPowGate, cirq.YPowGate, cirq.ZPowGate):
        circuit = cirq.Circuit(
            cirq.H(qubit), pow_gate(exponent=exponent, global_shift=shift)(qubit)
        )
        actual, expected = _state_vectors(circuit, [qubit], "2.0")
        phase = np.exp(-1j * np.pi * exponent * (shift + 0.5))
        np.testing.assert_allclose(actual, phase * expected, atol=ATOL, rtol=0)


def test_emits_cirq_text_with_header_and_no_version_line() -> None:
    time0, anc = cirq.NamedQubit("time[0]"), cirq.NamedQubit("anc_l[1]")
    circuit = cirq.Circuit(
        cirq.H(time0),
        cirq.X(anc) ** -0.5,
        cirq.GlobalPhaseGate(1j).on(),
        cirq.CNOT(time0, anc),
        cirq.ry(0.25 * np.pi)(anc),
    )
    body = (
        "\n\n// Qubits: [anc_l[1], time[0]]\n{qreg}\n\n\n"
        "h q[1];\n{sxdg} q[0];\ncx q[1],q[0];\nry(pi*0.25) q[0];\n"
    )
    header = "spec: demo.qrt\nq[i] = qubit_order[i]"
    expected_2 = (
        '// spec: demo.qrt\n// q[i] = qubit_order[i]\n\nOPENQASM 2.0;\ninclude "qelib1.inc";\n'
        + body.format(qreg="qreg q[2];", sxdg="sxdg")
    )
    assert to_qasm(circuit, header=header) == expected_2
    expected_3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n' + body.format(
        qreg="qubit[2] q;", sxdg="inv @ sx"
    )
    if "3.0" in supported_versions():
        assert to_qasm(circuit, version="3.0") == expected_3


def test_output_is_byte_stable() -> None:
    def build() -> cirq.Circuit:
        q = [cirq.NamedQubit(f"lifted[{i}]") for i in range(3)]
        return cirq.Circuit(
            cirq.ry(1.2345678901234567)(q[0]),
            cirq.ZPowGate(exponent=1 / 3)(q[1]),
            cirq.TOFFOLI(*q),
            cirq.CSWAP(q[2], q[0], q[1]),
        )

    for version in supported_versions():
        first = to_qasm(build(), version=version, header="golden")
        assert to_qasm(build(), version=version, header="golden") == first
        assert "Cirq" not in first and first.startswith("// golden\n\nOPENQASM")


def test_qubit_order_is_respected() -> None:
    a, b, idle = cirq.NamedQubit("time[0]"), cirq.NamedQubit("time[1]"), cirq.LineQubit(5)
    circuit = cirq.Circuit(cirq.X(a), cirq.ry(0.7)(b), cirq.CNOT(a, b))  # not symmetric in a, b
    default = to_qasm(circuit)
    assert default == to_qasm(circuit, qubit_order=sorted(circuit.all_qubits()))
    assert "x q[0];" in default
    swapped = to_qasm(circuit, qubit_order=[b, a, idle])
    assert "// Qubits: [time[1], time[0], q(5)]\nqreg q[3];" in swapped and "x q[1];" in swapped
    for order in ([a, b, idle], [b, a, idle]):
        actual, expected = _state_vectors(circuit, order, "2.0")
        np.testing.assert_allclose(actual, expected, atol=ATOL, rtol=0)
    forward, _ = _state_vectors(circuit, [a, b, idle], "2.0")
    backward, _ = _state_vectors(circuit, [b, a, idle], "2.0")
    assert not np.allclose(forward, backward, atol=1e-3)


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (["a", "a", "b"], "qubit_order lists a more than once"),
        (["a"], "qubit_order leaves out b, used by the circuit"),
    ],
)
def test_bad_qubit_order_raises(order: list[str], message: str) -> None:
    circuit = cirq.Circuit(cirq.CZ(cirq.NamedQubit("a"), cirq.NamedQubit("b")))
    with pytest.raises(qrtc.BackendError, match=message):
        to_qasm(circuit, qubit_order=[cirq.NamedQubit(name) for name in order])


class OpaqueOracle(cirq.Gate):
    """A gate with no matrix, no decomposition and no QASM: nothing can write it."""

    def _num_qubits_(self) -> int:
        return 3

    def __str__(self) -> str:
        return "OpaqueOracle"


@pytest.mark.parametrize("version", ["2.0", "3.0"])
def test_unwritable_gate_raises_naming_it(version: QasmVersion) -> None:
    _require(version)
    q = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(cirq.H(q[0]), OpaqueOracle().on(*q))
    with pytest.raises(qrtc.BackendError, match=rf"OpaqueOracle .*OpenQASM {version}") as info:
        to_qasm(circuit, version=version)
    assert info.value.hint is not None and "cirq.decompose" in info.value.hint


def test_three_qubit_matrix_gate_is_decomposed_silently() -> None:
    """cirq 1.7 decomposes it (with global-phase gates inside, dropped without a warning)."""
    q = cirq.LineQubit.range(3)
    gate = cirq.MatrixGate(cirq.testing.random_unitary(8, random_state=7))
    circuit = cirq.Circuit(gate.on(*q))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        actual, expected = _state_vectors(circuit, q, "2.0")
    cirq.testing.assert_allclose_up_to_global_phase(actual, expected, atol=ATOL, rtol=0)


def test_unsupported_version_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    circuit = cirq.Circuit(cirq.X(cirq.LineQubit(0)))
    bad_version: Any = "4.0"
    with pytest.raises(qrtc.BackendError, match="must be one of '2.0', '3.0', not '4.0'"):
        to_qasm(circuit, version=bad_version)
    monkeypatch.setattr(qasm, "supported_versions", lambda: ("2.0",))
    with pytest.raises(qrtc.BackendError, match="cannot emit OpenQASM 3.0"):
        to_qasm(circuit, version="3.0")


def test_symbolic_parameters_raise() -> None:
    import sympy

    circuit = cirq.Circuit(cirq.rx(sympy.Symbol("theta"))(cirq.LineQubit(0)))
    with pytest.raises(qrtc.BackendError, match="symbolic parameters"):
        to_qasm(circuit)


def test_supported_versions_include_2_0() -> None:
    assert supported_versions()[0] == "2.0"
    assert set(supported_versions()) <= {"2.0", "3.0"}


def test_write_qasm_writes_to_qasm_text(tmp_path: Path) -> None:
    circuit = cirq.Circuit(cirq.SWAP(*cirq.LineQubit.range(2)))
    path = write_qasm(circuit, tmp_path / "out" / "swap.qasm", header="swap")
    assert path == tmp_path / "out" / "swap.qasm"
    assert path.read_bytes() == to_qasm(circuit, header="swap").encode()
