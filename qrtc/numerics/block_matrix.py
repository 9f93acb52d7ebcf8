r"""The block system's $\mathbf L = I - \mathbf S$ and $\mathbf b$ as arrays (paper.md §4.1).

Explicit assembly (:func:`assemble_matrix`, :func:`assemble_rhs`) for systems that fit, and
implicit $O(s)$ access to one row or column (:func:`matrix_row`, :func:`matrix_column`) from
$C_{\mathcal A}$, $C_{\mathcal L}$ alone, at any $\dim\mathbf L < 2^{63}$. The global index of
entry $o \in [0, D_N)$ of block $r$ is $r D_N + o$ (:mod:`qrtc.ir.block_system`).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from qrtc.ir.block_system import BlockSystem
from qrtc.ir.carleman import CarlemanMatrix, freeze_sparse

__all__ = ["assemble_matrix", "assemble_rhs", "matrix_column", "matrix_row"]

_MAX_DENSE_RHS = 200_000_000


def assemble_rhs(system: BlockSystem) -> NDArray[np.float64]:
    r"""$\mathbf b = (\tilde Y_0, 0, \dots, 0)$, shape ``(dim,)`` (small systems only)."""
    assert system.dim <= _MAX_DENSE_RHS, "b is too large to hold densely; use initial_block"
    rhs = np.zeros(system.dim)
    rhs[: system.block_size] = system.initial_block
    return rhs


def matrix_row(system: BlockSystem, index: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    r"""Columns (increasing) and values of the non-zeros of row ``index`` of $\mathbf L$.

    $O(s)$: block $r$ and offset $o$ by integer division, then row $o$ of $-B_r$ (block
    column $r - 1$) and the diagonal 1.
    """
    if not 0 <= index < system.dim:
        raise IndexError(f"row {index} outside [0, {system.dim})")
    block, offset = divmod(int(index), system.block_size)
    diagonal = (np.array([index], dtype=np.int64), np.ones(1))
    if block == 0:
        return diagonal
    base = (block - 1) * system.block_size
    step = system.step_matrix(block)
    if step is None:
        columns = np.array([base + offset, index], dtype=np.int64)
        return columns, np.array([-1.0, 1.0])
    start, stop = step.indptr[offset], step.indptr[offset + 1]
    columns = np.empty(stop - start + 1, dtype=np.int64)
    columns[:-1] = step.indices[start:stop]
    columns[:-1] += base
    columns[-1] = index
    values = np.empty(stop - start + 1)
    np.negative(step.data[start:stop], out=values[:-1])
    values[-1] = 1.0
    return columns, values


def matrix_column(system: BlockSystem, index: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    r"""Rows (increasing) and values of the non-zeros of column ``index`` of $\mathbf L$.

    $O(s)$: the diagonal 1, then column $o$ of $-B_{c+1}$ (block row $c + 1$).
    """
    if not 0 <= index < system.dim:
        raise IndexError(f"column {index} outside [0, {system.dim})")
    block, offset = divmod(int(index), system.block_size)
    if block == system.n_blocks - 1:
        return np.array([index], dtype=np.int64), np.ones(1)
    base = (block + 1) * system.block_size
    if block >= system.n_substeps:
        return np.array([index, base + offset], dtype=np.int64), np.array([1.0, -1.0])
    step = _by_columns(system.carleman.matrix_at(block + 1))
    start, stop = step.indptr[offset], step.indptr[offset + 1]
    rows = np.empty(stop - start + 1, dtype=np.int64)
    rows[0] = index
    rows[1:] = step.indices[start:stop]
    rows[1:] += base
    values = np.empty(stop - start + 1)
    values[0] = 1.0
    np.negative(step.data[start:stop], out=values[1:])
    return rows, values


# Column access needs C by columns: converted once per Carleman matrix (both of the latest
# few systems stay cached; the IR is immutable, so a cached conversion never goes stale).
@functools.lru_cache(maxsize=4)
def _by_columns(carleman: CarlemanMatrix) -> scipy.sparse.csc_array:
    return scipy.sparse.csc_array(carleman.matrix)


def assemble_matrix(system: BlockSystem) -> scipy.sparse.csr_array:
    r"""$\mathbf L$ as canonical CSR, shape ``(dim, dim)``, assembled with no Python loop over
    blocks (``system.matrix`` itself when the pass stored it).

    Block row $r \ge 1$ is the template $[-C_{\mathcal A}, I]$, $[-C_{\mathcal L}, I]$ or
    $[-I, I]$, its column indices relative to block column $r - 1$. Blocks $1..S$ repeat one
    period of $K+1$ templates $T$ times, so their stretch of ``indices``/``data`` is a
    $T \times$ (period size) array written with one broadcast, as is the padding stretch.
    """
    if system.matrix is not None:
        return system.matrix
    size, substeps, padding = system.block_size, system.n_substeps, system.padding
    horizon, period = system.carleman.horizon, system.carleman.pgd_steps + 1
    identity = scipy.sparse.identity(size, format="csr")
    attack, learner, idle = (
        scipy.sparse.hstack([-block, identity], format="csr")
        for block in (system.carleman.attack.matrix, system.carleman.learner.matrix, identity)
    )
    one_period = [attack] * (period - 1) + [learner]
    for template in (attack, learner, idle):
        template.sort_indices()
    period_indices = np.concatenate(
        [t.indices.astype(np.int64) + k * size for k, t in enumerate(one_period)]
    )
    period_data = np.concatenate([t.data for t in one_period])
    period_lengths = np.concatenate([np.diff(t.indptr) for t in one_period])
    nnz = size + horizon * period_indices.size + padding * idle.nnz
    index_type = np.int32 if max(system.dim, nnz) < 2**31 else np.int64
    indices = np.empty(nnz, dtype=index_type)
    data = np.empty(nnz)
    indices[:size] = np.arange(size)
    data[:size] = 1.0
    steps_end = size + horizon * period_indices.size
    np.add(
        period_indices[None, :],
        (np.arange(horizon, dtype=np.int64) * (period * size))[:, None],
        out=indices[size:steps_end].reshape(horizon, -1),
        casting="unsafe",
    )
    data[size:steps_end].reshape(horizon, -1)[:] = period_data[None, :]
    if padding:
        np.add(
            idle.indices.astype(np.int64)[None, :],
            ((substeps + np.arange(padding, dtype=np.int64)) * size)[:, None],
            out=indices[steps_end:].reshape(padding, -1),
            casting="unsafe",
        )
        data[steps_end:].reshape(padding, -1)[:] = idle.data[None, :]
    lengths = np.concatenate(
        [
            np.ones(size, dtype=np.int64),
            np.tile(period_lengths, horizon),
            np.full(padding * size, 2, dtype=np.int64),
        ]
    )
    indptr = np.zeros(system.dim + 1, dtype=index_type)
    np.cumsum(lengths, out=indptr[1:])
    matrix = scipy.sparse.csr_array((data, indices, indptr), shape=(system.dim, system.dim))
    matrix.has_canonical_format = True
    return freeze_sparse(matrix)


def assert_rows_agree(system: BlockSystem) -> None:
    """The explicit ``system.matrix`` (if any) equals :func:`matrix_row` on 64 random rows."""
    matrix = system.matrix
    if matrix is None:
        return
    rng = np.random.default_rng(0)
    for index in rng.integers(0, system.dim, size=min(system.dim, 64)):
        columns, values = matrix_row(system, int(index))
        start, stop = matrix.indptr[index], matrix.indptr[index + 1]
        assert np.array_equal(columns, matrix.indices[start:stop]) and np.array_equal(
            values, matrix.data[start:stop]
        ), f"row {index} of the explicit L differs from the implicit row"
