"""Named registers of a circuit to export, from its IR or from its qubit names.

Exporters (:mod:`qrtc.backends.qasm`, :mod:`qrtc.backends.qiskit_export`) declare one register
per :class:`~qrtc.ir.block_encoding.Register`, in this order, each most significant qubit first:

* a ``QsvtCircuit``: the qubits outside the encoding (``qsvt_branch``, ``qsvt_signal``), then
  the encoding's ancilla registers, then its system registers (the IR's ``qubit_order``);
* a ``BlockEncoding``: its ancilla registers, then its system registers (``qubit_order``);
* a bare ``cirq.Circuit``: one register per name prefix, ``name[k]`` being qubit ``k`` of
  register ``name``, and a name without an index is a register of one qubit; other qubits
  (``LineQubit``, ``GridQubit``) go to one register ``q`` in cirq's sorted order.

Qubits that the lowering adds (clean work qubits, :func:`qrtc.backends.simulate.work_qubit`)
come last, in a register ``work``. Register names are made valid OpenQASM identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import cirq

from qrtc.ir.block_encoding import BlockEncoding, Register
from qrtc.ir.qsvt import QsvtCircuit

__all__ = [
    "WORK_REGISTER",
    "Exportable",
    "circuit_and_registers",
    "identifier",
    "unique_identifiers",
    "with_work_register",
]

Exportable = cirq.AbstractCircuit | BlockEncoding | QsvtCircuit

WORK_REGISTER = "work"

_INDEXED = re.compile(r"^(?P<name>.+)\[(?P<index>\d+)\]$")
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


# Names a register must not take: OpenQASM 2.0/3.0 keywords and the gates of qelib1.inc and
# stdgates.inc (a register called ``x`` would hide the gate).
_RESERVED = frozenset(
    [
        "OPENQASM",
        "include",
        "qreg",
        "creg",
        "gate",
        "opaque",
        "measure",
        "reset",
        "barrier",
        "if",
        "U",
        "CX",
        "pi",
        "qubit",
        "bit",
        "int",
        "uint",
        "float",
        "angle",
        "bool",
        "complex",
        "const",
        "let",
        "def",
        "defcal",
        "extern",
        "box",
        "duration",
        "stretch",
        "delay",
        "input",
        "output",
        "for",
        "while",
        "in",
        "break",
        "continue",
        "return",
        "end",
        "ctrl",
        "negctrl",
        "inv",
        "pow",
        "gphase",
        "true",
        "false",
        "array",
        "euler",
        "tau",
        "switch",
        "case",
        "default",
        "durationof",
        "sizeof",
        "mutable",
        "readonly",
        "u0",
        "u1",
        "u2",
        "u3",
        "u",
        "p",
        "x",
        "y",
        "z",
        "h",
        "s",
        "sdg",
        "t",
        "tdg",
        "sx",
        "sxdg",
        "rx",
        "ry",
        "rz",
        "cx",
        "cy",
        "cz",
        "ch",
        "ccx",
        "crx",
        "cry",
        "crz",
        "cu1",
        "cu3",
        "cu",
        "cp",
        "cphase",
        "csx",
        "swap",
        "cswap",
        "id",
        "rxx",
        "rzz",
        "rccx",
        "rc3x",
        "c3x",
        "c3sqrtx",
        "c4x",
        "phase",
    ]
)


def identifier(name: str) -> str:
    """``name`` as an OpenQASM / Qiskit register identifier: ``[a-z][A-Za-z0-9_]*``, and no
    keyword or standard gate name."""
    text = _NOT_IDENTIFIER.sub("_", name)
    if not text[:1].islower() or not text[:1].isascii():
        text = f"r_{text}"
    return f"{text}_" if text in _RESERVED else text


def unique_identifiers(registers: Sequence[Register]) -> tuple[str, ...]:
    """:func:`identifier` of each register's name, made distinct by ``_2``, ``_3``, ... suffixes."""
    names: list[str] = []
    for register in registers:
        base = name = identifier(register.name)
        count = 1
        while name in names:
            count += 1
            name = f"{base}_{count}"
        names.append(name)
    return tuple(names)


def circuit_and_registers(value: Exportable) -> tuple[cirq.Circuit, tuple[Register, ...]]:
    """The circuit and its registers in export order (module docstring)."""
    if isinstance(value, QsvtCircuit):
        encoding = value.encoding
        inside = set(encoding.qubit_order)
        outside = [q for q in value.qubit_order if q not in inside]
        registers = (*_by_prefix(outside), *encoding.ancillas, *encoding.system)
        assert tuple(q for r in registers for q in r.qubits) == value.qubit_order
        return value.circuit, registers
    if isinstance(value, BlockEncoding):
        return value.circuit, (*value.ancillas, *value.system)
    circuit = value.unfreeze(copy=False) if isinstance(value, cirq.FrozenCircuit) else value
    assert isinstance(circuit, cirq.Circuit)
    return circuit, _by_prefix(sorted(circuit.all_qubits()))


def with_work_register(
    registers: Sequence[Register], qubits: Iterable[cirq.Qid]
) -> tuple[Register, ...]:
    """``registers`` plus a ``work`` register for the qubits of ``qubits`` they leave out."""
    declared = {q for r in registers for q in r.qubits}
    extra = sorted(set(qubits) - declared)
    if not extra:
        return tuple(registers)
    return (*registers, Register(WORK_REGISTER, tuple(extra)))


def _by_prefix(qubits: Sequence[cirq.Qid]) -> tuple[Register, ...]:
    groups: dict[str, dict[int, cirq.Qid]] = {}
    loose: list[cirq.Qid] = []
    for qubit in qubits:
        if isinstance(qubit, cirq.ops.CleanQubit) and qubit.prefix:
            # Work qubits of a decomposition (qrtc_work[k], or a manager's prefix_c(k)).
            groups.setdefault(qubit.prefix, {})[qubit.id] = qubit
            continue
        if not isinstance(qubit, cirq.NamedQubit):
            loose.append(qubit)
            continue
        match = _INDEXED.match(qubit.name)
        if match is None:
            groups.setdefault(qubit.name, {})[0] = qubit
        else:
            groups.setdefault(match["name"], {})[int(match["index"])] = qubit
    registers = [
        Register(name, tuple(members[k] for k in sorted(members)))
        for name, members in groups.items()
    ]
    if loose:
        registers.append(Register("q", tuple(loose)))
    return tuple(registers)
