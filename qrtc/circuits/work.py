r"""Clean work qubits of the package's decompositions, and the gate that passes them explicitly.

A gate that needs clean work qubits (the AND ladders of :mod:`qrtc.circuits.controlled` and
:mod:`qrtc.circuits.arithmetic`, the flags of ``BlockTypeOracle``) declares how many with
``num_work_qubits()`` and takes them from the decomposition context with :func:`allocate`,
returning them clean with :func:`release`.

**Scopes.** ``cirq.decompose`` is a depth-first walk: a gate's ``_decompose_with_context_``
allocates and frees its work qubits before its children are decomposed, so a qubit manager that
reuses freed qubits would hand a child the work qubits its parent still holds. The package keeps
one invariant that makes reuse safe with any manager: **a gate that allocates has no child that
allocates**. Where a parent holds work qubits across children that need their own
(``BlockTypeOracle``), it allocates theirs too and passes them as operands of
:class:`ExplicitWork`, whose decomposition takes work only from those operands.

**cirq's default context.** ``cirq.decompose`` and ``cirq.decompose_once`` without a context
make a ``cirq.SimpleQubitManager`` that never reuses a qubit: a QSVT circuit of $d$ uses of $U$
would need $d$ times the work of one. With no context, or that default one, a gate's work
qubits are ``qrtc_work[0] .. qrtc_work[k-1]`` (:func:`work_qubit`: clean ancillas with a
stable index, which cirq's consistency checks, QASM output and JSON accept), the same for every
gate; by the invariant above no two live allocations overlap, so a whole circuit decomposes
onto its own qubits plus ``max`` over its gates of ``num_work_qubits()`` of these.
A context with any other manager is honoured as given (``qrtc.resources.counted`` counts
with fresh names and assigns physical qubits by scope; ``cirq.GreedyQubitManager`` reuses).
With an explicit ``cirq.SimpleQubitManager``, which never reuses a qubit, a parent need not
pass work to its children (:func:`never_reuses`): ``BlockTypeOracle`` then leaves its
comparators to allocate their own, the structure the resource counts and the simulator's
lowering were written against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import cirq

__all__ = [
    "WORK_REGISTER",
    "ExplicitWork",
    "WorkPool",
    "WorkQubit",
    "allocate",
    "never_reuses",
    "num_work_qubits",
    "release",
    "work_qubit",
]

WORK_REGISTER = "qrtc_work"

# cirq.decompose / decompose_once build their default manager with this prefix (cirq 1.3-1.7).
_CIRQ_DEFAULT_PREFIX = "_decompose_protocol"


class WorkQubit(cirq.ops.CleanQubit):
    """A clean work qubit of a decomposition without a context, printed ``qrtc_work[k]``.

    A ``cirq.ops.CleanQubit`` (so cirq's consistency checks treat it as a clean ancilla), with
    a stable index instead of a fresh one, and cirq JSON under the ``qrtc`` namespace.
    """

    def __str__(self) -> str:
        return f"{self.prefix}[{self.id}]"

    def __repr__(self) -> str:
        return f"WorkQubit({self.id}, prefix={self.prefix!r})"

    @classmethod
    def _json_namespace_(cls) -> str:
        return "qrtc"

    def _json_dict_(self) -> dict[str, Any]:
        return {"id": self.id, "prefix": self.prefix}

    @classmethod
    def _from_json_dict_(cls, id: int, prefix: str, **kwargs: Any) -> WorkQubit:
        return cls(id, prefix=prefix)


def work_qubit(index: int) -> WorkQubit:
    """The ``index``-th work qubit of a decomposition without a context: ``qrtc_work[index]``."""
    return WorkQubit(index, prefix=WORK_REGISTER)


def _uses_named_work(context: cirq.DecompositionContext | None) -> bool:
    if context is None:
        return True
    manager = context.qubit_manager
    prefix = getattr(manager, "_prefix", None)
    return (
        type(manager) is cirq.SimpleQubitManager
        and isinstance(prefix, str)
        and prefix.startswith(_CIRQ_DEFAULT_PREFIX)
    )


def never_reuses(context: cirq.DecompositionContext | None) -> bool:
    """Whether every allocation from ``context`` is a fresh qubit (a ``cirq.SimpleQubitManager``
    given explicitly): then a parent's children may allocate their own work while it holds its."""
    return (
        context is not None
        and not _uses_named_work(context)
        and type(context.qubit_manager) is cirq.SimpleQubitManager
    )


def allocate(context: cirq.DecompositionContext | None, count: int) -> list[cirq.Qid]:
    """``count`` clean work qubits for one gate's decomposition (module docstring)."""
    if count <= 0:
        return []
    if _uses_named_work(context):
        return [work_qubit(k) for k in range(count)]
    assert context is not None
    return list(context.qubit_manager.qalloc(count))


def release(context: cirq.DecompositionContext | None, qubits: Sequence[cirq.Qid]) -> None:
    """Return the qubits of :func:`allocate` (clean) to the context's manager."""
    if qubits and not _uses_named_work(context):
        assert context is not None
        context.qubit_manager.qfree(qubits)


def num_work_qubits(gate: object) -> int:
    """The clean work qubits ``gate``'s decomposition holds at once, children included.

    0 for gates that do not declare it (cirq's own gates decompose without allocating).
    """
    method = getattr(gate, "num_work_qubits", None)
    return int(method()) if method is not None else 0


class WorkPool(cirq.QubitManager):
    """A qubit manager over a fixed tuple of clean qubits, lowest first, reusing freed ones."""

    def __init__(self, qubits: Iterable[cirq.Qid]) -> None:
        self._order = {q: k for k, q in enumerate(qubits)}
        self._free = sorted(self._order, key=self._order.__getitem__)

    def qalloc(self, n: int, dim: int = 2) -> list[cirq.Qid]:
        assert dim == 2 and n <= len(self._free), "the declared work qubits ran out"
        taken, self._free = self._free[:n], self._free[n:]
        return taken

    def qborrow(self, n: int, dim: int = 2) -> list[cirq.Qid]:
        return self.qalloc(n, dim)

    def qfree(self, qubits: Iterable[cirq.Qid]) -> None:
        self._free = sorted({*self._free, *qubits}, key=self._order.__getitem__)


@dataclass(frozen=True)
class ExplicitWork(cirq.Gate):
    """``gate`` with its ``n_work`` clean work qubits passed as its last qubits.

    Qubits: the qubits of ``gate``, then ``n_work`` work qubits that start and end in
    $|0\\rangle$. The decomposition is ``gate``'s, taking work only from those qubits, so it
    allocates nothing from the context. On clean work qubits the action is ``gate`` on the
    first qubits and the identity on the work.
    """

    gate: cirq.Gate
    n_work: int

    def __post_init__(self) -> None:
        assert num_work_qubits(self.gate) <= self.n_work

    def _num_qubits_(self) -> int:
        return int(self.gate.num_qubits()) + self.n_work

    def num_work_qubits(self) -> int:
        return 0

    def _has_unitary_(self) -> bool:
        return True

    def __pow__(self, power: int) -> ExplicitWork:
        inverse = cirq.pow(self.gate, power, None)
        if inverse is None:
            return NotImplemented
        return ExplicitWork(inverse, self.n_work)

    def _decompose_(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        split = len(qubits) - self.n_work
        context = cirq.DecompositionContext(WorkPool(qubits[split:]))
        return list(cirq.decompose_once(self.gate.on(*qubits[:split]), context=context))

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        inner = cirq.circuit_diagram_info(self.gate, args, default=None)
        symbols = (
            tuple(inner.wire_symbols)
            if inner is not None and len(inner.wire_symbols) == self.gate.num_qubits()
            else (str(self.gate),) * self.gate.num_qubits()
        )
        return (*symbols, *("work",) * self.n_work)

    @classmethod
    def _json_namespace_(cls) -> str:
        return "qrtc"

    def _json_dict_(self) -> dict[str, Any]:
        return {"gate": self.gate, "n_work": self.n_work}
