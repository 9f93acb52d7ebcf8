r"""Multi-controlled X (with fan-out), multi-controlled $R_y$ and register swaps.

The decompositions use the standard AND ladder (Barenco et al. 1995, Lemma 7.2 with clean
work qubits): with $c$ positive controls,
$w_1 = c_1\wedge c_2,\ w_k = w_{k-1}\wedge c_{k+1}$, one Toffoli each, then the ladder is undone in
reverse. Negative controls (control value 0) are conjugated by X. Costs, with $c$ controls, $z$
of them negative:

| gate | Toffoli | CNOT | one-qubit | work qubits |
|---|---|---|---|---|
| ``MultiControlledX``, 1 target, $c \ge 2$ | $2c - 3$ | 0 | $2z$ | $c - 2$ |
| ``MultiControlledX``, $t \ge 2$ targets, $c \ge 2$ | $2(c - 1)$ | $t$ | $2z$ | $c - 1$ |
| ``MultiControlledX``, $c = 1$ | 0 | $t$ | $2z$ | 0 |
| ``MultiControlledX``, $c = 0$ | 0 | 0 | $t$ | 0 |
| ``MultiControlledRy``, $c \ge 2$ | $2(c - 1)$ | 2 | $2 + 2z$ | $c - 1$ |
| ``MultiControlledRy``, $c = 1$ | 0 | 2 | $2 + 2z$ | 0 |
| ``MultiControlledRy``, $c = 0$ | 0 | 0 | 1 | 0 |
| ``SwapRegisters``, $n$ pairs, uncontrolled / controlled | 0 / $n$ | $3n$ / $2n$ | 0 | 0 |

(a controlled $R_y(\theta)$ is $R_y(\theta/2)\,\mathrm{CNOT}\,R_y(-\theta/2)\,\mathrm{CNOT}$; a
controlled swap is $\mathrm{CNOT}(b, a)\,\mathrm{Toffoli}(c, a; b)\,\mathrm{CNOT}(b, a)$.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cirq
import numpy as np

from qrtc.circuits._native import AncillaFreeQasm, controlled
from qrtc.circuits._serialization import JsonDataclass
from qrtc.circuits._tensor import flip, rotate_y, subspace
from qrtc.circuits.work import allocate, release

__all__ = ["MultiControlledRy", "MultiControlledX", "SwapRegisters", "and_ladder"]


def _negate(controls: Sequence[cirq.Qid], values: Sequence[int]) -> list[cirq.Operation]:
    return [cirq.X(q) for q, v in zip(controls, values, strict=True) if v == 0]


def and_ladder(
    controls: Sequence[cirq.Qid], work: Sequence[cirq.Qid]
) -> tuple[list[cirq.Operation], cirq.Qid]:
    """Toffolis that leave the AND of ``controls`` (``len >= 2``) in ``work[-1]``.

    ``work`` holds ``len(controls) - 1`` clean qubits; the ladder is undone by the same
    operations in reverse order.
    """
    assert len(controls) >= 2 and len(work) == len(controls) - 1
    ops = [cirq.TOFFOLI(controls[0], controls[1], work[0])]
    for k in range(2, len(controls)):
        ops.append(cirq.TOFFOLI(work[k - 2], controls[k], work[k - 1]))
    return ops, work[-1]


@dataclass(frozen=True)
class MultiControlledX(JsonDataclass, AncillaFreeQasm, cirq.Gate):
    """X on every target when each control equals its value.

    Qubits: ``controls`` (``len(control_values)``), then ``n_targets`` targets.
    """

    control_values: tuple[int, ...]
    n_targets: int = 1

    def __post_init__(self) -> None:
        assert all(v in (0, 1) for v in self.control_values) and self.n_targets >= 1

    def _num_qubits_(self) -> int:
        return len(self.control_values) + self.n_targets

    def num_work_qubits(self) -> int:
        """Clean work qubits of the decomposition (module table)."""
        c = len(self.control_values)
        if c <= 1 or (c == 2 and self.n_targets == 1):
            return 0
        return c - 2 if self.n_targets == 1 else c - 1

    def ancilla_free_operations(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        """One cirq controlled X per target (the targets are not controls of each other)."""
        n = len(self.control_values)
        controls, targets = qubits[:n], qubits[n:]
        return [controlled(cirq.X, controls, self.control_values, t) for t in targets]

    def _has_unitary_(self) -> bool:
        return True

    def __pow__(self, power: int) -> MultiControlledX:
        if power in (1, -1):
            return self
        return NotImplemented

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        tensor = args.target_tensor
        n_controls = len(self.control_values)
        index = subspace(tensor.ndim, args.axes[:n_controls], self.control_values)
        for axis in args.axes[n_controls:]:
            flip(tensor, index, axis)
        return tensor

    def _decompose_with_context_(
        self, qubits: Sequence[cirq.Qid], context: cirq.DecompositionContext | None = None
    ) -> list[cirq.Operation]:
        n_controls = len(self.control_values)
        controls, targets = qubits[:n_controls], qubits[n_controls:]
        negate = _negate(controls, self.control_values)
        if n_controls == 0:
            return [cirq.X(t) for t in targets]
        if n_controls == 1:
            return [*negate, *(cirq.CNOT(controls[0], t) for t in targets), *negate]
        if n_controls == 2 and len(targets) == 1:
            return [*negate, cirq.TOFFOLI(*controls, targets[0]), *negate]
        work = allocate(context, self.num_work_qubits())
        if len(targets) == 1:
            # The last rung of the ladder writes the target itself: one Toffoli and one
            # work qubit fewer than computing the AND first.
            ladder, top = and_ladder(controls[:-1], work)
            ops = [*negate, *ladder, cirq.TOFFOLI(top, controls[-1], targets[0])]
            ops += [*reversed(ladder), *negate]
        else:
            ladder, top = and_ladder(controls, work)
            ops = [*negate, *ladder, *(cirq.CNOT(top, t) for t in targets)]
            ops += [*reversed(ladder), *negate]
        release(context, work)
        return ops

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        return (*("@" if v else "(0)" for v in self.control_values), *("X",) * self.n_targets)


@dataclass(frozen=True)
class MultiControlledRy(JsonDataclass, AncillaFreeQasm, cirq.Gate):
    r"""$R_y(\theta)$ on the target when each control equals its value.

    Qubits: ``controls`` (``len(control_values)``), then the target.
    """

    angle: float
    control_values: tuple[int, ...] = ()

    def _num_qubits_(self) -> int:
        return len(self.control_values) + 1

    def num_work_qubits(self) -> int:
        """Clean work qubits of the decomposition (module table)."""
        c = len(self.control_values)
        return c - 1 if c >= 2 else 0

    def ancilla_free_operations(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        """One cirq controlled $R_y$."""
        ry = cirq.ry(self.angle)
        return [controlled(ry, qubits[:-1], self.control_values, qubits[-1])]

    def _has_unitary_(self) -> bool:
        return True

    def __pow__(self, power: int) -> MultiControlledRy:
        if power in (1, -1):
            return MultiControlledRy(power * self.angle, self.control_values)
        return NotImplemented

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        tensor = args.target_tensor
        index = subspace(tensor.ndim, args.axes[:-1], self.control_values)
        rotate_y(tensor, index, args.axes[-1], self.angle)
        return tensor

    def _decompose_with_context_(
        self, qubits: Sequence[cirq.Qid], context: cirq.DecompositionContext | None = None
    ) -> list[cirq.Operation]:
        controls, target = qubits[:-1], qubits[-1]
        if not controls:
            return [cirq.ry(self.angle)(target)]
        negate = _negate(controls, self.control_values)
        half = self.angle / 2
        if len(controls) == 1:
            return [*negate, *_controlled_ry(half, controls[0], target), *negate]
        work = allocate(context, self.num_work_qubits())
        ladder, top = and_ladder(controls, work)
        ops = [*negate, *ladder, *_controlled_ry(half, top, target), *reversed(ladder), *negate]
        release(context, work)
        return ops

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        return (
            *("@" if v else "(0)" for v in self.control_values),
            f"Ry({self.angle:.{args.precision or 3}g})",
        )


def _controlled_ry(half: float, control: cirq.Qid, target: cirq.Qid) -> list[cirq.Operation]:
    return [
        cirq.ry(half)(target),
        cirq.CNOT(control, target),
        cirq.ry(-half)(target),
        cirq.CNOT(control, target),
    ]


@dataclass(frozen=True)
class SwapRegisters(JsonDataclass, cirq.Gate):
    """Swap two registers of ``size`` qubits, optionally controlled by one qubit.

    Qubits: the control (if ``with_control``), register a, register b.
    """

    size: int
    with_control: bool = False

    def _num_qubits_(self) -> int:
        return 2 * self.size + int(self.with_control)

    def num_work_qubits(self) -> int:
        return 0

    def _has_unitary_(self) -> bool:
        return True

    def __pow__(self, power: int) -> SwapRegisters:
        if power in (1, -1):
            return self
        return NotImplemented

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        tensor = args.target_tensor
        axes = list(args.axes)
        if self.with_control:
            index = subspace(tensor.ndim, axes[:1], (1,))
            axes = axes[1:]
        else:
            index = subspace(tensor.ndim, (), ())
        permutation = list(range(tensor.ndim))
        for a, b in zip(axes[: self.size], axes[self.size :], strict=True):
            permutation[a], permutation[b] = b, a
        # Transposing the sub-tensor by the axis swap is the register swap.
        sub = tensor[index]
        kept = [axis for axis in range(tensor.ndim) if not isinstance(index[axis], int)]
        local = [kept.index(permutation[axis]) for axis in kept]
        tensor[index] = np.transpose(sub, local).copy()
        return tensor

    def _decompose_(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        ops: list[cirq.Operation] = []
        if self.with_control:
            control, rest = qubits[0], qubits[1:]
            for a, b in zip(rest[: self.size], rest[self.size :], strict=True):
                ops += [cirq.CNOT(b, a), cirq.TOFFOLI(control, a, b), cirq.CNOT(b, a)]
            return ops
        for a, b in zip(qubits[: self.size], qubits[self.size :], strict=True):
            ops += [cirq.CNOT(a, b), cirq.CNOT(b, a), cirq.CNOT(a, b)]
        return ops

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        names = [f"swap_a{k}" for k in range(self.size)] + [f"swap_b{k}" for k in range(self.size)]
        return ("@", *names) if self.with_control else tuple(names)
