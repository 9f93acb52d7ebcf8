r"""Reversible arithmetic on a register: increment and comparison with a constant.

Both use one AND ladder (see :mod:`qrtc.circuits.controlled`) and so cost $O(n)$ Toffolis on
$n$ bits, which is what keeps the time-register logic of the structured encoding at $O(\log T)$.

* ``Increment``: $|x\rangle \mapsto |x + 1 \bmod 2^n\rangle$ when the controls match. Bit $i$
  (from the least significant) flips when the controls and bits $0..i-1$ are all 1; the ANDs
  $a_j$ of the first $j$ of these $m + n - 1$ conditions are computed once and released from
  the top while flipping from the most significant bit down. Cost with $m$ controls ($z$
  negative): $2\max(0, m + n - 2)$ Toffoli, $n - [m = 0]$ CNOT, $[m = 0] + 2z$ X.
* ``LessThanConstant``: $|x\rangle|f\rangle \mapsto |x\rangle|f \oplus [x < c]\rangle$. Writing
  $c$'s bits from the top, $x < c$ is the disjoint union over the set bits $p$ of $c$ of
  "$x$ agrees with $c$ above $p$ and $x_p = 0$"; the agreement ANDs form one ladder down to the
  lowest set bit $p_{\min}$ of $c$ (position $P$ from the top). Cost: $2\max(0, P - 1)$ Toffoli
  for the ladder plus one Toffoli per set bit below the top (a CNOT for the top one), and
  $2(\#\text{zeros of } c \text{ above } P) + 2\,\mathrm{popcount}(c)$ X.
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
from qrtc.circuits.controlled import _negate
from qrtc.circuits.work import allocate, release

__all__ = ["Increment", "LessThanConstant"]


@dataclass(frozen=True)
class Increment(JsonDataclass, AncillaFreeQasm, cirq.Gate):
    """Qubits: controls (``control_values``), then the ``width``-qubit register."""

    width: int
    control_values: tuple[int, ...] = ()

    def _num_qubits_(self) -> int:
        return len(self.control_values) + self.width

    def num_work_qubits(self) -> int:
        r"""Clean work qubits of the decomposition: $\max(0, m + n - 2)$."""
        return max(0, len(self.control_values) + self.width - 2) if self.width else 0

    def ancilla_free_operations(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        """One controlled X per bit, most significant first.

        Bit of significance $s$ flips when the controls and all lower bits are 1; flipping from
        the most significant bit down reads the lower bits before they change.
        """
        m, n = len(self.control_values), self.width
        controls, register = qubits[:m], qubits[m:]
        return [
            controlled(
                cirq.X,
                (*controls, *register[n - s :]),
                (*self.control_values, *(1,) * s),
                register[n - 1 - s],
            )
            for s in reversed(range(n))
        ]

    def _has_unitary_(self) -> bool:
        return True

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        m, n = len(self.control_values), self.width
        wanted = int("".join(map(str, self.control_values)) or "0", 2)

        def mapping(x: NDArray[np.int64]) -> NDArray[np.int64]:
            active = field_of(x, m + n, 0, m) == wanted
            value = field_of(x, m + n, m, n)
            moved = with_field(x, m + n, m, n, (value + 1) & ((1 << n) - 1))
            return np.where(active, moved, x)

        return apply_classical(args, mapping)

    def _decompose_with_context_(
        self, qubits: Sequence[cirq.Qid], context: cirq.DecompositionContext | None = None
    ) -> list[cirq.Operation]:
        m, n = len(self.control_values), self.width
        if n == 0:
            return []
        controls, register = qubits[:m], qubits[m:]
        negate = _negate(controls, self.control_values)
        # conditions[j] is the j-th input of the carry chain: controls, then bits from the LSB.
        conditions = [*controls, *reversed(register[1:])]
        work = allocate(context, self.num_work_qubits())
        # ands[j] holds the AND of conditions[:j] for j >= 2 (work qubit j - 2).
        ladder = [
            cirq.TOFFOLI(conditions[0] if j == 2 else work[j - 3], conditions[j - 1], work[j - 2])
            for j in range(2, m + n)
        ]
        ops: list[cirq.Operation] = [*negate, *ladder]
        for significance in reversed(range(n)):
            j = m + significance
            target = register[n - 1 - significance]
            if j == 0:
                ops.append(cirq.X(target))
            elif j == 1:
                ops.append(cirq.CNOT(conditions[0], target))
            else:
                ops.append(cirq.CNOT(work[j - 2], target))
                ops.append(ladder[j - 2])  # release a_j: its inputs are still unflipped
        # The ANDs of controls alone (j < m) are still held: release them too.
        ops += [ladder[j - 2] for j in reversed(range(2, min(m, m + n)))]
        ops += negate
        release(context, work)
        return ops

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        return (*("@" if v else "(0)" for v in self.control_values), *("+1",) * self.width)


@dataclass(frozen=True)
class LessThanConstant(JsonDataclass, AncillaFreeQasm, cirq.Gate):
    """Qubits: the ``width``-qubit register $x$, then the flag $f$."""

    width: int
    constant: int

    def _num_qubits_(self) -> int:
        return self.width + 1

    def num_work_qubits(self) -> int:
        r"""Clean work qubits of the decomposition: $\max(0, P - 1)$, $P$ the position (from
        the top) of the lowest set bit of the constant."""
        if self.constant <= 0 or self.constant >= 1 << self.width:
            return 0
        bits = bits_of(self.constant, self.width)
        last = max(p for p in range(self.width) if bits[p])
        return max(0, last - 1)

    def ancilla_free_operations(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        """One controlled X per set bit $p$ of $c$: $x$ agrees with $c$ above $p$ and has 0 at
        $p$ (disjoint events)."""
        register, flag = qubits[:-1], qubits[-1]
        if self.constant <= 0:
            return []
        if self.constant >= 1 << self.width:
            return [cirq.X(flag)]
        bits = bits_of(self.constant, self.width)
        return [
            controlled(cirq.X, register[: p + 1], (*bits[:p], 0), flag)
            for p in range(self.width)
            if bits[p]
        ]

    def _has_unitary_(self) -> bool:
        return True

    def __pow__(self, power: int) -> LessThanConstant:
        if power in (1, -1):
            return self
        return NotImplemented

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        def mapping(x: NDArray[np.int64]) -> NDArray[np.int64]:
            below = (x >> 1) < self.constant
            return np.where(below, x ^ 1, x)

        return apply_classical(args, mapping)

    def _decompose_with_context_(
        self, qubits: Sequence[cirq.Qid], context: cirq.DecompositionContext | None = None
    ) -> list[cirq.Operation]:
        n, register, flag = self.width, qubits[:-1], qubits[-1]
        if self.constant <= 0:
            return []
        if self.constant >= 1 << n:
            return [cirq.X(flag)]
        bits = bits_of(self.constant, n)
        events = [p for p in range(n) if bits[p]]
        last = events[-1]  # the prefix that must agree with c is register[:last]
        agree = [cirq.X(register[q]) for q in range(last) if bits[q] == 0]
        work = allocate(context, self.num_work_qubits())
        ops: list[cirq.Operation] = [*agree]
        ladder: list[cirq.Operation] = []
        for p in events:
            # prefix register[:p] agrees with c: its AND is register[0] (p = 1) or work[p - 2].
            while len(ladder) < p - 1:
                k = len(ladder) + 2
                step = cirq.TOFFOLI(
                    register[0] if k == 2 else work[k - 3], register[k - 1], work[k - 2]
                )
                ladder.append(step)
                ops.append(step)
            flip = cirq.X(register[p])
            if p == 0:
                ops += [flip, cirq.CNOT(register[0], flag), flip]
            else:
                prefix = register[0] if p == 1 else work[p - 2]
                ops += [flip, cirq.TOFFOLI(prefix, register[p], flag), flip]
        ops += [*reversed(ladder), *agree]
        release(context, work)
        return ops

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        return (*("x",) * self.width, f"^=[x<{self.constant}]")
