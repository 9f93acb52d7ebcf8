r"""The block-encoding rungs: the oracles, and the columns of $U$.

* **oracles**: the tables of $O_c$, $O_r$ and $O_A$ in the circuit, enumerated slot by slot the
  way the circuit reads them (a slot survives when the position lookup undoes the index,
  :mod:`qrtc.circuits.sparse_access`), rebuild the encoded matrix: $\mathbf L \oplus I$ for the
  generic encoding, $\hat C = C_{\mathcal A} \oplus C_{\mathcal L} \oplus I \oplus 0$ for the
  structured one, whose blocks are read back out of $\mathbf L$.
* **block-encoding**: $\alpha\langle 0|U|0\rangle|x\rangle$ for drawn system basis states $x$
  (``cirq.Simulator`` while $U$ fits ``max_qubits``, else the sparse basis simulator,
  :mod:`qrtc.backends.basis_simulator`) against column $x$ of $\tilde{\mathbf L}$:
  $\mathbf L$ through the index map $e$, the identity off its image.
"""

from __future__ import annotations

import math

import cirq
import numpy as np
import scipy.sparse
from hypothesis import strategies as st
from numpy.typing import NDArray

from qrtc.backends.basis_simulator import DROP_BELOW, simulate_basis
from qrtc.circuits.lookup import RotationLookup, Table
from qrtc.circuits.sparse_access import IndexOracle
from qrtc.circuits.state_preparation import UniformSuperposition
from qrtc.ir.block_encoding import BlockEncoding, IndexMap
from qrtc.ir.block_system import BlockSystem
from qrtc.numerics.block_matrix import assemble_matrix, matrix_column, matrix_row
from qrtc.verification.report import Finding
from qrtc.verification.search import UNIT_ROUNDOFF, Case, Measurement, render_number, search
from qrtc.verification.subject import Subject, Unavailable

__all__ = [
    "PER_GATE",
    "block_encoding",
    "describe_key",
    "largest_difference",
    "oracles",
    "system_inputs",
]

# Slots x rows the oracle rung enumerates at most (int64 arrays of this length).
MAX_ENUMERATED = 1 << 25
# Each gate's rounding in double precision, relative to the state's norm (a rotation's cos and
# sin, then a multiply-add).
PER_GATE = 4 * UNIT_ROUNDOFF


# -- oracles --------------------------------------------------------------------------------------


def oracles(subject: Subject, examples: int, seed: int) -> Finding:
    """Rebuild the encoded matrix from the oracle tables; compare it entry by entry."""
    encoding, system = subject.encoding, subject.system
    ops = [op.gate for op in encoding.circuit.all_operations()]
    index_oracles = [g for g in ops if isinstance(g, IndexOracle)]
    column = next(g for g in index_oracles if g.kind == "column")
    row = next(g for g in index_oracles if g.kind == "row")
    values = next(g for g in ops if isinstance(g, RotationLookup) and g.label == "O_A")
    prepared = [g for g in ops if isinstance(g, UniformSuperposition)]
    column_slots = next((g.n_items for g in prepared if not g.adjoint), 1)
    row_slots = next((g.n_items for g in prepared if g.adjoint), 1)
    width = column.width
    size = 1 << width
    if max(column_slots, row_slots) * size > MAX_ENUMERATED:
        raise Unavailable(f"{max(column_slots, row_slots) * size:,} oracle slots > limit")
    largest = encoding.sparse_alpha / math.sqrt(row_slots * column_slots)

    by_columns = _slot_pattern(column, column_slots, size, transpose=False)
    by_rows = _slot_pattern(row, row_slots, size, transpose=True)
    pattern = scipy.sparse.coo_array(by_columns.multiply(by_rows))
    pattern.eliminate_zeros()
    rows, columns = pattern.row.astype(np.int64), pattern.col.astype(np.int64)
    found, position = values.table.lookup(rows * size + columns)
    angles = np.where(found, values.table.values[position], values.default_angle)
    entries = pattern.data * largest * np.cos(angles / 2)
    rebuilt = scipy.sparse.csr_array((entries, (rows, columns)), shape=(size, size))

    if encoding.method == "generic":
        expected = _padded(assemble_matrix(system), size)
        compared, against = "L~ rebuilt from O_c, O_r, O_A", "L (+ I to 2^w)"
    else:
        expected = _select_from_blocks(system, size)
        compared, against = "C-hat rebuilt from O_c, O_r, O_A", "C_A, C_L, I read out of L"
    difference = abs(rebuilt - expected).tocoo()
    tolerance = 4 * UNIT_ROUNDOFF * largest
    error = float(difference.data.max(initial=0.0))
    measurement = Measurement(error, tolerance)
    failure = None
    if not measurement.ok:
        k = int(np.argmax(difference.data))
        i, j = int(difference.row[k]), int(difference.col[k])
        measurement = Measurement(
            error,
            tolerance,
            f"the oracles give {render_number(rebuilt[i, j])}, the matrix "
            f"{render_number(expected[i, j])}",
        )
        failure = Case(f"entry ({i}, {j}){_where(encoding, system, size, i, j)}", measurement)
    return Finding(
        cases=size,
        worst=measurement,
        failure=failure,
        tolerance_source="values are R_y angles 2 arccos(A/A_max), read back by cos: 4 u max|A|",
        detail=f"exhaustive: all {size} columns, {column_slots} x {row_slots} slots",
        compared=compared,
        against=against,
    )


