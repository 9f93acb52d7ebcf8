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
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cirq
import numpy as np
from numpy.typing import NDArray

from qrtc.backends.registers import (
    Exportable,
    circuit_and_registers,
    unique_identifiers,
    with_work_register,
)
from qrtc.backends.simulate import lower_for_simulation
from qrtc.circuits._native import qasm_program
from qrtc.errors import BackendError
from qrtc.ir.block_encoding import BlockEncoding, Register
from qrtc.ir.qsvt import QsvtCircuit

__all__ = [
    "QasmVersion",
    "RegisterQasm",
    "supported_versions",
    "to_qasm",
    "input_state",
    "to_register_qasm",
    "write_encoding_qasm",
    "write_qasm",
    "write_qsvt_qasm",
]

QasmVersion = Literal["2.0", "3.0"]
_KNOWN_VERSIONS: tuple[QasmVersion, ...] = ("2.0", "3.0")

# Digits after the decimal point of each angle (in half turns): 17 keeps every float to within
# 5e-18, so 40 gates re-read by Qiskit still agree with cirq far below atol 1e-8.
_PRECISION = 17

# cirq writes X**-0.5 as `sxdg`, defined in qelib1.inc but not in OpenQASM 3's stdgates.inc.
_SXDG_STATEMENT = re.compile(r"^sxdg (q\[\d+\]);$", flags=re.MULTILINE)

_GLOBAL_PHASE_WARNING = "OpenQASM 2.0 does not support global phase"

_SUFFIXES: tuple[tuple[QasmVersion, str], ...] = (("2.0", "qasm"), ("3.0", "qasm3"))

# The same, on any register (to_register_qasm names registers after the IR's).
_SXDG_ON_REGISTER = re.compile(r"^sxdg (\w+\[\d+\]);$", flags=re.MULTILINE)


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


@dataclass(frozen=True, slots=True)
class RegisterQasm:
    """OpenQASM text with one named register per IR register.

    Attributes:
        text: the program, ending in a newline.
        registers: the declared registers in order (the lowering's work qubits last, as
            ``work``), each most significant qubit first.
        names: the identifier each register is declared under, same order.
    """

    text: str
    registers: tuple[Register, ...]
    names: tuple[str, ...]

    @property
    def qubit_order(self) -> tuple[cirq.Qid, ...]:
        """Every declared qubit, in declaration order (the first is most significant in cirq)."""
        return tuple(q for r in self.registers for q in r.qubits)


def to_register_qasm(
    value: Exportable, *, version: QasmVersion = "2.0", header: str = ""
) -> RegisterQasm:
    r"""The circuit as OpenQASM with one named register per register of its IR.

    Unlike :func:`to_qasm` (one flat register ``q``, the gates decomposed to Toffoli ladders on
    clean work qubits), the circuit is lowered as for simulation
    (:func:`qrtc.backends.simulate.lower_for_simulation`): multi-controlled X and $R_y$ gates
    without work qubits, written with a ``ctrl(n)`` modifier in OpenQASM 3.0 and in 2.0 as
    Toffolis on borrowed qubits, one ``gate qrtc_c<c>x_b<b>`` definition per shape
    (:mod:`qrtc.circuits._native`); negative controls are flipped with ``x``. Both are exact,
    global phase included (the lowering of the package's gates adds none). Registers and their
    order: :mod:`qrtc.backends.registers`. Gate names as :func:`to_qasm` (read 2.0 with
    ``qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS``, 3.0 with ``qiskit.qasm3.loads``).

    Args:
        value: a ``QsvtCircuit``, a ``BlockEncoding`` or a bare ``cirq.Circuit``.
        version: ``"2.0"`` or ``"3.0"``.
        header: written first, each line as a ``//`` comment.

    Raises:
        BackendError: an unknown version, symbolic parameters, or an operation that has no
            QASM form.
    """
    _check_version(version)
    circuit, registers = circuit_and_registers(value)
    if cirq.is_parameterized(circuit):
        raise BackendError(
            "the circuit has unresolved symbolic parameters; QASM needs numbers",
            hint="resolve them first with cirq.resolve_parameters(circuit, values)",
        )
    try:
        lowered = lower_for_simulation(circuit)
    except ValueError as error:
        raise BackendError(f"cannot write the circuit as OpenQASM {version}: {error}") from None
    registers = with_work_register(registers, lowered.all_qubits())
    names = unique_identifiers(registers)
    qubit_id_map = {
        qubit: f"{name}[{k}]"
        for register, name in zip(registers, names, strict=True)
        for k, qubit in enumerate(register.qubits)
    }
    args = cirq.QasmArgs(precision=_PRECISION, version=version, qubit_id_map=qubit_id_map)
    try:
        definitions, body = qasm_program(lowered.all_operations(), args)
    except (ValueError, TypeError) as error:
        raise BackendError(f"cannot write the circuit as OpenQASM {version}: {error}") from None
    if version == "3.0":
        body = _SXDG_ON_REGISTER.sub(r"inv @ sx \1;", body)
    lines = [f"// {line}".rstrip() for line in header.splitlines()]
    if version == "3.0":
        lines += ["OPENQASM 3.0;", 'include "stdgates.inc";', ""]
        lines += [f"qubit[{len(r)}] {n};" for r, n in zip(registers, names, strict=True)]
    else:
        lines += ["OPENQASM 2.0;", 'include "qelib1.inc";', ""]
        if definitions:
            lines += [definitions]
        lines += [f"qreg {n}[{len(r)}];" for r, n in zip(registers, names, strict=True)]
    text = "\n".join(lines) + "\n\n" + body
    return RegisterQasm(text=text, registers=registers, names=names)


