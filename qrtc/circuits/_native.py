r"""Multi-controlled X and $R_y$ as cirq's own gates, and as OpenQASM without work qubits.

The leaf gates of the package (``MultiControlledX``, ``MultiControlledRy``, ``Increment``,
``LessThanConstant``, ``BlockTypeOracle``) can all be written, without work qubits, as a list of
``cirq.ControlledGate(X or R_y, control_values)`` operations (their
``ancilla_free_operations``). That is what simulators take (:mod:`qrtc.backends.simulate`)
and what the gates' ``_qasm_`` writes:

* OpenQASM 3.0: one line per controlled gate with a ``ctrl`` modifier, negative controls
  conjugated by ``x`` (``x a[0]; ctrl(3) @ x a[0], a[1], a[2], b[0]; x a[0];``), exact.
* OpenQASM 2.0 has no modifiers. Negative controls are conjugated by ``x`` likewise; an X with
  $c \ge 3$ controls becomes Toffolis on *borrowed* qubits, any other qubits of the program
  in any state, returned to it (Barenco et al. 1995, Lemma 7.2: $4(c-2)$ Toffolis with
  $c - 2$ borrowed qubits; Lemma 7.3: with fewer, split the controls in two halves around one
  borrowed qubit, each half borrowing from the other). A controlled $R_y(\theta)$ is
  $R_y(\theta/2)\,C^cX\,R_y(-\theta/2)\,C^cX$. With no qubit to borrow (the gate spans the
  whole program) cirq's ancilla-free decomposition is written instead, exact but larger.

Both forms are exact, global phase included. A control negated by consecutive gates stays
flipped between them (:func:`qasm_of_operations`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cirq

__all__ = [
    "AncillaFreeQasm",
    "controlled",
    "multi_controlled_x",
    "qasm_of_operations",
    "qasm_program",
]


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

    Negative controls: a qubit stays flipped by ``x`` from one multi-controlled gate to the
    next while they want it negated (the entries of a table lookup differ in a few bits), and
    is flipped back before any other use and at the end, so the X gates between two table
    entries are only those of the bits in which they differ.
    """
    definitions, body = qasm_program(operations, args, define=False)
    assert not definitions
    return body


def qasm_program(
    operations: Iterable[cirq.Operation], args: cirq.QasmArgs, *, define: bool = True
) -> tuple[str, str]:
    r"""Gate definitions and statements for the operations (:func:`qasm_of_operations`).

    With ``define`` (OpenQASM 2.0 only), each shape of borrowed-qubit multi-controlled X is
    a ``gate qrtc_c<c>x_b<b> c0, .., t, b0, ..`` definition ($c$ controls, the target, $b$
    borrowed qubits; the unitary is $C^cX \otimes I_b$) called once per use, instead of its
    Toffolis written out at every use: a QSVT circuit's program is ten times shorter.

    Returns:
        The definitions (to write before the first statement, empty in 3.0) and the
        statements.
    """
    writer = _Writer(args, define=define and args.version == "2.0")
    for op in operations:
        writer.add(op)
    body = writer.finish()
    return "".join(writer.definitions.values()), body


@dataclass(frozen=True)
class _Plain:
    text: str
    qubits: tuple[cirq.Qid, ...]


@dataclass(frozen=True)
class _Controlled:
    controls: tuple[cirq.Qid, ...]
    negated: frozenset[cirq.Qid]
    target: cirq.Qid
    core: str  # the gate with every control positive


