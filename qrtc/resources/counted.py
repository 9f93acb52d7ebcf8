r"""Resources of a block encoding, counted from its circuit decomposed to primitive gates.

The primitive gates are one-qubit gates (X, Z, $R_y$), CNOT and Toffoli: every package gate is
decomposed (:mod:`qrtc.circuits`) with work qubits from a ``cirq.GreedyQubitManager``. Counts
are memoised per gate, so tables of millions of entries are counted without materialising
the full circuit; the depth needs the full primitive stream and is computed up to
``depth_limit`` primitive gates.

**T-count estimate.** A Toffoli costs 7 T gates (Amy, Maslov, Mosca, Roetteler 2013, the
ancilla-free Clifford+T Toffoli). An $R_y$ whose angle is not a multiple of $\pi/2$ is
synthesised as $S H R_z H S^\dagger$ with $R_z$ approximated to error $\varepsilon_{\rm rot}$ by
$\lceil 3\log_2(1/\varepsilon_{\rm rot})\rceil$ T gates, the leading term of Ross and Selinger's
optimal ancilla-free $z$-rotation synthesis (arXiv 1403.2975; the $O(\log\log)$ term is dropped).
The rotation budget $\varepsilon_{\rm synth}$ is split evenly: $\varepsilon_{\rm rot} =
\varepsilon_{\rm synth}/n_{\rm rot}$ (errors add at most linearly in the operator norm).
$R_y$ by a multiple of $\pi/2$ is Clifford and costs no T.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import cirq

from qrtc.circuits.controlled import MultiControlledRy, MultiControlledX
from qrtc.circuits.lookup import RotationLookup
from qrtc.circuits.sparse_access import IndexOracle
from qrtc.ir.block_encoding import BlockEncoding

__all__ = [
    "count_gates",
    "GateCounts",
    "Resources",
    "count_resources",
    "decompose_to_primitives",
    "is_clifford_angle",
    "iter_primitives",
    "work_qubit",
]

T_PER_TOFFOLI = 7
DEFAULT_SYNTHESIS_ERROR = 1e-3


def is_clifford_angle(angle: float) -> bool:
    """Whether $R_y(\\theta)$ is Clifford: $\\theta$ a multiple of $\\pi/2$ (to 1e-12)."""
    quarter = angle / (math.pi / 2)
    return abs(quarter - round(quarter)) < 1e-12


@dataclass(frozen=True)
class GateCounts:
    """Primitive gates by kind; ``rotations`` are the non-Clifford $R_y$ and $R_z$."""

    x: int = 0
    z: int = 0
    rotations: int = 0
    clifford_rotations: int = 0
    cnot: int = 0
    toffoli: int = 0
    h: int = 0

    def __add__(self, other: GateCounts) -> GateCounts:
        return GateCounts(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))

    def __mul__(self, factor: int) -> GateCounts:
        return GateCounts(*(a * factor for a in _values(self)))

    __rmul__ = __mul__

    @property
    def one_qubit(self) -> int:
        return self.x + self.z + self.h + self.rotations + self.clifford_rotations

    @property
    def total(self) -> int:
        return self.one_qubit + self.cnot + self.toffoli

    def t_count(self, synthesis_error: float = DEFAULT_SYNTHESIS_ERROR) -> int:
        """$7 n_{\\rm Toffoli} + n_{\\rm rot}\\lceil 3\\log_2(n_{\\rm rot}/\\varepsilon)\\rceil$."""
        if not self.rotations:
            return T_PER_TOFFOLI * self.toffoli
        per_rotation = math.ceil(3 * math.log2(self.rotations / synthesis_error))
        return T_PER_TOFFOLI * self.toffoli + self.rotations * per_rotation


def _values(counts: GateCounts) -> tuple[int, ...]:
    return (
        counts.x,
        counts.z,
        counts.rotations,
        counts.clifford_rotations,
        counts.cnot,
        counts.toffoli,
        counts.h,
    )


@dataclass(frozen=True)
class Resources:
    """What one use of $U$ costs.

    Attributes:
        qubits: register name -> qubits; ``work`` is the peak of clean work qubits that the
            decompositions hold at once.
        queries: oracle -> calls.
        gates: primitive gate counts.
        depth: circuit depth in primitive gates (None when not computed).
        depth_is_bound: ``depth`` is an upper bound (the formula's) rather than the depth of
            the as-early-as-possible schedule of the primitive circuit (the count's).
        synthesis_error: $\\varepsilon_{\\rm synth}$ of the T estimate.
        source: ``"counted"`` or ``"formula"``.
    """

    qubits: dict[str, int]
    queries: dict[str, int]
    gates: GateCounts
    depth: int | None
    synthesis_error: float = DEFAULT_SYNTHESIS_ERROR
    source: str = "counted"
    notes: tuple[str, ...] = field(default=())
    depth_is_bound: bool = False

    @property
    def total_qubits(self) -> int:
        return sum(self.qubits.values())

    @property
    def t_count(self) -> int:
        return self.gates.t_count(self.synthesis_error)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "qubits": {**self.qubits, "total": self.total_qubits},
            "queries": self.queries,
            "gates": {
                **asdict(self.gates),
                "one_qubit": self.gates.one_qubit,
                "total": self.gates.total,
            },
            "t_count": self.t_count,
            "t_count_formula": "7 * toffoli + rotations * ceil(3 * log2(rotations / eps))",
            "synthesis_error": self.synthesis_error,
            "depth": self.depth,
            "depth_is_bound": self.depth_is_bound,
            "notes": list(self.notes),
        }

    def to_table(self) -> str:
        """A plain-text table, one quantity per row."""
        rows: list[tuple[str, str]] = []
        for name, size in self.qubits.items():
            rows.append((f"qubits: {name}", str(size)))
        rows.append(("qubits: total", str(self.total_qubits)))
        for name, calls in self.queries.items():
            rows.append((f"queries: {name}", str(calls)))
        g = self.gates
        rows += [
            ("gates: Toffoli", str(g.toffoli)),
            ("gates: CNOT", str(g.cnot)),
            ("gates: one-qubit", str(g.one_qubit)),
            ("  X", str(g.x)),
            ("  Z", str(g.z)),
            ("  H", str(g.h)),
            ("  Ry, Rz (non-Clifford)", str(g.rotations)),
            ("  Ry, Rz (Clifford angle)", str(g.clifford_rotations)),
            (f"T estimate (eps_synth = {self.synthesis_error:g})", str(self.t_count)),
            ("depth" + (" (upper bound)" if self.depth_is_bound else ""), self._depth_text()),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows) + "\n"

    def _depth_text(self) -> str:
        if self.depth is None:
            return "not computed"
        return f"<= {self.depth}" if self.depth_is_bound else str(self.depth)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"


def _primitive(op: cirq.Operation) -> GateCounts | None:
    gate = op.gate
    if gate == cirq.X:
        return GateCounts(x=1)
    if gate == cirq.Z:
        return GateCounts(z=1)
    if gate == cirq.H:
        return GateCounts(h=1)
    if isinstance(gate, cirq.Ry | cirq.Rz):
        angle = float(gate._rads)
        if is_clifford_angle(angle):
            return GateCounts(clifford_rotations=1)
        return GateCounts(rotations=1)
    if gate == cirq.CNOT:
        return GateCounts(cnot=1)
    if gate == cirq.TOFFOLI:
        return GateCounts(toffoli=1)
    return None


def _context() -> cirq.DecompositionContext:
    # Fresh names for every allocation: a parent's work qubits stay in use while its children
    # are decomposed, which a reusing manager cannot know. Physical work qubits are assigned
    # afterwards, by scope (see iter_primitives).
    return cirq.DecompositionContext(cirq.SimpleQubitManager("alloc"))


def _decompose_once(op: cirq.Operation, context: cirq.DecompositionContext) -> list[cirq.Operation]:
    sub = cirq.decompose_once(op, None, context=context)
    if sub is None:
        raise ValueError(f"{op.gate!r} is neither primitive nor decomposable")
    return list(sub)


def work_qubit(index: int) -> cirq.NamedQubit:
    """The ``index``-th physical work qubit of a decomposed circuit."""
    return cirq.NamedQubit(f"work[{index}]")


def iter_primitives(circuit: cirq.Circuit) -> Iterator[cirq.Operation]:
    """The circuit's primitive operations in order, on physical qubits.

    A gate's work qubits are held from its first to its last primitive operation (its scope)
    and then returned; they are named ``work[k]``, the lowest free ``k`` first, so the number
    of distinct work qubits is the peak number held at once.
    """
    context = _context()
    physical: dict[cirq.Qid, cirq.Qid] = {}
    free: list[int] = []
    next_index = 0
    # Each frame: the remaining operations of one expansion and the work it holds.
    stack: list[tuple[Iterator[cirq.Operation], list[tuple[cirq.Qid, int]]]] = [
        (iter(circuit.all_operations()), [])
    ]
    while stack:
        operations, held = stack[-1]
        op = next(operations, None)
        if op is None:
            stack.pop()
            for logical, index in held:
                del physical[logical]
                free.append(index)
            free.sort(reverse=True)
            continue
        if _primitive(op) is not None:
            yield op.with_qubits(*(physical.get(q, q) for q in op.qubits))
            continue
        sub = _decompose_once(op, context)
        own = sorted({q for s in sub for q in s.qubits} - set(op.qubits), key=str)
        frame_held = []
        for logical in own:
            if free:
                index = free.pop()
            else:
                index, next_index = next_index, next_index + 1
            physical[logical] = work_qubit(index)
            frame_held.append((logical, index))
        stack.append((iter(sub), frame_held))


def decompose_to_primitives(encoding: BlockEncoding) -> cirq.Circuit:
    """$U$ as one-qubit gates, CNOT and Toffoli (for export and simulation of small cases)."""
    return cirq.Circuit(iter_primitives(encoding.circuit))


def _cache_key(gate: cirq.Gate) -> Hashable:
    # A table has one multi-controlled gate per entry, each with its own control pattern;
    # their decompositions differ only in which controls are negated, so one representative
    # per (controls, negated, targets or angle class) is decomposed and counted.
    if isinstance(gate, MultiControlledX):
        zeros = gate.control_values.count(0)
        return MultiControlledX, len(gate.control_values), zeros, gate.n_targets
    if isinstance(gate, MultiControlledRy):
        zeros = gate.control_values.count(0)
        angle = gate.angle if not gate.control_values else gate.angle / 2
        return MultiControlledRy, len(gate.control_values), zeros, is_clifford_angle(angle)
    return gate


def count_gates(circuit: cirq.Circuit) -> tuple[GateCounts, int]:
    """Primitive gate counts of ``circuit`` and the peak of work qubits its gates hold."""
    context = _context()
    cache: dict[Hashable, tuple[GateCounts, int]] = {}

    def cost(op: cirq.Operation) -> tuple[GateCounts, int]:
        primitive = _primitive(op)
        if primitive is not None:
            return primitive, 0
        assert op.gate is not None
        key = _cache_key(op.gate)
        if key in cache:
            return cache[key]
        sub = _decompose_once(op, context)
        own = {q for s in sub for q in s.qubits} - set(op.qubits)
        total, peak = GateCounts(), 0
        for s in sub:
            counts, work = cost(s)
            total, peak = total + counts, max(peak, work)
        cache[key] = (total, len(own) + peak)
        return cache[key]

    gates, work = GateCounts(), 0
    for op in circuit.all_operations():
        counts, peak = cost(op)
        gates, work = gates + counts, max(work, peak)
    return gates, work


def count_resources(
    encoding: BlockEncoding,
    *,
    depth_limit: int = 2_000_000,
    synthesis_error: float = DEFAULT_SYNTHESIS_ERROR,
) -> Resources:
    """Count qubits, queries, gates and (up to ``depth_limit`` gates) depth from the circuit."""
    gates, work = count_gates(encoding.circuit)
    queries = {"O_r": 0, "O_c": 0, "O_A": 0}
    for op in encoding.circuit.all_operations():
        if isinstance(op.gate, IndexOracle):
            queries["O_r" if op.gate.kind == "row" else "O_c"] += 1
        elif isinstance(op.gate, RotationLookup) and op.gate.label == "O_A":
            queries["O_A"] += 1
    qubits = {r.name: len(r) for r in (*encoding.system, *encoding.ancillas)}
    qubits["work"] = work
    depth = _depth(encoding.circuit) if gates.total <= depth_limit else None
    return Resources(qubits, queries, gates, depth, synthesis_error, "counted")


def _depth(circuit: cirq.Circuit) -> int:
    layer: dict[cirq.Qid, int] = {}
    deepest = 0
    for op in iter_primitives(circuit):
        level = 1 + max((layer.get(q, 0) for q in op.qubits), default=0)
        for q in op.qubits:
            layer[q] = level
        deepest = max(deepest, level)
    return deepest
