r"""Uniform superposition over the first $m$ basis states of a register.

$|0\rangle^{\otimes k} \mapsto \frac{1}{\sqrt m}\sum_{l<m}|l\rangle$ for any $1 \le m \le 2^k$, by a
binary tree of (multi-)controlled $R_y$ rotations (Grover-Rudolph with real amplitudes): the most
significant qubit gets $R_y(2\arcsin\sqrt{(m - 2^{k-1})/m})$ when $m > 2^{k-1}$, the half below
$2^{k-1}$ is completed by $R_y(\pi/2)$ on each remaining qubit, the rest recursively. An exact
$m$ (not rounded up to a power of two) is what lets a sparse-access block encoding reach
$\alpha = \sqrt{s_r s_c}\max|A_{ij}|$ rather than $2^{\lceil\log_2 s\rceil}\max|A_{ij}|$.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cirq
import numpy as np

from qrtc.circuits._serialization import JsonDataclass
from qrtc.circuits._tensor import rotate_y, subspace
from qrtc.circuits.controlled import MultiControlledRy

__all__ = ["UniformSuperposition", "rotation_tree"]

# (target position, angle, ((position, value), ...) conditions); positions index the register.
Rotation = tuple[int, float, tuple[tuple[int, int], ...]]


def rotation_tree(n_items: int, width: int) -> list[Rotation]:
    """The rotations, in order, that prepare the uniform state over ``n_items`` of ``2**width``."""
    assert 1 <= n_items <= 1 << width
    rotations: list[Rotation] = []

    def prepare(
        items: int, positions: Sequence[int], conditions: tuple[tuple[int, int], ...]
    ) -> None:
        if items == 1:
            return
        half = 1 << (len(positions) - 1)
        if items == 2 * half:
            rotations.extend((p, math.pi / 2, conditions) for p in positions)
        elif items <= half:
            prepare(items, positions[1:], conditions)
        else:
            top = positions[0]
            rotations.append((top, 2 * math.asin(math.sqrt((items - half) / items)), conditions))
            prepare(half, positions[1:], (*conditions, (top, 0)))
            prepare(items - half, positions[1:], (*conditions, (top, 1)))

    prepare(n_items, range(width), ())
    return rotations


@dataclass(frozen=True)
class UniformSuperposition(JsonDataclass, cirq.Gate):
    """Qubits: controls (``control_values``), then the ``width``-qubit register.

    Acts only when the controls match; ``adjoint`` gives the inverse.
    """

    n_items: int
    width: int
    control_values: tuple[int, ...] = ()
    adjoint: bool = False

    def _num_qubits_(self) -> int:
        return len(self.control_values) + self.width

    def num_work_qubits(self) -> int:
        """The most any rotation's ``MultiControlledRy`` needs (they run one after another)."""
        return max(
            (
                MultiControlledRy(0.0, (1,) * (len(self.control_values) + len(c))).num_work_qubits()
                for _, _, c in self._rotations()
            ),
            default=0,
        )

    def _has_unitary_(self) -> bool:
        return True

    def __pow__(self, power: int) -> UniformSuperposition:
        if power == 1:
            return self
        if power == -1:
            return UniformSuperposition(
                self.n_items, self.width, self.control_values, not self.adjoint
            )
        return NotImplemented

    def _rotations(self) -> list[Rotation]:
        tree = rotation_tree(self.n_items, self.width)
        if self.adjoint:
            return [(p, -angle, c) for p, angle, c in reversed(tree)]
        return tree

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        tensor = args.target_tensor
        n_controls = len(self.control_values)
        controls, register = args.axes[:n_controls], args.axes[n_controls:]
        for position, angle, conditions in self._rotations():
            axes = (*controls, *(register[p] for p, _ in conditions))
            values = (*self.control_values, *(v for _, v in conditions))
            rotate_y(tensor, subspace(tensor.ndim, axes, values), register[position], angle)
        return tensor

    def _decompose_(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        n_controls = len(self.control_values)
        controls, register = qubits[:n_controls], qubits[n_controls:]
        ops = []
        for position, angle, conditions in self._rotations():
            gate = MultiControlledRy(angle, (*self.control_values, *(v for _, v in conditions)))
            conditioned = (register[p] for p, _ in conditions)
            ops.append(gate.on(*controls, *conditioned, register[position]))
        return ops

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        name = f"Uniform({self.n_items})" + ("†" if self.adjoint else "")
        return (*("@" if v else "(0)" for v in self.control_values), *(name,) * self.width)
