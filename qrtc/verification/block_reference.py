r"""The block a block encoding applies, read off its circuit independently of its tables.

By ``cirq.unitary`` (small circuits) or by state-vector simulation of chosen columns
(``cirq.Simulator``, double precision), never by anything the encoding computed itself; and the
block it should apply, $\tilde A$, from the matrix. Shared by the ladder's rungs and by
:mod:`qrtc.testing` (which re-exports them for users' tests).
"""

from __future__ import annotations

from collections.abc import Sequence

import cirq
import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from qrtc.ir.block_encoding import BlockEncoding

__all__ = ["MAX_UNITARY_QUBITS", "encoded_block", "encoded_columns", "expected_block"]

# cirq.unitary of the whole circuit: 2^12 x 2^12 complex entries = 256 MiB.
MAX_UNITARY_QUBITS = 12


def encoded_block(encoding: BlockEncoding) -> NDArray[np.complex128]:
    """$\\alpha\\langle 0|U|0\\rangle$ on the whole system space, from ``cirq.unitary``."""
    order = encoding.qubit_order
    if len(order) > MAX_UNITARY_QUBITS:
        raise ValueError(f"{len(order)} qubits: too many for cirq.unitary; use encoded_columns")
    unitary = encoding.circuit.unitary(qubit_order=order)
    size = 1 << encoding.n_system_qubits
    return np.asarray(encoding.alpha * unitary[:size, :size], dtype=np.complex128)


def encoded_columns(encoding: BlockEncoding, columns: Sequence[int]) -> NDArray[np.complex128]:
    """Columns $e(j)$ of $\\alpha\\langle 0|U|0\\rangle$, ``j`` matrix indices; shape
    ``(2**n_system, len(columns))``, by simulating $U$ on $|0\\rangle|e(j)\\rangle$."""
    simulator = cirq.Simulator(dtype=np.complex128)
    order = encoding.qubit_order
    size = 1 << encoding.n_system_qubits
    out = np.empty((size, len(columns)), dtype=np.complex128)
    for k, column in enumerate(columns):
        start = int(encoding.index_map(column))
        state = simulator.simulate(
            encoding.circuit, qubit_order=order, initial_state=start
        ).final_state_vector
        out[:, k] = encoding.alpha * state[:size]
    return out


def expected_block(
    encoding: BlockEncoding, matrix: scipy.sparse.csr_array | NDArray[np.float64]
) -> NDArray[np.float64]:
    """$\\tilde A$ on the whole system space: $A$ through $e$, the padding elsewhere."""
    dense = np.asarray(
        scipy.sparse.csr_array(matrix).toarray() if scipy.sparse.issparse(matrix) else matrix
    )
    size = 1 << encoding.n_system_qubits
    embedded = encoding.embedded_indices()
    full = np.eye(size) if encoding.padding == "identity" else np.zeros((size, size))
    full[embedded, :] = 0.0
    full[:, embedded] = 0.0
    full[np.ix_(embedded, embedded)] = dense
    return full
