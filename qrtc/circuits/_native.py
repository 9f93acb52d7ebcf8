r"""Multi-controlled X and $R_y$ as cirq's own gates, and as OpenQASM without work qubits.

The leaf gates of the package (``MultiControlledX``, ``MultiControlledRy``, ``Increment``,
``LessThanConstant``, ``BlockTypeOracle``) can all be written, without work qubits, as a list of
``cirq.ControlledGate(X or R_y, control_values)`` operations (their
``ancilla_free_operations``). That is what simulators take (:mod:`qrtc.backends.simulate`)
and what the gates' ``_qasm_`` writes:

* OpenQASM 3.0: one line per controlled gate with ``ctrl``/``negctrl`` modifiers
  (``negctrl @ ctrl(2) @ x a[0], a[1], a[2], b[0];``), exact.
* OpenQASM 2.0 has no modifiers. Negative controls are conjugated by ``x``; an X with
  $c \ge 3$ controls becomes Toffolis on *borrowed* qubits, any other qubits of the program
  in any state, returned to it (Barenco et al. 1995, Lemma 7.2: $4(c-2)$ Toffolis with
  $c - 2$ borrowed qubits; Lemma 7.3: with fewer, split the controls in two halves around one
  borrowed qubit, each half borrowing from the other). A controlled $R_y(\theta)$ is
  $R_y(\theta/2)\,C^cX\,R_y(-\theta/2)\,C^cX$. With no qubit to borrow (the gate spans the
  whole program) cirq's ancilla-free decomposition is written instead, exact but larger.

Both forms are exact, global phase included.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import cirq

__all__ = ["AncillaFreeQasm", "controlled", "multi_controlled_x", "qasm_of_operations"]


@functools.lru_cache(maxsize=1 << 12)
def _controlled_gate(sub: cirq.Gate, values: tuple[int, ...]) -> cirq.Gate:
    return cirq.ControlledGate(sub, control_values=values) if values else sub


def controlled(
    sub: cirq.Gate, controls: Sequence[cirq.Qid], values: Sequence[int], target: cirq.Qid
) -> cirq.Operation:
    """``sub`` on ``target`` when each control equals its value (``sub`` itself with none)."""
    # GateOperation of a cached gate: ten times faster to build than ``controlled_by``, and
    # lowering builds one per table entry.
    return cirq.GateOperation(_controlled_gate(sub, tuple(values)), (*controls, target))


def _controlled_parts(
    op: cirq.Operation,
) -> tuple[cirq.Gate, Sequence[cirq.Qid], tuple[int, ...], cirq.Qid] | None:
    """(X or R_y, controls, values, target) of a multi-controlled X / R_y, else None."""
    gate = op.gate
    values: tuple[int, ...] = ()
    if isinstance(gate, cirq.ControlledGate):
        product = gate.control_values
        if not isinstance(product, cirq.ProductOfSums) or any(len(v) != 1 for v in product):
            return None
        values = tuple(int(v[0]) for v in product)
        gate = gate.sub_gate
    if gate == cirq.X or isinstance(gate, cirq.Ry):
        n = len(values)
        return gate, op.qubits[:n], values, op.qubits[n]
    if gate == cirq.CNOT:
        return cirq.X, op.qubits[:1], (1,), op.qubits[1]
    if gate == cirq.TOFFOLI:
        return cirq.X, op.qubits[:2], (1, 1), op.qubits[2]
    return None


def qasm_of_operations(operations: Iterable[cirq.Operation], args: cirq.QasmArgs) -> str:
    """OpenQASM statements (``args.version``) for the operations, on ``args.qubit_id_map``.

    Multi-controlled X and $R_y$ as in the module docstring; global phases are dropped; every
    other operation as cirq writes it (decomposed by cirq where it has no QASM form).
    """
    # A QSVT circuit repeats the operations of U and U^dagger d times: write each once.
    written: dict[cirq.Operation, str] = {}
    lines: list[str] = []
    for op in operations:
        text = written.get(op)
        if text is None:
            text = written[op] = _qasm_of_operation(op, args)
        lines.append(text)
    return "".join(lines)


def _qasm_of_operation(op: cirq.Operation, args: cirq.QasmArgs) -> str:
    if isinstance(op.gate, cirq.GlobalPhaseGate):
        return ""
    parts = _controlled_parts(op)
    if parts is None:
        return _cirq_qasm(op, args)
    sub, controls, values, target = parts
    if not controls or (sub == cirq.X and len(controls) <= 2 and all(values)):
        return _cirq_qasm(op, args)
    if args.version == "3.0":
        return _modified(sub, controls, values, target, args)
    return _borrowing(op, sub, controls, values, target, args)


def _cirq_qasm(op: cirq.Operation, args: cirq.QasmArgs) -> str:
    text = cirq.qasm(op, args=args, default=None)
    if text is not None:
        return str(text)

    def keep(candidate: cirq.Operation) -> bool:
        return cirq.qasm(candidate, args=args, default=None) is not None

    parts = cirq.decompose(op, keep=keep)
    return "".join(
        str(cirq.qasm(part, args=args))
        for part in parts
        if not isinstance(part.gate, cirq.GlobalPhaseGate)
    )


def _modified(
    sub: cirq.Gate,
    controls: Sequence[cirq.Qid],
    values: tuple[int, ...],
    target: cirq.Qid,
    args: cirq.QasmArgs,
) -> str:
    modifiers = []
    start = 0
    while start < len(values):
        stop = start
        while stop < len(values) and values[stop] == values[start]:
            stop += 1
        name = "ctrl" if values[start] else "negctrl"
        count = stop - start
        modifiers.append(f"{name} @ " if count == 1 else f"{name}({count}) @ ")
        start = stop
    if sub == cirq.X:
        name = "x"
    else:
        assert isinstance(sub, cirq.Ry)
        name = args.format("ry({0:half_turns})", float(sub.exponent))
    operands = ", ".join(args.format("{0}", q) for q in (*controls, target))
    return f"{''.join(modifiers)}{name} {operands};\n"


def _borrowing(
    op: cirq.Operation,
    sub: cirq.Gate,
    controls: Sequence[cirq.Qid],
    values: tuple[int, ...],
    target: cirq.Qid,
    args: cirq.QasmArgs,
) -> str:
    used = set(op.qubits)
    spare = [q for q in args.qubit_id_map if q not in used]
    if len(controls) >= 3 and not spare:
        return _cirq_qasm(op, args)
    negate = [cirq.X(q) for q, v in zip(controls, values, strict=True) if v == 0]
    flip = multi_controlled_x(controls, target, spare)
    body: list[cirq.Operation]
    if sub == cirq.X:
        body = flip
    else:
        assert isinstance(sub, cirq.Ry)
        half = float(sub._rads) / 2
        body = [cirq.ry(half)(target), *flip, cirq.ry(-half)(target), *flip]
    return "".join(_primitive_qasm(o, args) for o in (*negate, *body, *negate))


def _primitive_qasm(op: cirq.Operation, args: cirq.QasmArgs) -> str:
    # x / cx / ccx written directly (cirq.qasm costs ~50 us an operation; a 2.0 program of a
    # QSVT circuit has millions); the same text cirq writes.
    names = {cirq.X: "x", cirq.CNOT: "cx", cirq.TOFFOLI: "ccx"}
    name = names.get(op.gate) if op.gate is not None else None
    if name is None:
        return str(cirq.qasm(op, args=args))
    return f"{name} {','.join(args.qubit_id_map[q] for q in op.qubits)};\n"


def multi_controlled_x(
    controls: Sequence[cirq.Qid], target: cirq.Qid, borrowed: Sequence[cirq.Qid]
) -> list[cirq.Operation]:
    """X on ``target`` when every control is 1, as X, CNOT and Toffoli gates.

    ``borrowed`` are other qubits in any state, each returned to it; at least one is needed
    for 3 or more controls (module docstring).
    """
    c = len(controls)
    if c == 0:
        return [cirq.X(target)]
    if c == 1:
        return [cirq.CNOT(controls[0], target)]
    if c == 2:
        return [cirq.TOFFOLI(controls[0], controls[1], target)]
    if len(borrowed) >= c - 2:
        return _v_chain(controls, target, borrowed[: c - 2])
    assert borrowed, "a multi-controlled X with 3 or more controls needs a qubit to borrow"
    middle, rest = borrowed[0], list(borrowed[1:])
    m = c // 2 + 1
    first = multi_controlled_x(controls[:m], middle, [*controls[m:], target, *rest])
    second = multi_controlled_x([*controls[m:], middle], target, [*controls[:m], *rest])
    return [*first, *second, *first, *second]


def _v_chain(
    controls: Sequence[cirq.Qid], target: cirq.Qid, borrowed: Sequence[cirq.Qid]
) -> list[cirq.Operation]:
    # Barenco et al. 1995, Lemma 7.2: a_{k} collects x_1 .. x_{k+1} relative to its unknown
    # start; running the chain twice cancels every start state.
    c = len(controls)
    chain = [*borrowed, target]  # chain[k] receives x_{k+2} AND chain[k-1]
    top = cirq.TOFFOLI(controls[c - 1], chain[c - 3], chain[c - 2])
    down = [cirq.TOFFOLI(controls[k + 1], chain[k - 1], chain[k]) for k in range(c - 3, 0, -1)]
    bottom = cirq.TOFFOLI(controls[0], controls[1], chain[0])
    up = down[::-1]
    half = [*down, bottom, *up]
    return [top, *half, top, *half]


class AncillaFreeQasm:
    """Mixin: ``_qasm_`` from the gate's ``ancilla_free_operations(qubits)`` (module doc)."""

    def ancilla_free_operations(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        raise NotImplementedError

    def _qasm_(self, args: cirq.QasmArgs, qubits: tuple[cirq.Qid, ...]) -> str:
        return qasm_of_operations(self.ancilla_free_operations(qubits), args)
