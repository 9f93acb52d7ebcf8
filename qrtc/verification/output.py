r"""The rungs of what leaves the compiler: the OpenQASM text of $U$ and its resource counts.

* **qasm**: $U$ decomposed to primitive gates, written as OpenQASM 2.0, re-read by Qiskit's
  ``qasm2`` reader; the re-read circuit (Qiskit's gates, qubits and angles) and cirq's are run
  from the same drawn basis states by the sparse basis simulator and must give the same state.
* **resources**: gates, qubits and queries counted from $U$ and from the QSVT circuit against
  the analytic formulas of :mod:`qrtc.resources.formulas`.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import cirq

from qrtc.backends.basis_simulator import DROP_BELOW, simulate_basis
from qrtc.backends.qasm import to_qasm
from qrtc.resources.counted import (
    GateCounts,
    count_gates,
    count_resources,
    decompose_to_primitives,
)
from qrtc.resources.formulas import predict_qsvt_resources, predict_resources
from qrtc.verification.encoding import (
    PER_GATE,
    describe_key,
    largest_difference,
    system_inputs,
)
from qrtc.verification.report import Finding
from qrtc.verification.search import Case, Measurement, render_number, search
from qrtc.verification.subject import Subject, Unavailable

__all__ = ["qasm", "resources"]

# The QASM rung writes, parses and simulates at most this many primitive gates (each drawn
# input runs both circuits, ~10 us per gate).
MAX_QASM_GATES = 500_000
# Counting the primitive gates of U takes about this long per gate (memoised decompositions:
# 56 s for the 2e8 gates of examples/logistic_taylor.qrt on 2 cores).
_COUNT_SECONDS_PER_GATE = 3e-7


# -- QASM -----------------------------------------------------------------------------------------


def _qiskit_reader() -> Any:
    try:
        return importlib.import_module("qiskit.qasm2")
    except ImportError:
        raise Unavailable("Qiskit is not installed (pip install qiskit)") from None


_QISKIT_GATES: dict[str, Any] = {
    "x": lambda _: cirq.X,
    "z": lambda _: cirq.Z,
    "ry": lambda p: cirq.ry(p[0]),
    "cx": lambda _: cirq.CNOT,
    "ccx": lambda _: cirq.TOFFOLI,
    "swap": lambda _: cirq.SWAP,
    "id": lambda _: cirq.I,
}


def _reread(parsed: Any, order: Sequence[cirq.Qid]) -> cirq.Circuit:
    """Qiskit's parsed circuit as cirq operations on ``order`` (``q[i]`` is ``order[i]``)."""
    operations = []
    for instruction in parsed.data:
        name = instruction.operation.name
        if name not in _QISKIT_GATES:
            raise Unavailable(f"the basis simulator has no rule for Qiskit's {name!r}")
        params = [float(p) for p in instruction.operation.params]
        qubits = [order[parsed.find_bit(q).index] for q in instruction.qubits]
        operations.append(_QISKIT_GATES[name](params).on(*qubits))
    return cirq.Circuit(operations)


