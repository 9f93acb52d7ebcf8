"""Peer numbers from Qualtran: the cost of its ``SparseMatrix`` block encoding of a given matrix.

Qualtran (``pip install qualtran``, checked with 0.7.0) is *not* a dependency of qrtc; everything
that touches it is imported inside the functions, so this module imports without it and
:func:`qualtran_available` says whether the peer can run.

What is built (``qualtran/bloqs/block_encoding/sparse_matrix.py``): ``SparseMatrix(row_oracle,
col_oracle, entry_oracle, eps=0)``, Lin Lin's sparse-access construction (arXiv:2201.08309,
Ch. 6.5). One call of that unitary ``U`` on ``n`` system qubits and ``n + 1`` ancillas is::

    D (uniform superposition over l < s) -> O_c -> O_A -> SWAP -> O_r^dagger -> D^dagger

and ``(<0|^(n+1) (x) I) U (|0>^(n+1) (x) I) = A / s``, ``s`` = non-zeros per row/column
of the sparsity pattern. The oracles used here:

* ``O_A = ExplicitEntryOracle(n, data=A, entry_bitsize=b)``: a QROM over all ``2^n x 2^n``
  ``(i, j)`` pairs loads ``floor(arccos(A_ij) / pi * 2^b)`` into ``b`` scratch qubits, ``b``
  controlled ``Ry`` rotate the flag qubit, and the same QROM unloads. Qualtran requires
  ``0 <= A_ij <= 1`` (no signs, no complex values); the stored angle is truncated, so each entry
  is off by at most ``sin(pi / 2^b)`` (``entry_error`` below is the exact value for the matrix).
* ``kind="banded"``: ``O_r = O_c = SymmetricBandedRowColumnOracle(n, bandsize=w)``, whose
  ``l``-th non-zero of row ``i`` is column ``(i + l - w) mod 2^n``: the band is *cyclic* (row 0
  also reaches columns ``2^n - w .. 2^n - 1``), ``s = 2w + 1``. Any matrix whose non-zeros lie
  within cyclic distance ``w`` of the diagonal is accepted; the entries need not be symmetric.
* ``kind="top_left"``: ``O_r = O_c = TopLeftRowColumnOracle(n, num_nonzero=k)``: the non-zeros
  lie in the top-left ``k x k`` block, ``s = k`` (``k = 2^n`` is the dense case). These oracles
  are the identity, so all the cost is in ``D`` and ``O_A``.

What is counted (:func:`qualtran_sparse_matrix_costs`), with Qualtran's own machinery,
``qualtran.resource_counting.get_cost_value(bloq, QECGatesCost())`` (a ``GateCounts``):

* ``toffolis`` = ``toffoli + and_bloq + cswap``: every Toffoli-class gate. In this bloq all of
  them are computing ``And`` gates (QROM unary iteration, adders, the uniform-superposition
  preparation); an ``And`` uncomputation is a measurement plus Cliffords and costs none.
* ``t_count`` = ``GateCounts.total_t_count(ts_per_rotation=0)``: bare T gates plus 4 T per
  Toffoli-class gate (the ``bloq.t_complexity().t`` convention); rotations are not folded in.
* ``rotations`` = ``GateCounts.rotation``: arbitrary-angle single-qubit rotations. Qualtran counts
  each *controlled* ``Ry`` of the entry oracle as one rotation (a shim in
  ``classify_bloqs.bloq_is_rotation``), including the ``Ry(pi)`` for the top angle bit, so the
  entry oracle contributes exactly ``entry_bitsize`` of them; the uniform-superposition
  preparation adds its own when ``s`` is not a power of two.
* ``qubits`` = ``get_cost_value(bloq, QubitCount())``: Qualtran's min-max width estimate, i.e.
  ``2n + 1`` register qubits plus the widest temporary (the QROM's ``b`` target qubits and its
  ``2n - 1`` unary-iteration ancillas).

All counts are exact integers for the concrete matrix, not formulas: ``QROM`` with data derives
its call graph from its actual decomposition, which skips runs of equal entries (for a sparse
matrix, the zeros), so the Toffoli count depends on the zero pattern, not only on ``n``.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

import numpy as np

KINDS = ("banded", "top_left")


@functools.lru_cache(maxsize=1)
def qualtran_available() -> bool:
    """Whether Qualtran's sparse-matrix block encoding and cost counting import here."""
    try:
        import qualtran.bloqs.block_encoding.sparse_matrix  # noqa: F401
        import qualtran.resource_counting  # noqa: F401
    except Exception:  # ImportError, or a broken install of one of its many dependencies
        return False
    return True