def input_state(
    qsvt: QsvtCircuit, rhs: NDArray[np.floating] | NDArray[np.complexfloating]
) -> NDArray[np.complex128]:
    r"""The QSVT circuit's input $|0\rangle_{\rm anc}\,|b\rangle/\|b\|$ over ``qsvt.qubit_order``.

    Args:
        qsvt: the circuit.
        rhs: $b$, shape ``(k,)`` with $k \le \dim A$: entry $i$ goes to the system basis state
            $e(i)$ (``encoding.embedded_indices()``); the ancillas are the most significant
            qubits and stay $|0\rangle$.

    Returns:
        The state vector, shape ``(2**qsvt.n_qubits,)``, big-endian over ``qubit_order``.

    Raises:
        BackendError: ``rhs`` is not a non-zero vector of at most ``dim`` entries.
    """
    vector = np.asarray(rhs)
    indices = qsvt.encoding.embedded_indices()
    norm = float(np.linalg.norm(vector)) if vector.ndim == 1 else 0.0
    if vector.ndim != 1 or len(vector) > len(indices) or not norm > 0 or not np.isfinite(norm):
        raise BackendError(
            f"the right-hand side must be a non-zero finite vector of at most {len(indices)} "
            f"entries, not shape {vector.shape}"
        )
    state = np.zeros(1 << qsvt.n_qubits, dtype=np.complex128)
    state[indices[: len(vector)]] = vector / norm
    return state


def write_qsvt_qasm(
    qsvt: QsvtCircuit,
    initial_state: NDArray[np.complexfloating] | NDArray[np.floating],
    directory: Path,
    *,
    name: str,
) -> list[Path]:
    r"""The inversion circuit $C$ as OpenQASM 2.0 and 3.0, its input $|b\rangle$ and cirq JSON.

    Writes ``<name>.qsvt.qasm`` and ``<name>.qsvt.qasm3`` (:func:`to_register_qasm`: one
    register per IR register, the header documenting the registers, the input and the
    post-selection), ``<name>.b.npy`` (the input state over every declared qubit, complex128,
    shape ``(2**n,)``, first declared qubit most significant, work qubits $|0\rangle$) and
    ``<name>.qsvt.json`` (``cirq.to_json`` of the gate-level circuit; read it back with
    :func:`qrtc.circuits.read_json`).

    Args:
        qsvt: the circuit.
        initial_state: the input over ``qsvt.qubit_order``, shape ``(2**qsvt.n_qubits,)``,
            unit norm (:func:`input_state` builds it from $b$).
        directory: created if missing.
        name: file name stem.

    Returns:
        The paths written, in the order above (a QASM version the installed cirq cannot
        write is left out).

    Raises:
        BackendError: a bad ``initial_state``, or a file that cannot be written.
    """
    state = np.asarray(initial_state, dtype=np.complex128)
    if state.shape != (1 << qsvt.n_qubits,) or not math.isclose(
        float(np.linalg.norm(state)), 1.0, abs_tol=1e-9
    ):
        raise BackendError(
            f"initial_state must be a unit vector of shape ({1 << qsvt.n_qubits},) over "
            f"qsvt.qubit_order, not shape {state.shape}",
            hint="build it from b with qrtc.backends.qasm.input_state(qsvt, b)",
        )
    written: list[Path] = []
    programs: dict[str, RegisterQasm] = {}
    for version, suffix in _SUFFIXES:
        if version in supported_versions():
            program = to_register_qasm(
                qsvt, version=version, header=_qsvt_header(qsvt, name, version)
            )
            programs[version] = program
            written.append(_write_text(directory / f"{name}.qsvt.{suffix}", program.text))
    declared = next(iter(programs.values())).qubit_order if programs else qsvt.qubit_order
    n_work = len(declared) - qsvt.n_qubits
    full = np.kron(state, np.eye(1, 1 << n_work, 0, dtype=np.complex128).ravel())
    written.append(_write_bytes(directory / f"{name}.b.npy", lambda path: np.save(path, full)))
    written.append(_write_text(directory / f"{name}.qsvt.json", cirq.to_json(qsvt.circuit)))
    return written


