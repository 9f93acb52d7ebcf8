r"""Sparse-access oracles and the block encoding built from them (paper.md §6.2; GSLW Lemma 48).

For a real $A \in \mathbb R^{2^w \times 2^w}$ with at most $s_r$ non-zeros per row and $s_c$ per
column, let $r_{ik}$ be the column of the $k$-th non-zero of row $i$ and $c_{lj}$ the row of the
$l$-th non-zero of column $j$ (both increasing). The oracles are XOR table lookups:

* column oracle $O_c$ on (index $l$, out, sys $j$): out $\mathrel{\oplus}= c_{lj}$, then
  $l \mathrel{\oplus}= \mathrm{pos}_j(\text{out})$, so $|l\rangle|0\rangle|j\rangle \mapsto
  |0\rangle|c_{lj}\rangle|j\rangle$ for $l < \mathrm{nnz}_j$;
* row oracle $O_r$, the same with rows: $|k\rangle|0\rangle|i\rangle \mapsto
  |0\rangle|r_{ik}\rangle|i\rangle$;
* value oracle $O_A$ on (out $i$, sys $j$, val): $R_y(2\arccos(A_{ij}/A_{\max}))$ on val, and
  $R_y(\pi)$ where $A_{ij} = 0$, so that $\langle 0|_{\rm val}$ picks up $A_{ij}/A_{\max}$, sign
  included.

With $V_c = O_c\,(\mathrm{Uniform}_{s_c} \otimes I)$ and $V_r = O_r\,(\mathrm{Uniform}_{s_r}
\otimes I)$ the block encoding is $U = V_r^\dagger\,\mathrm{SWAP}_{\rm out, sys}\,O_A\,V_c$ and

$$\langle 0|_{k,l,{\rm out},{\rm val}}\,\langle i|\,U\,|j\rangle\,|0\rangle
= \frac{A_{ij}}{\sqrt{s_r s_c}\,A_{\max}},\qquad \alpha = \sqrt{s_r s_c}\,A_{\max}
\ \le\ s\,\max_{ij}|A_{ij}|.$$

Slots $l \ge \mathrm{nnz}_j$ of a short column find no table entry, keep $l \ne 0$ and are
projected away (likewise on the row side), so no completion of the index tables is needed. The
separate index registers ($\lceil\log_2 s_r\rceil$ and $\lceil\log_2 s_c\rceil$ qubits) are what
make that projection work. Ancillas: $w + \lceil\log_2 s_r\rceil + \lceil\log_2 s_c\rceil + 1$.
Queries: one each to $O_r$, $O_c$ and $O_A$ (Lemma 48 uses $O_A$ twice, to uncompute a
binary value register; loading the value straight into a rotation needs it once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cirq
import numpy as np
import scipy.sparse

from qrtc.circuits._serialization import JsonDataclass
from qrtc.circuits.controlled import SwapRegisters
from qrtc.circuits.lookup import RotationLookup, Table, XorLookup
from qrtc.circuits.state_preparation import UniformSuperposition
from qrtc.circuits.work import num_work_qubits

__all__ = [
    "IndexOracle",
    "SparseAccessRegisters",
    "SparseAccessTables",
    "index_width",
    "sparse_access_operations",
]


def index_width(sparsity: int) -> int:
    """Qubits of an index register over ``sparsity`` slots: $\\lceil\\log_2 s\\rceil$."""
    return max(0, math.ceil(math.log2(sparsity))) if sparsity > 1 else 0


def _table(addresses: np.ndarray, values: np.ndarray) -> Table:
    keep = values != 0
    return Table.from_arrays(addresses[keep], values[keep])


@dataclass(frozen=True, eq=False)
class SparseAccessTables:
    r"""The classical content of $O_r$, $O_c$ and $O_A$ for one matrix.

    Addresses are register contents read as one integer, first register most significant:
    ``row_forward`` maps $(k, i) \mapsto r_{ik}$, ``row_position`` maps $(r_{ik}, i) \mapsto k$,
    ``column_forward`` $(l, j) \mapsto c_{lj}$, ``column_position`` $(c_{lj}, j) \mapsto l$
    (zero values omitted: XOR by 0 is no gate); ``values`` maps $(i, j)$ to the $R_y$ angle.
    """

    width: int
    row_sparsity: int
    column_sparsity: int
    max_abs_entry: float
    nnz: int
    row_forward: Table
    row_position: Table
    column_forward: Table
    column_position: Table
    values: Table

    @property
    def alpha(self) -> float:
        r"""$\sqrt{s_r s_c}\,A_{\max}$."""
        return math.sqrt(self.row_sparsity * self.column_sparsity) * self.max_abs_entry

    @classmethod
    def from_matrix(cls, matrix: scipy.sparse.csr_array | np.ndarray) -> SparseAccessTables:
        """Tables for ``matrix`` (square, real), zero-padded to the next power of two."""
        csr = scipy.sparse.csr_array(matrix)
        csr.eliminate_zeros()
        csr.sum_duplicates()
        csr.sort_indices()
        rows, columns = csr.shape
        assert rows == columns, "a block encoding needs a square matrix"
        assert not np.iscomplexobj(csr.data), "real matrices only"
        width = max(1, math.ceil(math.log2(rows))) if rows > 1 else 1
        size = 1 << width
        row_counts = np.diff(csr.indptr)
        csc = scipy.sparse.csc_array(csr)
        csc.sort_indices()
        column_counts = np.diff(csc.indptr)
        row_sparsity = max(1, int(row_counts.max(initial=0)))
        column_sparsity = max(1, int(column_counts.max(initial=0)))
        # Row i's k-th non-zero: k = position within the row.
        row_of = np.repeat(np.arange(rows, dtype=np.int64), row_counts)
        k = np.arange(csr.nnz, dtype=np.int64) - np.repeat(csr.indptr[:-1], row_counts)
        column_of = csc.indices.astype(np.int64)  # rows, ordered by column
        col_index = np.repeat(np.arange(columns, dtype=np.int64), column_counts)
        l = np.arange(csc.nnz, dtype=np.int64) - np.repeat(csc.indptr[:-1], column_counts)
        entries = csr.indices.astype(np.int64)
        max_abs = float(np.abs(csr.data).max(initial=0.0)) or 1.0
        angles = 2 * np.arccos(np.clip(csr.data / max_abs, -1.0, 1.0))
        value_table = Table.from_arrays(row_of * size + entries, angles)
        return cls(
            width=width,
            row_sparsity=row_sparsity,
            column_sparsity=column_sparsity,
            max_abs_entry=max_abs,
            nnz=int(csr.nnz),
            row_forward=_table(k * size + row_of, entries),
            row_position=_table(entries * size + row_of, k),
            column_forward=_table(l * size + col_index, column_of),
            column_position=_table(column_of * size + col_index, l),
            values=value_table,
        )


@dataclass(frozen=True)
class IndexOracle(JsonDataclass, cirq.Gate):
    r"""$O_r$ or $O_c$: qubits controls, index ($m$), out ($w$), sys ($w$).

    ``forward`` XORs into out from (index, sys); ``position`` XORs into index from (out, sys).
    The adjoint runs the two lookups in the opposite order.
    """

    kind: Literal["row", "column"]
    index_width: int
    width: int
    forward: Table
    position: Table
    control_values: tuple[int, ...] = ()
    adjoint: bool = False

    def _num_qubits_(self) -> int:
        return len(self.control_values) + self.index_width + 2 * self.width

    def num_work_qubits(self) -> int:
        """The more of its two lookups' (they run one after the other)."""
        ops = self._lookups(cirq.LineQid.for_gate(self))
        return max((num_work_qubits(op.gate) for op in ops), default=0)

    def _has_unitary_(self) -> bool:
        return True

    def __pow__(self, power: int) -> IndexOracle:
        if power == 1:
            return self
        if power == -1:
            return IndexOracle(
                self.kind,
                self.index_width,
                self.width,
                self.forward,
                self.position,
                self.control_values,
                not self.adjoint,
            )
        return NotImplemented

    def _lookups(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        n_controls = len(self.control_values)
        controls = qubits[:n_controls]
        index = qubits[n_controls : n_controls + self.index_width]
        out = qubits[n_controls + self.index_width : n_controls + self.index_width + self.width]
        sys = qubits[n_controls + self.index_width + self.width :]
        name = "O_r" if self.kind == "row" else "O_c"
        ops = [
            XorLookup(
                self.index_width + self.width,
                self.width,
                self.forward,
                self.control_values,
                name,
            ).on(*controls, *index, *sys, *out)
        ]
        if self.index_width:
            ops.append(
                XorLookup(
                    2 * self.width,
                    self.index_width,
                    self.position,
                    self.control_values,
                    name + ".pos",
                ).on(*controls, *out, *sys, *index)
            )
        return ops[::-1] if self.adjoint else ops

    def _apply_unitary_(self, args: cirq.ApplyUnitaryArgs) -> np.ndarray:
        qubits = cirq.LineQubit.range(len(args.axes))
        for op in self._lookups(qubits):
            positions = [q.x for q in op.qubits]  # type: ignore[attr-defined]
            result = cirq.apply_unitary(
                op.gate,
                cirq.ApplyUnitaryArgs(
                    args.target_tensor,
                    args.available_buffer,
                    tuple(args.axes[p] for p in positions),
                ),
            )
            if result is not args.target_tensor:
                args.target_tensor[...] = result
        return args.target_tensor

    def _decompose_(self, qubits: Sequence[cirq.Qid]) -> list[cirq.Operation]:
        return self._lookups(qubits)

    def _circuit_diagram_info_(self, args: cirq.CircuitDiagramInfoArgs) -> tuple[str, ...]:
        name = ("O_r" if self.kind == "row" else "O_c") + ("†" if self.adjoint else "")
        return (
            *("@" if v else "(0)" for v in self.control_values),
            *(f"{name}:index" for _ in range(self.index_width)),
            *(f"{name}:out" for _ in range(self.width)),
            *(f"{name}:sys" for _ in range(self.width)),
        )


@dataclass(frozen=True)
class SparseAccessRegisters:
    """The qubits a sparse-access block encoding acts on (each register MSB first)."""

    sys: tuple[cirq.Qid, ...]
    out: tuple[cirq.Qid, ...]
    row_index: tuple[cirq.Qid, ...]
    column_index: tuple[cirq.Qid, ...]
    value: cirq.Qid


def sparse_access_operations(
    tables: SparseAccessTables,
    registers: SparseAccessRegisters,
    *,
    control: cirq.Qid | None = None,
) -> list[cirq.Operation]:
    """$U = V_r^\\dagger\\,\\mathrm{SWAP}\\,O_A\\,V_c$, controlled by ``control`` if given."""
    w = tables.width
    assert len(registers.sys) == w and len(registers.out) == w
    assert len(registers.row_index) == index_width(tables.row_sparsity)
    assert len(registers.column_index) == index_width(tables.column_sparsity)
    controls = () if control is None else (control,)
    values = (1,) * len(controls)
    sys, out = registers.sys, registers.out
    rows, cols = registers.row_index, registers.column_index
    ops: list[cirq.Operation] = []
    if cols:
        prepare = UniformSuperposition(tables.column_sparsity, len(cols), values)
        ops.append(prepare.on(*controls, *cols))
    column = IndexOracle(
        "column", len(cols), w, tables.column_forward, tables.column_position, values
    )
    ops.append(column.on(*controls, *cols, *out, *sys))
    ops.append(
        RotationLookup(2 * w, tables.values, math.pi, values, "O_A").on(
            *controls, *out, *sys, registers.value
        )
    )
    ops.append(SwapRegisters(w, with_control=control is not None).on(*controls, *out, *sys))
    row = IndexOracle("row", len(rows), w, tables.row_forward, tables.row_position, values)
    ops.append((row**-1).on(*controls, *rows, *out, *sys))
    if rows:
        prepare = UniformSuperposition(tables.row_sparsity, len(rows), values, adjoint=True)
        ops.append(prepare.on(*controls, *rows))
    return ops