def _slot_pattern(
    oracle: IndexOracle, slots: int, size: int, *, transpose: bool
) -> scipy.sparse.csr_array:
    r"""How often each (row, column) is reached through a surviving slot.

    For the column oracle, slot $l$ of column $j$ reads $c = $ forward$(l, j)$ and survives when
    position$(c, j) = l$; the row oracle likewise gives (row $i$, column $r$).
    """
    index = np.repeat(np.arange(slots, dtype=np.int64), size)
    line = np.tile(np.arange(size, dtype=np.int64), slots)
    target = _read(oracle.forward, index * size + line)
    survives = _read(oracle.position, target * size + line) == index
    other, line = target[survives], line[survives]
    rows, columns = (line, other) if transpose else (other, line)
    counts = np.ones(rows.size)
    return scipy.sparse.csr_array((counts, (rows, columns)), shape=(size, size))


def _read(table: Table, addresses: NDArray[np.int64]) -> NDArray[np.int64]:
    """The table's value at each address, 0 where it has none (XOR by 0 is no gate)."""
    found, position = table.lookup(addresses)
    if not len(table):
        return np.zeros(addresses.shape, dtype=np.int64)
    return np.where(found, table.values[position], 0).astype(np.int64)


def _padded(matrix: scipy.sparse.csr_array, size: int) -> scipy.sparse.csr_array:
    dim = matrix.shape[0]
    if dim == size:
        return scipy.sparse.csr_array(matrix)
    pad = scipy.sparse.eye_array(size - dim, format="csr")
    return scipy.sparse.csr_array(scipy.sparse.block_diag([matrix, pad], format="csr"))


def _select_from_blocks(system: BlockSystem, size: int) -> scipy.sparse.csr_array:
    r"""$\hat C$ assembled from $\mathbf L$ itself: $B_r = -$(block row $r$, block column
    $r - 1$) for the first attack step, the first learner step and the first padding block."""
    quarter = size // 4
    block_size = system.block_size
    first_padding = system.n_substeps + 1
    sources = (1, system.carleman.pgd_steps + 1, first_padding if system.padding else None)
    blocks = []
    for source in sources:
        if source is None:
            block = scipy.sparse.eye_array(block_size, format="csr")
        else:
            block = _sub_diagonal_block(system, source)
        empty = scipy.sparse.csr_array((quarter - block_size, quarter - block_size))
        blocks.append(scipy.sparse.block_diag([block, empty], format="csr"))
    blocks.append(scipy.sparse.csr_array((quarter, quarter)))
    return scipy.sparse.csr_array(scipy.sparse.block_diag(blocks, format="csr"))


def _sub_diagonal_block(system: BlockSystem, block: int) -> scipy.sparse.csr_array:
    """$-$(rows of block ``block``, columns of block ``block - 1``) of $\\mathbf L$."""
    size = system.block_size
    base = (block - 1) * size
    rows, columns, values = [], [], []
    for offset in range(size):
        found, entries = matrix_row(system, block * size + offset)
        keep = (found >= base) & (found < base + size)
        rows.append(np.full(int(keep.sum()), offset))
        columns.append(found[keep] - base)
        values.append(-entries[keep])
    return scipy.sparse.csr_array(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
        shape=(size, size),
    )


def _where(encoding: BlockEncoding, system: BlockSystem, size: int, i: int, j: int) -> str:
    if encoding.method == "generic":
        return f" of L (dim {system.dim})" if max(i, j) < system.dim else " (identity padding)"
    quarter = size // 4
    kinds = ("C_A", "C_L", "I (padding)", "0")
    if i // quarter == j // quarter:
        return f": {kinds[i // quarter]}[{i % quarter}, {j % quarter}] of C-hat"
    return ": between the blocks of C-hat"


# -- columns of U ---------------------------------------------------------------------------------