class _Writer:
    """Writes operations in order, keeping negated controls flipped between gates."""

    def __init__(self, args: cirq.QasmArgs, *, define: bool) -> None:
        self._args = args
        self._define = define
        self.definitions: dict[str, str] = {}
        self._flipped: set[cirq.Qid] = set()
        self._lines: list[str] = []
        # A QSVT circuit repeats the operations of U and U^dagger d times: convert each once.
        self._forms: dict[cirq.Operation, _Plain | _Controlled] = {}

    def add(self, op: cirq.Operation) -> None:
        form = self._forms.get(op)
        if form is None:
            form = self._forms[op] = self._form(op)
        if isinstance(form, _Plain):
            self._restore(form.qubits)
            self._lines.append(form.text)
            return
        for control in form.controls:
            if (control in self._flipped) != (control in form.negated):
                self._flip(control)
        self._restore((form.target,))
        self._lines.append(form.core)

    def finish(self) -> str:
        self._restore([q for q in self._args.qubit_id_map if q in self._flipped])
        return "".join(self._lines)

    def _flip(self, qubit: cirq.Qid) -> None:
        self._flipped ^= {qubit}
        self._lines.append(f"x {self._args.qubit_id_map[qubit]};\n")

    def _restore(self, qubits: Iterable[cirq.Qid]) -> None:
        for qubit in qubits:
            if qubit in self._flipped:
                self._flip(qubit)

    def _form(self, op: cirq.Operation) -> _Plain | _Controlled:
        args = self._args
        if isinstance(op.gate, cirq.GlobalPhaseGate):
            return _Plain("", ())
        parts = _controlled_parts(op)
        if parts is None:
            return _Plain(_cirq_qasm(op, args), op.qubits)
        sub, controls, values, target = parts
        if not controls or (sub == cirq.X and len(controls) <= 2 and all(values)):
            return _Plain(_cirq_qasm(op, args), op.qubits)
        negated = frozenset(q for q, v in zip(controls, values, strict=True) if not v)
        if args.version == "3.0":
            core = _modified(sub, controls, target, args)
        else:
            used = set(op.qubits)
            spare = [q for q in args.qubit_id_map if q not in used]
            if len(controls) >= 3 and not spare:
                return _Plain(_cirq_qasm(op, args), op.qubits)
            core = self._borrowing(sub, controls, target, spare)
        return _Controlled(tuple(controls), negated, target, core)

    def _borrowing(
        self,
        sub: cirq.Gate,
        controls: Sequence[cirq.Qid],
        target: cirq.Qid,
        spare: Sequence[cirq.Qid],
    ) -> str:
        # Borrowed qubits may be in any state, flipped ones included.
        borrowed = spare[: max(0, len(controls) - 2)]
        # With too few to borrow, the split form borrows one (the rest from its own controls).
        used = {q for o in multi_controlled_x(controls, target, borrowed) for q in o.qubits}
        borrowed = [q for q in borrowed if q in used]
        if self._define and len(controls) >= 3:
            name = self._definition(len(controls), len(borrowed))
            qubits = ",".join(self._args.qubit_id_map[q] for q in (*controls, target, *borrowed))
            flip = f"{name} {qubits};\n"
        else:
            flip = "".join(
                _primitive_qasm(o, self._args)
                for o in multi_controlled_x(controls, target, borrowed)
            )
        if sub == cirq.X:
            return flip
        assert isinstance(sub, cirq.Ry)
        half = float(sub._rads) / 2
        rotations = [_primitive_qasm(cirq.ry(a)(target), self._args) for a in (half, -half)]
        return f"{rotations[0]}{flip}{rotations[1]}{flip}"

    def _definition(self, n_controls: int, n_borrowed: int) -> str:
        name = f"qrtc_c{n_controls}x_b{n_borrowed}"
        if name not in self.definitions:
            formal = [
                *(cirq.NamedQubit(f"c{k}") for k in range(n_controls)),
                cirq.NamedQubit("t"),
                *(cirq.NamedQubit(f"b{k}") for k in range(n_borrowed)),
            ]
            local = cirq.QasmArgs(version="2.0", qubit_id_map={q: q.name for q in formal})
            ops = multi_controlled_x(
                formal[:n_controls], formal[n_controls], formal[n_controls + 1 :]
            )
            body = "".join(f"  {_primitive_qasm(o, local)}" for o in ops)
            header = f"gate {name} {','.join(q.name for q in formal)}"
            self.definitions[name] = f"{header}\n{{\n{body}}}\n"
        return name


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
    sub: cirq.Gate, controls: Sequence[cirq.Qid], target: cirq.Qid, args: cirq.QasmArgs
) -> str:
    # One ``ctrl(n)`` modifier (negative controls are flipped by the writer): alternating
    # ``ctrl``/``negctrl`` modifiers are equally valid, but Qiskit's importer nests one
    # controlled gate per modifier, and its time grows steeply with their number.
    if sub == cirq.X:
        name = "x"
    else:
        assert isinstance(sub, cirq.Ry)
        name = args.format("ry({0:half_turns})", float(sub.exponent))
    modifier = "ctrl @ " if len(controls) == 1 else f"ctrl({len(controls)}) @ "
    operands = ", ".join(args.format("{0}", q) for q in (*controls, target))
    return f"{modifier}{name} {operands};\n"


def _primitive_qasm(op: cirq.Operation, args: cirq.QasmArgs) -> str:
    # x / cx / ccx written directly (cirq.qasm costs ~50 us an operation; a 2.0 program of a
    # QSVT circuit has millions); the same text cirq writes.
    names: dict[cirq.Gate, str] = {cirq.X: "x", cirq.CNOT: "cx", cirq.TOFFOLI: "ccx"}
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