def qasm(subject: Subject, examples: int, seed: int) -> Finding:
    """OpenQASM 2.0 of $U$ re-read by Qiskit against cirq's primitive circuit."""
    reader = _qiskit_reader()
    encoding, system = subject.encoding, subject.system
    # The formula sizes the export before anything is decomposed (the resources rung checks it).
    size = predict_resources(system, method=encoding.method).gates.total
    if size > MAX_QASM_GATES:
        raise Unavailable(f"{size:,} primitive gates > limit {MAX_QASM_GATES:,}")
    circuit = decompose_to_primitives(encoding)
    work = sorted(circuit.all_qubits() - set(encoding.qubit_order), key=str)
    order = (*encoding.qubit_order, *work)
    text = to_qasm(circuit, qubit_order=order)
    parsed = reader.loads(text, custom_instructions=reader.LEGACY_CUSTOM_INSTRUCTIONS)
    reread = _reread(parsed, order)
    n_gates = len(list(circuit.all_operations()))
    tolerance = n_gates * PER_GATE + 2 * DROP_BELOW

    def measure(key: int) -> Measurement:
        start = key << len(work)
        expected = simulate_basis(circuit, order, start)
        actual = simulate_basis(reread, order, start)
        error, where, a, b = largest_difference(
            {k: complex(v) for k, v in actual.items()}, expected
        )
        return Measurement(
            error,
            tolerance,
            f"{len(parsed.data)} gates re-read of {n_gates}; at basis state {where}: Qiskit's "
            f"circuit gives {render_number(a)}, cirq's {render_number(b)}"
            if where >= 0
            else "",
        )

    outcome = search(
        system_inputs(encoding, system),
        measure,
        describe=lambda key: (
            f"input {describe_key(encoding, system, key)}, ancillas and {len(work)} work qubits |0>"
        ),
        examples=examples,
        seed=seed,
        shrink_calls=20,
        budget_s=subject.budget_s,
    )
    return Finding.of(
        outcome,
        f"n u_op, n = {n_gates} gates, u_op = 4u (17-digit angles, double precision) "
        "+ 2e-15 dropped amplitudes",
        detail=f"{n_gates} gates on {len(order)} qubits; both circuits simulated sparsely "
        "from basis states",
    )


# -- resources ------------------------------------------------------------------------------------


_FIELDS = ("x", "z", "rotations", "clifford_rotations", "cnot", "toffoli", "h")


def _compare(what: str, counted: GateCounts, predicted: GateCounts) -> list[tuple[str, int, int]]:
    return [
        (f"{what} {name}", getattr(counted, name), getattr(predicted, name)) for name in _FIELDS
    ]


def resources(subject: Subject, examples: int, seed: int) -> Finding:
    """Counted == formula, for one use of $U$ and for the whole QSVT circuit."""
    encoding, system = subject.encoding, subject.system
    predicted = predict_resources(system, method=encoding.method)
    estimate = predicted.gates.total * _COUNT_SECONDS_PER_GATE
    if estimate > subject.budget_s:
        raise Unavailable(
            f"counting {predicted.gates.total:,} gates would take about {estimate:.0f} s > "
            f"budget {subject.budget_s:g} s"
        )
    counted = count_resources(encoding, depth_limit=0)
    quantities = _compare("U", counted.gates, predicted.gates)
    for name in sorted(set(counted.qubits) | set(predicted.qubits)):
        quantities.append(
            (f"U qubits[{name}]", counted.qubits.get(name, 0), predicted.qubits.get(name, 0))
        )
    for name in sorted(set(counted.queries) | set(predicted.queries)):
        quantities.append(
            (f"U queries[{name}]", counted.queries.get(name, 0), predicted.queries.get(name, 0))
        )
    note = ""
    try:
        qsvt = subject.qsvt
    except Unavailable as reason:
        note = f"QSVT circuit not built ({reason}): U only"
    else:
        gates, work = count_gates(qsvt.circuit)
        whole = predict_qsvt_resources(system, qsvt.phases, method=encoding.method)
        quantities += _compare("QSVT", gates, whole.gates)
        quantities.append(("QSVT work qubits", work, whole.qubits["work"]))
        quantities.append(("QSVT qubits", qsvt.n_qubits + work, whole.total_qubits))
        quantities.append(("QSVT queries to U", qsvt.queries, whole.queries["U"]))
    mismatches = [(name, a, b) for name, a, b in quantities if a != b]
    error = float(max((abs(a - b) for _, a, b in quantities), default=0))
    measurement = Measurement(error, 0.0)
    failure = None
    counterexample = None
    if mismatches:
        lines = [f"{name}: counted {a:,}, formula {b:,}" for name, a, b in mismatches]
        failure = Case(lines[0], measurement)
        counterexample = "\n".join(lines)
    return Finding(
        cases=len(quantities),
        worst=measurement,
        failure=failure,
        tolerance_source="exact: integer counts from two independent sources",
        detail=note,
        counterexample=counterexample,
    )