def _qsvt_header(qsvt: QsvtCircuit, name: str, version: str) -> str:
    encoding = qsvt.encoding
    _, registers = circuit_and_registers(qsvt)
    system = {q for r in encoding.system for q in r.qubits}
    lines = [
        f"{name}: QSVT inversion circuit C (OpenQASM {version}) over the {encoding.method} "
        f"block encoding U, alpha = {encoding.alpha!r}",
        f"odd polynomial P of degree {qsvt.degree} ({qsvt.queries} uses of U or U^dagger), "
        f"P(x) ~ s/x with s = {qsvt.scale!r}, sign = {qsvt.sign:+.0f}",
        "registers, in declaration order; the first qubit declared is the most significant "
        "(cirq's order; Qiskit's Statevector is little-endian, use reverse_qargs()):",
    ]
    start = 0
    for register in registers:
        role = (
            "system: the matrix index e(i)"
            if register.qubits[0] in system
            else f"post-select {qsvt.postselect[register.qubits[0]]}"
        )
        lines.append(
            f"  {register.name}[{len(register)}]  bits {start}..{start + len(register) - 1}  {role}"
        )
        start += len(register)
    lines += [
        "  work qubits, if declared after these: clean, |0> in and out",
        "input |b>: every qubit |0> except the system register, which holds b/|b| on the basis",
        "  states e(i), i < dim (the encoding's index map); the whole input state vector over the",
        f"  declared qubits, first most significant, is {name}.b.npy (complex128, length 2^n)",
        "output: post-select the values above; the kept system state is",
        "  sign * P(A) b/|b| ~ sign * s * alpha * L^-1 b/|b|, A = L/alpha",
        f"gate-level circuit (qrtc gates): {name}.qsvt.json (cirq JSON, qrtc.circuits.read_json)",
    ]
    if version == "2.0":
        lines.append(
            "multi-controlled gates use Toffolis on borrowed qubits (returned to their state); "
            "read with qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS"
        )
    return "\n".join(lines)


def write_encoding_qasm(encoding: BlockEncoding, directory: Path, *, name: str) -> list[Path]:
    """$U$ with one register per IR register: ``<name>.U.qasm``, ``<name>.U.qasm3`` and
    ``<name>.U.json`` (cirq JSON); :func:`to_register_qasm` for the form.

    The flat form of ``qrtc compile --emit qasm`` (``qreg q[n]``, gates decomposed to Toffoli
    ladders on work qubits) stays :func:`qrtc.backends.export.write_qasm_files`.
    """
    lines = [
        f"{name}: block encoding U ({encoding.method}), alpha = {encoding.alpha!r}",
        "<0|U|0> = L/alpha on the ancillas (all |0>), system index = index_map(matrix index)",
        "registers in declaration order, first qubit most significant: "
        + ", ".join(f"{r.name}[{len(r)}]" for r in (*encoding.ancillas, *encoding.system)),
    ]
    written = []
    for version, suffix in _SUFFIXES:
        if version in supported_versions():
            program = to_register_qasm(encoding, version=version, header="\n".join(lines))
            written.append(_write_text(directory / f"{name}.U.{suffix}", program.text))
    written.append(_write_text(directory / f"{name}.U.json", cirq.to_json(encoding.circuit)))
    return written


def _write_text(path: Path, text: str) -> Path:
    return _write_bytes(path, lambda p: p.write_text(text, encoding="utf-8", newline="\n"))


def _write_bytes(path: Path, write: Callable[[Path], object]) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
    except OSError as error:
        raise BackendError(f"cannot write '{path}': {error}") from None
    return path
