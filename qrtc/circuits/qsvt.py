r"""The QSVT matrix-inversion circuit: an odd polynomial of the block-encoded matrix.

**Input convention** (QSPPACK's "$W_x$"). With $W(x) = e^{i\arccos(x) X} =
\begin{pmatrix} x & i\sqrt{1-x^2} \\ i\sqrt{1-x^2} & x \end{pmatrix}$ and phases
$\Phi = (\phi_0, \dots, \phi_d)$, $d$ odd,

$$U_\Phi(x) = e^{i\phi_0 Z} \prod_{k=1}^{d} W(x)\, e^{i\phi_k Z}, \qquad
P_\Phi(x) = \langle 0|U_\Phi(x)|0\rangle, \qquad f(x) = \operatorname{Im} P_\Phi(x).$$

**Reflection convention.** The circuit works with $R(x) = \begin{pmatrix} x & \sqrt{1-x^2} \\
\sqrt{1-x^2} & -x \end{pmatrix}$, the matrix of one use of $U$ (and of $U^\dagger$) on the
two-dimensional invariant subspaces of Jordan's lemma. Since
$e^{i\frac\pi4 Z} W(x) e^{i\frac\pi4 Z} = i R(x)$,

$$U_\Phi(x) = i^d\, e^{i\psi_0 Z} \prod_{k=1}^{d} R(x)\, e^{i\psi_k Z}, \qquad
\psi_0 = \phi_0 - \tfrac\pi4,\ \psi_k = \phi_k - \tfrac\pi2\ (0 < k < d),\
\psi_d = \phi_d - \tfrac\pi4,$$

so $P^R_\Psi = (-i)^d P_\Phi$ (checked in the tests against explicit $2\times2$ products). QSVT:
Gilyén, Su, Low, Wiebe 2019 (arXiv:1806.01838); the $W_x$ convention: Dong, Meng, Whaley, Lin
2021 (QSPPACK, arXiv:2002.11649).

**QSVT on $U^\dagger$** (design.md §2 item 12). With $\Pi = |0\rangle\langle 0|$ on every
encoding ancilla, $\Pi U \Pi = A = W \Sigma V^\dagger$ ($A = \tilde L/\alpha$), and

$$M_\Psi = e^{i\psi_0(2\Pi-1)}\, U^\dagger\, e^{i\psi_1(2\Pi-1)}\, U \cdots U^\dagger\,
e^{i\psi_d(2\Pi-1)}$$

($d$ uses, $U^\dagger$ first and last), $\Pi M_\Psi \Pi = V P^R_\Psi(\Sigma) W^\dagger$: on
$\mathrm{span}\{|0\rangle|w\rangle, \cdot\}$ and $\mathrm{span}\{|0\rangle|v\rangle, \cdot\}$
both $U$ and $U^\dagger$ act as $R(\sigma)$ and $e^{i\psi(2\Pi-1)}$ as $e^{i\psi Z}$. For
$f \approx s/x$ this is $\approx s\,V\Sigma^{-1}W^\dagger = s A^{-1}$.

**Real part by an LCU.** Since $P_{-\Phi} = \overline{P_\Phi}$ ($Z W Z = \overline W$), a
``branch`` qubit in $|+\rangle$ runs $+\Phi$ on $|0\rangle$ and $-\Phi$ on $|1\rangle$ (phases
$\pm\phi_k - c_k$, the offsets $c_k$ of the conversion shared), and $\langle 1| H$ keeps
$\tfrac12(M_{+} - M_{-})$, whose block is $(-i)^d\, V\, \tfrac12(P_\Phi - \overline{P_\Phi})(\Sigma)
W^\dagger = (-i)^d\, i\, V f(\Sigma) W^\dagger$. As $(-i)^{d}\, i = (-i)^{d-1} =
(-1)^{(d-1)/2}$, the post-selected block is ``sign`` $\cdot V f(\Sigma) W^\dagger$ with
``sign`` $= (-1)^{(d-1)/2}$. Both branches share every use of $U$: the LCU adds no query.
Without it the block would be $(-i)^d V P_\Phi(\Sigma) W^\dagger$, complex, not $f$.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import cirq
import numpy as np
from numpy.typing import ArrayLike, NDArray

from qrtc.circuits._serialization import JsonDataclass
from qrtc.circuits._tensor import subspace
from qrtc.circuits.controlled import MultiControlledX
from qrtc.errors import CompileError
from qrtc.ir.block_encoding import BlockEncoding

__all__ = ["ProjectorPhase", "QsvtLayout", "qsvt_circuit", "reflection_offsets"]


@dataclass(frozen=True)
class ProjectorPhase(JsonDataclass, cirq.Gate):
    r"""$e^{i\psi_b(2\Pi - 1)}$, $\Pi = |0\rangle\langle 0|$ on the controls, with
    $\psi_b = \text{offset} + (-1)^b\,\text{angle}$ ($b$ the branch qubit, $b = 0$ when
    ``branched`` is false).

    Qubits: ``n_controls`` controls, the signal qubit (starts and ends in $|0\rangle$),
    then the branch qubit if ``branched``. On a signal in $|1\rangle$ the phases are those of
    the decomposition: $\exp(-i[\text{angle}\,(-1)^{s\oplus\Pi\oplus b} +
    \text{offset}\,(-1)^{s\oplus\Pi}])$ on $|c, s, b\rangle$, diagonal.

    Decomposition: multi-controlled X (controls at 0) onto the signal, CNOT(branch, signal),
    $R_z(2\,\text{angle})$, CNOT(branch, signal), $R_z(2\,\text{offset})$, the same
    multi-controlled X.
    """

    angle: float
    offset: float
    n_controls: int
    branched: bool = True

    def _num_qubits_(self) -> int:
        return self.n_controls + 1 + int(self.branched)

    def num_work_qubits(self) -> int:
        """Those of the multi-controlled X onto the signal."""
        return MultiControlledX((0,) * self.n_controls).num_work_qubits()

    def _has_unitary_(self) -> bool:
        return True

    def __pow__(self, power: float) -> ProjectorPhase:
        # Diagonal: any real power scales both angles (not a symbol: the angles are floats).
        if not isinstance(power, int | float):
            return NotImplemented
        return ProjectorPhase(
            power * self.angle, power * self.offset, self.n_controls, self.branched
        )

    def _phase(self, projected: int, signal: int, branch: int) -> complex:
        inner = (-1) ** (signal ^ projected)
        return complex(np.exp(-1j * (self.angle * inner * (-1) ** branch + self.offset * inner)))

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        tensor = args.target_tensor
        axes = args.axes
        controls, signal_axis = axes[: self.n_controls], axes[self.n_controls]
        branches = (0, 1) if self.branched else (0,)
        for signal in (0, 1):
            for branch in branches:
                fixed = [signal_axis, *axes[self.n_controls + 1 :]]
                values = [signal, *([branch] if self.branched else [])]
                outside = self._phase(0, signal, branch)
                # The whole (signal, branch) slice gets the phase of "not Pi", then the
                # all-zero-controls corner is corrected to the phase of "Pi".
                tensor[subspace(tensor.ndim, fixed, values)] *= outside
                corner = subspace(tensor.ndim, [*controls, *fixed], [0] * len(controls) + values)
                tensor[corner] *= self._phase(1, signal, branch) / outside
        return tensor

    def _decompose_(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        controls, signal = qubits[: self.n_controls], qubits[self.n_controls]
        flag = MultiControlledX((0,) * self.n_controls).on(*controls, signal)
        if not self.branched:
            return [flag, cirq.rz(2 * (self.angle + self.offset)).on(signal), flag]
        branch = qubits[-1]
        return [
            flag,
            cirq.CNOT(branch, signal),
            cirq.rz(2 * self.angle).on(signal),
            cirq.CNOT(branch, signal),
            cirq.rz(2 * self.offset).on(signal),
            flag,
        ]

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        precision = args.precision or 3
        sign = "±" if self.branched else ""
        label = f"Π-phase({self.offset:.{precision}g}{sign}{self.angle:.{precision}g})"
        return ("(0)",) * self.n_controls + (label,) + (("branch",) if self.branched else ())


def reflection_offsets(degree: int) -> NDArray[np.float64]:
    r"""$c_k$ with $\psi_k = \phi_k - c_k$: $\pi/4$ at both ends, $\pi/2$ inside; shape
    ``(degree + 1,)``."""
    offsets = np.full(degree + 1, math.pi / 2)
    offsets[0] = offsets[-1] = math.pi / 4
    return offsets


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class QsvtLayout:
    r"""The QSVT circuit and how to read it (module docstring for the maths).

    With every qubit of ``postselect`` starting in $|0\rangle$ and ending in its value,

    $$\langle \text{postselect}|\,C\,|0\rangle = \text{sign}\cdot V f(\Sigma) W^\dagger,
    \qquad A = \tilde L/\alpha = W\Sigma V^\dagger,$$

    $f(x) = \operatorname{Im}\langle 0|U_\Phi(x)|0\rangle$ in the $W_x$ convention.

    Attributes:
        circuit: $C$; package gates, not decomposed.
        signal: the qubit the projector-controlled phases rotate.
        branch: the LCU qubit that keeps $\operatorname{Im} P_\Phi$.
        postselect: qubit -> kept value for ``branch`` (1), ``signal`` and the encoding's
            ancillas (0), read-only.
        sign: $(-1)^{(d-1)/2}$.
        queries: uses of $U$ or $U^\dagger$: $d$.
        qubit_order: branch, signal, encoding ancillas, system; most significant first.
        phases: $\Phi$ in the $W_x$ convention, shape ``(d + 1,)``, read-only.
    """

    circuit: cirq.Circuit
    signal: cirq.Qid
    branch: cirq.Qid
    postselect: Mapping[cirq.Qid, int]
    sign: float
    queries: int
    qubit_order: tuple[cirq.Qid, ...]
    phases: NDArray[np.float64]

    def __post_init__(self) -> None:
        assert self.qubit_order[:2] == (self.branch, self.signal)
        assert set(self.postselect) == set(self.qubit_order[: len(self.postselect)])
        assert self.circuit.all_qubits() <= set(self.qubit_order)
        assert self.queries == len(self.phases) - 1 and self.sign in (-1.0, 1.0)

    @property
    def system(self) -> tuple[cirq.Qid, ...]:
        """The system qubits (the matrix index), most significant first."""
        return self.qubit_order[len(self.postselect) :]

    @property
    def n_qubits(self) -> int:
        return len(self.qubit_order)


def _validated(phases: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(phases)
    if array.ndim != 1 or not np.isrealobj(array) or not np.all(np.isfinite(array)):
        raise CompileError(f"QSVT phases must be a 1-D array of finite reals, not {array!r}")
    if len(array) < 2 or len(array) % 2:
        raise CompileError(
            f"QSVT needs an odd degree d = len(phases) - 1 >= 1, not d = {len(array) - 1}",
            hint="the inversion polynomial is odd: pass d + 1 phases with d odd",
        )
    frozen = np.array(array, dtype=np.float64)
    frozen.flags.writeable = False
    return frozen


def qsvt_circuit(encoding: BlockEncoding, phases: ArrayLike) -> QsvtLayout:
    r"""The LCU of the $\pm\Phi$ QSVT sequences on $U^\dagger$ (module docstring).

    Args:
        encoding: $U$ with $\langle 0|U|0\rangle = \tilde L/\alpha$.
        phases: $\Phi$ in the $W_x$ convention, shape ``(d + 1,)``, $d$ odd, any reals.

    Returns:
        The circuit with post-selected block ``sign`` $\cdot V f(\Sigma) W^\dagger$.

    Raises:
        CompileError: ``phases`` is not a real vector of odd degree.
    """
    phi = _validated(phases)
    degree = len(phi) - 1
    signal, branch = cirq.NamedQubit("qsvt_signal"), cirq.NamedQubit("qsvt_branch")
    ancillas = tuple(q for r in encoding.ancillas for q in r.qubits)
    assert not {signal, branch} & set(encoding.qubit_order), "QSVT qubit names are taken"
    offsets = reflection_offsets(degree)
    forward, backward = encoding.circuit.moments, cirq.inverse(encoding.circuit).moments

    def phase(k: int) -> cirq.Moment:
        gate = ProjectorPhase(float(phi[k]), -float(offsets[k]), len(ancillas))
        return cirq.Moment(gate.on(*ancillas, signal, branch))

    # Time runs right to left through the product: psi_d first, then U^dagger, ...
    moments = [cirq.Moment(cirq.H(branch)), phase(degree)]
    for k in range(degree - 1, -1, -1):
        moments += backward if (degree - 1 - k) % 2 == 0 else forward
        moments.append(phase(k))
    moments.append(cirq.Moment(cirq.H(branch)))
    postselect = {branch: 1, signal: 0, **dict.fromkeys(ancillas, 0)}
    return QsvtLayout(
        circuit=cirq.Circuit(moments),
        signal=signal,
        branch=branch,
        postselect=MappingProxyType(postselect),
        sign=float((-1) ** ((degree - 1) // 2)),
        queries=degree,
        qubit_order=(branch, signal, *encoding.qubit_order),
        phases=phi,
    )
