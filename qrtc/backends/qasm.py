r"""OpenQASM 2.0 / 3.0 export of a primitive-gate circuit, through cirq's own QASM emitter.

The text is what ``cirq.QasmOutput`` (behind ``cirq.Circuit.to_qasm``) prints, except that
cirq's ``// Generated from Cirq vX.Y`` line is replaced by the caller's ``header`` (so goldens
do not change with the cirq version), angles get 17 decimals instead of 10 (so a re-read
circuit matches to ~1e-16 per gate, not ~1e-10), cirq's warning about dropped global phases is
silenced (documented below), and in OpenQASM 3.0 ``sxdg q[i];`` becomes ``inv @ sx q[i];``
because ``stdgates.inc`` has no ``sxdg``. The output is a pure function of the circuit,
``qubit_order``, ``version`` and ``header``: byte-stable, no dates or versions.

Conventions:
    Qubit order: QASM qubit ``q[i]`` is ``qubit_order[i]``; the default order is
    ``sorted(circuit.all_qubits())`` (cirq's natural order: ``time[9]`` before ``time[10]``).
    The line ``// Qubits: [...]`` above the register lists that order. ``qubit_order`` may name
    idle qubits that the circuit does not touch; they are still declared.

    Endianness: ``circuit.final_state_vector(qubit_order=qubit_order)`` is big-endian
    (``qubit_order[0]`` is the most significant bit of the basis index), while Qiskit's
    ``Statevector`` of the re-read circuit is little-endian (``q[0]`` is the least significant
    bit). The two vectors agree after reversing the qubit axes, e.g.
    ``Statevector(qc).reverse_qargs().data``.

    Global phase: not preserved, in either version. ``cirq.GlobalPhaseGate`` is dropped (also
    inside cirq's decompositions of non-primitive gates, without cirq's warning), and
    ``cirq.XPowGate``/``YPowGate``/``ZPowGate`` with exponent $t$ and global shift $s$, when not
    written as a named gate, become ``rx``/``ry``/``rz`` of angle $\pi t$, which differ from the
    cirq gate by the phase $e^{-i\pi t (s + 1/2)}$ (e.g. ``cirq.Z**0.3`` versus ``rz(pi*0.3)``).
    Every other primitive gate is exact, phase included: ``x y z h s sdg t tdg sx sxdg id``
    (cirq's Pauli powers with ``global_shift == 0`` and an exponent the named gate stands for,
    e.g. ``cirq.Z**-0.25`` is ``tdg``), ``cirq.rx/ry/rz`` (shift $-1/2$: the same matrices as
    Qiskit's ``RXGate``/``RYGate``/``RZGate``), and ``cx cz ccx swap cswap``. The tests compare
    state vectors up to global phase, and exactly (phase included) for circuits of exact gates.

    Gate names: OpenQASM 2.0 output uses Qiskit's extended ``qelib1.inc`` (``swap``, ``cswap``,
    ``sx``, ``sxdg`` are not in the 2.0 paper's file), so read it with
    ``qiskit.qasm2.loads(text, custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS)``.
    OpenQASM 3.0 output uses only ``stdgates.inc`` and reads with ``qiskit.qasm3.loads``.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import cirq

from qrtc.errors import BackendError

__all__ = ["QasmVersion", "supported_versions", "to_qasm", "write_qasm"]

QasmVersion = Literal["2.0", "3.0"]
_KNOWN_VERSIONS: tuple[QasmVersion, ...] = ("2.0", "3.0")

# Digits after the decimal point of each angle (in half turns): 17 keeps every float to within
# 5e-18, so 40 gates re-read by Qiskit still agree with cirq far below atol 1e-8.
_PRECISION = 17

# cirq writes X**-0.5 as `sxdg`, defined in qelib1.inc but not in OpenQASM 3's stdgates.inc.
_SXDG_STATEMENT = re.compile(r"^sxdg (q\[\d+\]);$", flags=re.MULTILINE)

_GLOBAL_PHASE_WARNING = "OpenQASM 2.0 does not support global phase"


@functools.cache
def supported_versions() -> tuple[str, ...]:
    """The OpenQASM versions the installed cirq can emit, oldest first (e.g. ``("2.0", "3.0")``)."""
    versions: list[str] = []
    for version in _KNOWN_VERSIONS:
        try:
            cirq.Circuit().to_qasm(header="", version=version)
        except (TypeError, ValueError):  # TypeError: a cirq too old to take `version` at all
            continue
        versions.append(version)
    return tuple(versions)


def to_qasm(
    circuit: cirq.Circuit,
    *,
    version: QasmVersion = "2.0",
    qubit_order: Sequence[cirq.Qid] | None = None,
    header: str = "",
) -> str:
    """The circuit as OpenQASM text; conventions (qubit order, endianness, phase) in the module doc.

    Args:
        circuit: primitive gates only (see the module docstring); no symbolic parameters.
        version: ``"2.0"`` or ``"3.0"``.
        qubit_order: ``qubit_order[i]`` becomes ``q[i]``; every qubit of the circuit, each once.
            Defaults to ``sorted(circuit.all_qubits())``.
        header: written first, each line as a ``//`` comment (e.g. spec name, qubit order).

    Returns:
        The program text, ending in a newline.

    Raises:
        BackendError: unknown or unsupported version, bad ``qubit_order``, symbolic parameters,
            or an operation that has no QASM form in ``version``.
    """
    _check_version(version)
    if cirq.is_parameterized(circuit):
        raise BackendError(
            "the circuit has unresolved symbolic parameters; QASM needs numbers",
            hint="resolve them first with cirq.resolve_parameters(circuit, values)",
        )
    qubits = _qubit_register(circuit, qubit_order)
    operations = tuple(circuit.all_operations())
    try:
        text = _emit(operations, qubits, version=version, header=header)
    except ValueError:
        operation = _first_unwritable(operations, qubits, version)
        raise BackendError(
            f"cannot write {_describe(operation)} as OpenQASM {version}: it has no QASM form and "
            "cirq cannot decompose it into gates that have one",
            hint="decompose it into one- and two-qubit gates (cirq.decompose) before export",
        ) from None
    if version == "3.0":
        text = _SXDG_STATEMENT.sub(r"inv @ sx \1;", text)
    return text


def write_qasm(
    circuit: cirq.Circuit,
    path: Path,
    *,
    version: QasmVersion = "2.0",
    qubit_order: Sequence[cirq.Qid] | None = None,
    header: str = "",
) -> Path:
    """Write :func:`to_qasm` of the circuit to ``path`` (UTF-8, ``\\n`` line ends); returns it.

    Parent directories are created. Raises ``BackendError`` as :func:`to_qasm` does, or when
    the file cannot be written.
    """
    text = to_qasm(circuit, version=version, qubit_order=qubit_order, header=header)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    except OSError as error:
        raise BackendError(f"cannot write QASM file '{path}': {error}") from None
    return path


def _check_version(version: str) -> None:
    if version not in _KNOWN_VERSIONS:
        raise BackendError(
            f"OpenQASM version must be one of {', '.join(map(repr, _KNOWN_VERSIONS))}, "
            f"not {version!r}"
        )
    if version not in supported_versions():
        raise BackendError(
            f"the installed cirq {cirq.__version__} cannot emit OpenQASM {version}; it supports "
            f"{', '.join(supported_versions()) or 'none'}",
            hint="upgrade cirq-core, or ask for version '2.0'",
        )


def _qubit_register(
    circuit: cirq.Circuit, qubit_order: Sequence[cirq.Qid] | None
) -> tuple[cirq.Qid, ...]:
    if qubit_order is None:
        return tuple(sorted(circuit.all_qubits()))
    qubits = tuple(qubit_order)
    repeated = sorted(q for q, count in Counter(qubits).items() if count > 1)
    if repeated:
        raise BackendError(f"qubit_order lists {_names(repeated)} more than once")
    missing = sorted(circuit.all_qubits() - set(qubits))
    if missing:
        raise BackendError(f"qubit_order leaves out {_names(missing)}, used by the circuit")
    return qubits


def _emit(
    operations: Sequence[cirq.Operation],
    qubits: tuple[cirq.Qid, ...],
    *,
    version: str,
    header: str,
) -> str:
    output = cirq.QasmOutput(
        operations=operations,
        qubits=qubits,
        header="\n".join(header.splitlines()),  # a lone \r would end the comment line
        precision=_PRECISION,
        version=version,
    )
    with warnings.catch_warnings():
        # cirq warns on every global-phase operation it drops (also ones its decompositions make,
        # e.g. of a 3-qubit MatrixGate); dropping them is this module's documented convention.
        warnings.filterwarnings("ignore", message=_GLOBAL_PHASE_WARNING, category=UserWarning)
        return str(output)


def _first_unwritable(
    operations: Sequence[cirq.Operation], qubits: tuple[cirq.Qid, ...], version: str
) -> cirq.Operation:
    for operation in operations:
        try:
            _emit([operation], qubits, version=version, header="")
        except ValueError:
            return operation
    raise AssertionError("cirq failed on the whole circuit but on none of its operations")


def _describe(operation: cirq.Operation) -> str:
    kind = type(operation.gate if operation.gate is not None else operation).__name__
    text = str(operation)
    # MatrixGate and friends print whole matrices; the class name is then the readable part.
    if "\n" in text or len(text) > 80:
        return f"{kind} on {_names(operation.qubits)}"
    return f"{kind} {text}"


def _names(qubits: Iterable[cirq.Qid]) -> str:
    return ", ".join(str(q) for q in qubits)