def _qualtran_version() -> str:
    from importlib.metadata import version

    return version("qualtran")


def _cyclic_bandwidth(rows: np.ndarray, cols: np.ndarray, dim: int) -> int:
    """The least ``w`` with every ``(i, j)`` within cyclic distance ``w`` of the diagonal."""
    if rows.size == 0:
        return 0
    d = (cols - rows) % dim
    return int(np.minimum(d, dim - d).max())


def _prepare(
    matrix: np.ndarray,
    *,
    entry_bitsize: int,
    kind: str,
    bandwidth: int | None,
    block: int | None,
    pad: bool,
    rescale: bool,
) -> dict[str, Any]:
    """Check ``matrix`` against what Qualtran's oracles accept; the data and parameters to use."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not isinstance(entry_bitsize, int | np.integer) or entry_bitsize < 1:
        raise ValueError(f"entry_bitsize must be a positive integer, got {entry_bitsize!r}")
    a = np.asarray(matrix)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        raise ValueError(f"matrix must be square and 2-D, got shape {a.shape}")
    if np.iscomplexobj(a):
        if np.any(a.imag != 0):
            raise ValueError("Qualtran's ExplicitEntryOracle takes real entries in [0, 1] only")
        a = a.real
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError("matrix has non-finite entries")
    if np.any(a < 0):
        raise ValueError(
            "Qualtran's ExplicitEntryOracle takes entries in [0, 1] only (it loads arccos(A_ij)); "
            "a signed matrix has no SparseMatrix encoding with these oracles (pass np.abs(A) to "
            "cost the magnitudes)"
        )
    scale = 1.0
    amax = float(a.max()) if a.size else 0.0
    if amax > 1.0:
        if not rescale:
            raise ValueError(
                f"Qualtran's ExplicitEntryOracle takes entries <= 1, the largest is {amax:g} "
                "(pass rescale=True to encode A / max(A))"
            )
        scale = amax
        a = a / amax
    dim0 = a.shape[0]
    n = max(1, math.ceil(math.log2(dim0)))
    dim = 2**n
    if dim != dim0:
        if not pad:
            raise ValueError(f"Qualtran's SparseMatrix needs size 2^n, got {dim0} (pad=True pads)")
        padded = np.zeros((dim, dim))
        padded[:dim0, :dim0] = a
        a = padded
    rows, cols = np.nonzero(a)
    if kind == "banded":
        need = _cyclic_bandwidth(rows, cols, dim)
        # s = 1 breaks Qualtran 0.7 (the AutoPartition around PrepareUniformSuperposition(1)
        # raises), so a diagonal matrix is costed as tridiagonal.
        w = max(need, 1) if bandwidth is None else int(bandwidth)
        if w < 1:
            raise ValueError("Qualtran's SparseMatrix fails for s = 1 (bandwidth 0); use 1")
        if w < need:
            raise ValueError(f"matrix has non-zeros at cyclic bandwidth {need} > bandwidth={w}")
        if 2 * w + 1 > dim:
            # SymmetricBandedRowColumnOracle itself only checks 2^n >= 2w, but its register
            # BQUInt(n, 2w + 1) then fails to build.
            raise ValueError(f"bandwidth {w} needs 2w+1 <= 2^n = {dim}; use kind='top_left'")
        s = 2 * w + 1
        what = (
            f"SymmetricBandedRowColumnOracle(n={n}, bandsize={w}) as row and column oracle "
            f"(non-zeros within cyclic distance {w} of the diagonal)"
        )
    else:
        need = int(max(rows.max(), cols.max())) + 1 if rows.size else 1
        k = max(need, 2) if block is None else int(block)  # s = 1 fails, as above
        if not 2 <= k <= dim:
            raise ValueError(f"block must be in 2..{dim} (s = 1 fails in Qualtran), got {k}")
        if k < need:
            raise ValueError(f"matrix has non-zeros outside the top-left {k}x{k} block")
        s = k
        w = None
        what = (
            f"TopLeftRowColumnOracle(n={n}, num_nonzero={k}) as row and column oracle "
            f"(non-zeros only in the top-left {k}x{k} block)"
        )
    return {
        "data": a,
        "n": n,
        "dim": dim,
        "dim_in": dim0,
        "s": s,
        "bandwidth": w,
        "scale": scale,
        "what": what,
        "nnz": int(rows.size),
    }


def _build(prep: dict[str, Any], entry_bitsize: int, kind: str) -> Any:
    from qualtran.bloqs.block_encoding.sparse_matrix import (
        ExplicitEntryOracle,
        SparseMatrix,
        SymmetricBandedRowColumnOracle,
        TopLeftRowColumnOracle,
    )

    n = prep["n"]
    if kind == "banded":
        row = SymmetricBandedRowColumnOracle(n, bandsize=prep["bandwidth"])
        col = SymmetricBandedRowColumnOracle(n, bandsize=prep["bandwidth"])
    else:
        row = TopLeftRowColumnOracle(n, num_nonzero=prep["s"])
        col = TopLeftRowColumnOracle(n, num_nonzero=prep["s"])
    entry = ExplicitEntryOracle(n, data=prep["data"], entry_bitsize=entry_bitsize)
    return SparseMatrix(row, col, entry, eps=0)


def encoded_entries(data: np.ndarray, entry_bitsize: int) -> np.ndarray:
    """The entries ``ExplicitEntryOracle`` really encodes: ``cos(pi * floor(arccos(A) / pi *
    2^b) / 2^b)`` (its QROM stores ``int()`` of the float angle, i.e. truncates)."""
    k = np.floor(np.arccos(np.clip(data, 0.0, 1.0)) / np.pi * 2**entry_bitsize)
    encoded: np.ndarray = np.cos(np.pi * k / 2**entry_bitsize)
    return encoded


def qualtran_block_encoding(
    matrix: np.ndarray,
    *,
    entry_bitsize: int = 10,
    kind: str = "banded",
    bandwidth: int | None = None,
    block: int | None = None,
    pad: bool = True,
    rescale: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """The Qualtran ``SparseMatrix`` bloq for ``matrix`` and the checked parameters behind it
    (arguments as in :func:`qualtran_sparse_matrix_costs`). Needs Qualtran."""
    prep = _prepare(
        matrix,
        entry_bitsize=entry_bitsize,
        kind=kind,
        bandwidth=bandwidth,
        block=block,
        pad=pad,
        rescale=rescale,
    )
    return _build(prep, entry_bitsize, kind), prep


def qualtran_sparse_matrix_costs(
    matrix: np.ndarray,
    *,
    entry_bitsize: int = 10,
    kind: str = "banded",
    bandwidth: int | None = None,
    block: int | None = None,
    pad: bool = True,
    rescale: bool = False,
) -> dict[str, Any]:
    """Per-query cost of Qualtran's ``SparseMatrix`` block encoding of a real ``matrix``.

    "Per query" is one application of the block-encoding unitary ``U`` (not of its inverse too,
    and not of a QSVT/walk step built from it). See the module docstring for what each count is.

    Args:
        matrix: real square matrix with entries in ``[0, 1]`` (with ``rescale=True``, any
            non-negative entries: ``A / max(A)`` is encoded and ``alpha`` accounts for it).
        entry_bitsize: bits of ``arccos(A_ij) / pi`` stored by ``ExplicitEntryOracle``.
        kind: ``"banded"`` (``SymmetricBandedRowColumnOracle``) or ``"top_left"``
            (``TopLeftRowColumnOracle``).
        bandwidth: for ``"banded"``, the number ``w >= 1`` of off-diagonals on each side
            (``s = 2w + 1``); default the least cyclic bandwidth holding the non-zeros, at least
            1 (Qualtran 0.7 cannot build ``s = 1``).
        block: for ``"top_left"``, the block size ``k >= 2`` (``s = k``); default the least
            that holds the non-zeros, at least 2.
        pad: zero-pad a matrix whose size is not a power of two (Qualtran needs ``2^n``).
        rescale: allow entries above 1 by encoding ``A / max(A)``.

    Returns:
        ``toffolis``, ``t_count``, ``rotations``, ``qubits``, ``alpha`` (``U``'s top-left block is
        ``matrix / alpha``, ``matrix`` zero-padded), ``how`` (one sentence), and details:
        ``gate_counts`` (Qualtran's ``GateCounts`` as a dict), ``n``, ``dim``, ``sparsity``,
        ``bandwidth``/``block``, ``entry_error`` (largest ``|A_ij - encoded A_ij|`` of the
        encoded, possibly rescaled matrix), ``qualtran_version`` and ``seconds`` (``build``,
        ``gates``, ``qubits``: wall time of building the bloq and of each cost computation).

    Raises:
        ImportError: Qualtran is not installed (see :func:`qualtran_available`).
        ValueError: the matrix is not one Qualtran's oracles accept (negative, complex or
            too-large entries, non-zeros outside the band or block).
    """
    if not qualtran_available():
        raise ImportError("qualtran is not installed: pip install qualtran (in its own venv)")
    from qualtran.resource_counting import QECGatesCost, QubitCount, get_cost_value

    t0 = time.perf_counter()
    bloq, prep = qualtran_block_encoding(
        matrix,
        entry_bitsize=entry_bitsize,
        kind=kind,
        bandwidth=bandwidth,
        block=block,
        pad=pad,
        rescale=rescale,
    )
    t1 = time.perf_counter()
    gates = get_cost_value(bloq, QECGatesCost())
    t2 = time.perf_counter()
    qubits = get_cost_value(bloq, QubitCount())
    t3 = time.perf_counter()

    toffolis = int(gates.toffoli + gates.and_bloq + gates.cswap)
    t_count = int(gates.total_t_count(ts_per_rotation=0))
    rotations = int(gates.rotation)
    s = prep["s"]
    alpha = float(bloq.alpha) * prep["scale"]
    data = prep["data"]
    entry_error = float(np.max(np.abs(data - encoded_entries(data, entry_bitsize))))
    padded = f", zero-padded from {prep['dim_in']}" if prep["dim"] != prep["dim_in"] else ""
    rescaled = f", divided by max entry {prep['scale']:g}" if prep["scale"] != 1.0 else ""
    how = (
        f"Qualtran {_qualtran_version()} SparseMatrix with {prep['what']} and "
        f"ExplicitEntryOracle(entry_bitsize={entry_bitsize}) on the {prep['dim']}x{prep['dim']} "
        f"matrix{padded}{rescaled}, whose entries had to lie in [0, 1]; one query = one call "
        f"of U, block = A/{s * prep['scale']:g}; Toffolis = Toffoli + And + CSwap from "
        f"QECGatesCost."
    )
    return {
        "toffolis": toffolis,
        "t_count": t_count,
        "rotations": rotations,
        "qubits": int(qubits),
        "alpha": alpha,
        "how": how,
        "gate_counts": {k: int(v) for k, v in gates.asdict().items()},
        "kind": kind,
        "n": prep["n"],
        "dim": prep["dim"],
        "nnz": prep["nnz"],
        "sparsity": s,
        "bandwidth": prep["bandwidth"],
        "block": s if kind == "top_left" else None,
        "entry_bitsize": entry_bitsize,
        "entry_error": entry_error,
        "qualtran_version": _qualtran_version(),
        "seconds": {"build": t1 - t0, "gates": t2 - t1, "qubits": t3 - t2},
    }