def _matrix_index(index_map: IndexMap, dim: int, key: int) -> int | None:
    """$e^{-1}$(key), from the bit layout of the index map; None off its image."""
    offset = key & ((1 << index_map.offset_bits) - 1)
    phase = (key >> index_map.offset_bits) & ((1 << index_map.radix_bits) - 1)
    outer = key >> (index_map.offset_bits + index_map.radix_bits)
    index = (outer * index_map.radix + phase) * index_map.block_size + offset
    if offset >= index_map.block_size or phase >= index_map.radix or index >= dim:
        return None
    return index


def _expected_column(encoding: BlockEncoding, system: BlockSystem, key: int) -> dict[int, float]:
    r"""Column ``key`` of $\tilde{\mathbf L}$ on the system register: system state -> entry."""
    index = _matrix_index(encoding.index_map, encoding.dim, key)
    if index is None:
        return {key: 1.0}
    rows, values = matrix_column(system, index)
    keys = encoding.index_map(rows)
    return {int(k): float(v) for k, v in zip(keys.tolist(), values.tolist(), strict=True)}


def system_inputs(encoding: BlockEncoding, system: BlockSystem) -> st.SearchStrategy[int]:
    """System basis states: mostly $e(j)$ for $j$ drawn block by block, sometimes any state."""
    blocks = st.tuples(st.integers(0, system.n_blocks - 1), st.integers(0, system.block_size - 1))
    embedded = blocks.map(lambda b: int(encoding.index_map(b[0] * system.block_size + b[1])))
    anywhere = st.integers(0, (1 << encoding.n_system_qubits) - 1)
    return st.one_of(embedded, embedded, embedded, anywhere)


def describe_key(encoding: BlockEncoding, system: BlockSystem, key: int) -> str:
    index = _matrix_index(encoding.index_map, encoding.dim, key)
    if index is None:
        return f"system state |{key}>, off the image of e (L~ = I there)"
    block, offset = divmod(index, system.block_size)
    return f"column e({index}) = |{key}> (block {block}, offset {offset})"


def largest_difference(
    actual: dict[int, complex], expected: dict[int, float]
) -> tuple[float, int, complex, float]:
    worst = (0.0, -1, 0j, 0.0)
    for key in set(actual) | set(expected):
        a, b = actual.get(key, 0j), expected.get(key, 0.0)
        if abs(a - b) > worst[0]:
            worst = (abs(a - b), key, a, b)
    return worst


def block_encoding(subject: Subject, examples: int, seed: int) -> Finding:
    r"""$\alpha\langle 0|U|0\rangle$ column by column against $\tilde{\mathbf L}$."""
    encoding, system = subject.encoding, subject.system
    order = encoding.qubit_order
    ancillas = [q for r in encoding.ancillas for q in r.qubits]
    n_system = encoding.n_system_qubits
    n_ops = len(list(encoding.circuit.all_operations()))
    dense = len(order) <= subject.max_qubits
    simulator = cirq.Simulator(dtype=np.complex128)
    tolerance = encoding.alpha * n_ops * (PER_GATE + (0.0 if dense else DROP_BELOW))

    def column(key: int) -> dict[int, complex]:
        if dense:
            state = simulator.simulate(
                encoding.circuit, qubit_order=order, initial_state=key
            ).final_state_vector[: 1 << n_system]
            (keys,) = np.nonzero(state)
            return {int(k): complex(state[k]) for k in keys}
        amplitudes = simulate_basis(encoding.circuit, order, key, postselect=ancillas)
        return {k: complex(a) for k, a in amplitudes.items()}

    def measure(key: int) -> Measurement:
        actual = {k: encoding.alpha * a for k, a in column(key).items()}
        error, where, a, b = largest_difference(actual, _expected_column(encoding, system, key))
        return Measurement(
            error,
            tolerance,
            f"at system state |{where}>: alpha <0|U|0> = {render_number(a)}, "
            f"L~ = {render_number(b)}"
            if where >= 0
            else "",
        )

    outcome = search(
        system_inputs(encoding, system),
        measure,
        describe=lambda key: describe_key(encoding, system, key),
        examples=examples,
        seed=seed,
        budget_s=subject.budget_s,
    )
    how = "cirq.Simulator" if dense else "basis simulator"
    source = f"alpha n u_op, n = {n_ops} operations of U, u_op = 4u per operation"
    if not dense:
        source += " + 1e-15 amplitudes the sparse simulator drops"
    return Finding.of(
        outcome,
        source,
        compared=f"alpha <0|U|0> e(j) ({how})",
        detail=""
        if dense
        else f"U has {len(order)} qubits > {subject.max_qubits}: simulated "
        "sparsely from basis states",
    )
