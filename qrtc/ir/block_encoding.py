r"""Stage 5 IR: a block encoding $U$ of a sparse matrix (paper.md §6.2, design.md §3).

$U$ acts on system registers (the matrix index) and ancilla registers, all starting in
$|0\rangle$. With the ancillas listed first (most significant),

$$\langle 0|_{\rm anc}\,U\,|0\rangle_{\rm anc} = \tilde A/\alpha,$$

where $\tilde A$ is the matrix on the whole system space: $\tilde A_{e(i)e(j)} = A_{ij}$ for
$i, j < \dim A$ through the index map $e$, and on the basis states no $e(i)$ reaches,
$\tilde A = I$ (``padding = "identity"``, what :math:`\mathbf L` needs to stay invertible) or
$0$ (``"zero"``). Nothing couples the two parts.

The index map: $i = r D + o$ (block $r$ of size $D$, offset $o$) goes to
$((\lfloor r/R\rfloor \ll b_R) \,|\, (r \bmod R)) \ll b_o \,|\, o$ with radix $R = K + 1$,
$b_R = \lceil\log_2 R\rceil$ and $b_o$ offset bits: the mixed-radix time register of the
structured encoding followed by the lifted register. The generic encoding uses $D = 2^w$,
$R = 1$: the identity.

The circuit holds the package's own gates (:mod:`qrtc.circuits`), not yet decomposed; their
work qubits appear only when decomposed (:mod:`qrtc.resources.counted`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import cirq
import numpy as np
from numpy.typing import NDArray

from qrtc.errors import SourceSpan
from qrtc.ir import _text

__all__ = ["BlockEncoding", "IndexMap", "Register"]


@dataclass(frozen=True, slots=True)
class Register:
    """A named register of qubits, most significant first."""

    name: str
    qubits: tuple[cirq.Qid, ...]

    @classmethod
    def named(cls, name: str, size: int) -> Register:
        """``size`` ``cirq.NamedQubit`` s called ``name[0]``, ``name[1]``, ..."""
        return cls(name, tuple(cirq.NamedQubit(f"{name}[{k}]") for k in range(size)))

    def __len__(self) -> int:
        return len(self.qubits)


@dataclass(frozen=True, slots=True)
class IndexMap:
    """The map $e$ from a matrix index to a system basis state (see the module docstring)."""

    block_size: int
    radix: int
    radix_bits: int
    offset_bits: int

    def __call__(self, index: NDArray[np.int64] | int) -> NDArray[np.int64]:
        block, offset = np.divmod(np.asarray(index, dtype=np.int64), self.block_size)
        outer, phase = np.divmod(block, self.radix)
        return (((outer << self.radix_bits) | phase) << self.offset_bits) | offset


def _span() -> SourceSpan | None:
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BlockEncoding:
    r"""$U$ with $\langle 0|U|0\rangle = \tilde A/\alpha$.

    Attributes:
        method: ``"structured"`` (LCU of $I$ and time shift ⊗ select-$C$) or ``"generic"``
            (sparse access to the whole matrix).
        circuit: $U$, gate level.
        system: the registers that hold the matrix index, most significant first.
        ancillas: the registers that start and must end in $|0\rangle$.
        alpha: the subnormalisation $\alpha$.
        dim: $\dim A$.
        index_map: $e$.
        padding: what $\tilde A$ is off the image of $e$.
        queries: oracle name -> calls in one use of $U$.
        sparse_alpha: $\alpha$ of the sparse-access encoding inside ($\beta$ for the structured
            one, where $\alpha = 1 + \beta$; $\alpha$ itself for the generic one).
        origin: the spec construct the matrix comes from.
    """

    method: Literal["structured", "generic"]
    circuit: cirq.Circuit
    system: tuple[Register, ...]
    ancillas: tuple[Register, ...]
    alpha: float
    dim: int
    index_map: IndexMap
    padding: Literal["identity", "zero"]
    queries: dict[str, int]
    sparse_alpha: float
    origin: SourceSpan | None = _span()

    def __post_init__(self) -> None:
        assert self.dim <= 1 << self.n_system_qubits
        names = [r.name for r in (*self.system, *self.ancillas)]
        assert len(set(names)) == len(names), "register names must be distinct"
        declared = {q for r in (*self.system, *self.ancillas) for q in r.qubits}
        assert self.circuit.all_qubits() <= declared, "the circuit uses an undeclared qubit"

    @property
    def n_system_qubits(self) -> int:
        return sum(len(r) for r in self.system)

    @property
    def n_ancilla_qubits(self) -> int:
        return sum(len(r) for r in self.ancillas)

    @property
    def qubit_order(self) -> tuple[cirq.Qid, ...]:
        """Ancillas first, then the system: $\\langle 0|U|0\\rangle$ is the top-left block."""
        return tuple(q for r in (*self.ancillas, *self.system) for q in r.qubits)

    def register(self, name: str) -> Register:
        for candidate in (*self.system, *self.ancillas):
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def embedded_indices(self) -> NDArray[np.int64]:
        """$e(i)$ for every $i < \\dim A$, shape ``(dim,)``."""
        return self.index_map(np.arange(self.dim, dtype=np.int64))

    def verify(self) -> None:
        """Check the registers, $\\alpha$, the index map and the circuit.

        The registers partition ``qubit_order`` (no qubit twice) and the circuit acts on those
        qubits only, without measurements; $\\alpha \\ge$ ``sparse_alpha`` $> 0$, both finite;
        $e$ is strictly increasing (offset below $D \\le 2^{b_o}$, phase below
        $R \\le 2^{b_R}$) and $e(\\dim A - 1) < 2^{\\rm system\\ qubits}$, so it is injective
        into the system space; query counts are non-negative.
        """
        order = self.qubit_order
        assert len(set(order)) == len(order), "a qubit belongs to two registers"
        assert all(len(r) >= 1 for r in (*self.system, *self.ancillas)), "an empty register"
        assert self.circuit.all_qubits() <= set(order), "the circuit uses an undeclared qubit"
        assert not any(
            isinstance(op.gate, cirq.MeasurementGate) for op in self.circuit.all_operations()
        ), "U must be unitary: it measures"
        assert self.method in ("structured", "generic"), self.method
        assert self.padding in ("identity", "zero"), self.padding
        assert math.isfinite(self.alpha) and math.isfinite(self.sparse_alpha), "alpha not finite"
        assert self.alpha > 0 and self.sparse_alpha > 0, "alpha must be positive"
        assert self.alpha >= self.sparse_alpha * (1 - 1e-12), (
            f"alpha = {self.alpha} below the sparse-access alpha {self.sparse_alpha}"
        )
        index_map = self.index_map
        assert self.dim >= 1, f"dim = {self.dim}"
        assert 1 <= index_map.block_size <= 1 << index_map.offset_bits, index_map
        assert 1 <= index_map.radix <= 1 << index_map.radix_bits, index_map
        last = int(index_map(self.dim - 1))
        assert last < 1 << self.n_system_qubits, (
            f"e(dim - 1) = {last} does not fit in {self.n_system_qubits} system qubits"
        )
        if self.dim <= 1 << 16:
            assert np.all(np.diff(self.embedded_indices()) > 0), "e is not strictly increasing"
        assert all(count >= 0 for count in self.queries.values()), self.queries

    def to_text(self) -> str:
        """A deterministic summary for ``qrtc compile --emit circuit``."""
        index_map = self.index_map
        lines = [
            "block_encoding {",
            f"  method = {self.method}, dim = {self.dim}, padding = {self.padding}",
            f"  alpha = {_text.number(self.alpha)}"
            f" (sparse-access alpha = {_text.number(self.sparse_alpha)})",
            f"  qubits = {self.n_system_qubits} system + {self.n_ancilla_qubits} ancilla",
            "  system: " + ", ".join(f"{r.name}[{len(r)}]" for r in self.system),
            "  ancillas: " + ", ".join(f"{r.name}[{len(r)}]" for r in self.ancillas),
            f"  index_map: block_size D = {index_map.block_size}, radix R = {index_map.radix}"
            f" ({index_map.radix_bits} bits), offset_bits = {index_map.offset_bits}",
            "  queries: " + ", ".join(f"{k} x{v}" for k, v in sorted(self.queries.items())),
            f"  top-level operations = {len(list(self.circuit.all_operations()))}",
            "}",
        ]
        return "\n".join(lines) + "\n"
