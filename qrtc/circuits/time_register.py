r"""The time register of the structured encoding of $\mathbf L$ (design.md §3).

Block row $r$ of $\mathbf L$ (sub-step $r$, period $K + 1$) is stored in mixed radix,
$r = (K+1)\,o + k$ with $k < K + 1$: an outer register $o$ ($\lceil\log_2(o_{\max}+1)\rceil$
qubits) and a phase register $k$ ($\lceil\log_2(K+1)\rceil$ qubits, none when $K = 0$). The
phase says which map acts next, so the schedule costs comparators, never a table over $T$.

* ``MixedRadixIncrement``: $(o, k) \mapsto (o, k+1)$ for $k < K$ and $(o + 1, 0)$ for $k = K$,
  controlled; a flag qubit carries the carry and is returned to 0 for every $k \le K$.
* ``BlockTypeOracle``: $|o, k\rangle|\tau\rangle \mapsto |o, k\rangle|\tau \oplus
  \mathrm{type}(o, k)\rangle$, the 2-bit type of the block that column block $r$ feeds:
  0 for $C_{\mathcal A}$ ($r + 1 \le S$, $r + 1 \not\equiv 0$), 1 for $C_{\mathcal L}$
  ($r + 1 \le S$, $r + 1 \equiv 0 \bmod K+1$), 2 for the identity ($S \le r < n_b - 1$),
  3 for no block (the last block row, unused register values and $k > K$).
  With $s = [o < T]$, $e = [k = K]$, $v = [k \le K]$ and $q = [r < n_b - 1]$ (one comparator
  on the concatenated $(o, k)$, whose order is the order of $r$ when $k \le K$):
  $\tau_1 = \lnot(v \wedge s)$ and $\tau_0 = (s \wedge e) \oplus \lnot v \oplus
  (v \wedge \lnot s \wedge \lnot q)$.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cirq
import numpy as np
from numpy.typing import NDArray

from qrtc.circuits._native import AncillaFreeQasm, controlled
from qrtc.circuits._serialization import JsonDataclass
from qrtc.circuits._tensor import apply_classical, bits_of, field_of, with_field
from qrtc.circuits.arithmetic import Increment, LessThanConstant
from qrtc.circuits.controlled import MultiControlledX
from qrtc.circuits.work import ExplicitWork, allocate, never_reuses, num_work_qubits, release

__all__ = ["BlockTypeOracle", "MixedRadixIncrement", "TYPE_ATTACK", "TYPE_IDLE", "TYPE_LEARNER"]

TYPE_ATTACK, TYPE_LEARNER, TYPE_IDLE, TYPE_NONE = 0, 1, 2, 3


def phase_width(radix: int) -> int:
    """Qubits of the phase register $k$ for period ``radix`` $= K + 1$."""
    return (radix - 1).bit_length()


@dataclass(frozen=True)
class MixedRadixIncrement(JsonDataclass, cirq.Gate):
    """Qubits: controls, $o$ (``outer_width``), $k$ (``phase_width(radix)``), the carry flag.

    No flag qubit when ``radix == 1``. Off the valid range ($k > K$) the map is still a
    permutation (the decomposition's), but the flag may be left set there.
    """

    outer_width: int
    radix: int
    control_values: tuple[int, ...] = ()

    @property
    def phase_width(self) -> int:
        return phase_width(self.radix)

    def _num_qubits_(self) -> int:
        flag = 1 if self.radix > 1 else 0
        return len(self.control_values) + self.outer_width + self.phase_width + flag

    def num_work_qubits(self) -> int:
        """The most any of the decomposition's gates needs (they run one after another)."""
        ops = self._decompose_(cirq.LineQid.for_gate(self))
        return max((num_work_qubits(op.gate) for op in ops), default=0)

    def _has_unitary_(self) -> bool:
        return True

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        m, n_o, n_k = len(self.control_values), self.outer_width, self.phase_width
        total = self._num_qubits_()
        wanted = int("".join(map(str, self.control_values)) or "0", 2)
        last = self.radix - 1

        def mapping(x: NDArray[np.int64]) -> NDArray[np.int64]:
            on = field_of(x, total, 0, m) == wanted
            outer = field_of(x, total, m, n_o)
            if self.radix == 1:
                return np.where(on, with_field(x, total, m, n_o, (outer + 1) % (1 << n_o)), x)
            phase = field_of(x, total, m + n_o, n_k)
            flag = field_of(x, total, m + n_o + n_k, 1)
            # The decomposition, step by step, as arithmetic on the fields.
            flag = flag ^ (on & (phase == last))
            outer = np.where(flag == 1, (outer + 1) % (1 << n_o), outer)
            phase = np.where(flag == 1, phase ^ last, phase)
            phase = np.where(on & (flag == 0), (phase + 1) % (1 << n_k), phase)
            flag = flag ^ (on & (phase == 0))
            y = with_field(x, total, m, n_o, outer)
            y = with_field(y, total, m + n_o, n_k, phase)
            return with_field(y, total, m + n_o + n_k, 1, flag)

        return apply_classical(args, mapping)

    def _decompose_(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        m, n_o, n_k = len(self.control_values), self.outer_width, self.phase_width
        controls, outer = qubits[:m], qubits[m : m + n_o]
        if self.radix == 1:
            return [Increment(n_o, self.control_values).on(*controls, *outer)]
        phase, flag = qubits[m + n_o : m + n_o + n_k], qubits[-1]
        last = bits_of(self.radix - 1, n_k)
        reset = [q for q, b in zip(phase, last, strict=True) if b]
        return [
            MultiControlledX((*self.control_values, *last)).on(*controls, *phase, flag),
            Increment(n_o, (1,)).on(flag, *outer),
            MultiControlledX((1,), len(reset)).on(flag, *reset),
            Increment(n_k, (*self.control_values, 0)).on(*controls, flag, *phase),
            MultiControlledX((*self.control_values, *(0,) * n_k)).on(*controls, *phase, flag),
        ]

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        flag = ("carry",) if self.radix > 1 else ()
        return (
            *("@" if v else "(0)" for v in self.control_values),
            *("o+",) * self.outer_width,
            *(f"k+1 mod {self.radix}",) * self.phase_width,
            *flag,
        )


@dataclass(frozen=True)
class BlockTypeOracle(JsonDataclass, AncillaFreeQasm, cirq.Gate):
    """Qubits: $o$ (``outer_width``), $k$ (``phase_width(radix)``), the 2-qubit type register.

    ``horizon`` is $T$ (so $S = T \\cdot$ ``radix``), ``n_blocks`` is $n_b$.
    """

    outer_width: int
    radix: int
    horizon: int
    n_blocks: int

    def __post_init__(self) -> None:
        assert self.horizon * self.radix < self.n_blocks
        assert (self.n_blocks - 1) // self.radix < 1 << self.outer_width

    @property
    def phase_width(self) -> int:
        return phase_width(self.radix)

    def block_type(self, outer: NDArray[np.int64], phase: NDArray[np.int64]) -> NDArray[np.int64]:
        """The type of column block $(o, k)$, by the definition (not the circuit's formula)."""
        row = outer * self.radix + phase
        steps = self.horizon * self.radix
        valid = phase < self.radix
        feeds = row + 1
        attack = valid & (feeds <= steps) & (feeds % self.radix != 0)
        learner = valid & (feeds <= steps) & (feeds % self.radix == 0)
        idle = valid & (row >= steps) & (row < self.n_blocks - 1)
        return np.select([attack, learner, idle], [TYPE_ATTACK, TYPE_LEARNER, TYPE_IDLE], 3)

    def _num_qubits_(self) -> int:
        return self.outer_width + self.phase_width + 2

    def _n_flags(self) -> int:
        # Flags that are constant for this radix need no qubit: e is 1 when K = 0, and v is
        # 1 when K + 1 is a power of two.
        return 2 + int(self.phase_width > 0) + int(self.radix < 1 << self.phase_width)

    def _child_work(self) -> int:
        n_o, n_k = self.outer_width, self.phase_width
        last_row = self.n_blocks - 1
        concatenated = ((last_row // self.radix) << n_k) | (last_row % self.radix)
        children: list[cirq.Gate] = [
            LessThanConstant(n_o, self.horizon),
            LessThanConstant(n_o + n_k, concatenated),
        ]
        if n_k:
            children.append(MultiControlledX(bits_of(self.radix - 1, n_k)))
        if self.radix < 1 << n_k:
            children += [LessThanConstant(n_k, self.radix), MultiControlledX((1, 0, 0))]
        return max(num_work_qubits(g) for g in children)

    def num_work_qubits(self) -> int:
        """The flags $s, q$ (and $e, v$ where not constant), plus the most any comparator or
        multi-controlled X among them needs; those get theirs through ``ExplicitWork``."""
        return self._n_flags() + self._child_work()

    def ancilla_free_operations(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        """A table: per time-register value, a controlled X onto each set bit of its type
        ($2^{n_o + n_k}$ values, at most 2 gates each)."""
        width = self.outer_width + self.phase_width
        time_register, (high, low) = qubits[:width], qubits[width:]
        values = np.arange(1 << width, dtype=np.int64)
        kinds = self.block_type(values >> self.phase_width, values & ((1 << self.phase_width) - 1))
        ops = []
        for value, kind in zip(values.tolist(), kinds.tolist(), strict=True):
            pattern = bits_of(value, width)
            ops += [
                controlled(cirq.X, time_register, pattern, target)
                for target, bit in ((high, kind >> 1), (low, kind & 1))
                if bit
            ]
        return ops

    def _has_unitary_(self) -> bool:
        return True

    def __pow__(self, power: int) -> BlockTypeOracle:
        if power in (1, -1):
            return self
        return NotImplemented

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        n_o, n_k = self.outer_width, self.phase_width
        total = n_o + n_k + 2

        def mapping(x: NDArray[np.int64]) -> NDArray[np.int64]:
            kind = self.block_type(field_of(x, total, 0, n_o), field_of(x, total, n_o, n_k))
            return x ^ kind

        return apply_classical(args, mapping)

    def _decompose_with_context_(
        self, qubits: Sequence[cirq.Qid], context: cirq.DecompositionContext | None = None
    ) -> list[cirq.Operation]:
        n_o, n_k = self.outer_width, self.phase_width
        outer, phase = qubits[:n_o], qubits[n_o : n_o + n_k]
        high, low = qubits[-2], qubits[-1]
        last_row = self.n_blocks - 1
        concatenated = ((last_row // self.radix) << n_k) | (last_row % self.radix)
        n_flags = self._n_flags()
        # With a manager that never reuses, the comparators may allocate their own work.
        fresh = never_reuses(context)
        work = allocate(context, n_flags + (0 if fresh else self._child_work()))
        flags, child_work = work[:n_flags], work[n_flags:]
        step, more = flags[:2]
        learner = flags[2] if n_k else None
        valid = flags[-1] if self.radix < 1 << n_k else None
        compute: list[cirq.Operation] = [
            LessThanConstant(n_o, self.horizon).on(*outer, step),
            LessThanConstant(n_o + n_k, concatenated).on(*outer, *phase, more),
        ]
        if learner is not None:
            compute.append(MultiControlledX(bits_of(self.radix - 1, n_k)).on(*phase, learner))
        if valid is not None:
            compute.append(LessThanConstant(n_k, self.radix).on(*phase, valid))
        write: list[cirq.Operation] = [cirq.X(high)]
        # tau_1 = not(v and s); tau_0 = (s and e) xor (not v) xor (v and not s and not q).
        if valid is not None:
            write += [
                cirq.TOFFOLI(valid, step, high),
                cirq.CNOT(valid, low),
                cirq.X(low),
                MultiControlledX((1, 0, 0)).on(valid, step, more, low),
            ]
        else:
            write += [cirq.CNOT(step, high), MultiControlledX((0, 0)).on(step, more, low)]
        if learner is not None:
            write.append(cirq.TOFFOLI(step, learner, low))
        else:
            write.append(cirq.CNOT(step, low))

        def explicit(op: cirq.Operation) -> cirq.Operation:
            # The comparators' ladders must not take the flags this gate still holds.
            need = num_work_qubits(op.gate)
            if fresh or not need:
                return op
            assert op.gate is not None
            return ExplicitWork(op.gate, need).on(*op.qubits, *child_work[:need])

        compute = [explicit(op) for op in compute]
        write = [explicit(op) for op in write]
        ops = [*compute, *write, *reversed(compute)]
        release(context, work)
        return ops

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        return (*("o",) * self.outer_width, *("k",) * self.phase_width, "type", "type")
